"""Markdown rendering of a suite's results.json (pure Python).

One table per task kind; every column is a number from results.json, formatted by
`retrieval.format_table` (3 decimals). Mining tables show the F1 at a threshold chosen on a
calibration split and, separately and labelled, the oracle F1 (threshold chosen on the
answers: an upper bound, not a result).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xling_tf.evaluation.retrieval import format_table

Record = dict[str, Any]


def _distractors(record: Record) -> dict[str, Any] | None:
    return record["metrics"].get("distractors")


def _retrieval_row(record: Record) -> dict[str, Any]:
    metrics = record["metrics"]
    pools = _distractors(record)
    return {
        "dataset": record["dataset"],
        "languages": record["languages"],
        "pairs": record["num_examples"],
        "P@1 (pool)": pools["mean"]["p@1"] if pools else None,
        "pool size": pools["pool_size"] if pools else None,
        "P@1 full pool": metrics["full_pool"]["mean"]["p@1"],
        "P@5 full pool": metrics["full_pool"]["mean"]["p@5"],
        "MRR full pool": metrics["full_pool"]["mean"]["mrr"],
    }


def _mining_row(record: Record) -> dict[str, Any]:
    metrics = record["metrics"]
    return {
        "dataset": record["dataset"],
        "languages": record["languages"],
        "gold pairs": metrics["num_gold"],
        "sources": metrics["num_source"],
        "targets": metrics["num_target"],
        "precision": metrics["precision"],
        "recall": metrics["recall"],
        "F1": metrics["f1"],
        "oracle F1": metrics["oracle"]["f1"],
    }


def _sentiment_row(record: Record) -> dict[str, Any]:
    metrics = record["metrics"]
    row = {
        "languages": record["languages"],
        "train": metrics.get("n_train"),
        "test": metrics.get("n_test"),
        "zero-shot acc": metrics["zero_shot"],
    }
    for k, accuracy in metrics.get("few_shot", {}).items():
        row[f"{k}-shot acc"] = accuracy
    return row


def _sts_row(record: Record) -> dict[str, Any]:
    metrics = record["metrics"]
    return {
        "dataset": record["dataset"],
        "pairs": metrics["n"],
        "Pearson": metrics["pearson"],
        "Spearman": metrics["spearman"],
    }


def _nli_row(record: Record) -> dict[str, Any]:
    metrics = record["metrics"]
    row: dict[str, Any] = {"train pairs": metrics["num_train"]}
    for lang, accuracy in metrics["accuracy"].items():
        row[f"{lang} acc"] = accuracy
    return row


def _geometry_row(record: Record) -> dict[str, Any]:
    metrics = record["metrics"]
    return {
        "languages": record["languages"],
        "sentences": metrics["num_sentences"],
        "eigen-similarity (lower = more isomorphic)": metrics["eigen_similarity"],
    }


_SECTIONS: dict[str, tuple[str, Callable[[Record], dict[str, Any]]]] = {
    "retrieval": ("Translation retrieval (both directions averaged)", _retrieval_row),
    "mining": ("Bitext mining (margin scoring, threshold from a calibration split)", _mining_row),
    "sentiment": (
        "Zero-/few-shot sentiment (logistic regression on frozen vectors)",
        _sentiment_row,
    ),
    "sts": ("Semantic relatedness (cosine vs. gold)", _sts_row),
    "nli": ("Zero-shot NLI (trained on English)", _nli_row),
    "geometry": ("Embedding-space geometry", _geometry_row),
}


_NOTES = {
    "mining": "Oracle F1 picks the threshold on the scored gold pairs themselves: an upper "
    "bound, not a result.",
    "sentiment": "k-shot: k target-language examples (class-balanced) move from the test set "
    "to the training set; mean over seeds. An empty cell: the test set is too small for that "
    "k (k above half the test set, or above what a class holds).",
}


def task_label(record: Record, with_kind: bool = True) -> str:
    """ "retrieval bible en-fr" (or "bible en-fr" without the kind); empty parts left out."""
    parts = (record["task"] if with_kind else "", record["dataset"], record["languages"])
    return " ".join(part for part in parts if part)


def headline(record: Record) -> str:
    """A one-line summary of a task record for progress output, e.g. "P@1 0.834"."""
    metrics = record["metrics"]
    kind = record["task"]
    if kind == "retrieval":
        pools = _distractors(record)
        pooled = (
            f"P@1 {pools['mean']['p@1']:.3f} (pools of {pools['pool_size']}), " if pools else ""
        )
        return pooled + f"full-pool P@1 {metrics['full_pool']['mean']['p@1']:.3f}"
    if kind == "mining":
        return f"F1 {metrics['f1']:.3f} (oracle {metrics['oracle']['f1']:.3f})"
    if kind == "sentiment":
        return f"zero-shot accuracy {metrics['zero_shot']:.3f}"
    if kind == "sts":
        return f"Pearson {metrics['pearson']:.3f}, Spearman {metrics['spearman']:.3f}"
    if kind == "nli":
        return ", ".join(f"{lang} {acc:.3f}" for lang, acc in metrics["accuracy"].items())
    if kind == "geometry":
        return f"eigen-similarity {metrics['eigen_similarity']:.3f}"
    return ""


def render_markdown(results: dict[str, Any]) -> str:
    """results.md: a header with the run's facts, one table per task kind, the figures."""
    encoder = results["encoder"]
    lines = [
        f"# Evaluation of {results['model']} (suite `{results['suite']}`)",
        "",
        f"Model: `{results.get('model_path') or results['model']}`. Wall time "
        f"{results['wall_time_seconds']:.1f} s; {encoder['encoded']} distinct sentences "
        f"encoded ({encoder['requested']} requested) at "
        f"{encoder['sentences_per_second']:.1f} sentences/s.",
    ]
    for kind, (title, make_row) in _SECTIONS.items():
        rows = [make_row(r) for r in results["tasks"] if r["task"] == kind]
        if not rows:
            continue
        columns = list(dict.fromkeys(key for row in rows for key in row))
        lines += ["", f"## {title}", "", format_table(rows, columns)]
        if kind in _NOTES:
            lines += ["", _NOTES[kind]]
    if results.get("failed"):
        lines += ["", "## Tasks that failed", ""]
        for record in results["failed"]:
            lines.append(f"* {task_label(record)}: {record['error']}")
    if results.get("figures"):
        lines += ["", "## Figures", ""]
        lines += [f"![{name}]({name})" for name in results["figures"]]
    return "\n".join(lines) + "\n"
