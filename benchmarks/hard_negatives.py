r"""The paper's hard negatives on the Bible: P@1 with and without them, at equal steps and time.

  python benchmarks/hard_negatives.py --workdir /tmp/hard_negatives \
      [--rows 60000] [--k 2] [--steps 400] [--checkpoint_every 50] \
      [--equal_time_arm] [--clean_arm [--clean_extra 4]]

1. Pairs: the first --rows rows of the en-fr Bible corpus's train.tsv (`bench_common.
   bible_pair_dir`: Old Testament minus the development chapters, shuffled with a fixed seed,
   every verse as the 3 x 3 cross product of the public-domain English and French
   translations) into `<workdir>/pairs.tsv`. The New Testament is held out as the test set.
2. One SentencePiece vocabulary (`ensure_vocabulary`, the demo's 8k pieces) trained on
   pairs.tsv into `<workdir>/vocab/`, given to every arm.
3. Arm "without": `xling-tf train --experiment demo` (3 x 256 Transformer, batch 128,
   translation ranking, from scratch) for --steps steps on pairs.tsv, a checkpoint every
   --checkpoint_every steps. Its final checkpoint, exported, is the first-pass model.
4. `xling-tf mine-negatives --model <first pass> --pairs pairs.tsv --k K --ann_index Flat`
   (exact search) writes `<workdir>/pairs_hn.tsv`. Then a pure-Python check counts the mined
   negatives that are known translations of their row's source: French sentences paired with
   that English sentence somewhere in the whole train.tsv (another French Bible's wording of
   the same verse), i.e. false negatives. (mine-negatives itself skips those paired with the
   source in pairs.tsv; what the check finds are pairings only in the rest of train.tsv.)
5. Arm "with": the same experiment, vocabulary, steps and checkpoints on pairs_hn.tsv with
   `task.train_data.num_hard_negatives=K`.
6. With --equal_time_arm, arm "with, equal time": arm "with" retrained from scratch for the
   steps that fit in arm "without"'s training CPU time (read off arm "with"'s time line), its
   warm-up scaled by the same factor, so its learning rate decays to zero at that time as
   arm "without"'s does (a mid-run checkpoint of arm "with" is still at a higher rate).
   With --clean_arm, arm "with, known translations removed": mine-negatives again with
   k = K + --clean_extra (reusing step 4's embeddings), each row keeping its first K
   negatives that are not known translations of its source (`pairs_hn_clean.tsv`; rows left
   with fewer are dropped), trained like arm "with".
7. Held-out New Testament en-fr retrieval (test.tsv; `xling-tf eval-retrieval`, the function
   the main job uses: P@1 with 999 random distractors, and full-pool P@1) of: both arms'
   final checkpoints (equal steps); arm "with"'s last checkpoint whose training time is not
   above arm "without"'s total (equal time; on the CPU and on the wall clock); the optional
   arms' final checkpoints (and the clean arm's equal-time checkpoints).

Time: each training runs in a child process the script polls (every 0.2 s) for its CPU time
(user + system, all threads, from /proc) and for new checkpoints. Training time is counted
from the moment the training loop starts (orbit creates `<model_dir>/train/events.*`), so
TensorFlow start-up and the model build are left out; tracing the first step is counted.
CPU seconds are the primary clock ("equal CPU time"): other jobs on a shared machine slow
wall time more than they change the CPU a process uses. But a run that cannot use both
cores (too little parallel work, or another job on the other core) has CPU ~ wall while one
that can has CPU ~ 2 x wall, so the two clocks can pick different checkpoints: both are
reported.

Every stage is reused when its output exists (delete the file or folder to redo it), so an
interrupted run continues; a training interrupted mid-way is restarted from scratch, so its
time line is whole. Writes `benchmarks/results/hard_negatives.md`.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from xling_tf.data.pairs import atomic_output, write_rows

import bench_common

POLL_SECONDS = 0.2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ARMS = {
    "without": "without",
    "with": "with",
    "with_equal_time": "with, equal time",
    "with_clean": "with, known translations removed",
}

Checkpoint = dict[str, float]  # {"step", "cpu_s", "wall_s"}
Results = dict[str, Any]

_VOCABULARY_SCRIPT = """
import json, sys
from official.core import exp_factory
from xling_tf.configs import experiments  # noqa: F401  (registers the experiments)
from xling_tf.tokenization.vocabulary import ensure_vocabulary
arguments = json.loads(sys.argv[1])
params = exp_factory.get_exp_config("demo")
params.override({"task": {"train_data": {"input_path": arguments["pairs"]}}}, is_strict=True)
print(ensure_vocabulary(params, arguments["workdir"]))
"""


def _log(message: str) -> None:
    print(message, flush=True)


def _read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _write_json(path: str, value: Any) -> None:
    with atomic_output(path) as f:
        json.dump(value, f, indent=2)


# --- Child processes, with their CPU time and peak memory ------------------------------------


@dataclasses.dataclass
class Usage:
    """What a child process used: wall and CPU seconds, peak resident memory in MiB."""

    wall_s: float
    cpu_s: float
    peak_rss_mib: float


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process (all its threads); None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # Fields 14 and 15 of proc(5) (utime, stime) are the 12th and 13th after the ")".
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def run_monitored(
    command: list[str], log_path: str, on_poll: Callable[[float, float], None] | None = None
) -> Usage:
    """Runs `command` (output to `log_path`), calling on_poll(wall_s, cpu_s) every poll.

    Raises CalledProcessError (naming the log) when the child fails.
    """
    shown = ["<script>" if "\n" in part else part for part in command]
    _log("+ " + " ".join(shown) + f"  > {log_path}")
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    started = time.time()
    with open(log_path, "w", encoding="utf-8") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        cpu = 0.0
        while True:
            pid, status, rusage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                child.returncode = os.waitstatus_to_exitcode(status)
                cpu = rusage.ru_utime + rusage.ru_stime
                if on_poll:
                    on_poll(time.time() - started, cpu)
                break
            cpu = process_cpu_seconds(child.pid) or cpu
            if on_poll:
                on_poll(time.time() - started, cpu)
            time.sleep(POLL_SECONDS)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, command, f"see {log_path}")
    return Usage(time.time() - started, cpu, rusage.ru_maxrss / 1024)


# --- Data -------------------------------------------------------------------------------------


def iter_rows(path: str) -> Iterable[list[str]]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield line.rstrip("\n").split("\t")


def take_rows(source: str, destination: str, rows: int) -> int:
    """Copies the first `rows` lines of `source` to `destination` (once); returns the count."""
    if not os.path.exists(destination):
        with open(source, encoding="utf-8") as f, atomic_output(destination) as out:
            out.writelines(itertools.islice(f, rows))
    with open(destination, encoding="utf-8") as f:
        return sum(1 for _ in f)


def adjacent_shared_rows(rows: list[list[str]]) -> float:
    """Fraction of rows that share their source or target with the previous row (a file
    grouped by verse would be near 8/9 with 3 x 3 translations per verse; shuffled, near 0)."""
    shared = sum(
        1
        for before, row in zip(rows, rows[1:], strict=False)
        if row[0] == before[0] or row[1] == before[1]
    )
    return shared / max(len(rows) - 1, 1)


def known_translations(rows: Iterable[list[str]]) -> set[tuple[str, str]]:
    """Every (source, target) pair of a corpus: for the Bible's 3 x 3 cross product, each
    English sentence with every French wording of its verse."""
    return {(row[0], row[1]) for row in rows}


def false_negative_stats(rows: Iterable[list[str]], known: set[tuple[str, str]]) -> dict:
    """How many hard negatives (columns 3+) are known translations of their row's source."""
    rows_total = negatives = false = rows_with_false = 0
    for row in rows:
        hits = sum((row[0], negative) in known for negative in row[2:])
        rows_total += 1
        negatives += len(row) - 2
        false += hits
        rows_with_false += bool(hits)
    return {
        "rows": rows_total,
        "negatives": negatives,
        "false_negatives": false,
        "false_negative_fraction": false / max(negatives, 1),
        "rows_with_a_false_negative": rows_with_false / max(rows_total, 1),
    }


