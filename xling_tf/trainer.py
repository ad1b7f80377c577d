"""The one training loop: Model Garden's interleaving multi-task trainer plus what runs need.

Every experiment trains here, a single-task one as a one-routine multi-task experiment
(multitask.as_multitask). On top of `MultiTaskInterleavingTrainer` (one task's step per global
step, chosen by a sampler) the trainer adds:

  XLA           `runtime.enable_xla` (`--jit_compile`) compiles each task's forward pass, loss
                and gradients (`tf.function(jit_compile=True)`) and applies the gradients
                outside: Model Garden's optimizers call `merge_call` in `apply_gradients`,
                which cannot run inside a compiled function. A TPUStrategy compiles the whole
                step anyway.
  loss guard    records, in the graph, the first step whose loss turns NaN/Inf and stops the
                run naming step and task before anything is checkpointed (faults.py).
  batch log     `--batch_log` appends each training batch's fingerprint (data_order.py).
  data order    a resumed run skips, in each task's data, the batches already trained on.
  progress      step logs with examples/s and ETA; SIGTERM/Ctrl-C checkpoints (single worker).

`run_experiment` builds the tasks, the shared-encoder model and this trainer, and runs orbit's
controller like Model Garden's `train_lib`, with multi-worker care: only the chief writes
checkpoints and summaries into model_dir, and other workers restore the chief's checkpoint.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from xling_tf.data_order import BatchRecorder, task_batches_consumed
from xling_tf.faults import NonFiniteLossGuard, PreemptionSaver, checkpoint_step
from xling_tf.multitask import (
    XlingMultiTaskExperimentConfig,
    XlingMultiTaskModel,
    build_multi_task,
    build_task_sampler,
)
from xling_tf.progress import ProgressLogger

import orbit
import tensorflow as tf
import tf_keras
from absl import logging
from official.core import base_task, train_utils
from official.modeling.multitask import base_trainer as mg_base_trainer
from official.modeling.multitask import evaluator as mg_evaluator
from official.modeling.multitask import interleaving_trainer
from official.modeling.multitask import multitask as mg_multitask


def uses_jit_compile(
    params: XlingMultiTaskExperimentConfig, strategy: tf.distribute.Strategy
) -> bool:
    """`runtime.enable_xla`, except on TPUs, where the whole step is compiled anyway.

    Works with any number of replicas: only the per-replica compute is compiled, the
    cross-replica gradient sum runs in the optimizer outside it.
    """
    return params.runtime.enable_xla and not isinstance(strategy, tf.distribute.TPUStrategy)


def xla_train_step(
    task: base_task.Task,
    model: tf_keras.Model,
    optimizer: tf_keras.optimizers.Optimizer,
    metrics: list[tf_keras.metrics.Metric],
) -> Callable[[Any], tf.Tensor]:
    """`task.train_step` with the forward pass, loss and gradients compiled by XLA.

    The gradients are applied outside the compiled function: Model Garden's optimizers call
    `merge_call` in `apply_gradients`, which cannot run inside it. Follows
    `base_task.Task.train_step`: the loss is divided by the replica count, and scaled for
    float16 when the optimizer is a LossScaleOptimizer. Each distinct input shape compiles
    once (length-bucketed batches: one compilation per bucket length seen).

    Returns:
      step(inputs) -> float32 [] loss; updates `metrics` like `task.process_metrics`.
    """
    scaled = isinstance(optimizer, tf_keras.mixed_precision.LossScaleOptimizer)

    @tf.function(jit_compile=True)
    def loss_and_gradients(features: Any) -> tuple[tf.Tensor, list, Any]:
        """-> (float32 [] loss, gradients of the trainable variables in order, outputs)."""
        with tf.GradientTape() as tape:
            outputs = model(features, training=True)
            loss = task.build_losses(
                labels=features, model_outputs=outputs, aux_losses=model.losses
            )
            scaled_loss = loss / tf.distribute.get_strategy().num_replicas_in_sync
            if scaled:
                scaled_loss = optimizer.get_scaled_loss(scaled_loss)
        return loss, tape.gradient(scaled_loss, model.trainable_variables), outputs

    def step(inputs: Any) -> tf.Tensor:
        loss, grads, outputs = loss_and_gradients(inputs)
        if scaled:
            grads = optimizer.get_unscaled_gradients(grads)
        optimizer.apply_gradients(list(zip(grads, model.trainable_variables, strict=True)))
        task.process_metrics(metrics, inputs, outputs)
        return loss

    return step


class _RecordingIterator:
    """Wraps a distributed iterator: every batch taken from it is fingerprinted first."""

    def __init__(self, iterator: Iterator, record: Callable[[Any], None]):
        self._iterator = iterator
        self._record = record

    def __iter__(self):
        return self

    def __next__(self):
        inputs = next(self._iterator)
        self._record(inputs)
        return inputs


class _TrainDatasetsGiven(mg_base_trainer.MultiTaskBaseTrainer):
    """Hands `self._given_train_datasets` to Model Garden's base trainer.

    The base trainer builds every task's distributed training data in its constructor unless
    it is given them, and the interleaving trainer passes none through. Built there, each
    pipeline would be built twice (`XlingTrainer` needs its own: `distribute_training_inputs`,
    skipping what a resumed run trained on); tracing a pipeline's tokenizer and batching
    functions is seconds of a short run. Placed after the interleaving trainer in
    `XlingTrainer`'s bases, so the interleaving trainer's `super().__init__` lands here.
    """

    _given_train_datasets: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, train_datasets=self._given_train_datasets, **kwargs)


class XlingTrainer(interleaving_trainer.MultiTaskInterleavingTrainer, _TrainDatasetsGiven):
    """Model Garden's interleaving trainer with XLA, loss guard, batch log, resume and progress.

    Args:
      multi_task, multi_task_model, optimizer, task_sampler: as for the interleaving trainer.
      total_steps: the step training stops at (progress logs).
      batch_sizes: routine name -> global batch size (examples/s).
      checkpoint_dir: where checkpoints go (named by the loss guard's error).
      resume_step: global step of the checkpoint the run restores; each task's data skips
        the batches the first `resume_step` steps trained on.
      jit_compile: compile each task's forward pass, loss and gradients with XLA.
      batch_log: a file to append each step's batch fingerprints to (debugging/tests).
      trainer_options: orbit's `StandardTrainerOptions` (None: orbit's defaults).
    """

    def __init__(
        self,
        multi_task: mg_multitask.MultiTask,
        multi_task_model: XlingMultiTaskModel,
        optimizer: tf_keras.optimizers.Optimizer,
        task_sampler: Any,
        *,
        total_steps: int,
        batch_sizes: dict[str, int],
        checkpoint_dir: str | None = None,
        resume_step: int = 0,
        jit_compile: bool = False,
        batch_log: str | None = None,
        trainer_options: orbit.StandardTrainerOptions | None = None,
    ):
        # Each task's data from the batch after those the first `resume_step` steps trained
        # on; the per-task step counters are restored below (they are not in the checkpoint).
        skipped = task_batches_consumed(task_sampler, len(multi_task.tasks), resume_step)
        self._given_train_datasets = {
            name: distribute_training_inputs(tf.distribute.get_strategy(), task, count)
            for (name, task), count in zip(multi_task.tasks.items(), skipped, strict=True)
        }
        super().__init__(
            multi_task=multi_task,
            multi_task_model=multi_task_model,
            optimizer=optimizer,
            task_sampler=task_sampler,
            trainer_options=trainer_options,
        )
        del self._given_train_datasets  # orbit holds them now
        for name, count in zip(multi_task.tasks, skipped, strict=True):
            self.task_step_counter(name).assign(count)
        if resume_step:
            logging.info(
                "resuming at step %d: skipping %s batches",
                resume_step,
                dict(zip(multi_task.tasks, skipped, strict=True)),
            )
        self._create_variables()
        self._task_names = list(self.multi_task.tasks)
        self._loss_guard = NonFiniteLossGuard(
            self._task_names, checkpoint_dir, lambda: self.multi_task_model.trainable_variables
        )
        self._batch_recorder = BatchRecorder(batch_log) if batch_log else None
        if jit_compile:
            self._task_train_step_map = {
                name: self._compiled_task_step(name, task)
                for name, task in self.multi_task.tasks.items()
            }
        # The task steps are traced as written, without AutoGraph: they have no data-dependent
        # Python control flow, and converting them and every Keras layer they call was about
        # a quarter of a short run's CPU time (the interleaving step around them, which picks
        # the task with a tensor `if`, is still converted).
        self._task_train_step_map = {
            name: tf.autograph.experimental.do_not_convert(step)
            for name, step in self._task_train_step_map.items()
        }
        logging.info("train step compiled with XLA: %s", jit_compile)
        if jit_compile and not tf.config.list_logical_devices("GPU"):
            logging.warning(
                "XLA on a CPU: measured slower than without it here (0.80x float32, 0.44x "
                "mixed bfloat16 for the demo step, docs/scaling.md); it is meant for GPUs"
            )
        self.preemption_saver: PreemptionSaver | None = None
        self._progress = ProgressLogger(
            self.global_step,
            total_steps,
            lambda: sum(
                int(self.task_step_counter(name).numpy()) * size
                for name, size in batch_sizes.items()
            ),
        )

    def _create_variables(self) -> None:
        """Creates the model's variables and the optimizer's slots before the first step.

        Model Garden's interleaving trainer does so only for the new Keras optimizers. With a
        legacy one (Model Garden's `adamw` is `AdamWeightDecay`) they would be created inside
        the first trace of orbit's train loop, and a `tf.function` that creates variables is
        traced a second time to run without creating them: twice the tracing of every task's
        step at the start of every run.
        """
        if isinstance(self.optimizer, tf_keras.optimizers.experimental.Optimizer):
            return  # built by the parent already
        self.multi_task_model.build()
        # The legacy optimizer's own (private) hook, the one `apply_gradients` calls: it creates
        # `iterations`, the hyperparameters and every slot, and nothing else.
        self.optimizer._create_all_weights(self.multi_task_model.trainable_variables)

    def _compiled_task_step(self, name: str, task: base_task.Task) -> Callable[[Any], None]:
        """Routine `name`'s step with its compute in XLA (`xla_train_step`); same logs."""
        step = xla_train_step(
            task, self.multi_task_model.sub_tasks[name], self.optimizer, self.training_metrics[name]
        )

        def step_fn(inputs: Any) -> None:
            self.training_losses[name].update_state(step(inputs))

        return step_fn

    def _record_batch(self, inputs: Any) -> None:
        assert self._batch_recorder is not None
        self._batch_recorder.record(self.strategy, self.global_step, inputs)

    def train_step(self, iterator_map):
        if self._batch_recorder is not None:
            iterator_map = {
                name: _RecordingIterator(iterator, self._record_batch)
                for name, iterator in iterator_map.items()
            }
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


class WorkerCheckpointManager(tf.train.CheckpointManager):
    """A non-chief worker's checkpoints: saved into a private folder, restored from the chief's.

    Workers share model_dir and only the chief writes there (Model Garden's layout), so the
    others save into a folder that is never read. A resumed run must still restore the chief's
    checkpoint `restore_from` on every worker, and just as the chief restores its own: in
    `restore_or_initialize` (called by Model Garden's preemption handler, then by orbit's
    controller), outside the strategy's scope. A restore creates variables (optimizer slots,
    the save counter) and the workers' collective broadcasts of their initial values must
    match one for one; a restore after the controller, in `strategy.scope()`, made every
    resumed multi-worker run fail at start-up (`Collective instance N expected type 1 and
    data_type 1 but got type 1 and data_type 9`).

    Args:
      checkpoint: the trainer's `tf.train.Checkpoint`.
      restore_from: the chief's checkpoint to resume from (None: a fresh run).
      **kwargs: as for `tf.train.CheckpointManager`; give `last_checkpoint_step` the step of
        `restore_from`, so this worker saves at the steps the chief saves at.
    """

    def __init__(self, checkpoint: tf.train.Checkpoint, restore_from: str | None, **kwargs: Any):
        super().__init__(checkpoint, **kwargs)
        self._restore_from = restore_from

    def restore_or_initialize(self) -> str | None:
        if self._restore_from is None or self.latest_checkpoint is not None:
            return super().restore_or_initialize()
        self.checkpoint.restore(self._restore_from)
        return self._restore_from


def training_dataset(
    task: base_task.Task,
    trained_steps: int = 0,
    input_context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """`task`'s training data after the batches of its first `trained_steps` steps, with
    tf.data's autotuning off (see `distribute_training_inputs`).

    A pipeline's batches are per-replica batches, and a pipeline that feeds several replicas
    (one per worker with several local devices: multi-GPU, TPU hosts) hands them out in turn,
    one per replica a step; so it skips `trained_steps` times the replicas it feeds.
    """
    dataset = task.build_inputs(task.task_config.train_data, input_context)
    replicas_fed = 1
    if input_context is not None:
        replicas_fed = input_context.num_replicas_in_sync // input_context.num_input_pipelines
    if trained_steps:
        dataset = dataset.skip(trained_steps * replicas_fed)
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def distribute_training_inputs(
    strategy: tf.distribute.Strategy, task: base_task.Task, trained_steps: int = 0
) -> tf.distribute.DistributedDataset:
    """`training_dataset(task, trained_steps)`, distributed by `strategy`.

    The pipelines run with tf.data's autotuning off, and under a MirroredStrategy over CPU
    devices every replica reads its own pipeline straight from the host (the task shards rows
    by input pipeline). Deleting a pipeline whose autotuner is on waits for the autotuner's
    thread to end its sleep, which doubles up to a minute, and the strategy's default (one
    pipeline per worker, split over the replicas by a `MultiDeviceIterator`) adds per-replica
    pipelines with default options, autotuning on, whatever this one sets: the main job paused
    about 23 s when Python freed its four training pipelines after training. Autotuning only
    picks parallelism and buffer sizes, and this pipeline keeps ahead of the step without it.
    On accelerators the default stays (the iterator prefetches batches onto the devices).
    """
    options = None
    if isinstance(strategy, tf.distribute.MirroredStrategy) and all(
        "CPU" in device.upper() for device in strategy.extended.worker_devices
    ):
        options = tf.distribute.InputOptions(
            experimental_fetch_to_device=False,
            experimental_replication_mode=tf.distribute.InputReplicationMode.PER_REPLICA,
        )
    return strategy.distribute_datasets_from_function(
        functools.partial(training_dataset, task, trained_steps), options
    )


def _train_actions(
    params: XlingMultiTaskExperimentConfig,
    trainer: XlingTrainer,
    checkpoint_manager: tf.train.CheckpointManager,
) -> list[orbit.Action]:
    """Model Garden's on-demand checkpoint on preemption, for multi-worker runs (single-worker
    runs have the trainer's PreemptionSaver)."""
    if params.trainer.preemption_on_demand_checkpoint and trainer.strategy.cluster_resolver:
        return [
            orbit.actions.SaveCheckpointIfPreempted(
                trainer.strategy.cluster_resolver,
                checkpoint_manager,
                trainer.global_step,
                keep_running_after_save=True,
            )
        ]
    return []


def run_experiment(
    params: XlingMultiTaskExperimentConfig,
    model_dir: str,
    mode: str,
    strategy: tf.distribute.Strategy,
    checkpoint: str | None = None,
    batch_log: str | None = None,
) -> tuple[tf_keras.Model, dict[str, Any]]:
    """Builds tasks, the shared-encoder model and the trainer; runs orbit's loop.

    Args:
      mode: "train", "eval", "train_and_eval" or "continuous_eval" (Model Garden's modes).
      checkpoint: the checkpoint a training resumes from (None: a fresh run); the data order
        continues after it, and every worker restores it (see WorkerCheckpointManager).
      batch_log: debugging; a file to append every training batch's fingerprint to.
    Returns:
      (the multi-task model, the last evaluation's logs or {}).
    """
    train = "train" in mode
    chief = strategy.extended.should_checkpoint
    resume_step = checkpoint_step(model_dir, checkpoint) if checkpoint else 0
    with strategy.scope():
        multi_task: mg_multitask.MultiTask = build_multi_task(params.task, logging_dir=model_dir)
        model = XlingMultiTaskModel(multi_task, params.task.model)
        trainer = None
        if train:
            trainer = XlingTrainer(
                multi_task=multi_task,
                multi_task_model=model,
                optimizer=train_utils.create_optimizer(multi_task, params),
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
                resume_step=resume_step,
                jit_compile=uses_jit_compile(params, strategy),
                batch_log=batch_log,
            )
        evaluator = None
        if "eval" in mode:
            evaluator = mg_evaluator.MultiTaskEvaluator(
                eval_tasks=multi_task.tasks.values(),
                model=model,
                eval_steps=multi_task.task_eval_steps,
                global_step=trainer.global_step if trainer else None,
                checkpoint_exporter=train_utils.maybe_create_best_ckpt_exporter(params, model_dir),
            )
    state = trainer or evaluator
    assert state is not None, f"unknown mode {mode!r}"
    manager_args = dict(
        step_counter=state.global_step,
        checkpoint_interval=params.trainer.checkpoint_interval,
        init_fn=model.initialize,
    )
    if chief:
        checkpoint_manager = tf.train.CheckpointManager(
            state.checkpoint,
            directory=model_dir,
            max_to_keep=params.trainer.max_to_keep,
            **manager_args,
        )
    else:
        # Workers share model_dir: only the chief writes there (Model Garden's single-task
        # runner does the same), the others into a private folder that is never read.
        checkpoint_manager = WorkerCheckpointManager(
            state.checkpoint,
            restore_from=checkpoint if trainer is not None else None,
            directory=tempfile.mkdtemp(),
            max_to_keep=1,
            last_checkpoint_step=resume_step or None,
            **manager_args,
        )
    controller = orbit.Controller(
        strategy=strategy,
        trainer=trainer,
        evaluator=evaluator,
        global_step=state.global_step,
        steps_per_loop=params.trainer.steps_per_loop,
        checkpoint_manager=checkpoint_manager,
        # Only the chief writes TensorBoard summaries: another worker's events would mix its
        # own (per-worker) metric values into the same model_dir/train curves.
        summary_dir=os.path.join(model_dir, "train") if chief else None,
        eval_summary_dir=os.path.join(model_dir, "validation") if chief else None,
        summary_interval=params.trainer.summary_interval if chief else None,
        train_actions=_train_actions(params, trainer, checkpoint_manager) if trainer else None,
    )
    if trainer is not None and strategy.cluster_resolver is None:
        saver = PreemptionSaver(lambda: checkpoint_manager, trainer.global_step)
        if saver.install():
            trainer.preemption_saver = saver
    logging.info(
        "training %s with %s sampling, task weights %s",
        list(multi_task.tasks),
        params.trainer.task_sampler.type,
        dict(multi_task.task_weights),
    )
    try:
        with strategy.scope():
            eval_logs = _run_mode(controller, params, mode, evaluator)
        return model, eval_logs
    finally:
        if trainer is not None and trainer.preemption_saver is not None:
            trainer.preemption_saver.uninstall()


def _run_mode(controller: orbit.Controller, params, mode: str, evaluator) -> dict[str, Any]:
    """Runs `mode` on the controller (Model Garden's train_lib modes); returns the last
    evaluation's logs ({} for "train")."""
    trainer = params.trainer
    if mode == "train":
        controller.train(steps=trainer.train_steps)
        return {}
    if mode == "train_and_eval":
        logs = controller.train_and_evaluate(
            train_steps=trainer.train_steps,
            eval_steps=trainer.validation_steps,
            eval_interval=trainer.validation_interval,
        )
    elif mode == "eval":
        logs = controller.evaluate(steps=trainer.validation_steps)
    elif mode == "continuous_eval":
        logs = controller.evaluate_continuously(
            steps=trainer.validation_steps,
            timeout=trainer.continuous_eval_timeout,
            timeout_fn=lambda: evaluator.global_step.numpy() >= trainer.train_steps,
        )
    else:
        raise NotImplementedError(f"unknown mode {mode!r}")
    return logs or {}
