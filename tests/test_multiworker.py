"""Multi-worker training on localhost, and the static-shape (TPU) input path on a CPU."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import time
from pathlib import Path

import xling_tf  # noqa: F401
from xling_tf.data.pair_dataset import make_pair_dataset
from xling_tf.data_order import read_batch_log

import numpy as np
import pytest
import tensorflow as tf

from conftest import (
    checkpoint_steps,
    checkpoint_values,
    free_ports,
    run_python,
    start_python,
    synthetic_pairs,
    train_args,
    trainer_overrides,
    wait_for_step,
    write_tsv,
)

GLOBAL_BATCH = 16  # the tiny experiment's
NUM_WORKERS = 2
STEPS = 30
# A block and a checkpoint every 5 steps, every checkpoint kept (the kill test starts from
# ckpt-5), and a learning rate that decays over the whole run (the tiny experiment's reaches 0
# at step 20, after which the weights would no longer move).
OVERRIDES = (
    f"{trainer_overrides(STEPS, checkpoint_interval=5, steps_per_loop=5)},"
    f"trainer.max_to_keep={STEPS // 5},"
    f"trainer.optimizer_config.learning_rate.polynomial.decay_steps={STEPS}"
)


def _tf_config(ports: list[int], index: int) -> str:
    cluster = {"worker": [f"localhost:{port}" for port in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


def _start_workers(folder: Path, model_dir: str, train_path: str, tag: str = "") -> list:
    """Starts the 2 workers of a run on fresh localhost ports. Worker i logs to
    `folder/worker<i><tag>.log` and appends its batches to `folder/batches<i>.tsv`."""
    ports = free_ports(NUM_WORKERS)
    workers = []
    for index in range(NUM_WORKERS):
        env = {"TF_CONFIG": _tf_config(ports, index)}
        # Model Garden saves a non-chief worker's checkpoints under tempfile.mkdtemp(): keep
        # them inside the test's folder.
        env["TMPDIR"] = str(folder / f"tmp{index}{tag}")
        os.makedirs(env["TMPDIR"], exist_ok=True)
        args = train_args(
            model_dir,
            train_path,
            OVERRIDES,
            extra=[
                "--distribution_strategy=multi_worker_mirrored",
                f"--batch_log={folder / f'batches{index}.tsv'}",
            ],
        )
        workers.append(start_python(args, folder / f"worker{index}{tag}.log", env=env))
    return workers


def _wait_for_workers(workers: list, folder: Path, tag: str = "") -> list[str]:
    """Waits for every worker to exit 0; returns their logs."""
    try:
        codes = [w.wait(timeout=600) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    logs = [_log(folder, i, tag) for i in range(NUM_WORKERS)]
    assert codes == [0] * NUM_WORKERS, "\n\n".join(log[-5000:] for log in logs)
    return logs


def _log(folder: Path, index: int, tag: str = "") -> str:
    return (folder / f"worker{index}{tag}.log").read_text(encoding="utf-8")


def _saved_checkpoint(log: str, step: int) -> str:
    """The path of checkpoint `step` that a worker's log says it saved."""
    match = re.search(rf"saved checkpoint to (\S+/ckpt-{step})\.", log)
    assert match, log[-3000:]
    return match.group(1)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, corpus_dir) -> dict:
    """An uninterrupted 2-worker run of STEPS steps: {"folder", "model_dir", "logs": [2],
    "batches": [2 lists of BatchRecord]}. Shared: read-only."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    model_dir = str(folder / "run")
    train_path = os.path.join(corpus_dir, "train.tsv")
    logs = _wait_for_workers(_start_workers(folder, model_dir, train_path), folder)
    batches = [read_batch_log(str(folder / f"batches{i}.tsv")) for i in range(NUM_WORKERS)]
    return {"folder": folder, "model_dir": model_dir, "logs": logs, "batches": batches}


@pytest.mark.slow
def test_two_workers_agree_on_weights_and_split_the_global_batch(uninterrupted):
    folder, model_dir, logs = (
        uninterrupted["folder"],
        uninterrupted["model_dir"],
        uninterrupted["logs"],
    )

    # One strategy with 2 replicas, one per worker; each input pipeline builds 16 / 2 = 8 rows.
    for i, log in enumerate(logs):
        assert "CollectiveAllReduceStrategy with 2 replica(s)" in log
        assert f"input pipeline {i + 1} of 2: 8 rows per replica batch" in log
    # ... and that is what every step actually trained on, on both workers.
    batches = uninterrupted["batches"]
    for records in batches:
        assert [r.step for r in records] == list(range(1, STEPS + 1))
        assert {r.rows for r in records} == {GLOBAL_BATCH // NUM_WORKERS}
        # Static shapes are on by default under multi-worker (see train.STATIC_SHAPE_STRATEGIES).
        assert {r.length for r in records} == {16}
    # The workers read different shards of the data, so their batches differ at every step.
    assert all(a.fingerprint != b.fingerprint for a, b in zip(*batches, strict=True))

    # Only the chief writes summaries (one events file per folder: train/ and its routine's), ...
    events = {
        path: [name for name in files if name.startswith("events.out.tfevents.")]
        for path, _, files in os.walk(os.path.join(model_dir, "train"))
    }
    assert sorted(events) == [os.path.join(model_dir, "train", *p) for p in [(), ("translation",)]]
    assert all(len(names) == 1 for names in events.values()), events
    # ... and trains the vocabulary; the other worker waited for its file.
    assert "vocabulary written to" in logs[0]
    assert "vocabulary written to" not in logs[1]

    # The chief checkpoints into model_dir, the other worker into a private temporary folder;
    # after the all-reduced steps both hold the same weights and optimizer state.
    chief = os.path.join(model_dir, f"ckpt-{STEPS}")
    other = _saved_checkpoint(logs[1], STEPS)
    assert os.path.dirname(other).startswith(str(folder / "tmp1"))
    chief_values, other_values = checkpoint_values(chief), checkpoint_values(other)
    assert chief_values.keys() == other_values.keys()
    weights = [name for name in chief_values if name.startswith("encoder/")]
    assert len(weights) > 10
    for name, value in chief_values.items():
        np.testing.assert_array_equal(value, other_values[name], err_msg=name)
    assert int(chief_values["global_step/.ATTRIBUTES/VARIABLE_VALUE"]) == STEPS


# The killed run starts as a copy of the uninterrupted one at this checkpoint: weights are
# initialised unseeded (Model Garden has no seed), so two fresh runs never end with the same
# weights, while two runs from one checkpoint on the same batches do.
START_FROM = 5
# Worker 1 is SIGKILLed once its batch log shows this step: it has then finished step 11,
# which the chief only starts after saving ckpt-10. The steps left (to STEPS) give the kill
# time to land mid-run.
KILL_AFTER = 12


@pytest.mark.slow
def test_a_killed_worker_fails_the_job_and_a_restart_ends_like_an_uninterrupted_run(
    tmp_path, corpus_dir, uninterrupted
):
    reference = uninterrupted["model_dir"]
    model_dir = tmp_path / "run"
    shutil.copytree(os.path.join(reference, "vocab"), model_dir / "vocab")
    for path in glob.glob(os.path.join(reference, f"ckpt-{START_FROM}.*")):
        shutil.copy(path, model_dir)
    # The checkpoint state file, as tf.train.CheckpointManager writes it.
    state = f'model_checkpoint_path: "ckpt-{START_FROM}"\n'
    (model_dir / "checkpoint").write_text(state, encoding="utf-8")
    train_path = os.path.join(corpus_dir, "train.tsv")
    batch_logs = [str(tmp_path / f"batches{i}.tsv") for i in range(NUM_WORKERS)]

    chief, other = _start_workers(tmp_path, str(model_dir), train_path)
    try:
        wait_for_step(other, batch_logs[1], KILL_AFTER)
        other.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        assert other.wait(timeout=60) == -signal.SIGKILL
        # The chief, left waiting for worker 1 in a collective op, fails on its own: exit 1
        # with an UnavailableError ("Collective ops is aborted by: recvmsg:Connection reset by
        # peer", or "Socket closed"), 2-5 s after the kill here, process exit included. A
        # cluster manager then restarts every worker.
        code = chief.wait(timeout=60)
        failed_after = time.monotonic() - killed
    finally:
        for worker in (chief, other):
            if worker.poll() is None:
                worker.kill()
    chief_log = _log(tmp_path, 0)
    assert code == 1 and "UnavailableError" in chief_log, (code, chief_log[-3000:])
    assert failed_after < 60
    assert not (model_dir / "train.lock").exists()  # released by the chief's exception
    first = [read_batch_log(path) for path in batch_logs]
    killed_at = first[1][-1].step
    assert killed_at < STEPS  # it really died mid-run
    # Before the kill both trained the uninterrupted run's batches, from step START_FROM + 1.
    for records, expected in zip(first, uninterrupted["batches"], strict=True):
        assert records == expected[START_FROM : records[-1].step]
    # The chief's newest checkpoint is the one the restart must resume from; the chief cannot
    # have gone past the step worker 1 was in.
    saved = checkpoint_steps(str(model_dir))[-1]
    assert 10 <= saved <= killed_at, (saved, killed_at)
    latest = tf.train.latest_checkpoint(str(model_dir))
    assert latest.endswith(f"ckpt-{saved}")

    # Restart both, as a cluster manager would (on new ports here).
    logs = _wait_for_workers(
        _start_workers(tmp_path, str(model_dir), train_path, "b"), tmp_path, "b"
    )
    for log in logs:  # worker 1 restores the chief's checkpoint too
        assert f"restored from checkpoint: {latest}" in log
        assert f"resuming at step {saved}: skipping {{'translation': {saved}}} batches" in log
    for records, before, expected in zip(
        [read_batch_log(path) for path in batch_logs], first, uninterrupted["batches"], strict=True
    ):
        resumed = records[len(before) :]
        assert [r.step for r in resumed] == list(range(saved + 1, STEPS + 1))
        assert resumed == expected[saved:]

    # Same final step, weights and optimizer state as the uninterrupted run, on the chief and
    # on worker 1: exactly, since the same values trained on the same batches give the same sums
    # (an all-reduce over two workers adds two numbers, in either order). Only the object
    # graph differs: the names of optimizer slots a restore creates.
    final = checkpoint_values(str(model_dir / f"ckpt-{STEPS}"))
    expected = checkpoint_values(os.path.join(reference, f"ckpt-{STEPS}"))
    other_final = checkpoint_values(_saved_checkpoint(logs[1], STEPS))
    assert final.keys() == expected.keys() == other_final.keys()
    assert int(final["global_step/.ATTRIBUTES/VARIABLE_VALUE"]) == STEPS
    del expected["_CHECKPOINTABLE_OBJECT_GRAPH"]
    for name, value in expected.items():
        np.testing.assert_array_equal(final[name], value, err_msg=name)
        np.testing.assert_array_equal(other_final[name], value, err_msg=name)


def test_static_shapes_give_one_fully_defined_batch_shape(tmp_path, tokenizer):
    path = write_tsv(str(tmp_path / "pairs.tsv"), synthetic_pairs(40, seed=5))
    common = dict(input_path=path, tokenizer=tokenizer, batch_size=6, is_training=True)
    dynamic = make_pair_dataset(**common)
    assert not dynamic.element_spec["left"]["input_word_ids"].shape.is_fully_defined()

    static = make_pair_dataset(**common, static_shapes=True)
    specs = tf.nest.flatten(static.element_spec)
    assert all(spec.shape.is_fully_defined() for spec in specs), specs
    assert static.element_spec["left"]["input_word_ids"].shape == (6, 16)
    for batch in static.take(5):
        assert batch["right"]["input_mask"].shape == (6, 16)

    # Evaluation data with static shapes drops the last partial batch: 40 rows -> 6 batches.
    eval_static = make_pair_dataset(**dict(common, is_training=False), static_shapes=True)
    assert sum(1 for _ in eval_static) == 40 // 6


@pytest.mark.slow
def test_static_shape_path_trains_on_cpu(tmp_path, corpus_dir):
    """The TPU input path (selected explicitly here) trains a few steps on a CPU."""
    batch_log = tmp_path / "batches.tsv"
    result = run_python(
        train_args(
            str(tmp_path / "run"),
            os.path.join(corpus_dir, "train.tsv"),
            "task.train_data.static_shapes=true,trainer.train_steps=4,"
            "trainer.checkpoint_interval=4,trainer.steps_per_loop=2,trainer.summary_interval=2",
            extra=[f"--batch_log={batch_log}"],
        )
    )
    assert "step 4/4" in result.stderr
    # Every batch is 16 rows padded to max_seq_length 16, whatever its longest sentence.
    records = read_batch_log(str(batch_log))
    assert [(r.step, r.rows, r.length) for r in records] == [(s, 16, 16) for s in range(1, 5)]