# --- Training ---------------------------------------------------------------------------------


def checkpoint_step(path: str) -> int:
    """ckpt-350.index -> 350."""
    match = re.search(r"ckpt-(\d+)\.index$", path)
    if not match:
        raise ValueError(f"not a checkpoint index file: {path}")
    return int(match.group(1))


class TrainingClock:
    """Polled while a training runs: when its loop starts, when each checkpoint appears."""

    def __init__(self, model_dir: str):
        self.model_dir = model_dir
        self.start: tuple[float, float] | None = None  # (wall_s, cpu_s) of the child
        self.checkpoints: dict[int, Checkpoint] = {}

    def __call__(self, wall_s: float, cpu_s: float) -> None:
        if self.start is None:
            if not glob.glob(os.path.join(self.model_dir, "train", "events.out.tfevents.*")):
                return
            self.start = (wall_s, cpu_s)
        for path in glob.glob(os.path.join(self.model_dir, "ckpt-*.index")):
            step = checkpoint_step(path)
            if step not in self.checkpoints:
                self.checkpoints[step] = {
                    "step": step,
                    "wall_s": wall_s - self.start[0],
                    "cpu_s": cpu_s - self.start[1],
                }

    def timeline(self) -> list[Checkpoint]:
        return [self.checkpoints[step] for step in sorted(self.checkpoints)]


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A training's length, checkpoint interval and learning-rate warm-up, in steps."""

    steps: int
    checkpoint_every: int
    warmup_steps: int

    def shortened(self, steps: int) -> Schedule:
        """`steps` steps, one checkpoint at the end, the warm-up scaled by the same factor."""
        return Schedule(steps, steps, max(1, round(self.warmup_steps * steps / self.steps)))


