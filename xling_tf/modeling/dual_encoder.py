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
      inputs: {"left_word_ids", "left_mask", "right_word_ids", "right_mask": int32 [B, T]},
        optionally {"negative_word_ids", "negative_mask": int32 [B, K, T]}. All sides share T
        (the input pipeline pads them together).
    Returns:
      {"left": float32 [B, D], "right": float32 [B, D]} and, with negatives,
      {"negatives": float32 [B, K, D]}; L2-normalised when `normalize` is set.
    """

    def __init__(self, encoder: SentenceEncoder, normalize: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.normalize = normalize
        self._l2_normalize = L2Normalization(name="l2_normalize")

    def embed(self, word_ids: tf.Tensor, mask: tf.Tensor, training: bool | None = None):
        """int32 [N, T] ids and mask -> float32 [N, D] sentence embeddings."""
        pooled = self.encoder(
            {"input_word_ids": word_ids, "input_mask": mask}, training=training)["pooled_output"]
        return self._l2_normalize(pooled) if self.normalize else pooled

    def call(self, inputs: dict[str, tf.Tensor], training: bool | None = None):
        batch = tf.shape(inputs["left_word_ids"])[0]
        word_ids = [inputs["left_word_ids"], inputs["right_word_ids"]]
        masks = [inputs["left_mask"], inputs["right_mask"]]
        has_negatives = "negative_word_ids" in inputs
        if has_negatives:
            seq = tf.shape(inputs["negative_word_ids"])[-1]
            word_ids.append(tf.reshape(inputs["negative_word_ids"], [-1, seq]))
            masks.append(tf.reshape(inputs["negative_mask"], [-1, seq]))
        embeddings = self.embed(tf.concat(word_ids, 0), tf.concat(masks, 0), training=training)
        outputs = {"left": embeddings[:batch], "right": embeddings[batch:2 * batch]}
        if has_negatives:
            num_negatives = tf.shape(inputs["negative_word_ids"])[1]
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
