"""Multi-task training of one shared encoder (the paper's core), on Model Garden's multitask.

Each task (translation bridge, response ranking, Quick-Thought, NLI) is its own
`base_task.Task`; `XlingMultiTaskModel` builds ONE SentenceEncoder and hands it to every task's
model, so all tasks train the same weights. Model Garden's interleaving trainer runs one task
per step; which task is chosen by a sampler:

  round_robin   one step per task in turn (the paper)
  proportional  with probability proportional to task_weight ** alpha (the demos)
  annealing     proportional with an exponent that falls from about 1 toward 0.2 over
                training (Stickland & Murray 2019): weights matter early, tasks even out later
  uniform       every task equally likely

Task weights are the routines' `task_weight`. Both are config, e.g. in YAML (a --config_file,
or the same text as --params_override; Model Garden's `a.b=c` form cannot index the routine
list, and a list override needs one entry per routine, `{}` for those left alone):

    trainer: {task_sampler: {type: proportional, proportional: {alpha: 1.0}}}
    task: {task_routines: [{task_weight: 2.0}, {}, {}, {task_weight: 0.5}, {}]}

Every sampler's choice depends on the global step alone, so a resumed run replays it
(xling_tf/data_order.py).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from xling_tf.configs.model import DualEncoderConfig
from xling_tf.data_order import task_batches_consumed
from xling_tf.faults import NonFiniteLossGuard, PreemptionSaver, checkpoint_step
from xling_tf.progress import ProgressLogger

import tensorflow as tf
import tf_keras
from absl import logging
from official.core import config_definitions as cfg
from official.core import train_utils
from official.modeling import hyperparams
from official.modeling.multitask import base_model, configs, interleaving_trainer
from official.modeling.multitask import multitask as mg_multitask
from official.modeling.multitask import task_sampler as mg_sampler
from official.modeling.multitask import train_lib as mg_train_lib


@dataclasses.dataclass
class XlingAnnealingSampleConfig(configs.AnnealingSampleConfig):
    """Model Garden's annealing schedule; 0 = from `trainer.train_steps`.

    Attributes:
      steps_per_epoch: the exponent changes once per "epoch"; 0: a tenth of the training.
      total_steps: 0: `trainer.train_steps`.
    """

    steps_per_epoch: int = 0
    total_steps: int = 0


@dataclasses.dataclass
class XlingTaskSamplingConfig(configs.TaskSamplingConfig):
    """Model Garden's samplers plus the paper's round robin."""

    type: str = "round_robin"
    round_robin: hyperparams.Config = dataclasses.field(default_factory=hyperparams.Config)
    annealing: XlingAnnealingSampleConfig = dataclasses.field(
        default_factory=XlingAnnealingSampleConfig
    )


@dataclasses.dataclass
class XlingMultiTaskTrainerConfig(configs.MultiTaskTrainerConfig):
    trainer_type: str = "interleaving"
    task_sampler: XlingTaskSamplingConfig = dataclasses.field(
        default_factory=XlingTaskSamplingConfig
    )


@dataclasses.dataclass
class XlingMultiTaskConfig(configs.MultiTaskConfig):
    """`model` is the shared tokenizer + encoder; experiment factories copy it into every
    routine's task config so each task's input pipeline uses the same tokenizer."""

    model: DualEncoderConfig = dataclasses.field(default_factory=DualEncoderConfig)


@dataclasses.dataclass
class XlingMultiTaskExperimentConfig(configs.MultiTaskExperimentConfig):
    task: XlingMultiTaskConfig = dataclasses.field(default_factory=XlingMultiTaskConfig)
    trainer: XlingMultiTaskTrainerConfig = dataclasses.field(
        default_factory=XlingMultiTaskTrainerConfig
    )


class RoundRobinTaskSampler(mg_sampler.TaskSampler):
    """Task i at global steps i, i + n, i + 2n, ... (one step per task, in order).

    Model Garden's interleaving trainer picks the task whose cumulative-distribution interval
    holds a uniform draw in [0, 1); a step-dependent one-hot distribution makes that draw
    irrelevant, so the schedule is deterministic and survives a resume (it depends only on
    the restored global step).
    """

    def task_cumulative_distribution(self, global_step: tf.Tensor) -> tf.Tensor:
        num_tasks = len(self.task_weights)
        current = tf.cast(global_step, tf.int64) % num_tasks
        return tf.math.cumsum(tf.one_hot(current, num_tasks, dtype=tf.float32))


class ClosedCdfTaskSampler(mg_sampler.TaskSampler):
    """Another sampler whose cumulative distribution ends at exactly 1.0.

    A float32 cumulative sum of weights can end just below 1 (e.g. 0.99999994). The
    interleaving trainer draws r in [0, 1) and runs the task whose interval holds r; an r above
    the last entry runs no task and does not advance the global step, so the next step draws
    the same r (the draw is seeded by the step): training would hang for good.
    """

    def __init__(self, sampler: mg_sampler.TaskSampler):
        super().__init__(sampler.task_weights)
        self._sampler = sampler

    def task_cumulative_distribution(self, global_step: tf.Tensor) -> tf.Tensor:
        cumulative = self._sampler.task_cumulative_distribution(global_step)
        return tf.concat([cumulative[:-1], tf.ones([1], cumulative.dtype)], axis=0)


def build_task_sampler(
    config: XlingTaskSamplingConfig, task_weights: dict[str, float], train_steps: int
) -> mg_sampler.TaskSampler:
    """The sampler of `config.type` over `task_weights` (routine name -> task_weight)."""
    if config.type == "round_robin":
        return RoundRobinTaskSampler(task_weights)
    if config.type == "annealing":
        total_steps = config.annealing.total_steps or train_steps
        sampler: mg_sampler.TaskSampler = mg_sampler.AnnealingTaskSampler(
            task_weights,
            steps_per_epoch=config.annealing.steps_per_epoch or max(1, total_steps // 10),
            total_steps=total_steps,
        )
    else:
        sampler = mg_sampler.get_task_sampler(config, task_weights)
    return ClosedCdfTaskSampler(sampler)


class XlingMultiTaskModel(base_model.MultiTaskBaseModel):
    """Every task's model around one shared SentenceEncoder."""

    def __init__(self, multi_task: mg_multitask.MultiTask, **kwargs: Any):
        # Every routine carries the same model config (the experiment copies the shared one
        # into each), so any task can build the encoder they all share.
        self.encoder = next(iter(multi_task.tasks.values())).build_encoder()
        self._multi_task = multi_task
        super().__init__(**kwargs)

    def _instantiate_sub_tasks(self) -> dict[str, tf_keras.Model]:
        return {
            name: task.build_model(encoder=self.encoder)
            for name, task in self._multi_task.tasks.items()
        }

    def build(self) -> None:
        """Creates every variable up front (the optimizer builds its slots from them)."""
        for name, task in self._multi_task.tasks.items():
            dataset = task.build_inputs(
                dataclasses.replace(
                    task.task_config.train_data,
                    global_batch_size=2,
                    is_training=False,
                    length_bucketing=False,
                )
            )
            features = next(iter(dataset.take(1)))
            self.sub_tasks[name](features, training=False)

    def initialize(self) -> None:
        """A fresh run's starting weights (see XlingTask.initialize); every task shares the
        encoder, so the first task's config decides."""
        name, task = next(iter(self._multi_task.tasks.items()))
        task.initialize(self.sub_tasks[name])

    @property
    def checkpoint_items(self) -> dict[str, Any]:
        # Exports restore the shared encoder by this name from any experiment's checkpoint.
        return {"encoder": self.encoder}