def train_command(
    model_dir: str, input_path: str, vocabulary: str, schedule: Schedule, num_hard_negatives: int
) -> list[str]:
    """`xling-tf train --experiment demo` with the data, vocabulary and schedule.

    The learning rate warms up linearly for `schedule.warmup_steps`, then decays linearly to
    zero at `schedule.steps` (the demo's polynomial decay, stretched or cut to the run);
    every checkpoint is kept (the demo keeps 3).
    """
    overrides = {
        "task.train_data.input_path": input_path,
        "task.train_data.num_hard_negatives": num_hard_negatives,
        "task.model.tokenizer.sentencepiece_model_file": vocabulary,
        "trainer.train_steps": schedule.steps,
        "trainer.optimizer_config.learning_rate.polynomial.decay_steps": schedule.steps,
        "trainer.optimizer_config.warmup.linear.warmup_steps": schedule.warmup_steps,
        "trainer.checkpoint_interval": schedule.checkpoint_every,
        "trainer.steps_per_loop": schedule.checkpoint_every,
        "trainer.summary_interval": schedule.checkpoint_every,
        "trainer.max_to_keep": schedule.steps // schedule.checkpoint_every + 1,
    }
    override = ",".join(f"{key}={value}" for key, value in overrides.items())
    return [
        sys.executable,
        "-m",
        "xling_tf.cli",
        "train",
        "--experiment",
        "demo",
        "--mode",
        "train",
        "--model_dir",
        model_dir,
        f"--params_override={override}",
    ]


def train_arm(
    workdir: str,
    arm: str,
    input_path: str,
    vocabulary: str,
    schedule: Schedule,
    num_hard_negatives: int,
) -> Results:
    """Trains one arm (reused when finished); returns {"timeline": [...], "usage": {...}}."""
    model_dir = os.path.join(workdir, "runs", arm)
    path = os.path.join(workdir, "timings", f"train_{arm}.json")
    if os.path.exists(path):
        return _read_json(path)
    if os.path.exists(model_dir):
        _log(f"{model_dir} is an unfinished run: starting it again so its time line is whole")
        shutil.rmtree(model_dir)
    clock = TrainingClock(model_dir)
    command = train_command(model_dir, input_path, vocabulary, schedule, num_hard_negatives)
    usage = run_monitored(command, os.path.join(workdir, "logs", f"train_{arm}.log"), clock)
    timeline = clock.timeline()
    if not timeline or timeline[-1]["step"] != schedule.steps:
        raise RuntimeError(f"{arm}: no checkpoint at step {schedule.steps} in {model_dir}")
    result = {
        "schedule": dataclasses.asdict(schedule),
        "timeline": timeline,
        "usage": dataclasses.asdict(usage),
    }
    _write_json(path, result)
    return result


