r"""Training entry point, with Model Garden's flags.

  python -m xling_tf.train --experiment=demo --mode=train --model_dir=runs/demo \
      --params_override=task.train_data.input_path=data/bible/en-fr/train.tsv \
      [--config_file=my.yaml] [--distribution_strategy=mirrored]

Training resumes from the newest checkpoint in --model_dir that reads, with the data order of
an uninterrupted run (xling_tf/data_order.py); a finished run returns at once. SIGTERM (and
Ctrl-C) saves a checkpoint at the current step and exits with code 143 (130); a NaN/Inf loss
stops the run before a checkpoint is written (xling_tf/faults.py). One training at a time may
use a model_dir, and the model config of a run with checkpoints is fixed
(xling_tf/run_guard.py, docs/reliability.md). See README "Scaling out" for multi-worker and
TPU.
"""

from __future__ import annotations

import contextlib
from typing import Any

import xling_tf  # noqa: F401  (selects tf_keras before TensorFlow loads Keras)
from xling_tf import multitask
from xling_tf.configs import experiments  # noqa: F401  (registers experiments)
from xling_tf.distillation.teacher_cache import prepare_teacher_vectors
from xling_tf.distribution import STRATEGIES, build_strategy
from xling_tf.errors import UserError
from xling_tf.faults import checkpoint_step, newest_readable_checkpoint
from xling_tf.precision import resolve_mixed_precision
from xling_tf.run_guard import TrainingLock, check_model_config
from xling_tf.tokenization.vocabulary import ensure_vocabulary, is_chief, task_configs
from xling_tf.trainer import run_experiment

import tensorflow as tf
import yaml
from absl import app, flags, logging
from official.common import flags as tfm_flags
from official.core import config_definitions as cfg
from official.core import exp_factory, train_utils
from official.modeling import hyperparams, performance

FLAGS = flags.FLAGS


def define_flags() -> None:
    tfm_flags.define_flags()
    flags.DEFINE_enum(
        "distribution_strategy", None, list(STRATEGIES), "Overrides runtime.distribution_strategy."
    )
    flags.DEFINE_integer("num_gpus", None, "Overrides runtime.num_gpus.")
    flags.DEFINE_integer(
        "cpu_replicas",
        0,
        "With --distribution_strategy=mirrored and no GPU, mirror over this "
        "many logical CPU devices (tests the multi-replica path on a CPU).",
    )
    flags.DEFINE_bool(
        "jit_compile", None, "Overrides runtime.enable_xla: compile the train step with XLA."
    )
    flags.DEFINE_string(
        "batch_log",
        None,
        "Debugging: append `step replica rows fingerprint` of every training batch to this "
        "file (see xling_tf/data_order.py).",
    )
    flags.DEFINE_integer(
        "seed",
        None,
        "Reproducible training: seeds Python, NumPy and TensorFlow (weight initialisation, "
        "dropout) and turns on TensorFlow's op determinism, so two runs with one seed, "
        "strategy and machine train the same weights. Slower on accelerators; off by default.",
    )
    flags.DEFINE_bool(
        "force_unlock",
        False,
        "Take over <model_dir>/train.lock even if its owner looks alive (after a crash on "
        "another host; see docs/reliability.md).",
    )


class ConfigError(UserError, ValueError):
    """A bad --experiment, --config_file or --params_override; the message says which."""


# What Model Garden's config parsing raises for a bad --config_file or --params_override: an
# unknown key, a wrong type, a malformed string, a missing file.
_CONFIG_ERRORS = (LookupError, ValueError, TypeError, yaml.YAMLError, tf.errors.OpError)


def _config_error(flags_named: str, error: Exception) -> ConfigError:
    message = error.args[0] if isinstance(error, KeyError) and error.args else error
    return ConfigError(f"bad {flags_named}: {message}")


