"""XLA (jit_compile) on the train step, a few steps on a CPU."""

from __future__ import annotations

import os

import xling_tf  # noqa: F401
from xling_tf.evaluation.tensorboard_logs import read_scalars

import pytest

from conftest import run_python, train_args

pytestmark = pytest.mark.slow


def test_jit_compiled_train_step_trains_on_mirrored_replicas(tmp_path, corpus_dir):
    """Two mirrored replicas (logical CPUs) with an all-reduce between, each step compiled.

    One replica compiles the same `tf.function(jit_compile=True)` step without the
    all-reduce, so this case covers it too. It is also the suite's MirroredStrategy training
    run (the strategy's own non-XLA step is covered by test_cross_replica_negatives).
    """
    model_dir = str(tmp_path / "xla")
    result = run_python(
        train_args(
            model_dir,
            os.path.join(corpus_dir, "train.tsv"),
            "trainer.train_steps=10,trainer.checkpoint_interval=10,trainer.steps_per_loop=5,"
            "trainer.summary_interval=5",
            extra=["--jit_compile", "--distribution_strategy=mirrored", "--cpu_replicas=2"],
        ),
        # TensorFlow's own INFO logs say when XLA really compiled a cluster.
        env={"TF_CPP_MIN_LOG_LEVEL": "0"},
    )
    log = result.stdout + result.stderr
    assert "MirroredStrategy with 2 replica(s)" in log
    assert os.path.exists(os.path.join(model_dir, "ckpt-10.index"))
    with open(os.path.join(model_dir, "params.yaml"), encoding="utf-8") as f:
        saved_params = f.read()
    assert "  enable_xla: true\n" in saved_params  # --jit_compile sets runtime.enable_xla
    # ... and pads each length bucket to its bound: one compiled program per bucket.
    assert "pad_to_bucket_boundary: true" in saved_params
    assert "train step compiled with XLA: True" in log
    assert "Compiled cluster using XLA!" in log
    losses = read_scalars(os.path.join(model_dir, "train", "translation"), "training_loss")
    assert [step for step, _ in losses] == [5, 10]
    assert losses[1][1] < 0.6 * losses[0][1], losses


def test_without_the_flag_nothing_is_compiled(trained_run_log):
    # The shared tiny run (conftest.trained_run) trains without --jit_compile, TF logs on.
    log = trained_run_log
    assert "train step compiled with XLA: False" in log
    assert "Compiled cluster using XLA!" not in log