def last_checkpoint_within(
    timeline: list[Checkpoint], budget_s: float, clock: str
) -> Checkpoint | None:
    """The last checkpoint whose `clock` ("cpu_s" or "wall_s") time is at most `budget_s`;
    None when even the first one came later."""
    within = [point for point in timeline if point[clock] <= budget_s]
    return max(within, key=lambda point: point["step"]) if within else None


def equal_time_steps(timeline: list[Checkpoint], budget_s: float, clock: str) -> int:
    """The step at which a run with this time line reaches `budget_s` on `clock`: linear
    between its checkpoints (and from (0, 0) to the first, so the first step's tracing is
    spread over the first interval), extended at the last interval's rate beyond the end."""
    points = [(0.0, 0.0)] + [(point["step"], point[clock]) for point in timeline]
    for (step_a, time_a), (step_b, time_b) in zip(points, points[1:], strict=False):
        if time_b >= budget_s or (step_b, time_b) == points[-1]:
            rate = (step_b - step_a) / max(time_b - time_a, 1e-9)
            return max(1, round(step_a + (budget_s - time_a) * rate))
    raise ValueError("empty time line")


# --- Export, mining, evaluation ---------------------------------------------------------------


def export(workdir: str, arm: str, step: int) -> str:
    """Exports `runs/<arm>/ckpt-<step>` (reused); returns its text_encoder folder."""
    export_dir = os.path.join(workdir, "exports", f"{arm}-{step}")
    model = os.path.join(export_dir, "text_encoder")
    if not os.path.exists(model):
        model_dir = os.path.join(workdir, "runs", arm)
        command = [sys.executable, "-m", "xling_tf.cli", "export", "--model_dir", model_dir]
        command += ["--checkpoint_path", os.path.join(model_dir, f"ckpt-{step}")]
        command += ["--export_dir", export_dir]
        run_monitored(command, os.path.join(workdir, "logs", f"export_{arm}-{step}.log"))
    return model


def mine(workdir: str, model: str, pairs: str, k: int, name: str = "pairs_hn") -> Results:
    """`xling-tf mine-negatives` into `<workdir>/<name>.tsv` (reused); its time and memory.

    Every mining shares one work folder, so a second one reuses the embeddings of the first.
    """
    path = os.path.join(workdir, "timings", f"mine_{name}.json")
    if os.path.exists(path):
        return _read_json(path)
    command = [sys.executable, "-m", "xling_tf.cli", "mine-negatives", "--model", model]
    command += ["--pairs", pairs, "--k", str(k), "--out", os.path.join(workdir, f"{name}.tsv")]
    command += ["--work_dir", os.path.join(workdir, "pairs_hn.tsv.work")]
    command += ["--ann_index", "Flat", "--quiet"]
    log = os.path.join(workdir, "logs", f"mine_{name}.log")
    usage = run_monitored(command, log)
    with open(log, encoding="utf-8") as f:
        summary = [line.strip() for line in f if line.startswith("wrote ")]
    result = {"usage": dataclasses.asdict(usage), "summary": summary[-1] if summary else ""}
    _write_json(path, result)
    return result


def drop_known_translations(
    rows: Iterable[list[str]], known: set[tuple[str, str]], k: int
) -> tuple[list[list[str]], int]:
    """Each row with its first k negatives that are not known translations of its source;
    rows left with fewer than k are dropped. Returns (rows, number dropped)."""
    kept: list[list[str]] = []
    dropped = 0
    for row in rows:
        negatives = [n for n in row[2:] if (row[0], n) not in known][:k]
        if len(negatives) < k:
            dropped += 1
        else:
            kept.append(row[:2] + negatives)
    return kept, dropped