def parse_params(flags_obj) -> cfg.ExperimentConfig:
    """The experiment config of the flags (Model Garden's parser), with errors that say what
    to fix: an unknown experiment lists the registered ones."""
    if not flags_obj.experiment:
        raise ConfigError("--experiment is required")
    # Model Garden has no public listing of the registered experiments.
    registered = sorted(getattr(exp_factory, "_REGISTERED_CONFIGS", {}))
    if registered and flags_obj.experiment not in registered:
        raise ConfigError(
            f"unknown --experiment {flags_obj.experiment!r}; registered: {', '.join(registered)}"
        )
    try:
        return train_utils.parse_configuration(flags_obj, lock_return=False)
    except _CONFIG_ERRORS as error:
        raise _config_error("--config_file or --params_override", error) from error


def apply_params_override(params: cfg.ExperimentConfig, params_override: str | dict | None) -> None:
    """Applies a --params_override in any of Model Garden's forms (a dict, a YAML/JSON string,
    `a.b=c` pairs or a YAML file) to `params`; a bad one is a ConfigError."""
    try:
        hyperparams.override_params_dict(params, params_override, is_strict=True)
    except _CONFIG_ERRORS as error:
        raise _config_error("--params_override", error) from error


def apply_runtime_flags(
    params: cfg.ExperimentConfig,
    distribution_strategy: str | None,
    num_gpus: int | None,
    tpu: str | None,
    jit_compile: bool | None = None,
) -> None:
    runtime: dict[str, Any] = {}
    if jit_compile is not None:
        runtime["enable_xla"] = jit_compile
    if distribution_strategy:
        runtime["distribution_strategy"] = distribution_strategy
    if num_gpus is not None:
        runtime["num_gpus"] = num_gpus
    if tpu:
        runtime["tpu"] = tpu
    if runtime:
        params.override({"runtime": runtime}, is_strict=True)


# Strategies whose batches must all have one shape: TPUs compile one program per input
# shape, and multi-worker collectives all-gather the sparse embedding gradients, which fails
# ("Shape mismatch in the collective instance") when workers' batches differ in length.
STATIC_SHAPE_STRATEGIES = ("tpu", "multi_worker_mirrored")


def resolve_batch_shapes(params: cfg.ExperimentConfig, strategy_name: str) -> None:
    """Fills the `None` shape policies of every task's data configs.

    `static_shapes` -> True under STATIC_SHAPE_STRATEGIES; `pad_to_bucket_boundary` -> True
    when `runtime.enable_xla`: XLA compiles one program per batch shape, and padding each
    length bucket to its upper bound leaves a handful of shapes instead of one per length.
    """
    static = strategy_name in STATIC_SHAPE_STRATEGIES
    policies = {"static_shapes": static, "pad_to_bucket_boundary": params.runtime.enable_xla}
    for task in task_configs(params):
        for data in (task.train_data, task.validation_data):
            for name, value in policies.items():
                if getattr(data, name, False) is None:
                    data.override({name: bool(value)}, is_strict=True)


