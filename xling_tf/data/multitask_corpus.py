"""Training files for every routine of a multi-task experiment, from installable data.

Routine names say what they read: `translation_<src>_<tgt>` (Bible verse pairs),
`quick_thought_<lang>` (consecutive Bible verses), `response_<lang>` (chatterbot-corpus
conversations), `nli_<lang>` (a file the user points at: SNLI/MNLI jsonl, XNLI or SICK tsv).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from xling_tf.data import bible, conversations, nli, pairs

from absl import logging


def build_routine_file(out_dir: str, routine: str, nli_file: str | None = None) -> str:
    """Writes (or reuses) the training TSV of one routine and returns its path."""
    kind, _, languages = routine.rpartition("_")
    if routine.startswith("translation_"):
        source, target = routine.split("_")[1:3]
        return bible.build_translation_corpus(out_dir, source, target).train_path
    if kind == "quick_thought":
        return bible.build_quick_thought_corpus(out_dir, languages)
    if kind == "response":
        path = os.path.join(out_dir, f"response-{languages}", "train.tsv")
        pairs.write_rows(path, conversations.conversation_pairs(languages))
        return path
    if kind == "nli":
        if not nli_file:
            raise ValueError(f"routine {routine} needs an NLI file (--nli_file)")
        path = os.path.join(out_dir, f"nli-{languages}", "train.tsv")
        stats = nli.convert_nli(nli_file, path, on_error="skip")
        logging.info(
            "NLI %s: %d pairs kept, %d without a gold label, %d malformed skipped",
            nli_file,
            stats.rows,
            stats.no_gold_label,
            stats.skipped,
        )
        return path
    raise ValueError(f"no data builder for routine {routine!r}")


def fill_routine_paths(
    params, out_dir: str, nli_file: str | None = None, only_empty: bool = True
) -> dict[str, str]:
    """Builds and sets `train_data.input_path` of every routine; returns {routine: path}."""
    built = {}
    for routine in params.task.task_routines:
        data = routine.task_config.train_data
        if only_empty and data.input_path:
            continue
        data.input_path = build_routine_file(out_dir, routine.task_name, nli_file)
        built[routine.task_name] = data.input_path
    return built


def routine_names(params) -> Iterable[str]:
    return [routine.task_name for routine in params.task.task_routines]