def clean_negatives(
    workdir: str, model: str, pairs: str, k: int, extra: int, known: set[tuple[str, str]]
) -> tuple[str, Results]:
    """Mines k + extra negatives per row, keeps the first k that are not known translations
    of the row's source into `<workdir>/pairs_hn_clean.tsv` (reused); (path, its summary)."""
    path = os.path.join(workdir, "pairs_hn_clean.tsv")
    summary_path = os.path.join(workdir, "timings", "clean_negatives.json")
    if not os.path.exists(summary_path):
        mining = mine(workdir, model, pairs, k + extra, name="pairs_hn_wide")
        rows, dropped = drop_known_translations(
            iter_rows(os.path.join(workdir, "pairs_hn_wide.tsv")), known, k
        )
        write_rows(path, rows)
        _write_json(summary_path, {"mining": mining, "rows": len(rows), "dropped": dropped})
    return path, _read_json(summary_path)


def evaluate(workdir: str, model: str, label: str, test_path: str) -> Results:
    """`xling-tf eval-retrieval` on the held-out test pairs (reused); its results.json."""
    output_dir = os.path.join(workdir, "eval", label)
    path = os.path.join(output_dir, "results.json")
    if not os.path.exists(path):
        command = [sys.executable, "-m", "xling_tf.cli", "eval-retrieval", "--model", model]
        command += ["--pairs", test_path, "--output_dir", output_dir]
        run_monitored(command, os.path.join(workdir, "logs", f"eval_{label}.log"))
    return _read_json(path)


# --- Report -----------------------------------------------------------------------------------


def vocabulary(workdir: str, pairs: str) -> str:
    """`<workdir>/vocab/sentencepiece.model` trained on pairs.tsv (once)."""
    path = os.path.join(workdir, "vocab", "sentencepiece.model")
    if not os.path.exists(path):
        arguments = json.dumps({"pairs": pairs, "workdir": workdir})
        command = [sys.executable, "-c", _VOCABULARY_SCRIPT, arguments]
        run_monitored(command, os.path.join(workdir, "logs", "vocab.log"))
    return path


def result_row(arm: str, comparison: str, point: Checkpoint, retrieval: Results) -> dict[str, str]:
    distractors = retrieval["distractors"]
    return {
        "arm": ARMS[arm],
        "comparison": comparison,
        "step": str(int(point["step"])),
        "CPU s": f"{point['cpu_s']:.0f}",
        "wall s": f"{point['wall_s']:.0f}",
        "CPU s/step": f"{point['cpu_s'] / point['step']:.2f}",
        "P@1 (999 distractors)": f"{distractors['mean']['p@1']:.3f}" if distractors else "n/a",
        "full-pool P@1": f"{retrieval['full_pool']['mean']['p@1']:.3f}",
    }


def verdict(evaluations: list[tuple[str, str, Checkpoint, Results]]) -> str:
    """One line per comparison with arm "without": which wins, by how many P@1 points."""
    baseline = evaluations[0][3]["distractors"]["mean"]["p@1"]
    lines = []
    for arm, comparison, point, retrieval in evaluations[1:]:
        delta = 100 * (retrieval["distractors"]["mean"]["p@1"] - baseline)
        winner = ARMS[arm] if delta > 0 else ARMS["without"]
        lines.append(
            f"- {comparison}: '{ARMS[arm]}' at step {int(point['step'])} vs 'without' at step "
            f"{int(evaluations[0][2]['step'])}: {delta:+.1f} P@1 points; '{winner}' wins."
        )
    return "\n".join(lines)


