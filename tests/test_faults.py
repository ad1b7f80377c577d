"""Faults: SIGKILL + restart (same data order), SIGTERM checkpoint, NaN loss, bad data rows."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import time

import xling_tf  # noqa: F401
from xling_tf.data.pair_dataset import make_pair_dataset
from xling_tf.data.pairs import MalformedRowError
from xling_tf.data_order import read_batch_log, task_batches_consumed
from xling_tf.faults import PREEMPTED_EXIT_CODE, NonFiniteLossError, NonFiniteLossGuard

import numpy as np
import pytest
import tensorflow as tf

from conftest import (
    checkpoint_steps,
    checkpoint_values,
    run_python,
    run_training_phases,
    start_python,
    start_training,
    synthetic_pairs,
    train_args,
    train_flags,
    trainer_overrides,
    wait_for_step,
    write_tsv,
)


def _float_values(checkpoint: str) -> dict[str, np.ndarray]:
    values = checkpoint_values(checkpoint)
    return {n: v for n, v in values.items() if np.issubdtype(np.asarray(v).dtype, np.floating)}


# ---- SIGKILL, restart, same data order -------------------------------------------------------

# Killed at step 2 * KILL_INTERVAL + 3; the steps after that leave it time to die mid-run.
KILL_STEPS, KILL_INTERVAL = 60, 10


@pytest.mark.slow
def test_sigkill_then_restart_resumes_at_the_checkpoint_with_the_same_batches(tmp_path, corpus_dir):
    train_path = os.path.join(corpus_dir, "train.tsv")
    overrides = trainer_overrides(KILL_STEPS, KILL_INTERVAL, steps_per_loop=5)
    # Run A: uninterrupted.
    log_a = str(tmp_path / "a.tsv")
    run_python(
        train_args(str(tmp_path / "a"), train_path, overrides, extra=[f"--batch_log={log_a}"])
    )
    batches_a = read_batch_log(log_a)
    assert [r.step for r in batches_a] == list(range(1, KILL_STEPS + 1))

    # Run B: SIGKILLed once a checkpoint exists and training has gone past it.
    model_dir, log_b = str(tmp_path / "b"), str(tmp_path / "b.tsv")
    process = start_training(model_dir, train_path, overrides, log_b, tmp_path / "b1.log")
    wait_for_step(process, log_b, 2 * KILL_INTERVAL + 3)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL
    killed_at = max(r.step for r in read_batch_log(log_b))
    assert killed_at < KILL_STEPS  # it really died mid-run
    # Orbit saved at step 5 (the first block) and then every KILL_INTERVAL steps.
    saved = checkpoint_steps(model_dir)[-1]
    assert KILL_INTERVAL < saved <= killed_at
    # The newest checkpoint is complete: every variable reads back and is finite.
    latest = tf.train.latest_checkpoint(model_dir)
    assert latest.endswith(f"ckpt-{saved}")
    assert all(np.isfinite(v).all() for v in _float_values(latest).values())

    before_restart = len(read_batch_log(log_b))
    restart = run_python(
        train_args(model_dir, train_path, overrides, extra=[f"--batch_log={log_b}"])
    )
    assert f"restored from checkpoint: {latest}" in restart.stderr + restart.stdout
    # A single-task run is one routine, "translation": its data skips the trained batches.
    assert f"resuming at step {saved}: skipping {{'translation': {saved}}} batches" in (
        restart.stderr
    )
    resumed = read_batch_log(log_b)[before_restart:]
    # The restarted run trains steps saved+1 ... KILL_STEPS on exactly run A's batches.
    assert [r.step for r in resumed] == list(range(saved + 1, KILL_STEPS + 1))
    assert resumed == batches_a[saved:]
    # (and before the kill, run B had seen run A's batches too)
    assert read_batch_log(log_b)[:killed_at] == batches_a[:killed_at]


@pytest.mark.slow
def test_a_resume_under_two_mirrored_replicas_gives_each_replica_its_own_next_batches(
    tmp_path, corpus_dir
):
    """Under a MirroredStrategy on CPUs each replica reads its own shard of the rows; a
    resumed run skips, per replica, the batches that replica trained on, so it trains on the
    uninterrupted run's batches, replica by replica."""
    log_a, log_b = str(tmp_path / "a.tsv"), str(tmp_path / "b.tsv")
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    train_path = os.path.join(corpus_dir, "train.tsv")
    # An uninterrupted run of 8 steps; a run of 4, then resumed to 8; in one process.
    result = run_training_phases(
        [
            train_flags(
                model_dir,
                train_path,
                trainer_overrides(steps, checkpoint_interval=4, steps_per_loop=4),
                extra=[
                    "--distribution_strategy=mirrored",
                    "--cpu_replicas=2",
                    f"--batch_log={batch_log}",
                ],
            )
            for model_dir, steps, batch_log in ((a, 8, log_a), (b, 4, log_b), (b, 8, log_b))
        ]
    )
    assert "resuming at step 4: skipping {'translation': 4} batches" in result.stderr
    uninterrupted, resumed = read_batch_log(log_a), read_batch_log(log_b)
    assert [(r.step, r.replica) for r in uninterrupted] == [
        (step, replica) for step in range(1, 9) for replica in (0, 1)
    ]
    assert resumed == uninterrupted
    # The two replicas of a step hold different rows (8 each of the global batch of 16).
    assert all(r.rows == 8 for r in uninterrupted)
    by_step = {}
    for r in uninterrupted:
        by_step.setdefault(r.step, set()).add(r.fingerprint)
    assert all(len(fingerprints) == 2 for fingerprints in by_step.values())


