"""Quick-Thought: rank a sentence's true previous and next sentences above the batch's others.

Rows are `current \\t previous \\t next` triples of consecutive sentences of one document
(data/documents.py never crosses a document boundary). Each context has its own tower.
"""

from __future__ import annotations

import dataclasses

from xling_tf.modeling.encoder import SentenceEncoder
from xling_tf.modeling.heads import DenseTower
from xling_tf.modeling.quick_thought import QuickThoughtModel
from xling_tf.modeling.ranking_loss import in_batch_softmax_loss
from xling_tf.tasks.base import XlingTask, XlingTaskConfig, same_example_in_batch

import tensorflow as tf
import tf_keras
from official.core import task_factory

CONTEXTS = ("previous", "next")


@dataclasses.dataclass
class QuickThoughtConfig(XlingTaskConfig):
    """Towers: dense `tower_hidden_widths`, then the encoder's output size (paper: 320, 512)."""

    tower_hidden_widths: tuple[int, ...] = (320,)


@task_factory.register_task_cls(QuickThoughtConfig)
class QuickThoughtTask(XlingTask):
    """Loss: mean of the in-batch softmax losses of current -> previous and current -> next."""

    column_names = ("current",) + CONTEXTS

    def build_task_model(self, encoder: SentenceEncoder) -> tf_keras.Model:
        widths = tuple(self.task_config.tower_hidden_widths) + (
            self.model_config.encoder.output_dim,
        )
        return QuickThoughtModel(
            encoder,
            previous_tower=DenseTower(widths, name="previous_tower"),
            next_tower=DenseTower(widths, name="next_tower"),
            normalize=self.model_config.normalize,
            name="quick_thought",
        )

    def _rankings(self, labels, model_outputs, margin: float):
        model_config = self.model_config
        return {
            context: in_batch_softmax_loss(
                model_outputs["current"],
                model_outputs[context],
                scale=model_config.logit_scale,
                margin=margin,
                bidirectional=False,
                same_example=same_example_in_batch(labels, ("current", context)),
            )
            for context in CONTEXTS
        }

    def build_losses(self, labels, model_outputs, aux_losses=None) -> tf.Tensor:
        rankings = self._rankings(labels, model_outputs, self.model_config.logit_margin)
        for context, (_, logits) in rankings.items():
            self.keep_ranking_logits(model_outputs, logits, name=context)
        losses = [loss for loss, _ in rankings.values()]
        return self.weighted(tf.add_n(losses) / len(losses), aux_losses)

    def build_metrics(self, training: bool | None = None):
        del training
        return [
            tf_keras.metrics.SparseCategoricalAccuracy(name=f"{context}_accuracy")
            for context in CONTEXTS
        ]

    def process_metrics(self, metrics, labels, model_outputs, **kwargs):
        del kwargs
        gold = tf.range(tf.shape(model_outputs["current"])[0])
        for metric in metrics:
            context = metric.name.replace("_accuracy", "")
            logits = self.ranking_logits_for_metrics(  # accuracy: no margin
                model_outputs,
                gold,
                lambda context=context: self._rankings(labels, model_outputs, 0.0)[context][1],
                name=context,
            )
            metric.update_state(gold, logits["left_to_right"])