def run(
    params: cfg.ExperimentConfig,
    model_dir: str,
    mode: str = "train",
    cpu_replicas: int = 0,
    batch_log: str | None = None,
    force_unlock: bool = False,
):
    """Trains and/or evaluates `params` in `model_dir`; returns (model, eval logs).

    Every experiment takes one path: a single-task one runs as a one-routine multi-task
    experiment (`multitask.as_multitask`; its params.yaml is written in that form), so XLA,
    the batch log, multi-worker restore and the loss guard work alike for all
    (xling_tf/trainer.py).
    A training first takes the model_dir's lock (the chief only, for multi-worker runs:
    workers share the folder), skips unreadable newest checkpoints, and checks that the model
    config matches the run's checkpoints, all before writing anything else. The vocabulary is
    prepared next (by the chief only; other workers wait for it), the final config is written
    to params.yaml by the chief, then Model Garden's orbit loop runs: checkpoints every
    `trainer.checkpoint_interval` steps, restores the newest one on start (skipping the
    batches it consumed), and writes TensorBoard summaries under model_dir/train and
    model_dir/validation.

    A finished run (mode "train", newest checkpoint at `trainer.train_steps` or beyond)
    returns at once after those checks, without building data, model or strategy: rerunning
    a finished job costs seconds. Raise `trainer.train_steps` to train on.

    Args:
      batch_log: debugging; a file to append every training batch's fingerprint to.
      force_unlock: take over the model_dir's lock even from an owner that looks alive.
    Returns:
      (the multi-task model, the last evaluation's logs or {}); (None, {}) for a finished run.
    """
    params = multitask.as_multitask(params)
    chief_trains = "train" in mode and is_chief()
    with TrainingLock(model_dir, force_unlock) if chief_trains else contextlib.nullcontext():
        checkpoint = None
        if "train" in mode:
            checkpoint = newest_readable_checkpoint(model_dir, repair=chief_trains)
        if chief_trains:
            check_model_config(params, model_dir)
        if mode == "train" and checkpoint:
            step = checkpoint_step(model_dir, checkpoint)
            if step >= params.trainer.train_steps:
                logging.info(
                    "%s is at step %d of %d: training is finished, nothing to do",
                    checkpoint,
                    step,
                    params.trainer.train_steps,
                )
                return None, {}
        return _run(params, model_dir, mode, cpu_replicas, batch_log, checkpoint)


def _run(
    params: multitask.XlingMultiTaskExperimentConfig,
    model_dir: str,
    mode: str,
    cpu_replicas: int,
    batch_log: str | None,
    checkpoint: str | None,
):
    """`run` once model_dir is guarded; `checkpoint` is the one a training resumes from."""
    ensure_vocabulary(params, model_dir)
    prepare_teacher_vectors(params, model_dir)
    strategy_name = params.runtime.distribution_strategy or "default"
    mixed_precision = resolve_mixed_precision(params.runtime.mixed_precision_dtype, strategy_name)
    params.override({"runtime": {"mixed_precision_dtype": mixed_precision}}, is_strict=True)
    resolve_batch_shapes(params, strategy_name)
    params.validate()
    params.lock()
    if mixed_precision:
        performance.set_mixed_precision_policy(tf.dtypes.as_dtype(mixed_precision))
    logging.info("mixed precision: %s", mixed_precision or "off (float32)")
    strategy = build_strategy(
        params.runtime.distribution_strategy or "default",
        num_gpus=params.runtime.num_gpus,
        tpu_address=params.runtime.tpu or None,
        cpu_replicas=cpu_replicas,
        all_reduce_alg=params.runtime.all_reduce_alg,
    )
    logging.info(
        "strategy %s with %d replica(s)", type(strategy).__name__, strategy.num_replicas_in_sync
    )
    if "train" in mode and strategy.extended.should_checkpoint:
        train_utils.serialize_config(params, model_dir)  # chief only: workers share model_dir
    return run_experiment(params, model_dir, mode, strategy, checkpoint, batch_log)


def seed_everything(seed: int) -> None:
    """Seeds Python, NumPy and TensorFlow and makes TensorFlow's ops deterministic.

    Model Garden's configs have no seed: the model's initializers draw from TensorFlow's
    global generator, so without this two runs start from different weights. The data order
    is seeded already (xling_tf/data_order.py).
    """
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def main(_) -> None:
    if FLAGS.seed is not None:
        seed_everything(FLAGS.seed)
    params = parse_params(FLAGS)
    apply_runtime_flags(
        params, FLAGS.distribution_strategy, FLAGS.num_gpus, FLAGS.tpu, FLAGS.jit_compile
    )
    run(
        params,
        FLAGS.model_dir,
        FLAGS.mode,
        cpu_replicas=FLAGS.cpu_replicas,
        batch_log=FLAGS.batch_log,
        force_unlock=FLAGS.force_unlock,
    )


if __name__ == "__main__":
    define_flags()
    flags.mark_flags_as_required(["experiment", "mode", "model_dir"])
    app.run(main)
