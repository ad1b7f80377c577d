"""L2 normalisation as a Keras layer, so exported models carry it in their config."""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras


@tf_keras.utils.register_keras_serializable(package="xling_tf")
class L2Normalization(tf_keras.layers.Layer):
    """float [batch, dim] -> float32 [batch, dim] with unit L2 norm (a zero row stays zero)."""

    def __init__(self, axis: int = -1, **kwargs: Any):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return tf.math.l2_normalize(tf.cast(inputs, tf.float32), axis=self.axis)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["axis"] = self.axis
        return config
