"""Dual-encoder model: one shared SentenceEncoder applied to both sides of a pair."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xling_tf.modeling.encoder import SentenceEncoder
from xling_tf.modeling.normalization import l2_normalization

import tensorflow as tf
import tf_keras


def flatten_negatives(negatives: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Features [B, K, T, ...] -> [B * K, T, ...], so negatives encode like any other side."""
    return {
        name: tf.reshape(value, tf.concat([[-1], tf.shape(value)[2:]], 0))
        for name, value in negatives.items()
    }


def encode_sides(
    encoder: SentenceEncoder, sides: Sequence[dict[str, tf.Tensor]], training: bool | None = None
) -> list[tf.Tensor]:
    """Encodes several feature dicts in ONE encoder pass; returns their pooled outputs.

    Stacking along the batch runs one set of large matmuls instead of one per side, and the
    weights are shared by construction. All sides must share the sequence length (the input
    pipeline pads them together).

    Args:
      encoder: the shared sentence encoder.
      sides: feature dicts {"input_word_ids", "input_mask": int32 [N_i, T], ...}.
    Returns:
      float32 [N_i, D] pooled outputs, one per side, in order.
    """
    sizes = [tf.shape(side["input_word_ids"])[0] for side in sides]
    stacked = {name: tf.concat([side[name] for side in sides], 0) for name in sides[0]}
    pooled = encoder(stacked, training=training)["pooled_output"]
    return tf.split(pooled, tf.stack(sizes), axis=0)


class SharedEncoderModel(tf_keras.Model):
    """A task model around the shared SentenceEncoder: checkpoints the encoder under
    "encoder" (what exports restore) and rebuilds its serialised layers in `from_config`.
    Subclasses put the encoder (and any head layer) under their config keys."""

    _serialized_layers: tuple[str, ...] = ("encoder",)

    @property
    def checkpoint_items(self) -> dict[str, Any]:
        return {"encoder": self.encoder}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects=None):
        config = dict(config)
        for key in cls._serialized_layers:
            if config.get(key) is not None:
                config[key] = tf_keras.layers.deserialize(
                    config[key], custom_objects=custom_objects
                )
        return cls(**config)


@tf_keras.utils.register_keras_serializable(package="xling_tf")
class DualEncoder(SharedEncoderModel):
    """Encodes left, right (and hard-negative) sentences with one shared encoder.

    Call:
      inputs: {"left": side, "right": side} and optionally {"negatives": side with an extra
        K axis after the batch}, where side = {"input_word_ids", "input_mask": int32 [B, T]}
        plus any other tokenizer output (e.g. "input_ngram_ids": int32 [B, T, N]). All sides
        share T (the input pipeline pads them together).
    Returns:
      {"left": float32 [B, D], "right": float32 [B, D']} and, with negatives,
      {"negatives": float32 [B, K, D']}; L2-normalised when `normalize` is set. With a
      `right_head` (the response tower of response ranking), right and negatives go through
      it: v = head(g(y)), D' = the head's width.
    """

    def __init__(
        self,
        encoder: SentenceEncoder,
        normalize: bool = True,
        right_head: tf_keras.layers.Layer | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.normalize = normalize
        self.right_head = right_head
        self._l2_normalize = l2_normalization()

    def _finish(self, pooled: tf.Tensor) -> tf.Tensor:
        return self._l2_normalize(pooled) if self.normalize else pooled

    def embed(self, features: dict[str, tf.Tensor], training: bool | None = None) -> tf.Tensor:
        """Tokenizer features with a leading batch axis N -> float32 [N, D] g(x) embeddings."""
        return self._finish(self.encoder(features, training=training)["pooled_output"])

    def call(self, inputs: dict[str, Any], training: bool | None = None):
        sides = [inputs["left"], inputs["right"]]
        negatives = inputs.get("negatives")
        if negatives is not None:
            sides.append(flatten_negatives(negatives))
        pooled = encode_sides(self.encoder, sides, training=training)
        right = pooled[1:]
        if self.right_head is not None:
            right = [self.right_head(x) for x in right]
        outputs = {"left": self._finish(pooled[0]), "right": self._finish(right[0])}
        if negatives is not None:
            batch = tf.shape(pooled[0])[0]
            outputs["negatives"] = tf.reshape(
                self._finish(right[1]), [batch, -1, tf.shape(right[1])[-1]]
            )
        return outputs

    _serialized_layers = ("encoder", "right_head")

    def get_config(self) -> dict[str, Any]:
        return {
            "encoder": tf_keras.layers.serialize(self.encoder),
            "normalize": self.normalize,
            "right_head": (
                tf_keras.layers.serialize(self.right_head) if self.right_head is not None else None
            ),
            "name": self.name,
        }
