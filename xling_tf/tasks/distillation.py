"""Distillation: pull the student's sentence vectors toward an existing encoder's.

Rows are `sentence` (monolingual, `paired=False`) or `sentence \\t translation` (`paired=True`).
For a sentence s the student's g(s) is pulled toward teacher(s); for a pair (s, t) both g(s)
and g(t) are pulled toward teacher(s), which aligns the languages in the teacher's space
(Reimers & Gurevych 2020). With `ranking_weight > 0` the same batch also trains translation
ranking between g(s) and g(t) (the in-batch softmax of the translation task), which is what
lets a student overtake its teacher on its own domain.

Teacher vectors are computed once per (teacher, corpus) before training starts
(`xling_tf.distillation.teacher_cache.prepare_teacher_vectors`, called by `train.run`) and
read by the input pipeline from a memory-mapped file.
"""

from __future__ import annotations

import dataclasses

from xling_tf.configs.model import XlingModelConfig
from xling_tf.distillation.teachers import MUSE_V3
from xling_tf.modeling.distillation import DistillationModel
from xling_tf.modeling.encoder import SentenceEncoder
from xling_tf.modeling.ranking_loss import in_batch_softmax_loss
from xling_tf.tasks.base import (
    PairDataConfig,
    XlingTask,
    XlingTaskConfig,
    same_example_in_batch,
)

import numpy as np
import tensorflow as tf
import tf_keras
from official.core import task_factory

LOSSES = ("mse", "cosine")


@dataclasses.dataclass
class DistillationConfig(XlingTaskConfig):
    """Attributes:
    teacher: a TF Hub-style SavedModel folder or a `module:function` entry point
      (xling_tf/distillation/teachers.py); the demo's is multilingual USE v3.
    teacher_cache_dir: where teacher vectors are cached ("" = <model_dir>/teacher_cache);
      point several runs at one folder to share them.
    teacher_vectors: the cache file for `train_data` (filled in before training; set it to
      train on vectors computed elsewhere: float32 .npy [lines, d], row i for line i).
    paired: rows are `sentence \\t translation` (else one sentence per line).
    loss: "mse" (squared distance of unit vectors, summed over dimensions) or "cosine"
      (1 - cosine similarity); on unit vectors the first is twice the second.
    ranking_weight: weight of the in-batch translation ranking loss on paired rows (0: none).
    """

    teacher: str = MUSE_V3
    teacher_cache_dir: str = ""
    teacher_vectors: str = ""
    paired: bool = True
    loss: str = "mse"
    ranking_weight: float = 0.0
    train_data: PairDataConfig = dataclasses.field(default_factory=PairDataConfig)


@task_factory.register_task_cls(DistillationConfig)
class DistillationTask(XlingTask):
    """Student toward teacher (and, optionally, translation ranking) on one shared encoder."""

    def __init__(
        self,
        params: DistillationConfig,
        logging_dir: str | None = None,
        name: str | None = None,
        model_config: XlingModelConfig | None = None,
    ):
        super().__init__(params, logging_dir=logging_dir, name=name, model_config=model_config)
        if params.loss not in LOSSES:
            raise ValueError(f"distillation loss must be one of {LOSSES}, got {params.loss!r}")
        if params.ranking_weight and not params.paired:
            raise ValueError("ranking_weight needs paired rows (sentence \\t translation)")
        self.column_names = ("source", "target") if params.paired else ("source",)

    def _require_vectors(self) -> None:
        if not self.task_config.teacher_vectors:
            raise ValueError(
                "teacher vectors are not prepared: train.run does this before training "
                "(or set teacher_vectors to a float32 .npy of one vector per line)"
            )

    @property
    def teacher_dim(self) -> int:
        """The teacher's output size, read from the vector cache's header."""
        self._require_vectors()
        return int(np.load(self.task_config.teacher_vectors, mmap_mode="r").shape[1])

    def build_task_model(self, encoder: SentenceEncoder) -> tf_keras.Model:
        return DistillationModel(
            encoder,
            teacher_dim=self.teacher_dim,
            keep_student=self.task_config.ranking_weight > 0,
            name="distillation",
        )

    @property
    def row_vectors_path(self) -> str | None:  # type: ignore[override]
        return self.task_config.teacher_vectors or None

    def build_inputs(self, params: PairDataConfig, input_context=None) -> tf.data.Dataset:
        """Batches of {"source"[, "target"]: side, "row_vectors": teacher float32 [B, d]}; the
        model reads the sides, the loss reads the whole batch (Model Garden's `labels`)."""
        self._require_vectors()
        return super().build_inputs(params, input_context)

    def _distance(self, student: tf.Tensor, teacher: tf.Tensor) -> tf.Tensor:
        """Mean over the batch of the configured distance of unit vectors [B, d]."""
        cosine = tf.reduce_sum(student * teacher, axis=-1)
        per_example = 2.0 - 2.0 * cosine if self.task_config.loss == "mse" else 1.0 - cosine
        return tf.reduce_mean(per_example)

    def _ranking(self, labels, model_outputs, margin: float):
        return in_batch_softmax_loss(
            model_outputs["source_student"],
            model_outputs["target_student"],
            scale=self.model_config.logit_scale,
            margin=margin,
            bidirectional=True,
            same_example=same_example_in_batch(labels, self.column_names),
        )

    def build_losses(self, labels, model_outputs, aux_losses=None) -> tf.Tensor:
        teacher = tf.math.l2_normalize(labels["row_vectors"], axis=-1)
        sides = [name for name in ("source", "target") if name in model_outputs]
        loss = tf.add_n([self._distance(model_outputs[name], teacher) for name in sides])
        loss /= len(sides)
        if self.task_config.ranking_weight:
            ranking, logits = self._ranking(labels, model_outputs, self.model_config.logit_margin)
            self.keep_ranking_logits(model_outputs, logits)
            loss += self.task_config.ranking_weight * ranking
        return self.weighted(loss, aux_losses)

    def build_metrics(self, training: bool | None = None):
        del training
        metrics = [tf_keras.metrics.Mean(name="teacher_cosine")]
        if self.task_config.paired:
            metrics.append(tf_keras.metrics.Mean(name="translation_teacher_cosine"))
        if self.task_config.ranking_weight:
            metrics.append(tf_keras.metrics.SparseCategoricalAccuracy(name="ranking_accuracy"))
        return metrics

    def process_metrics(self, metrics, labels, model_outputs, **kwargs):
        del kwargs
        teacher = tf.math.l2_normalize(labels["row_vectors"], axis=-1)
        for metric in metrics:
            if metric.name == "teacher_cosine":
                metric.update_state(tf.reduce_sum(model_outputs["source"] * teacher, axis=-1))
            elif metric.name == "translation_teacher_cosine":
                metric.update_state(tf.reduce_sum(model_outputs["target"] * teacher, axis=-1))
            elif metric.name == "ranking_accuracy":
                # Accuracy without the training margin (it would under-report).
                gold = tf.range(tf.shape(model_outputs["source"])[0])
                logits = self.ranking_logits_for_metrics(
                    model_outputs, gold, lambda: self._ranking(labels, model_outputs, 0.0)[1]
                )["left_to_right"]
                metric.update_state(gold, logits)
