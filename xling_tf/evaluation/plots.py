"""PNG plots of evaluation results (matplotlib, Agg backend: no display needed).

* `plot_retrieval_bars`: retrieval P@1 per dataset / language pair, one bar per model; takes
  several results.json files to compare models side by side (`python -m
  xling_tf.evaluation.plots --results a/results.json b/results.json --output p1.png`).
* `plot_similarity_heatmap`: cosine similarities of a few aligned sentences in every language.
* `plot_projection`: a 2-D projection of aligned sentences, coloured by language.
* `plot_training_curves`: loss and accuracy curves from a run's TensorBoard logs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: files only, works without a display

from xling_tf.evaluation.suite_report import task_label  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

Results = dict[str, Any]


def _save(figure: Any, path: str) -> str:
    """Writes `figure` as a PNG at `path` (any `tf.io.gfile` path, atomically); returns it."""
    from xling_tf.data.pairs import write_bytes_atomically

    image = io.BytesIO()
    figure.savefig(image, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return write_bytes_atomically(path, image.getvalue())


def _retrieval_values(results: Results, key: str) -> dict[str, float]:
    """{"bible en-fr": P@1, ...} of one results.json; key "pool" or "full"."""
    values = {}
    for record in results["tasks"]:
        if record["task"] != "retrieval":
            continue
        label = task_label(record, with_kind=False)
        metrics = record["metrics"]
        if key == "pool":
            if metrics.get("distractors"):
                values[label] = metrics["distractors"]["mean"]["p@1"]
        else:
            values[label] = metrics["full_pool"]["mean"]["p@1"]
    return values


def plot_retrieval_bars(runs: Sequence[tuple[str, Results]], path: str) -> str:
    """Grouped bars of retrieval P@1: x = dataset and language pair, one bar per model.

    Two panels: P@1 against random distractor pools (the paper's protocol; pool size in the
    title) and P@1 against the full pool. A dataset a model was not evaluated on has no bar.

    Args:
      runs: (model name, parsed results.json) per model, drawn in this order.
      path: the PNG to write.
    """
    if not runs:
        raise ValueError("plot_retrieval_bars needs at least one results file")
    pool_sizes = sorted(
        {
            r["metrics"]["distractors"]["pool_size"]
            for _, results in runs
            for r in results["tasks"]
            if r["task"] == "retrieval" and r["metrics"].get("distractors")
        }
    )
    panels = [("pool", f"P@1, gold + {'/'.join(str(p - 1) for p in pool_sizes)} distractors")]
    panels = (panels if pool_sizes else []) + [("full", "P@1, full pool")]
    labels = list(
        dict.fromkeys(label for _, res in runs for label in _retrieval_values(res, "full"))
    )
    width = 0.8 / len(runs)
    figure_width = max(6.0, 0.9 * len(labels) * max(1.0, len(runs) / 2))
    figure, axes = plt.subplots(
        len(panels), 1, figsize=(figure_width, 3.6 * len(panels)), squeeze=False
    )
    for axis, (key, title) in zip(axes[:, 0], panels, strict=True):
        x = np.arange(len(labels))
        for i, (model, results) in enumerate(runs):
            values = _retrieval_values(results, key)
            heights = [values.get(label, np.nan) for label in labels]
            offsets = x + (i - (len(runs) - 1) / 2) * width
            bars = axis.bar(offsets, heights, width, label=model)
            axis.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
            for offset, height in zip(offsets, heights, strict=True):
                if np.isnan(height):  # not evaluated (e.g. fewer pairs than one pool)
                    axis.text(offset, 0.02, "n/a", ha="center", fontsize=7, color="0.4")
        axis.set_xticks(x, labels, rotation=20, ha="right")
        axis.set_ylim(0, 1.08)
        axis.set_ylabel("P@1")
        axis.set_title(title)
        axis.grid(axis="y", alpha=0.3)
        # Outside the axes, so it never hides a short bar or its value label.
        axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="model")
    figure.tight_layout()
    return _save(figure, path)


def plot_similarity_heatmap(
    similarity: np.ndarray, labels: Sequence[str], path: str, title: str = ""
) -> str:
    """Heatmap of a [n, n] float similarity matrix with `labels` on both axes.

    Sentences are expected language-major ("en 1", "en 2", ..., "fr 1", ...), so translations
    show up as bright diagonals inside the off-diagonal blocks; thin lines separate languages.
    """
    similarity = np.asarray(similarity, dtype=np.float32)
    if similarity.ndim != 2 or similarity.shape[0] != similarity.shape[1]:
        raise ValueError(f"similarity must be [n, n], got shape {similarity.shape}")
    if len(labels) != similarity.shape[0]:
        raise ValueError(f"{len(labels)} labels for a {similarity.shape[0]}-row matrix")
    n = len(labels)
    figure, axis = plt.subplots(figsize=(2.5 + 0.32 * n, 2.0 + 0.3 * n))
    image = axis.imshow(
        similarity, cmap="viridis", vmin=min(0.0, float(similarity.min())), vmax=1.0
    )
    axis.set_xticks(range(n), labels, rotation=90, fontsize=7)
    axis.set_yticks(range(n), labels, fontsize=7)
    languages = [label.split(" ")[0] for label in labels]
    for i in range(1, n):
        if languages[i] != languages[i - 1]:
            axis.axhline(i - 0.5, color="white", linewidth=0.8)
            axis.axvline(i - 0.5, color="white", linewidth=0.8)
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04, label="cosine similarity")
    axis.set_title(title, fontsize=9)
    return _save(figure, path)


def plot_projection(
    points: np.ndarray,
    languages: Sequence[str],
    sentence_ids: Sequence[int],
    path: str,
    title: str = "",
) -> str:
    """Scatter of [n, 2] points coloured by language; grey lines join translations.

    Args:
      points: float [n, 2], e.g. `geometry.project_2d(vectors)`.
      languages: language of each point.
      sentence_ids: which aligned sentence each point is; points sharing an id are
        translations of each other and are joined.
    """
    points = np.asarray(points, dtype=np.float32)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must be [n, 2], got shape {points.shape}")
    if not len(languages) == len(sentence_ids) == points.shape[0]:
        raise ValueError("points, languages and sentence_ids must have the same length")
    figure, axis = plt.subplots(figsize=(6.5, 5.5))
    ids = np.asarray(sentence_ids)
    for sentence in np.unique(ids):
        members = points[ids == sentence]
        axis.plot(members[:, 0], members[:, 1], color="0.8", linewidth=0.6, zorder=1)
    for lang in dict.fromkeys(languages):
        mask = np.array([x == lang for x in languages])
        axis.scatter(points[mask, 0], points[mask, 1], s=22, label=lang, zorder=2)
    axis.legend(title="language")
    axis.set_xlabel("component 1")
    axis.set_ylabel("component 2")
    axis.set_title(title, fontsize=9)
    return _save(figure, path)


def _event_dirs(model_dir: str) -> list[str]:
    """Folders under `<model_dir>/train` holding TensorBoard event files (one per task)."""
    import tensorflow as tf

    train_dir = os.path.join(model_dir, "train")
    if not tf.io.gfile.isdir(train_dir):
        return []
    found = []
    for folder, _, files in tf.io.gfile.walk(train_dir):
        if any(name.startswith("events.out.tfevents.") for name in files):
            found.append(folder)
    return sorted(found)


def read_training_series(model_dir: str) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """{"loss": {label: [(step, value)]}, "accuracy": {...}} from `<model_dir>/train` logs.

    Tags containing "loss" go to "loss", tags containing "accuracy" to "accuracy", others are
    left out. Multi-task runs log each task in its own sub-folder (`train/<task>/`): its
    labels are "<task>/<tag>". Empty dicts when there are no event files.
    """
    series: dict[str, dict[str, list[tuple[int, float]]]] = {"loss": {}, "accuracy": {}}
    folders = _event_dirs(model_dir)
    if not folders:
        return series
    from xling_tf.evaluation.tensorboard_logs import read_all_scalars

    for folder in folders:
        prefix = os.path.relpath(folder, os.path.join(model_dir, "train"))
        for tag, points in sorted(read_all_scalars(folder).items()):
            panel = "loss" if "loss" in tag else "accuracy" if "accuracy" in tag else None
            if panel:
                label = tag if prefix == "." else f"{prefix}/{tag}"
                series[panel][label] = points
    return series


def plot_training_curves(model_dir: str, path: str) -> str | None:
    """Loss and accuracy panels of `read_training_series(model_dir)`; None without logs."""
    series = read_training_series(model_dir)
    panels = [(name, lines) for name, lines in series.items() if lines]
    if not panels:
        return None
    figure, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.8), squeeze=False)
    for axis, (name, lines) in zip(axes[0], panels, strict=True):
        for label, points in lines.items():
            steps, values = zip(*points, strict=True)
            axis.plot(steps, values, marker=".", label=label)
        axis.set_xlabel("step")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.suptitle(f"training curves: {os.path.basename(os.path.normpath(model_dir))}")
    figure.tight_layout()
    return _save(figure, path)


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m xling_tf.evaluation.plots --results a.json b.json --output p1.png`."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--results", nargs="+", required=True, help="results.json files")
    parser.add_argument("--names", nargs="*", help="model names (default: from each file)")
    parser.add_argument("--output", required=True, help="PNG to write")
    args = parser.parse_args(argv)
    runs = []
    for i, path in enumerate(args.results):
        with open(path, encoding="utf-8") as f:
            results = json.load(f)
        name = args.names[i] if args.names and i < len(args.names) else results.get("model", path)
        runs.append((name, results))
    print(plot_retrieval_bars(runs, args.output))


if __name__ == "__main__":
    main()