def markdown_table(rows: list[dict[str, str]]) -> str:
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(row[c] for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def cost_table(trainings: dict[str, Results], mining: Results) -> str:
    """The cost of each recipe stage: training CPU/wall to the last checkpoint, mining."""
    lines = ["| stage | CPU s | wall s | peak RSS MiB |", "| --- | --- | --- | --- |"]
    for arm, training in trainings.items():
        last, usage = training["timeline"][-1], training["usage"]
        lines.append(
            f"| train {ARMS[arm]} ({last['step']} steps) | {last['cpu_s']:.0f} | "
            f"{last['wall_s']:.0f} | {usage['peak_rss_mib']:.0f} |"
        )
    usage = mining["usage"]
    lines.append(
        f"| mine-negatives (whole process: load, embed, exact search, write) | "
        f"{usage['cpu_s']:.0f} | {usage['wall_s']:.0f} | {usage['peak_rss_mib']:.0f} |"
    )
    recipe = [trainings[arm]["timeline"][-1] for arm in ("without", "with")]
    lines.append(
        f"| 'with' recipe total: first pass + mining + 'with' training | "
        f"{sum(p['cpu_s'] for p in recipe) + usage['cpu_s']:.0f} | "
        f"{sum(p['wall_s'] for p in recipe) + usage['wall_s']:.0f} | |"
    )
    return "\n".join(lines)


CLOCKS = {"cpu_s": "CPU", "wall_s": "wall"}


def equal_time_points(trainings: dict[str, Results], arm: str) -> list[tuple[str, str, Checkpoint]]:
    """For each clock, (arm, "equal <clock> time (mid-run checkpoint)", its last checkpoint
    within arm "without"'s whole training time on that clock); a clock where even its first
    checkpoint came later is left out (with a message)."""
    points = []
    for clock, name in CLOCKS.items():
        budget = trainings["without"]["timeline"][-1][clock]
        point = last_checkpoint_within(trainings[arm]["timeline"], budget, clock)
        if point is None:
            _log(f"no checkpoint of '{arm}' within {budget:.0f} {name} s: checkpoint more often")
        else:
            points.append((arm, f"equal {name} time (mid-run checkpoint)", point))
    return points


def report(
    args: argparse.Namespace,
    facts: dict[str, Any],
    evaluated: list[tuple[str, str, Checkpoint, Results]],
    trainings: dict[str, Results],
) -> str:
    """Writes results/<output>.md; returns its path."""
    table = markdown_table([result_row(*evaluation) for evaluation in evaluated])
    costs = cost_table(trainings, facts["mining"])
    print(table + "\n\n" + costs)
    false_negatives = facts["false_negatives"]
    lines = [
        f"Data: the first {facts['rows']} rows of the en-fr Bible train.tsv "
        f"({facts['adjacent']:.1%} share a side with the row before: shuffled, not grouped by "
        f"verse); test: the held-out New Testament, `{facts['test_path']}`. Experiment `demo` "
        f"(3 x 256, batch 128, AdamW 1e-3, {args.warmup_steps} warm-up steps (scaled with the "
        f"length in the equal-time arm), linear decay to 0 at the run's last step), one "
        f"vocabulary `{facts['vocab']}`. Hard negatives: k={args.k} per row, "
        f"mined by arm 'without''s final checkpoint with exact search; "
        f"{facts['mining']['summary']}.",
        "",
        "Retrieval (P@1 = mean of en->fr and fr->en; training time counted from the start of "
        "the training loop to the checkpoint):",
        "",
        table,
        "",
        "Cost of each stage (the 'with' recipe pays for the first pass and the mining too):",
        "",
        costs,
        "",
        f"Mined negatives that are known translations of their row's source (another French "
        f"Bible's wording of the same verse, paired with that English sentence in train.tsv): "
        f"{false_negatives['false_negatives']} of {false_negatives['negatives']} "
        f"({false_negatives['false_negative_fraction']:.1%}); rows with at least one: "
        f"{false_negatives['rows_with_a_false_negative']:.1%}.",
    ]
    clean = facts.get("clean")
    if clean:
        usage = clean["mining"]["usage"]
        lines += [
            "",
            f"Arm '{ARMS['with_clean']}': mine-negatives with k={args.k + args.clean_extra} "
            f"(reusing the first mining's embeddings: {usage['cpu_s']:.0f} CPU s, "
            f"{usage['wall_s']:.0f} s wall for search and writing), then each row keeps its "
            f"first {args.k} negatives that are not known translations of its source: "
            f"{clean['rows']} rows, {clean['dropped']} dropped for too few.",
        ]
    lines += ["", "Which wins (one training seed per arm):", "", verdict(evaluated)]
    return bench_common.write_result(
        args.output, "Hard negatives on the Bible: with vs without", "\n".join(lines)
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="/tmp/hard_negatives")
    parser.add_argument("--data_dir", default=bench_common.DEFAULT_DATA_DIR)
    parser.add_argument("--rows", type=int, default=60_000, help="training pairs")
    parser.add_argument("--k", type=int, default=2, help="hard negatives per row")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--checkpoint_every", type=int, default=50)
    parser.add_argument(
        "--warmup_steps", type=int, default=100, help="learning-rate warm-up (the demo's 100)"
    )
    parser.add_argument(
        "--equal_time_arm",
        action="store_true",
        help="also retrain arm 'with' for the steps that fit arm 'without''s CPU time",
    )
    parser.add_argument(
        "--clean_arm",
        action="store_true",
        help="also train on negatives with the known translations of each source removed",
    )
    parser.add_argument(
        "--clean_extra", type=int, default=4, help="--clean_arm: negatives mined beyond k"
    )
    parser.add_argument("--output", default="hard_negatives", help="results/<output>.md")
    args = parser.parse_args(argv)
    if args.steps % args.checkpoint_every:
        parser.error("--steps must be a multiple of --checkpoint_every")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = os.path.abspath(args.workdir)
    os.makedirs(workdir, exist_ok=True)
    corpus = bench_common.bible_pair_dir(args.data_dir, "en", "fr")
    train_path, test_path = os.path.join(corpus, "train.tsv"), os.path.join(corpus, "test.tsv")
    pairs = os.path.join(workdir, "pairs.tsv")
    facts: dict[str, Any] = {"rows": take_rows(train_path, pairs, args.rows)}
    facts["adjacent"] = adjacent_shared_rows(list(iter_rows(pairs)))
    facts["test_path"] = test_path
    _log(f"{facts['rows']} pairs; {facts['adjacent']:.1%} share a side with the row before")
    vocab = facts["vocab"] = vocabulary(workdir, pairs)

    schedule = Schedule(args.steps, args.checkpoint_every, args.warmup_steps)
    trainings = {"without": train_arm(workdir, "without", pairs, vocab, schedule, 0)}
    first_pass = export(workdir, "without", args.steps)
    facts["mining"] = mine(workdir, first_pass, pairs, args.k)
    mined = os.path.join(workdir, "pairs_hn.tsv")
    known = known_translations(iter_rows(train_path))
    facts["false_negatives"] = false_negative_stats(iter_rows(mined), known)
    _log(f"mining: {facts['mining']['summary']}; {json.dumps(facts['false_negatives'])}")
    trainings["with"] = train_arm(workdir, "with", mined, vocab, schedule, args.k)

    budget = trainings["without"]["timeline"][-1]["cpu_s"]
    evaluations = [
        ("without", "the whole run", trainings["without"]["timeline"][-1]),
        ("with", "equal steps", trainings["with"]["timeline"][-1]),
        *equal_time_points(trainings, "with"),
    ]
    if args.equal_time_arm:
        steps = equal_time_steps(trainings["with"]["timeline"], budget, "cpu_s")
        trainings["with_equal_time"] = train_arm(
            workdir, "with_equal_time", mined, vocab, schedule.shortened(steps), args.k
        )
        point = trainings["with_equal_time"]["timeline"][-1]
        evaluations.append(("with_equal_time", "equal CPU time (own schedule)", point))
    if args.clean_arm:
        clean, facts["clean"] = clean_negatives(
            workdir, first_pass, pairs, args.k, args.clean_extra, known
        )
        trainings["with_clean"] = train_arm(workdir, "with_clean", clean, vocab, schedule, args.k)
        evaluations.append(("with_clean", "equal steps", trainings["with_clean"]["timeline"][-1]))
        evaluations += equal_time_points(trainings, "with_clean")

    evaluated = []
    for arm, comparison, point in evaluations:
        model = export(workdir, arm, int(point["step"]))
        retrieval = evaluate(workdir, model, f"{arm}-{int(point['step'])}", test_path)
        evaluated.append((arm, comparison, point, retrieval))
    path = report(args, facts, evaluated, trainings)
    _write_json(os.path.join(workdir, "summary.json"), {"facts": facts, "trainings": trainings})
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