# ---- NaN / Inf loss --------------------------------------------------------------------------


def test_guard_names_the_first_non_finite_step_and_task():
    step = tf.Variable(0, dtype=tf.int64)
    weights = tf.Variable([1.0, 2.0])
    guard = NonFiniteLossGuard(
        ["translation", "nli"], checkpoint_dir=None, variables=lambda: [weights]
    )
    for value, totals in [(5, [1.0, 2.0]), (6, [3.0, 4.0])]:
        step.assign(value)
        guard.record(step, [tf.constant(t) for t in totals])
    guard.check(6)  # all finite: no error
    step.assign(7)
    guard.record(step, [tf.constant(3.0), tf.constant(np.nan)])
    step.assign(8)  # a later bad step does not move the first one
    guard.record(step, [tf.constant(np.inf), tf.constant(np.nan)])
    with pytest.raises(NonFiniteLossError, match=r"at step 7 of task 'nli'.*no checkpoint"):
        guard.check(8)


def test_guard_reports_non_finite_weights_at_the_blocks_last_step():
    weights = tf.Variable([1.0, np.inf])
    guard = NonFiniteLossGuard([None], checkpoint_dir=None, variables=lambda: [weights])
    guard.record(tf.Variable(3, dtype=tf.int64), [tf.constant(1.0)])
    with pytest.raises(NonFiniteLossError, match=r"at step 3;") as error:
        guard.check(3)
    assert error.value.step == 3 and error.value.task is None


# ---- Malformed rows in data shards -----------------------------------------------------------


@pytest.fixture
def shards(tmp_path) -> tuple[str, list[str]]:
    """Two shards of 10 rows; shard 1 has a bad row at line 4, shard 2 at lines 2 and 9."""
    rows = synthetic_pairs(20, seed=4)
    first = [list(r) for r in rows[:10]]
    second = [list(r) for r in rows[10:]]
    first[3] = ["only one column"]
    second[1] = [first[0][0], "   "]
    second[8] = ["", "vide"]
    paths = [
        write_tsv(str(tmp_path / "shard-00000.tsv"), first),
        write_tsv(str(tmp_path / "shard-00001.tsv"), second),
    ]
    return str(tmp_path / "shard-*.tsv"), paths


def test_malformed_row_in_a_shard_fails_with_file_and_line(shards, tokenizer):
    pattern, paths = shards
    with pytest.raises(MalformedRowError, match=rf"^{paths[0]}:4: expected at least 2"):
        make_pair_dataset(pattern, tokenizer, batch_size=4, on_malformed="raise")


