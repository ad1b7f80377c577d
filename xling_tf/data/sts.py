"""Readers for sentence-similarity test sets: STS-B (original and stsb-multi-mt) and SICK.

Every format becomes a list of `(sentence1, sentence2, score)` with the score as a float and
the sentences with runs of whitespace collapsed to one space. The format is recognised from
the first line:

* stsb-multi-mt csv (translated STS-B, per language): comma-separated, fields quoted when
  needed, no header, `sentence1,sentence2,score` (score 0-5). A header row naming
  `sentence1` is skipped if present.
* STS-benchmark original files (sts-train/dev/test.csv): tab-separated, no header, no
  quoting, `genre, filename, year, id, score, sentence1, sentence2` (some rows carry extra
  trailing source columns, which are ignored).
* SICK (SICK.txt): tab-separated with a header naming sentence_A, sentence_B and
  relatedness_score (1-5); `split` keeps one SemEval_set (TRAIN, TRIAL or TEST).

A row that cannot be read raises `MalformedRowError` naming the file and line. Blank lines
are skipped.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator

from xling_tf.data import pairs
from xling_tf.data.csv_records import iter_csv_records
from xling_tf.data.pairs import MalformedRowError

import tensorflow as tf

__all__ = ["read_sts"]

_SICK_COLUMNS = ("sentence_A", "sentence_B", "relatedness_score")
_STSB_SCORE, _STSB_SENTENCE1, _STSB_SENTENCE2 = 4, 5, 6


def _first_line(path: str) -> str:
    """The first line of `path` without its line ending ("" for an empty file)."""
    _, text, _ = next(pairs.iter_decoded_lines(path, errors="replace"), (1, "", None))
    return text or ""


def _row(
    path: str, line: int, sentence1: str, sentence2: str, score: str
) -> tuple[str, str, float]:
    sentence1, sentence2 = " ".join(sentence1.split()), " ".join(sentence2.split())
    if not sentence1 or not sentence2:
        raise MalformedRowError(path, line, "empty sentence")
    try:
        value = float(score)
    except ValueError:
        raise MalformedRowError(path, line, f"score {score!r} is not a number") from None
    if not math.isfinite(value):
        raise MalformedRowError(path, line, f"score {score!r} is not finite")
    return sentence1, sentence2, value


def _read_multi_mt_csv(path: str) -> Iterator[tuple[str, str, float]]:
    for line, fields in iter_csv_records(path):
        if not fields:
            continue
        if len(fields) != 3:
            raise MalformedRowError(
                path,
                line,
                f"expected 3 comma-separated fields (sentence1,sentence2,score), got {len(fields)}",
            )
        if line == 1 and fields[0].strip().lower() == "sentence1":
            continue  # an optional header
        yield _row(path, line, *fields)


def _read_stsb_tsv(path: str) -> Iterator[tuple[str, str, float]]:
    for line, fields in iter_csv_records(path, delimiter="\t", quoting=csv.QUOTE_NONE):
        if not fields:
            continue
        if len(fields) <= _STSB_SENTENCE2:
            raise MalformedRowError(
                path, line, f"expected at least 7 tab-separated columns, got {len(fields)}"
            )
        yield _row(
            path, line, fields[_STSB_SENTENCE1], fields[_STSB_SENTENCE2], fields[_STSB_SCORE]
        )


def _read_sick(path: str, split: str | None) -> Iterator[tuple[str, str, float]]:
    records = iter_csv_records(path, delimiter="\t", quoting=csv.QUOTE_NONE)
    _, header = next(records)
    columns = [header.index(name) for name in _SICK_COLUMNS]
    if split is not None and "SemEval_set" not in header:
        raise ValueError(f"{path}: split={split!r} given but the header has no SemEval_set")
    split_column = header.index("SemEval_set") if split is not None else None
    for line, fields in records:
        if not fields:
            continue
        if len(fields) != len(header):
            raise MalformedRowError(
                path, line, f"expected {len(header)} tab-separated columns, got {len(fields)}"
            )
        if split_column is not None and fields[split_column] != split:
            continue
        yield _row(path, line, *(fields[c] for c in columns))


def read_sts(path: str, split: str | None = None) -> list[tuple[str, str, float]]:
    """Reads an STS-B csv (stsb-multi-mt or original) or SICK tsv into (s1, s2, score) rows.

    Args:
      path: the file; its format is recognised from the first line (module docstring).
      split: SICK only: keep rows whose SemEval_set equals this (e.g. "TEST").

    Raises:
      FileNotFoundError: no such file.
      ValueError: `split` for a file without a SemEval_set column, or an empty file.
      MalformedRowError: a bad row, with file and line.
    """
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"STS file not found: {path}")
    first = _first_line(path)
    header = first.split("\t")
    if all(name in header for name in _SICK_COLUMNS):
        rows = list(_read_sick(path, split))
    elif split is not None:
        raise ValueError(f"{path}: split={split!r} is only supported for SICK files")
    elif "\t" in first:
        rows = list(_read_stsb_tsv(path))
    else:
        rows = list(_read_multi_mt_csv(path))
    if not rows:
        raise ValueError(f"{path}: no sentence pairs found")
    return rows
