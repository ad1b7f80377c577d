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

The model config lives once, at `task.model`: `build_multi_task` hands it to every routine's
task. A single-task experiment (`demo`, `tiny`) is a one-routine multi-task experiment here
(`as_multitask`), so every run takes the one training path (xling_tf/trainer.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from xling_tf.configs.model import XlingModelConfig
from xling_tf.modeling.factory import build_sentence_encoder
from xling_tf.tasks.translation_ranking import TranslationExperimentTaskConfig

import tensorflow as tf
import tf_keras
from official.core import config_definitions as cfg
from official.core import task_factory
from official.modeling import hyperparams
from official.modeling.multitask import base_model, configs
from official.modeling.multitask import multitask as mg_multitask
from official.modeling.multitask import task_sampler as mg_sampler

# The routine name of a single-task experiment run as a multi-task one (its TensorBoard
# curves are under <model_dir>/train/translation/).
SINGLE_TASK_ROUTINE = "translation"


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
    """`model` is the experiment's one model config (tokenizer + shared encoder + scoring):
    every routine's task reads it (`build_multi_task`); routines hold no copy."""

    model: XlingModelConfig = dataclasses.field(default_factory=XlingModelConfig)


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
    """Every task's model around one shared SentenceEncoder, built from `task.model`."""

    def __init__(
        self, multi_task: mg_multitask.MultiTask, model_config: XlingModelConfig, **kwargs: Any
    ):
        self.encoder = build_sentence_encoder(model_config)
        self._multi_task = multi_task
        super().__init__(**kwargs)

    def _instantiate_sub_tasks(self) -> dict[str, tf_keras.Model]:
        return {
            name: task.build_model(encoder=self.encoder)
            for name, task in self._multi_task.tasks.items()
        }

    def build(self) -> None:
        """Creates every variable up front (the optimizer builds its slots from them).

        Each task model is called on placeholder text through the tokenizer
        (`XlingTask.example_features`): no training file is read.
        """
        for name, task in self._multi_task.tasks.items():
            self.sub_tasks[name](task.example_features(), training=False)

    def initialize(self) -> None:
        """A fresh run's starting weights (see XlingTask.initialize); every task shares the
        encoder and the model config, so the first task's `init_checkpoint` decides."""
        name, task = next(iter(self._multi_task.tasks.items()))
        task.initialize(self.sub_tasks[name])

    @property
    def checkpoint_items(self) -> dict[str, Any]:
        # Exports restore the shared encoder by this name from any experiment's checkpoint.
        return {"encoder": self.encoder}


def build_multi_task(
    config: XlingMultiTaskConfig, logging_dir: str | None = None
) -> mg_multitask.MultiTask:
    """Model Garden's `MultiTask.from_config`, with `config.model` handed to every task.

    Raises ValueError if a routine sets a model config of its own (Model Garden's
    `TaskConfig.model`): it would be ignored, so it could silently disagree with `task.model`.
    """
    tasks, eval_steps, weights = {}, {}, {}
    for routine in config.task_routines:
        name = routine.task_name or routine.task_config.name
        if routine.task_config.model is not None:
            raise ValueError(
                f"routine {name!r} sets task_config.model: the model is configured once, at "
                "task.model, for every routine"
            )
        tasks[name] = task_factory.get_task(
            routine.task_config, logging_dir=logging_dir, name=name, model_config=config.model
        )
        eval_steps[name] = routine.eval_steps
        weights[name] = routine.task_weight
    return mg_multitask.MultiTask(tasks, task_eval_steps=eval_steps, task_weights=weights)


def as_multitask(params: cfg.ExperimentConfig) -> XlingMultiTaskExperimentConfig:
    """`params` as a multi-task experiment: a single-task one becomes one routine.

    A single-task experiment's `task` (`TranslationExperimentTaskConfig`) splits into the
    experiment's model (`task.model`) and the routine `SINGLE_TASK_ROUTINE`; runtime and
    trainer settings carry over. A multi-task experiment comes back as it is.
    """
    if isinstance(params, XlingMultiTaskExperimentConfig):
        return params
    if not isinstance(params.task, TranslationExperimentTaskConfig):
        raise TypeError(f"not an xling experiment task: {type(params.task).__name__}")
    return XlingMultiTaskExperimentConfig(
        task=XlingMultiTaskConfig(
            model=params.task.model,
            task_routines=(task_routine(SINGLE_TASK_ROUTINE, params.task.routine_config()),),
        ),
        trainer=XlingMultiTaskTrainerConfig(params.trainer.as_dict()),
        runtime=params.runtime,
    )


def task_routine(
    name: str, task_config: cfg.TaskConfig, weight: float = 1.0
) -> configs.TaskRoutine:
    return configs.TaskRoutine(task_name=name, task_config=task_config, task_weight=weight)
