"""Masked mean pooling of token vectors into one sentence vector."""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras

POOLING_MODES = ("mean", "sqrt_length")


@tf_keras.utils.register_keras_serializable(package="xling_tf")
class MaskedMeanPooling(tf_keras.layers.Layer):
    """Averages token vectors over the positions the mask keeps.

    mode="mean" divides the masked sum by the length; mode="sqrt_length" divides by
    sqrt(length), as the Universal Sentence Encoder does, so longer sentences get larger norms.

    Call:
      sequence: float [batch, seq, width]; mask: int or bool [batch, seq].
    Returns:
      float [batch, width]. A row whose mask is all zeros pools to zeros (no NaN).
    """

    def __init__(self, mode: str = "mean", **kwargs: Any):
        super().__init__(**kwargs)
        if mode not in POOLING_MODES:
            raise ValueError(f"pooling mode must be one of {POOLING_MODES}, got {mode!r}")
        self.mode = mode

    def call(self, sequence: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        weights = tf.cast(mask, sequence.dtype)[:, :, tf.newaxis]
        total = tf.reduce_sum(sequence * weights, axis=1)
        length = tf.reduce_sum(weights, axis=1)
        if self.mode == "sqrt_length":
            length = tf.sqrt(length)
        return tf.math.divide_no_nan(total, length)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["mode"] = self.mode
        return config
