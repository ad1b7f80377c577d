"""Training files for every routine of a multi-task experiment, from installable data.

Routine names say what they read:

* `translation_<src>_<tgt>`: Bible verse pairs (New Testament held out).
* `quick_thought_<langs>`: consecutive Bible verses (previous, verse, next).
* `response_<langs>`: first -> second utterance of chatterbot-corpus conversations.
* `nli_<lang>`: a file the user points at (SNLI/MNLI jsonl, XNLI or SICK tsv).
* `distill_<src>_<tgt>`: Bible verse pairs plus UI-string pairs, for distillation from a
  teacher encoder (data/distillation_corpus.py).
* `distill_en`: monolingual general-domain English (WordNet's usage examples,
  data/wordnet_examples.py), for distillation with `paired=False`.

`<langs>` is one language code or several joined by "_" (`quick_thought_en_fr_es_de`; task
names must be Python identifiers). The experiments use one routine per task and language
(`quick_thought_en`, `quick_thought_fr`: the paper's layout); a multi-language routine reads one
file per language and source translation, and every batch still comes from one file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from xling_tf.data import bible, conversations, nli, pairs

from absl import logging

LANGUAGE_SEPARATOR = "_"
TASK_KINDS = ("translation", "quick_thought", "response", "nli", "distill")
# Kinds whose routines read (source, target) pairs: retrieval is measured on each.
PAIR_KINDS = ("translation", "distill")
# Pair kinds that also take one language: a monolingual routine (`distill_en`).
MONOLINGUAL_KINDS = ("distill",)


def parse_routine(routine: str) -> tuple[str, list[str]]:
    """`quick_thought_en_fr` -> ("quick_thought", ["en", "fr"]); `translation_en_fr` ->
    ("translation", ["en", "fr"]) (source first)."""
    for kind in TASK_KINDS:
        if routine.startswith(kind + "_"):
            languages = routine[len(kind) + 1 :].split(LANGUAGE_SEPARATOR)
            if not all(languages) or (kind in PAIR_KINDS and len(languages) != 2):
                if not (kind in MONOLINGUAL_KINDS and len(languages) == 1):
                    break
            return kind, languages
    raise ValueError(
        f"routine name must be <task>_<lang>[_<lang>...] with task one of {TASK_KINDS} "
        f"(translation_<src>_<tgt>), got {routine!r}"
    )


def translation_pairs(routine_names: Iterable[str]) -> list[tuple[str, str]]:
    """The (source, target) pairs of the translation and distillation routines."""
    pairs_: list[tuple[str, str]] = []
    for routine in routine_names:
        kind, languages = parse_routine(routine)
        if kind in PAIR_KINDS and len(languages) == 2 and tuple(languages) not in pairs_:
            pairs_.append((languages[0], languages[1]))
    return pairs_


def _native_files(out_dir: str, kind: str, language: str) -> list[str]:
    """The training files of a native task in one language: one per source (translation)."""
    if kind == "quick_thought":
        return bible.build_quick_thought_corpus(out_dir, language)
    if kind == "response":
        path = os.path.join(out_dir, f"response-{language}", "train.tsv")
        pairs.write_rows(path, conversations.conversation_pairs(language))
        return [path]
    raise ValueError(f"no data builder for task {kind!r}")


def build_routine_file(
    out_dir: str, routine: str, nli_file: str | None = None, nli_split: str | None = None
) -> str:
    """Writes (or reuses) the training TSV(s) of one routine; returns the input_path.

    A native task gets a comma-separated list of files, one per language and source
    translation; the input pipeline keeps every batch to one file (`batch_per_file`).
    `nli_split` keeps one SemEval_set of a SICK file (e.g. "TRAIN", so TRIAL stays unseen).
    """
    kind, languages = parse_routine(routine)
    if kind == "translation":
        source, target = languages
        return bible.build_translation_corpus(out_dir, source, target).train_path
    if kind == "distill" and languages == ["en"]:
        from xling_tf.data.wordnet_examples import build_wordnet_corpus

        return build_wordnet_corpus(out_dir)
    if kind == "distill" and len(languages) == 2:
        from xling_tf.data.distillation_corpus import build_distillation_corpus

        return build_distillation_corpus(out_dir, *languages)
    if kind == "distill":
        raise ValueError(
            f"no monolingual distillation text for {languages[0]!r} (only distill_en: "
            "WordNet's English examples); use distill_<src>_<tgt> for translation pairs"
        )
    if kind == "nli":
        if not nli_file:
            raise ValueError(f"routine {routine} needs an NLI file (--nli_file)")
        path = os.path.join(out_dir, f"nli-{'-'.join(languages)}", "train.tsv")
        stats = nli.convert_nli(nli_file, path, on_error="skip", split=nli_split)
        logging.info(
            "NLI %s: %d pairs kept, %d without a gold label, %d malformed skipped",
            nli_file,
            stats.rows,
            stats.no_gold_label,
            stats.skipped,
        )
        return path
    return ",".join(
        path for language in languages for path in _native_files(out_dir, kind, language)
    )


def fill_routine_paths(
    params,
    out_dir: str,
    nli_file: str | None = None,
    only_empty: bool = True,
    nli_split: str | None = None,
) -> dict[str, str]:
    """Builds and sets `train_data.input_path` of every routine; returns {routine: path}."""
    built = {}
    for routine in params.task.task_routines:
        data = routine.task_config.train_data
        if only_empty and data.input_path:
            continue
        data.input_path = build_routine_file(out_dir, routine.task_name, nli_file, nli_split)
        built[routine.task_name] = data.input_path
    return built


def routine_names(params) -> list[str]:
    return [routine.task_name for routine in params.task.task_routines]
