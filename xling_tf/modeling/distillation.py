"""The student side of distillation: the shared encoder plus a map into the teacher's space."""

from __future__ import annotations

from typing import Any

from xling_tf.modeling.dual_encoder import SharedEncoderModel, encode_sides
from xling_tf.modeling.encoder import SentenceEncoder
from xling_tf.modeling.normalization import l2_normalization

import tensorflow as tf
import tf_keras


@tf_keras.utils.register_keras_serializable(package="xling_tf")
class DistillationModel(SharedEncoderModel):
    """Embeds a sentence (and its translation) with the student, in the teacher's space.

    Call:
      inputs: {"source": side} and optionally {"target": side}, side = {"input_word_ids",
        "input_mask": int32 [B, T], ...}; both sides share T (the pipeline pads them together).
    Returns:
      {"source": float32 [B, teacher_dim]} (and "target"), L2-normalised: the student's
      pooled output, through a learned linear map when `teacher_dim` differs from the
      encoder's output size (the map is training-only; exports keep the encoder's output).
      With `keep_student`: also "source_student" / "target_student", the normalised encoder
      outputs before the map (what translation ranking scores).
    """

    def __init__(
        self,
        encoder: SentenceEncoder,
        teacher_dim: int,
        keep_student: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.teacher_dim = int(teacher_dim)
        self.keep_student = keep_student
        self.teacher_map = (
            tf_keras.layers.Dense(self.teacher_dim, use_bias=False, name="teacher_map")
            if self.teacher_dim != encoder.output_dim
            else None
        )
        self._l2_normalize = l2_normalization()

    def call(self, inputs: dict[str, Any], training: bool | None = None):
        names = [name for name in ("source", "target") if name in inputs]
        pooled = encode_sides(self.encoder, [inputs[name] for name in names], training=training)
        outputs: dict[str, tf.Tensor] = {}
        for name, student in zip(names, pooled, strict=True):
            mapped = self.teacher_map(student) if self.teacher_map is not None else student
            outputs[name] = self._l2_normalize(mapped)
            if self.keep_student:
                outputs[f"{name}_student"] = self._l2_normalize(student)
        return outputs

    def get_config(self) -> dict[str, Any]:
        return {
            "encoder": tf_keras.layers.serialize(self.encoder),
            "teacher_dim": self.teacher_dim,
            "keep_student": self.keep_student,
            "name": self.name,
        }
