"""Translation ranking: the bridge task that pulls a sentence and its translation together.

Given a batch of aligned pairs, the shared encoder embeds both sides and an in-batch softmax
ranks each translation above every other target in the batch (plus optional hard negatives),
in both directions. This task has no head: the score is the dot product of g(x) and g(y).
"""

from __future__ import annotations

import dataclasses

from xling_tf.modeling.dual_encoder import DualEncoder
from xling_tf.modeling.encoder import SentenceEncoder
from xling_tf.modeling.ranking_loss import gold_columns, in_batch_softmax_loss
from xling_tf.tasks.base import PairDataConfig, XlingTask, XlingTaskConfig, same_example_in_batch

import tensorflow as tf
import tf_keras
from official.core import task_factory

__all__ = ["PairDataConfig", "TranslationRankingConfig", "TranslationRankingTask"]


@dataclasses.dataclass
class TranslationRankingConfig(XlingTaskConfig):
    """Rows: `source \\t target [\\t hard negative ...]`."""


@task_factory.register_task_cls(TranslationRankingConfig)
class TranslationRankingTask(XlingTask):
    """In-batch softmax ranking of pairs over one shared sentence encoder (no head)."""

    column_names = ("left", "right")

    def build_task_model(self, encoder: SentenceEncoder) -> tf_keras.Model:
        return DualEncoder(encoder, normalize=self.task_config.model.normalize, name="dual_encoder")

    def _ranking(self, labels, model_outputs: dict[str, tf.Tensor], margin: float):
        model_config = self.task_config.model
        return in_batch_softmax_loss(
            model_outputs["left"],
            model_outputs["right"],
            hard_negatives=model_outputs.get("negatives"),
            scale=model_config.logit_scale,
            margin=margin,
            bidirectional=model_config.bidirectional,
            same_example=same_example_in_batch(
                labels, self.column_names, model_config.cross_replica_negatives
            ),
            cross_replica=model_config.cross_replica_negatives,
        )

    def build_losses(self, labels, model_outputs, aux_losses=None) -> tf.Tensor:
        loss, _ = self._ranking(labels, model_outputs, self.task_config.model.logit_margin)
        return self.weighted(loss, aux_losses)

    def build_metrics(self, training: bool | None = None):
        del training
        # A one-way task (response ranking) has no right-to-left ranking to score.
        directions = ["left_to_right"]
        if self.task_config.model.bidirectional:
            directions.append("right_to_left")
        return [
            tf_keras.metrics.SparseCategoricalAccuracy(name=f"{direction}_accuracy")
            for direction in directions
        ]

    def process_metrics(self, metrics, labels, model_outputs, **kwargs):
        del kwargs
        # Accuracy is whether the gold candidate scores highest, not whether it does so by
        # the training margin: on margin-penalised logits it would under-report.
        _, logits = self._ranking(labels, model_outputs, margin=0.0)
        gold = gold_columns(
            tf.shape(model_outputs["left"])[0], self.task_config.model.cross_replica_negatives
        )
        for metric in metrics:
            direction = metric.name.replace("_accuracy", "")
            if direction in logits:
                metric.update_state(gold, logits[direction])
