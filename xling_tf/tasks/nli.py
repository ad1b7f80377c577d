"""Natural language inference (English supervised signal the other languages inherit).

Rows are `premise \\t hypothesis \\t label` with label one of entailment / neutral /
contradiction (data/nli.py converts SNLI / MultiNLI jsonl, XNLI and SICK files to this).
"""

from __future__ import annotations

import dataclasses

from xling_tf.data.nli import NLI_LABELS
from xling_tf.modeling.encoder import SentenceEncoder
from xling_tf.modeling.heads import NliClassifier
from xling_tf.modeling.nli import NliModel
from xling_tf.tasks.base import XlingTask, XlingTaskConfig

import tensorflow as tf
import tf_keras
from official.core import task_factory


@dataclasses.dataclass
class NliConfig(XlingTaskConfig):
    classifier_hidden_size: int = 512
    classifier_dropout_rate: float = 0.1


@task_factory.register_task_cls(NliConfig)
class NliTask(XlingTask):
    """Softmax cross-entropy over (u, v, |u-v|, u*v) features of the shared encoder."""

    column_names = ("premise", "hypothesis")
    label_names = NLI_LABELS

    def build_task_model(self, encoder: SentenceEncoder) -> tf_keras.Model:
        return NliModel(
            encoder,
            NliClassifier(
                hidden_size=self.task_config.classifier_hidden_size,
                num_classes=len(NLI_LABELS),
                dropout_rate=self.task_config.classifier_dropout_rate,
                name="nli_classifier",
            ),
            name="nli",
        )

    def build_losses(self, labels, model_outputs, aux_losses=None) -> tf.Tensor:
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=labels["label"], logits=model_outputs["logits"]
            )
        )
        return self.weighted(loss, aux_losses)

    def build_metrics(self, training: bool | None = None):
        del training
        return [tf_keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def process_metrics(self, metrics, labels, model_outputs, **kwargs):
        del kwargs
        for metric in metrics:
            metric.update_state(labels["label"], model_outputs["logits"])