def test_malformed_rows_in_shards_are_skipped_counted_and_logged(shards, tokenizer, caplog):
    pattern, paths = shards
    with caplog.at_level(logging.WARNING):
        dataset = make_pair_dataset(
            pattern, tokenizer, batch_size=1, is_training=False, on_malformed="skip"
        )
    messages = caplog.text
    assert f"{paths[0]}:4:" in messages
    assert f"{paths[1]}:2: column 2 is whitespace only" in messages
    assert f"{paths[1]}:9: column 1 is empty" in messages
    assert "3 malformed rows skipped" in messages and "(kept 17)" in messages
    # The graph drops the same rows the log counted.
    assert sum(1 for _ in dataset) == 17


def test_unicode_whitespace_fields_are_dropped_as_they_are_counted(tmp_path, tokenizer, caplog):
    # U+3000 (ideographic space) and U+00A0 are whitespace to Python's validator; the graph's
    # filter must drop those rows too, or the log would undercount what training uses.
    rows = [("a cat", "le chat"), ("\u3000", "le chien"), ("a dog", "\u00a0 \u2003")] * 2
    path = write_tsv(str(tmp_path / "spaces.tsv"), rows)
    with caplog.at_level(logging.WARNING):
        dataset = make_pair_dataset(
            path, tokenizer, batch_size=1, is_training=False, on_malformed="skip"
        )
    assert f"{path}:2: column 1 is whitespace only" in caplog.text
    assert f"{path}:3: column 2 is whitespace only" in caplog.text
    assert "4 malformed rows skipped" in caplog.text and "(kept 2)" in caplog.text
    assert sum(1 for _ in dataset) == 2


def test_bad_labels_are_counted_in_skip_mode(tmp_path, tokenizer, caplog):
    rows = [("a cat", "le chat", "entailment"), ("a dog", "le chien", "maybe")] * 3
    path = write_tsv(str(tmp_path / "nli.tsv"), rows)
    kwargs = dict(
        input_path=path,
        tokenizer=tokenizer,
        batch_size=1,
        label_names=("entailment", "contradiction"),
        is_training=False,
    )
    with pytest.raises(MalformedRowError, match=rf"^{path}:2: label 'maybe'"):
        make_pair_dataset(**kwargs, on_malformed="raise")
    with caplog.at_level(logging.WARNING):
        dataset = make_pair_dataset(**kwargs, on_malformed="skip")
    assert f"{path}:4: label 'maybe'" in caplog.text
    assert "3 malformed rows skipped" in caplog.text and "(kept 3)" in caplog.text
    assert [int(b["label"][0]) for b in dataset] == [0, 0, 0]


# Multi-task runs of tiny_multitask; argv: model_dir, the four task files, trainer overrides.
_MULTITASK_SCRIPT = """
import json, sys
from absl import logging
from official.core import exp_factory
from xling_tf import train
model_dir, translation, quick_thought, response, nli, trainer = sys.argv[1:7]
params = exp_factory.get_exp_config("tiny_multitask")
paths = {"translation_en_fr": translation, "quick_thought_en": quick_thought,
         "response_en": response, "nli_en": nli}
for routine in params.task.task_routines:
    routine.task_config.train_data.input_path = paths[routine.task_name]
params.override({"trainer": json.loads(trainer)})
logging.set_verbosity(logging.INFO)
train.run(params, model_dir)
"""


def _multitask_args(model_dir, task_files, **trainer) -> list[str]:
    trainer = dict(dict(steps_per_loop=4, summary_interval=4, checkpoint_interval=4), **trainer)
    return ["-c", _MULTITASK_SCRIPT, model_dir, *task_files, json.dumps(trainer)]


def _run_multitask(model_dir, task_files, check=True, **trainer):
    return run_python(_multitask_args(model_dir, task_files, **trainer), check=check)


def _task_names(log: str) -> list[str]:
    tasks = re.search(r"training \[(.*?)\] with round_robin", log)
    assert tasks, log[-4000:]
    return [name.strip(" '") for name in tasks.group(1).split(",")]


