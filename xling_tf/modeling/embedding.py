"""Token + position embeddings, with the paper's gradient multiplier on the embedding tables."""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras
from official.modeling import tf_utils
from official.nlp.modeling import layers as nlp_layers


def scale_gradient(x: tf.Tensor, multiplier: float) -> tf.Tensor:
    """Identity in the forward pass; multiplies the gradient flowing back through `x`.

    The paper trains embeddings with a gradient multiplier of 100 under plain SGD: the tables
    are sparse and would otherwise learn far slower than the Transformer. Written as
    `m * x + (1 - m) * stop_gradient(x)` rather than `tf.custom_gradient` so it works unchanged
    under every distribution strategy and in saved models.
    """
    if multiplier == 1.0:
        return x
    return multiplier * x + (1.0 - multiplier) * tf.stop_gradient(x)


@tf_keras.utils.register_keras_serializable(package="xling_tf")
class TextEmbedding(tf_keras.layers.Layer):
    """Word-piece embeddings plus learned position embeddings, layer-normalised.

    Call:
      word_ids: int32 [batch, seq].
    Returns:
      float [batch, seq, width] in the layer's compute dtype.
    """

    def __init__(
        self,
        vocab_size: int,
        width: int,
        max_sequence_length: int,
        gradient_multiplier: float = 1.0,
        dropout_rate: float = 0.1,
        initializer_range: float = 0.02,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.width = width
        self.max_sequence_length = max_sequence_length
        self.gradient_multiplier = gradient_multiplier
        self.dropout_rate = dropout_rate
        self.initializer_range = initializer_range
        initializer = tf_keras.initializers.TruncatedNormal(stddev=initializer_range)
        self._word_embedding = nlp_layers.OnDeviceEmbedding(
            vocab_size=vocab_size, embedding_width=width,
            initializer=tf_utils.clone_initializer(initializer),
            name="word_embeddings")
        self._position_embedding = nlp_layers.PositionEmbedding(
            max_length=max_sequence_length, initializer=tf_utils.clone_initializer(initializer),
            name="position_embedding")
        self._norm = tf_keras.layers.LayerNormalization(
            axis=-1, epsilon=1e-12, dtype=tf.float32, name="embeddings_layer_norm")
        self._dropout = tf_keras.layers.Dropout(rate=dropout_rate)

    def call(self, word_ids: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        words = self._word_embedding(word_ids)
        embeddings = words + self._position_embedding(words)
        embeddings = scale_gradient(embeddings, self.gradient_multiplier)
        embeddings = self._norm(embeddings)
        return self._dropout(embeddings, training=training)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "vocab_size": self.vocab_size,
            "width": self.width,
            "max_sequence_length": self.max_sequence_length,
            "gradient_multiplier": self.gradient_multiplier,
            "dropout_rate": self.dropout_rate,
            "initializer_range": self.initializer_range,
        })
        return config
