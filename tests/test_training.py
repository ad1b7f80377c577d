"""Short training runs through Model Garden's loop: loss falls, strategies, resume, and the
eval / train_and_eval modes."""

from __future__ import annotations

import os
import shutil

from xling_tf.evaluation.tensorboard_logs import read_scalars

import pytest

from conftest import checkpoint_steps as _checkpoint_steps
from conftest import run_python, train_args

pytestmark = pytest.mark.slow


def test_loss_falls_and_summaries_are_written(trained_run):
    # A single-task experiment trains as one routine, `translation` (one training path).
    losses = read_scalars(os.path.join(trained_run, "train", "translation"), "training_loss")
    assert [step for step, _ in losses] == [10, 20, 30, 40]
    assert losses[-1][1] < 0.6 * losses[0][1], losses
    rates = read_scalars(os.path.join(trained_run, "train"), "examples_per_second")
    assert len(rates) == 4 and all(rate > 0 for _, rate in rates)
    assert os.path.exists(os.path.join(trained_run, "vocab", "sentencepiece.model"))
    assert os.path.exists(os.path.join(trained_run, "params.yaml"))
    assert _checkpoint_steps(trained_run)[-1] == 40


# Model Garden's modes on a copy of the shared tiny run (40 steps, checkpoints at 20 and 40),
# in one process (one TensorFlow start): `eval` of the step-40 checkpoint; `train_and_eval`,
# which resumes at step 40 and evaluates every 10 steps up to 60; `train` to 60 again, which
# finds the run finished. Each phase's output follows a "PHASE <mode>" line on stdout (orbit's
# lines) and on stderr (absl's: the progress log).
MODES_SCRIPT = r"""
import os, sys
from absl import flags, logging
from xling_tf import train
logging.use_absl_handler()  # as under app.run, with --logtostderr: progress lines on stderr
model_dir, train_path, valid_path = sys.argv[1:4]
common = (f"task.train_data.input_path={train_path},task.validation_data.input_path={valid_path},"
          "trainer.checkpoint_interval=10,trainer.steps_per_loop=10,trainer.summary_interval=10,"
          "trainer.validation_interval=10,trainer.validation_steps=3,")
train.define_flags()
for mode, steps in (("eval", 40), ("train_and_eval", 60), ("train", 60)):
    print("PHASE", mode, flush=True)
    print("PHASE", mode, file=sys.stderr, flush=True)
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["train", "--logtostderr", "--experiment=tiny", f"--mode={mode}",
                 f"--model_dir={model_dir}",
                 f"--params_override={common}trainer.train_steps={steps}"])
    logging.set_verbosity(logging.INFO)  # app.run's level; parsing the flags resets it
    _, logs = train.run(train.parse_params(flags.FLAGS), model_dir, mode)
    print(mode.upper(), repr(logs).replace("\n", " "))
    print(mode.upper() + "_CHECKPOINTS", [s for s in sorted(os.listdir(model_dir)) if "ckpt" in s])
"""


def test_eval_resume_with_train_and_eval_and_a_finished_run(tmp_path, corpus_dir, trained_run):
    model_dir = shutil.copytree(trained_run, str(tmp_path / "resume"))
    checkpoints_before = [s for s in sorted(os.listdir(model_dir)) if "ckpt" in s]
    result = run_python(
        [
            "-c",
            MODES_SCRIPT,
            model_dir,
            os.path.join(corpus_dir, "train.tsv"),
            os.path.join(corpus_dir, "test.tsv"),
        ]
    )
    out = {line.split(" ", 1)[0]: line for line in result.stdout.splitlines()}
    phases = [
        out_phase + err_phase
        for out_phase, err_phase in zip(
            result.stdout.split("PHASE "), result.stderr.split("PHASE "), strict=True
        )
    ]
    _, eval_log, resume_log, finished_log = phases
    # eval: the validation logs of the step-40 weights; it neither trains nor saves.
    assert "validation_loss" in out["EVAL"]
    assert out["EVAL_CHECKPOINTS"] == f"EVAL_CHECKPOINTS {checkpoints_before}"
    assert "examples/s" not in eval_log
    # train_and_eval resumes from ckpt-40, trains steps 41-60 only and returns its last eval.
    assert "ckpt-40" in resume_log and "restored" in resume_log
    assert "step 60/60" in resume_log and "step 10/60" not in resume_log
    assert "validation_loss" in out["TRAIN_AND_EVAL"]
    assert "ckpt-60.index" in out["TRAIN_AND_EVAL_CHECKPOINTS"]
    # Validation summaries, per task, at the evaluated step 40, then every 10 steps.
    losses = read_scalars(os.path.join(model_dir, "validation", "translation"), "validation_loss")
    assert [step for step, _ in losses] == [40, 50, 60]
    # A finished run started again trains nothing and leaves the checkpoints alone.
    assert "examples/s" not in finished_log
    assert "ckpt-60 is at step 60 of 60: training is finished, nothing to do" in finished_log
    assert out["TRAIN"] == "TRAIN {}"
    assert out["TRAIN_CHECKPOINTS"] == out["TRAIN_AND_EVAL_CHECKPOINTS"].replace(
        "TRAIN_AND_EVAL_CHECKPOINTS", "TRAIN_CHECKPOINTS"
    )


# Two 4-step tiny runs through `xling_tf.train.main` in one process, both with --seed=3
# (without it, each run draws its own initial weights).
SEED_SCRIPT = r"""
import sys
from absl import flags, logging
from xling_tf import train
logging.use_absl_handler()
train_path = sys.argv[1]
train.define_flags()
for model_dir in sys.argv[2:]:
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["train", "--experiment=tiny", "--mode=train", f"--model_dir={model_dir}",
                 "--seed=3", f"--params_override=task.train_data.input_path={train_path},"
                 "trainer.train_steps=4,trainer.checkpoint_interval=4,trainer.steps_per_loop=4,"
                 "trainer.summary_interval=4"])
    train.main(None)
"""


def test_seed_makes_training_reproducible(tmp_path, corpus_dir):
    import numpy as np

    from conftest import checkpoint_values

    dirs = [str(tmp_path / name) for name in ("seed3", "seed3_again")]
    run_python(["-c", SEED_SCRIPT, os.path.join(corpus_dir, "train.tsv"), *dirs])
    first, again = (
        {k: v for k, v in checkpoint_values(os.path.join(d, "ckpt-4")).items() if "encoder" in k}
        for d in dirs
    )
    assert first and first.keys() == again.keys()
    assert all(np.array_equal(first[name], again[name]) for name in first)  # bit-identical


def test_a_malformed_training_row_is_skipped_when_asked(tmp_path, corpus_dir):
    # By default the row is an error naming file and line: test_reliability's
    # test_train_errors_are_one_line_and_exit_2 (in process).
    bad = tmp_path / "bad.tsv"
    lines = open(os.path.join(corpus_dir, "train.tsv"), encoding="utf-8").read().splitlines()
    lines.insert(6, "a row without a tab")
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # With on_malformed=skip the file trains, and the skip is logged.
    result = run_python(
        train_args(
            str(tmp_path / "run_skip"),
            str(bad),
            "task.train_data.on_malformed=skip,trainer.train_steps=5,trainer.steps_per_loop=5,"
            "trainer.checkpoint_interval=5,trainer.summary_interval=5",
        )
    )
    assert "1 malformed rows skipped" in result.stderr
