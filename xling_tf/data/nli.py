"""Readers for the NLI formats users bring, normalised to `premise \\t hypothesis \\t label`.

* SNLI / MultiNLI jsonl: keys sentence1, sentence2, gold_label. Rows whose gold_label is "-"
  (no annotator majority) are skipped and counted, as every SNLI user does.
* Tab-separated files with a header: MultiNLI / XNLI .tsv (sentence1, sentence2, gold_label,
  and XNLI's language column) and SICK (sentence_A, sentence_B, entailment_label, with
  SemEval_set TRAIN / TRIAL / TEST).
Files are read through `tf.io.gfile` (`xling_tf.data.pairs`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

from xling_tf.data import pairs

import tensorflow as tf

NLI_LABELS = ("entailment", "neutral", "contradiction")
_PREMISE = ("sentence1", "sentence_A", "premise")
_HYPOTHESIS = ("sentence2", "sentence_B", "hypothesis")
_LABEL = ("gold_label", "entailment_label", "label")
_NO_CONSENSUS = "-"


@dataclasses.dataclass
class NliReadStats(pairs.ReadStats):
    """ReadStats plus the SNLI-style rows without a gold label."""

    no_gold_label: int = 0


def _pick(header: list[str], names: tuple[str, ...], path: str) -> int:
    for name in names:
        if name in header:
            return header.index(name)
    raise ValueError(f"{path}: header has none of the columns {names}; found {header}")


def _fail(path: str, line: int, reason: str, on_error: str, stats: NliReadStats) -> None:
    error = pairs.MalformedRowError(path, line, reason)
    if on_error == "raise":
        raise error
    stats.record_error(str(error))


def _normalise(
    premise: str,
    hypothesis: str,
    label: str,
    path: str,
    line: int,
    on_error: str,
    stats: NliReadStats,
) -> tuple[str, str, str] | None:
    label = label.strip().lower()
    if label == _NO_CONSENSUS:
        stats.no_gold_label += 1
        return None
    premise, hypothesis = " ".join(premise.split()), " ".join(hypothesis.split())
    if label not in NLI_LABELS:
        _fail(path, line, f"label {label!r} is not one of {NLI_LABELS}", on_error, stats)
        return None
    if not premise or not hypothesis:
        _fail(path, line, "empty premise or hypothesis", on_error, stats)
        return None
    stats.rows += 1
    return premise, hypothesis, label


def _iter_jsonl(path: str, on_error: str, stats: NliReadStats) -> Iterator[tuple[str, str, str]]:
    for line_number, text, problem in pairs.iter_decoded_lines(path):
        if text is not None and not text.strip():
            continue
        try:
            if problem is not None:
                raise ValueError(problem)
            assert text is not None
            record = json.loads(text)
            fields = (record["sentence1"], record["sentence2"], record["gold_label"])
        except (ValueError, KeyError, TypeError) as error:
            _fail(path, line_number, f"not an SNLI/MNLI json record ({error})", on_error, stats)
            continue
        row = _normalise(*fields, path, line_number, on_error, stats)
        if row:
            yield row


def _iter_tsv(
    path: str, on_error: str, stats: NliReadStats, language: str | None, split: str | None
) -> Iterator[tuple[str, str, str]]:
    lines = pairs.iter_decoded_lines(path)
    _, first, problem = next(lines, (1, "", None))
    if problem is not None:
        raise pairs.MalformedRowError(path, 1, problem)
    assert first is not None
    header = first.split("\t")
    columns = [_pick(header, names, path) for names in (_PREMISE, _HYPOTHESIS, _LABEL)]
    language_column = header.index("language") if "language" in header else None
    split_column = header.index("SemEval_set") if "SemEval_set" in header else None
    for line_number, text, problem in lines:
        if problem is not None:
            _fail(path, line_number, "invalid UTF-8", on_error, stats)
            continue
        assert text is not None
        fields = text.split("\t")
        if len(fields) < len(header):
            _fail(
                path,
                line_number,
                f"expected {len(header)} tab-separated columns, got {len(fields)}",
                on_error,
                stats,
            )
            continue
        if language and language_column is not None and fields[language_column] != language:
            continue
        if split and split_column is not None and fields[split_column] != split:
            continue
        premise, hypothesis, label = (fields[c] for c in columns)
        row = _normalise(premise, hypothesis, label, path, line_number, on_error, stats)
        if row:
            yield row


def read_nli(
    path: str,
    on_error: str = "raise",
    language: str | None = None,
    split: str | None = None,
    stats: NliReadStats | None = None,
) -> list[tuple[str, str, str]]:
    """Reads SNLI/MNLI jsonl (by the .jsonl suffix) or a headed TSV into (p, h, label) rows.

    Args:
      path: the file.
      on_error: "raise" (MalformedRowError naming file and line) or "skip" (count it).
      language: keep only rows of this XNLI language code (e.g. "fr").
      split: keep only this SICK SemEval_set (e.g. "TRAIN", "TRIAL").
      stats: filled with rows kept, rows skipped and rows without a gold label.
    """
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"NLI file not found: {path}")
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    stats = stats if stats is not None else NliReadStats()
    if path.endswith((".jsonl", ".json")):
        return list(_iter_jsonl(path, on_error, stats))
    return list(_iter_tsv(path, on_error, stats, language, split))


def convert_nli(path: str, output_path: str, **kwargs) -> NliReadStats:
    """Converts a user's NLI file to the task's `premise \\t hypothesis \\t label` TSV."""
    stats = NliReadStats()
    pairs.write_rows(output_path, read_nli(path, stats=stats, **kwargs))
    return stats
