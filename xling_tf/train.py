r"""Training entry point, with Model Garden's flags.

  python -m xling_tf.train --experiment=demo --mode=train --model_dir=runs/demo \
      --params_override=task.train_data.input_path=data/bible/en-fr/train.tsv \
      [--config_file=my.yaml] [--distribution_strategy=mirrored]

Training resumes from the newest checkpoint in --model_dir; a finished run returns at once.
"""

from __future__ import annotations

from typing import Any

import xling_tf  # noqa: F401  (selects tf_keras before TensorFlow loads Keras)
from xling_tf import multitask
from xling_tf.configs import experiments  # noqa: F401  (registers experiments)
from xling_tf.distribution import STRATEGIES, build_strategy
from xling_tf.precision import resolve_mixed_precision
from xling_tf.progress import ProgressLogger
from xling_tf.tokenization.vocabulary import ensure_vocabulary

import tensorflow as tf
from absl import app, flags, logging
from official.common import flags as tfm_flags
from official.core import config_definitions as cfg
from official.core import task_factory, train_lib, train_utils
from official.modeling import performance
from official.modeling.multitask import configs as mt_configs

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


def apply_runtime_flags(
    params: cfg.ExperimentConfig,
    distribution_strategy: str | None,
    num_gpus: int | None,
    tpu: str | None,
) -> None:
    runtime: dict[str, Any] = {}
    if distribution_strategy:
        runtime["distribution_strategy"] = distribution_strategy
    if num_gpus is not None:
        runtime["num_gpus"] = num_gpus
    if tpu:
        runtime["tpu"] = tpu
    if runtime:
        params.override({"runtime": runtime}, is_strict=True)


def run(params: cfg.ExperimentConfig, model_dir: str, mode: str = "train", cpu_replicas: int = 0):
    """Trains and/or evaluates `params` in `model_dir`; returns (model, eval logs).

    The vocabulary is prepared first, the final config is written to params.yaml, then
    Model Garden's `train_lib.run_experiment` runs the orbit loop: checkpoints every
    `trainer.checkpoint_interval` steps, restores the newest one on start, and writes
    TensorBoard summaries under model_dir/train and model_dir/validation.
    """
    ensure_vocabulary(params, model_dir)
    mixed_precision = resolve_mixed_precision(
        params.runtime.mixed_precision_dtype, params.runtime.distribution_strategy or "default"
    )
    params.override({"runtime": {"mixed_precision_dtype": mixed_precision}}, is_strict=True)
    params.validate()
    params.lock()
    if "train" in mode:
        train_utils.serialize_config(params, model_dir)
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
    if isinstance(params, mt_configs.MultiTaskExperimentConfig):
        return multitask.run_multitask(params, model_dir, mode, strategy)
    with strategy.scope():
        task = task_factory.get_task(params.task, logging_dir=model_dir)
    runner = train_lib.OrbitExperimentRunner(
        distribution_strategy=strategy, task=task, mode=mode, params=params, model_dir=model_dir
    )
    if "train" in mode:
        # The global step exists only once the runner has built its trainer.
        runner.controller.train_actions = (
            ProgressLogger.fixed_batch(
                runner.trainer.global_step,
                params.trainer.train_steps,
                params.task.train_data.global_batch_size,
            ),
        )
    return runner.run()


def main(_) -> None:
    params = train_utils.parse_configuration(FLAGS, lock_return=False)
    apply_runtime_flags(params, FLAGS.distribution_strategy, FLAGS.num_gpus, FLAGS.tpu)
    run(params, FLAGS.model_dir, FLAGS.mode, cpu_replicas=FLAGS.cpu_replicas)


if __name__ == "__main__":
    define_flags()
    flags.mark_flags_as_required(["experiment", "mode", "model_dir"])
    app.run(main)
