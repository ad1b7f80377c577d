"""Model Garden's single-task trainer plus XLA, a non-finite-loss guard and data-order skip.

`base_trainer.Trainer.train_step` only jit-compiles the task's step with `runtime.enable_xla`
when GPUs are configured, and compiling the whole `task.train_step` fails with Model Garden's
optimizers (`apply_gradients` calls `merge_call`, which cannot run inside a compiled
function). This trainer honours `enable_xla` on any device by compiling the forward pass, the
loss and the gradients (`tf.function(jit_compile=True)`) and applying the gradients outside;
a TPUStrategy compiles the whole step anyway. After every step it records, in the graph,
whether the loss became non-finite (faults.NonFiniteLossGuard), and with `batch_log` it
records each batch's fingerprint (data_order.BatchRecorder).
"""

from __future__ import annotations

from typing import Any

from xling_tf.data_order import BatchRecorder
from xling_tf.faults import NonFiniteLossGuard

import tensorflow as tf
import tf_keras
from absl import logging
from official.core import base_task, base_trainer, train_utils
from official.core import config_definitions as cfg


def uses_jit_compile(params: cfg.ExperimentConfig, strategy: tf.distribute.Strategy) -> bool:
    """`runtime.enable_xla`, except on TPUs, where the whole step is compiled anyway.

    Works with any number of replicas: only the per-replica compute is compiled, the
    cross-replica gradient sum runs in the optimizer outside it.
    """
    return params.runtime.enable_xla and not isinstance(strategy, tf.distribute.TPUStrategy)


class XlingTrainer(base_trainer.Trainer):
    """base_trainer.Trainer with `jit_compile`, `loss_guard` and `batch_log` options.

    Args:
      config, task, model, optimizer, train, evaluate, train_dataset, checkpoint_exporter:
        as for `base_trainer.Trainer`.
      jit_compile: compile the forward pass, loss and gradients of each step with XLA.
      loss_guard: records the step of a non-finite loss (create it in the strategy scope).
      batch_log: a file to append each step's batch fingerprints to (debugging/tests).
    """

    def __init__(
        self,
        *args: Any,
        jit_compile: bool = False,
        loss_guard: NonFiniteLossGuard | None = None,
        batch_log: str | None = None,
        **kwargs: Any,
    ):
        self._loss_guard = loss_guard
        self._batch_recorder = BatchRecorder(batch_log) if batch_log else None
        super().__init__(*args, **kwargs)
        self._task_train_step = self._compiled_train_step if jit_compile else self.task.train_step
        self._loss_and_gradients = tf.function(self._loss_and_gradients_fn, jit_compile=True)
        logging.info("train step compiled with XLA: %s", jit_compile)

    def _loss_and_gradients_fn(self, features: Any) -> tuple[tf.Tensor, list, Any]:
        """Forward pass, loss and gradients: the XLA-compiled part of the step.

        Returns (float32 [] loss, gradients of the trainable variables in order, outputs).
        Follows `base_task.Task.train_step`: the loss is divided by the replica count, and
        scaled for float16 when the optimizer is a LossScaleOptimizer.
        """
        model, optimizer = self.model, self.optimizer
        with tf.GradientTape() as tape:
            outputs = model(features, training=True)
            loss = self.task.build_losses(
                labels=features, model_outputs=outputs, aux_losses=model.losses
            )
            scaled_loss = loss / tf.distribute.get_strategy().num_replicas_in_sync
            if isinstance(optimizer, tf_keras.mixed_precision.LossScaleOptimizer):
                scaled_loss = optimizer.get_scaled_loss(scaled_loss)
        return loss, tape.gradient(scaled_loss, model.trainable_variables), outputs

    def _compiled_train_step(self, inputs, model, optimizer, metrics=None) -> dict[str, Any]:
        """`task.train_step` with its compute in XLA; same arguments and logs."""
        loss, grads, outputs = self._loss_and_gradients(inputs)
        if isinstance(optimizer, tf_keras.mixed_precision.LossScaleOptimizer):
            grads = optimizer.get_unscaled_gradients(grads)
        optimizer.apply_gradients(list(zip(grads, model.trainable_variables, strict=True)))
        if metrics:
            self.task.process_metrics(metrics, inputs, outputs)
        return {self.task.loss: loss}

    def check_training_is_finite(self, train_output: Any = None) -> None:
        """An orbit train action: raises faults.NonFiniteLossError after a bad block.

        Orbit runs train actions before it saves a checkpoint, so NaN weights never reach disk.
        """
        if self._loss_guard is not None:
            self._loss_guard.check(int(self.global_step.numpy()))

    def next_train_inputs(self, iterator):
        inputs = next(iterator)
        if self._batch_recorder is not None:
            self._batch_recorder.record(self.strategy, self.global_step, inputs)
        return inputs

    def train_step(self, iterator):
        def step_fn(inputs):
            logs = self._task_train_step(
                inputs, model=self.model, optimizer=self.optimizer, metrics=self.train_metrics
            )
            self._train_loss.update_state(logs[self.task.loss])
            self.global_step.assign_add(1)

        inputs = self.next_train_inputs(iterator)
        self.strategy.run(step_fn, args=(inputs,), options=self._runtime_options)
        if self._loss_guard is not None:
            self._loss_guard.record(self.global_step, [self._train_loss.total])


def build_trainer(
    params: cfg.ExperimentConfig,
    task: base_task.Task,
    strategy: tf.distribute.Strategy,
    model_dir: str,
    mode: str,
    resume_step: int = 0,
    batch_log: str | None = None,
) -> XlingTrainer:
    """Builds the trainer in `strategy`'s scope; its training data starts at `resume_step`.

    Args:
      resume_step: global step of the checkpoint the run will restore; that many batches
        are skipped per input pipeline (see data_order.py), so the data order continues.
    """
    train = "train" in mode

    def train_inputs(input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        dataset = task.build_inputs(params.task.train_data, input_context)
        return dataset.skip(resume_step) if resume_step else dataset

    with strategy.scope():
        model = task.build_model()
        optimizer = train_utils.create_optimizer(task, params)
        guard = NonFiniteLossGuard([None], model_dir, lambda: model.trainable_variables)
        train_dataset = strategy.distribute_datasets_from_function(train_inputs) if train else None
        if resume_step:
            logging.info("resuming at step %d: skipping %d batches", resume_step, resume_step)
        return XlingTrainer(
            params,
            task,
            model=model,
            optimizer=optimizer,
            train=train,
            evaluate="eval" in mode,
            train_dataset=train_dataset,
            checkpoint_exporter=train_utils.maybe_create_best_ckpt_exporter(params, model_dir),
            jit_compile=uses_jit_compile(params, strategy),
            loss_guard=guard,
            batch_log=batch_log,
        )
