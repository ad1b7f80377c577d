"""Multi-worker training on localhost, and the static-shape (TPU) input path on a CPU."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import xling_tf  # noqa: F401
from xling_tf.data.pair_dataset import make_pair_dataset
from xling_tf.data_order import read_batch_log

import numpy as np
import pytest
import tensorflow as tf

from conftest import (
    REPO,
    checkpoint_values,
    free_ports,
    run_python,
    synthetic_pairs,
    train_args,
    write_tsv,
)

GLOBAL_BATCH = 16  # the tiny experiment's
NUM_WORKERS = 2
STEPS = 10


def _tf_config(ports: list[int], index: int) -> str:
    cluster = {"worker": [f"localhost:{port}" for port in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


def _start_worker(index, ports, model_dir, train_path, tmp_path) -> subprocess.Popen:
    env = dict(os.environ, TF_CONFIG=_tf_config(ports, index), TF_CPP_MIN_LOG_LEVEL="2")
    # Model Garden saves a non-chief worker's checkpoints under tempfile.mkdtemp(): keep them
    # inside the test's folder.
    env["TMPDIR"] = str(tmp_path / f"tmp{index}")
    os.makedirs(env["TMPDIR"], exist_ok=True)
    args = train_args(
        model_dir,
        train_path,
        f"trainer.train_steps={STEPS},trainer.checkpoint_interval={STEPS},"
        "trainer.steps_per_loop=5,trainer.summary_interval=5",
        extra=[
            "--distribution_strategy=multi_worker_mirrored",
            f"--batch_log={tmp_path / f'batches{index}.tsv'}",
        ],
    )
    log = open(tmp_path / f"worker{index}.log", "w", encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, *args], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
    )


@pytest.mark.slow
def test_two_workers_agree_on_weights_and_split_the_global_batch(tmp_path, corpus_dir):
    model_dir = str(tmp_path / "run")
    train_path = os.path.join(corpus_dir, "train.tsv")
    ports = free_ports(NUM_WORKERS)
    workers = [_start_worker(i, ports, model_dir, train_path, tmp_path) for i in range(NUM_WORKERS)]
    try:
        codes = [w.wait(timeout=600) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    logs = [(tmp_path / f"worker{i}.log").read_text(encoding="utf-8") for i in range(2)]
    assert codes == [0, 0], "\n\n".join(log[-5000:] for log in logs)

    # One strategy with 2 replicas, one per worker; each input pipeline builds 16 / 2 = 8 rows.
    for i, log in enumerate(logs):
        assert "CollectiveAllReduceStrategy with 2 replica(s)" in log
        assert f"input pipeline {i + 1} of 2: 8 rows per replica batch" in log
    # ... and that is what every step actually trained on, on both workers.
    batches = [read_batch_log(str(tmp_path / f"batches{i}.tsv")) for i in range(NUM_WORKERS)]
    for records in batches:
        assert [r.step for r in records] == list(range(1, STEPS + 1))
        assert {r.rows for r in records} == {GLOBAL_BATCH // NUM_WORKERS}
        # Static shapes are on by default under multi-worker (see train.STATIC_SHAPE_STRATEGIES).
        assert {r.length for r in records} == {16}
    # The workers read different shards of the data, so their batches differ at every step.
    assert all(a.fingerprint != b.fingerprint for a, b in zip(*batches, strict=True))

    # Only the chief writes summaries (one events file per folder: train/ and its routine's), ...
    events = {
        folder: [name for name in files if name.startswith("events.out.tfevents.")]
        for folder, _, files in os.walk(os.path.join(model_dir, "train"))
    }
    assert sorted(events) == [os.path.join(model_dir, "train", *p) for p in [(), ("translation",)]]
    assert all(len(names) == 1 for names in events.values()), events
    # ... and trains the vocabulary; the other worker waited for its file.
    assert "vocabulary written to" in logs[0]
    assert "vocabulary written to" not in logs[1]

    # The chief checkpoints into model_dir, the other worker into a private temporary folder;
    # after the all-reduced steps both hold the same weights and optimizer state.
    chief = os.path.join(model_dir, f"ckpt-{STEPS}")
    match = re.search(rf"saved checkpoint to (\S+/ckpt-{STEPS})\.", logs[1])
    assert match, logs[1][-3000:]
    other = match.group(1)
    assert os.path.dirname(other).startswith(str(tmp_path / "tmp1"))
    chief_values, other_values = checkpoint_values(chief), checkpoint_values(other)
    assert chief_values.keys() == other_values.keys()
    weights = [name for name in chief_values if name.startswith("encoder/")]
    assert len(weights) > 10
    for name, value in chief_values.items():
        np.testing.assert_array_equal(value, other_values[name], err_msg=name)
    assert int(chief_values["global_step/.ATTRIBUTES/VARIABLE_VALUE"]) == STEPS


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