@pytest.mark.slow
def test_multitask_non_finite_loss_names_the_step_and_its_task(
    tmp_path,
    multitask_data,
):
    model_dir = str(tmp_path / "mt")
    absurd_rate = {
        "optimizer": {"type": "sgd"},
        "learning_rate": {
            "type": "stepwise",
            "stepwise": {"boundaries": [6], "values": [0.001, 1e30]},
        },
    }
    result = _run_multitask(
        model_dir, multitask_data, check=False, train_steps=40, optimizer_config=absurd_rate
    )
    assert result.returncode != 0
    match = re.search(r"non-finite training loss at step (\d+) of task '(\w+)'", result.stderr)
    assert match, result.stderr[-4000:]
    step, task = int(match.group(1)), match.group(2)
    names = _task_names(result.stderr)
    # Round robin: global step s (1-based) trains task (s - 1) mod 4.
    assert task == names[(step - 1) % len(names)]
    # The rate is huge from the 8th update (optimizer iteration 7 > boundary 6) on.
    assert 8 <= step < 40
    # Nothing at or after the bad step was saved; every checkpoint left is finite.
    saved = checkpoint_steps(model_dir)
    assert saved and saved[-1] < step
    assert f"the newest checkpoint is {model_dir}/ckpt-{saved[-1]})" in result.stderr
    for saved_step in saved:
        values = _float_values(os.path.join(model_dir, f"ckpt-{saved_step}"))
        assert values and all(np.isfinite(v).all() for v in values.values()), saved_step


# ---- Multi-task resume: which batches each task already trained on -------------------------


def test_round_robin_task_batches_consumed_by_hand():
    from xling_tf.multitask import RoundRobinTaskSampler

    sampler = RoundRobinTaskSampler({"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0})
    # Steps 0..9 train a b c d a b c d a b.
    assert task_batches_consumed(sampler, 4, 10) == [3, 3, 2, 2]
    assert task_batches_consumed(sampler, 4, 0) == [0, 0, 0, 0]


def test_proportional_task_batches_consumed_replays_the_trainers_draws():
    from official.modeling.multitask import task_sampler

    sampler = task_sampler.ProportionalTaskSampler({"a": 3.0, "b": 1.0})
    counts = task_batches_consumed(sampler, 2, 400)
    # The interleaving trainer's own draw, step by step (interleaving_trainer.train_step).
    picks = [
        0 if float(tf.random.stateless_uniform([], seed=(0, step))) < 0.75 else 1
        for step in range(400)
    ]
    assert counts == [picks.count(0), picks.count(1)]
    assert 250 < counts[0] < 350  # about 3:1


# ---- SIGTERM (preemption) --------------------------------------------------------------------


@pytest.mark.slow
def test_multitask_sigterm_saves_a_checkpoint_at_the_interrupted_step(
    tmp_path,
    multitask_data,
):
    model_dir = str(tmp_path / "mt")
    args = _multitask_args(
        model_dir,
        multitask_data,
        train_steps=5000,
        checkpoint_interval=1000,
        steps_per_loop=1,
        summary_interval=1,
    )
    process = start_python(args, tmp_path / "log")
    # Wait for the progress line of step 3 (one line per block of 1 step).
    deadline = time.time() + 600
    while "step 3/5000 |" not in (tmp_path / "log").read_text(encoding="utf-8"):
        assert process.poll() is None and time.time() < deadline, "training did not progress"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=120)
    log = (tmp_path / "log").read_text(encoding="utf-8")
    assert code == PREEMPTED_EXIT_CODE, log[-4000:]
    match = re.search(r"preempted: saved checkpoint (\S+) at step (\d+); exiting", log)
    assert match, log[-4000:]
    step = int(match.group(2))
    assert 3 <= step < 1000
    # Orbit checkpointed after the first block (step 1); the other one is the SIGTERM's.
    assert checkpoint_steps(model_dir) == [1, step]
    assert match.group(1) == tf.train.latest_checkpoint(model_dir) == f"{model_dir}/ckpt-{step}"
    reader = tf.train.load_checkpoint(match.group(1))
    assert reader.get_tensor("global_step/.ATTRIBUTES/VARIABLE_VALUE") == step
