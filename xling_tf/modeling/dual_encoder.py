"""Dual-encoder model: one shared SentenceEncoder applied to both sides of a pair."""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras

from xling_tf.modeling.encoder import SentenceEncoder
from xling_tf.modeling.normalization import L2Normalization


@tf_keras.utils.register_keras_serializable(package="xling_tf")
class DualEncoder(tf_keras.Model):
    """Encodes left, right (and hard-negative) token ids with one shared encoder.

    All sides are stacked along the batch and encoded in a single pass: one set of matmuls
    instead of two or three, and identical weights by construction.

    Call:
      inputs: {"left": side, "right": side} and optionally {"negatives": side with an extra
        K axis after the batch}, where side = {"input_word_ids", "input_mask": int32 [B, T]}
        plus any other tokenizer output (e.g. "input_ngram_ids": int32 [B, T, N]). All sides
        share T (the input pipeline pads them together).
    Returns:
      {"left": float32 [B, D], "right": float32 [B, D]} and, with negatives,
      {"negatives": float32 [B, K, D]}; L2-normalised when `normalize` is set.
    """

    def __init__(self, encoder: SentenceEncoder, normalize: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.normalize = normalize
        self._l2_normalize = L2Normalization(name="l2_normalize")

    def embed(self, features: dict[str, tf.Tensor], training: bool | None = None) -> tf.Tensor:
        """Tokenizer features with a leading batch axis N -> float32 [N, D] embeddings."""
        pooled = self.encoder(features, training=training)["pooled_output"]
        return self._l2_normalize(pooled) if self.normalize else pooled

    def call(self, inputs: dict[str, dict[str, tf.Tensor]], training: bool | None = None):
        batch = tf.shape(inputs["left"]["input_word_ids"])[0]
        sides = [inputs["left"], inputs["right"]]
        negatives = inputs.get("negatives")
        if negatives is not None:
            num_negatives = tf.shape(negatives["input_word_ids"])[1]
            # [B, K, T, ...] -> [B * K, T, ...]
            sides.append({name: tf.reshape(value, tf.concat([[-1], tf.shape(value)[2:]], 0))
                          for name, value in negatives.items()})
        stacked = {name: tf.concat([side[name] for side in sides], 0) for name in sides[0]}
        embeddings = self.embed(stacked, training=training)
        outputs = {"left": embeddings[:batch], "right": embeddings[batch:2 * batch]}
        if negatives is not None:
            outputs["negatives"] = tf.reshape(
                embeddings[2 * batch:], [batch, num_negatives, tf.shape(embeddings)[-1]])
        return outputs

    @property
    def checkpoint_items(self) -> dict[str, Any]:
        return {"encoder": self.encoder}

    def get_config(self) -> dict[str, Any]:
        return {
            "encoder": tf_keras.layers.serialize(self.encoder),
            "normalize": self.normalize,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects=None):
        config = dict(config)
        config["encoder"] = tf_keras.layers.deserialize(
            config["encoder"], custom_objects=custom_objects)
        return cls(**config)
