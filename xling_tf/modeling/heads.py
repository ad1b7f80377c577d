"""Task heads on top of the shared encoder (Chidambaram et al. 2019, Figure 1).

Ranking tasks score (input, response) by the dot product of u = g(input) and v = head(g(response));
the translation bridge has no head at all. NLI classifies the pair features (u, v, |u-v|, u*v).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf
import tf_keras


@tf_keras.utils.register_keras_serializable(package="xling_tf")
class DenseTower(tf_keras.layers.Layer):
    """A stack of dense layers (paper: 320 then 512, tanh) on one side of a ranking task.

    Response ranking puts one on the reply side; Quick-Thought one each on the previous and
    the next sentence.

    Call:
      inputs: float [batch, dim] sentence embeddings.
    Returns:
      float32 [batch, widths[-1]].
    """

    def __init__(self, widths: Sequence[int] = (320, 512), activation: str = "tanh", **kwargs: Any):
        super().__init__(**kwargs)
        if not widths:
            raise ValueError("a dense tower needs at least one layer width")
        self.widths = tuple(int(w) for w in widths)
        self.activation = activation
        self._layers = [
            tf_keras.layers.Dense(w, activation=activation, name=f"dense_{i}")
            for i, w in enumerate(self.widths)
        ]

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        x = inputs
        for layer in self._layers:
            x = layer(x)
        return tf.cast(x, tf.float32)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"widths": list(self.widths), "activation": self.activation})
        return config


@tf_keras.utils.register_keras_serializable(package="xling_tf")
class NliClassifier(tf_keras.layers.Layer):
    """(u, v) -> logits over NLI classes from [u, v, |u - v|, u * v] (InferSent features).

    Call:
      inputs: (u, v), each float [batch, dim].
    Returns:
      float32 [batch, num_classes] logits.
    """

    def __init__(
        self,
        hidden_size: int = 512,
        num_classes: int = 3,
        activation: str = "relu",
        dropout_rate: float = 0.1,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.num_classes = num_classes
        self.activation = activation
        self.dropout_rate = dropout_rate
        self._hidden = tf_keras.layers.Dense(hidden_size, activation=activation, name="hidden")
        self._dropout = tf_keras.layers.Dropout(dropout_rate)
        self._logits = tf_keras.layers.Dense(num_classes, name="logits")

    def call(self, inputs: tuple[tf.Tensor, tf.Tensor], training: bool | None = None):
        u, v = inputs
        features = tf.concat([u, v, tf.abs(u - v), u * v], axis=-1)
        hidden = self._dropout(self._hidden(features), training=training)
        return tf.cast(self._logits(hidden), tf.float32)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "hidden_size": self.hidden_size,
                "num_classes": self.num_classes,
                "activation": self.activation,
                "dropout_rate": self.dropout_rate,
            }
        )
        return config