class ProgressInterleavingTrainer(interleaving_trainer.MultiTaskInterleavingTrainer):
    """Model Garden's interleaving trainer plus step logs with examples/s and ETA, and a stop
    naming the step and task when a loss turns NaN/Inf (before anything is checkpointed)."""

    def __init__(
        self,
        *args,
        total_steps: int,
        batch_sizes: dict[str, int],
        checkpoint_dir: str | None = None,
        resume_step: int = 0,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self._task_names = list(self.multi_task.tasks)
        self._loss_guard = NonFiniteLossGuard(
            self._task_names, checkpoint_dir, lambda: self.multi_task_model.trainable_variables
        )
        if resume_step:
            self._continue_data_order(resume_step)
        self.preemption_saver: PreemptionSaver | None = None
        self._progress = ProgressLogger(
            self.global_step,
            total_steps,
            lambda: sum(
                int(self.task_step_counter(name).numpy()) * size
                for name, size in batch_sizes.items()
            ),
        )

    def _continue_data_order(self, resume_step: int) -> None:
        """Skips, in each task's data, the batches the first `resume_step` steps trained on,
        and restores the per-task step counters (they are not in the checkpoint)."""
        counts = task_batches_consumed(self._task_sampler, len(self._task_names), resume_step)
        datasets = {}
        for (name, task), count in zip(self.multi_task.tasks.items(), counts, strict=True):
            datasets[name] = self.strategy.distribute_datasets_from_function(
                functools.partial(_inputs_after, task, count)
            )
            self.task_step_counter(name).assign(count)
        self.train_dataset = datasets  # orbit's setter: replaces the datasets built by super()
        logging.info(
            "resuming at step %d: skipping %s batches",
            resume_step,
            dict(zip(datasets, counts, strict=True)),
        )

    def train_step(self, iterator_map):
        super().train_step(iterator_map)
        totals = [self.training_losses[name].total for name in self._task_names]
        self._loss_guard.record(self.global_step, totals)

    def train_loop_end(self):
        # Raising here, inside trainer.train(), keeps orbit from saving NaN weights.
        self._loss_guard.check(int(self.global_step.numpy()))
        result = super().train_loop_end()
        for name in self.multi_task.tasks:
            result[name]["steps"] = self.task_step_counter(name).value()
        self._progress(result)
        if self.preemption_saver is not None:
            self.preemption_saver(result)
        return result


def _inputs_after(task, batches: int, input_context=None) -> tf.data.Dataset:
    """The task's training data from its `batches`-th batch on."""
    return task.build_inputs(task.task_config.train_data, input_context).skip(batches)


def run_multitask(
    params: XlingMultiTaskExperimentConfig,
    model_dir: str,
    mode: str,
    strategy: tf.distribute.Strategy,
):
    """Builds tasks, the shared-encoder model and the trainer; runs Model Garden's loop."""
    with strategy.scope():
        multi_task = mg_multitask.MultiTask.from_config(params.task, logging_dir=model_dir)
        model = XlingMultiTaskModel(multi_task)
        optimizer = train_utils.create_optimizer(multi_task, params)
        trainer = None
        if "train" in mode:
            trainer = ProgressInterleavingTrainer(
                multi_task=multi_task,
                multi_task_model=model,
                optimizer=optimizer,
                task_sampler=build_task_sampler(
                    params.trainer.task_sampler,
                    multi_task.task_weights,
                    params.trainer.train_steps,
                ),
                total_steps=params.trainer.train_steps,
                batch_sizes={
                    name: task.task_config.train_data.global_batch_size
                    for name, task in multi_task.tasks.items()
                },
                checkpoint_dir=model_dir,
                resume_step=checkpoint_step(model_dir),
            )
    if trainer is not None and strategy.cluster_resolver is None:
        # Model Garden's multi-task loop takes no train actions: the trainer saves on a signal.
        saver = PreemptionSaver(
            functools.partial(
                tf.train.CheckpointManager,
                trainer.checkpoint,
                directory=model_dir,
                max_to_keep=params.trainer.max_to_keep,
                step_counter=trainer.global_step,
            ),
            trainer.global_step,
        )
        if saver.install():
            trainer.preemption_saver = saver
    logging.info(
        "multi-task training of %s with %s sampling, task weights %s",
        list(multi_task.tasks),
        params.trainer.task_sampler.type,
        dict(multi_task.task_weights),
    )
    try:
        return mg_train_lib.run_experiment(
            distribution_strategy=strategy,
            task=multi_task,
            model=model,
            mode=mode,
            params=params,
            model_dir=model_dir,
            trainer=trainer,
        )
    finally:
        if trainer is not None and trainer.preemption_saver is not None:
            trainer.preemption_saver.uninstall()


def task_routine(
    name: str, task_config: cfg.TaskConfig, weight: float = 1.0
) -> configs.TaskRoutine:
    return configs.TaskRoutine(task_name=name, task_config=task_config, task_weight=weight)
