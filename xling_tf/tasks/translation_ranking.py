"""Translation ranking: the bridge task that pulls a sentence and its translation together.

Given a batch of aligned pairs, the shared encoder embeds both sides and an in-batch softmax
ranks each translation above every other target in the batch (plus optional hard negatives),
in both directions. This task has no head: the score is the dot product of g(x) and g(y).
"""

from __future__ import annotations

import dataclasses

from xling_tf.configs.model import XlingModelConfig
from xling_tf.modeling.dual_encoder import DualEncoder
from xling_tf.modeling.encoder import SentenceEncoder
from xling_tf.modeling.ranking_loss import gold_columns, in_batch_softmax_loss
from xling_tf.tasks.base import PairDataConfig, XlingTask, XlingTaskConfig, same_example_in_batch

import tensorflow as tf
import tf_keras
from official.core import task_factory

__all__ = [
    "PairDataConfig",
    "TranslationExperimentTaskConfig",
    "TranslationRankingConfig",
    "TranslationRankingTask",
]


@dataclasses.dataclass
class TranslationRankingConfig(XlingTaskConfig):
    """Rows: `source \\t target [\\t hard negative ...]`.

    Attributes:
      bidirectional: rank targets given sources and sources given targets (the loss direction
        is the task's: a translation is symmetric, a reply is not).
    """

    bidirectional: bool = True


@dataclasses.dataclass
class TranslationExperimentTaskConfig(TranslationRankingConfig):
    """`task` of a single-task translation experiment (`demo`, `tiny`): the task's fields and
    the experiment's one model config, so `task.train_data.*` and `task.model.*` read as in
    Model Garden's single-task experiments. Training runs it as a one-routine multi-task
    experiment (`multitask.as_multitask`): one training path for every experiment.
    """

    model: XlingModelConfig = dataclasses.field(default_factory=XlingModelConfig)

    def routine_config(self) -> TranslationRankingConfig:
        """The task's fields without the model: the config of its one routine."""
        fields = self.as_dict()
        del fields["model"]
        return TranslationRankingConfig(fields)


@task_factory.register_task_cls(TranslationExperimentTaskConfig)
@task_factory.register_task_cls(TranslationRankingConfig)
class TranslationRankingTask(XlingTask):
    """In-batch softmax ranking of pairs over one shared sentence encoder (no head)."""

    column_names = ("left", "right")

    def build_task_model(self, encoder: SentenceEncoder) -> tf_keras.Model:
        return DualEncoder(encoder, normalize=self.model_config.normalize, name="dual_encoder")

    def _ranking(self, labels, model_outputs: dict[str, tf.Tensor], margin: float):
        model_config = self.model_config
        return in_batch_softmax_loss(
            model_outputs["left"],
            model_outputs["right"],
            hard_negatives=model_outputs.get("negatives"),
            scale=model_config.logit_scale,
            margin=margin,
            bidirectional=self.task_config.bidirectional,
            same_example=same_example_in_batch(
                labels, self.column_names, model_config.cross_replica_negatives
            ),
            cross_replica=model_config.cross_replica_negatives,
        )

    def build_losses(self, labels, model_outputs, aux_losses=None) -> tf.Tensor:
        loss, logits = self._ranking(labels, model_outputs, self.model_config.logit_margin)
        self.keep_ranking_logits(model_outputs, logits)
        return self.weighted(loss, aux_losses)

    def build_metrics(self, training: bool | None = None):
        del training
        # A one-way task (response ranking) has no right-to-left ranking to score.
        directions = ["left_to_right"]
        if self.task_config.bidirectional:
            directions.append("right_to_left")
        return [
            tf_keras.metrics.SparseCategoricalAccuracy(name=f"{direction}_accuracy")
            for direction in directions
        ]

    def process_metrics(self, metrics, labels, model_outputs, **kwargs):
        del kwargs
        # Accuracy is whether the gold candidate scores highest, not whether it does so by
        # the training margin: on margin-penalised logits it would under-report.
        gold = gold_columns(
            tf.shape(model_outputs["left"])[0], self.model_config.cross_replica_negatives
        )
        logits = self.ranking_logits_for_metrics(
            model_outputs, gold, lambda: self._ranking(labels, model_outputs, margin=0.0)[1]
        )
        for metric in metrics:
            direction = metric.name.replace("_accuracy", "")
            if direction in logits:
                metric.update_state(gold, logits[direction])
