"""Short training runs through Model Garden's loop: loss falls, strategies, resume."""

from __future__ import annotations

import os
import shutil

from xling_tf.evaluation.tensorboard_logs import read_scalars

import pytest

from conftest import checkpoint_steps as _checkpoint_steps
from conftest import run_python, train_args

pytestmark = pytest.mark.slow


def test_loss_falls_and_summaries_are_written(trained_run):
    losses = read_scalars(os.path.join(trained_run, "train"), "training_loss")
    assert [step for step, _ in losses] == [10, 20, 30, 40]
    assert losses[-1][1] < 0.6 * losses[0][1], losses
    rates = read_scalars(os.path.join(trained_run, "train"), "examples_per_second")
    assert len(rates) == 4 and all(rate > 0 for _, rate in rates)
    assert os.path.exists(os.path.join(trained_run, "vocab", "sentencepiece.model"))
    assert os.path.exists(os.path.join(trained_run, "params.yaml"))
    assert _checkpoint_steps(trained_run)[-1] == 40


def test_resume_continues_from_the_saved_step(tmp_path, corpus_dir, trained_run):
    # A copy of the shared tiny run (conftest.trained_run: 40 steps, checkpoints at 20 and 40).
    model_dir = str(tmp_path / "resume")
    shutil.copytree(trained_run, model_dir)
    train = os.path.join(corpus_dir, "train.tsv")
    assert _checkpoint_steps(model_dir)[-1] == 40
    second = run_python(
        train_args(
            model_dir,
            train,
            "trainer.train_steps=50,"
            "trainer.checkpoint_interval=10,"
            "trainer.steps_per_loop=10,trainer.summary_interval=10",
        )
    )
    log = second.stdout + second.stderr
    assert "ckpt-40" in log and "restored" in log
    assert "step 50/50" in log and "step 10/50" not in log
    assert _checkpoint_steps(model_dir)[-1] == 50
    # A finished run started again trains nothing and leaves the checkpoints alone.
    third = run_python(
        train_args(
            model_dir,
            train,
            "trainer.train_steps=50,"
            "trainer.checkpoint_interval=10,"
            "trainer.steps_per_loop=10,trainer.summary_interval=10",
        )
    )
    assert "examples/s" not in third.stdout + third.stderr
    assert _checkpoint_steps(model_dir)[-1] == 50


def test_mirrored_strategy_over_two_logical_cpus(tmp_path, corpus_dir):
    model_dir = str(tmp_path / "mirrored")
    result = run_python(
        train_args(
            model_dir,
            os.path.join(corpus_dir, "train.tsv"),
            "trainer.train_steps=10,trainer.checkpoint_interval=10,trainer.steps_per_loop=5,trainer.summary_interval=5",
            extra=["--distribution_strategy=mirrored", "--cpu_replicas=2"],
        )
    )
    log = result.stdout + result.stderr
    assert "MirroredStrategy with 2 replica(s)" in log
    assert _checkpoint_steps(model_dir)[-1] == 10
    losses = read_scalars(os.path.join(model_dir, "train"), "training_loss")
    assert len(losses) == 2 and all(loss > 0 for _, loss in losses)


def test_malformed_training_row_names_file_and_line(tmp_path, corpus_dir):
    bad = tmp_path / "bad.tsv"
    lines = open(os.path.join(corpus_dir, "train.tsv"), encoding="utf-8").read().splitlines()
    lines.insert(6, "a row without a tab")
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_python(train_args(str(tmp_path / "run"), str(bad)), check=False)
    assert result.returncode != 0
    assert f"{bad}:7:" in result.stderr
    # With on_malformed=skip the same file trains, and the skip is logged.
    result = run_python(
        train_args(
            str(tmp_path / "run_skip"),
            str(bad),
            "task.train_data.on_malformed=skip,trainer.train_steps=5,trainer.steps_per_loop=5,"
            "trainer.checkpoint_interval=5,trainer.summary_interval=5",
        )
    )
    assert "1 malformed rows skipped" in result.stderr
