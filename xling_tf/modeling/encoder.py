"""The shared sentence encoder g: embeddings -> Transformer blocks -> masked pooling -> projection.

This is the one network every task trains (the paper, Figure 1). It follows Model Garden's
encoder interface, so anything that consumes a `BertEncoder` output dict can consume it.
"""

from __future__ import annotations

from typing import Any

from xling_tf.modeling.pooling import MaskedMeanPooling
from xling_tf.modeling.token_embedding import TextEmbedding

import numpy as np
import tensorflow as tf
import tf_keras
from official.modeling import tf_utils
from official.nlp.modeling import layers as nlp_layers


@tf_keras.utils.register_keras_serializable(package="xling_tf")
class SentenceEncoder(tf_keras.layers.Layer):
    """Transformer sentence encoder with mean pooling (USE / xling style).

    Call:
      inputs: {"input_word_ids": int32 [batch, seq], "input_mask": int32 [batch, seq]}, plus
        "input_ngram_ids": int32 [batch, seq, ngrams_per_token] when `ngram_buckets > 0`
        (hashed character n-grams summed into each token's embedding). An extra
        "input_type_ids" key, as Model Garden preprocessors emit, is ignored.
    Returns:
      {"pooled_output": float32 [batch, output_dim],
       "sequence_output": float32 [batch, seq, hidden_size],
       "default": the same tensor as "pooled_output"}.
      Outputs are not normalised; the dual encoder and the export decide that.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int = 320,
        num_layers: int = 3,
        num_attention_heads: int = 8,
        inner_dim: int = 1280,
        inner_activation: str = "gelu",
        output_dim: int = 512,
        output_activation: str | None = None,
        max_sequence_length: int = 64,
        dropout_rate: float = 0.1,
        attention_dropout_rate: float = 0.1,
        embedding_gradient_multiplier: float = 1.0,
        pooling: str = "mean",
        norm_first: bool = True,
        initializer_range: float = 0.02,
        ngram_buckets: int = 0,
        trainable_word_embeddings: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self._config: dict[str, Any] = {
            "vocab_size": vocab_size,
            "hidden_size": hidden_size,
            "num_layers": num_layers,
            "num_attention_heads": num_attention_heads,
            "inner_dim": inner_dim,
            "inner_activation": inner_activation,
            "output_dim": output_dim,
            "output_activation": output_activation,
            "max_sequence_length": max_sequence_length,
            "dropout_rate": dropout_rate,
            "attention_dropout_rate": attention_dropout_rate,
            "embedding_gradient_multiplier": embedding_gradient_multiplier,
            "pooling": pooling,
            "norm_first": norm_first,
            "initializer_range": initializer_range,
            "ngram_buckets": ngram_buckets,
            "trainable_word_embeddings": trainable_word_embeddings,
        }
        initializer = tf_keras.initializers.TruncatedNormal(stddev=initializer_range)
        self.embedding = TextEmbedding(
            vocab_size=vocab_size,
            width=hidden_size,
            max_sequence_length=max_sequence_length,
            gradient_multiplier=embedding_gradient_multiplier,
            dropout_rate=dropout_rate,
            initializer_range=initializer_range,
            ngram_buckets=ngram_buckets,
            trainable_word_embeddings=trainable_word_embeddings,
            name="embeddings",
        )
        self.attention_mask = nlp_layers.SelfAttentionMask()
        self.blocks = [
            nlp_layers.TransformerEncoderBlock(
                num_attention_heads=num_attention_heads,
                inner_dim=inner_dim,
                inner_activation=tf_utils.get_activation(inner_activation),
                output_dropout=dropout_rate,
                attention_dropout=attention_dropout_rate,
                norm_first=norm_first,
                kernel_initializer=tf_utils.clone_initializer(initializer),
                name=f"transformer/layer_{i}",
            )
            for i in range(num_layers)
        ]
        # Pre-norm blocks leave the residual stream unnormalised; one final norm fixes scale.
        self.final_norm = (
            tf_keras.layers.LayerNormalization(epsilon=1e-12, dtype=tf.float32, name="final_norm")
            if norm_first
            else None
        )
        self.pooling = MaskedMeanPooling(mode=pooling, name="pooling")
        self.projection = tf_keras.layers.Dense(
            output_dim,
            activation=output_activation,
            kernel_initializer=tf_utils.clone_initializer(initializer),
            name="projection",
        )

    def build(self, input_shape: Any) -> None:
        """Creates every weight now, by running the layers once on a one-token batch.

        Model Garden's attention layers create their weights at their first call, and
        tf_keras.models.load_model restores a revived layer's weights right after `build`:
        without this, an exported encoder loaded that way kept random attention weights.

        Args:
          input_shape: {feature name: shape} of the inputs (only the n-gram axis is read).
        """
        if not self.built:
            ones = tf.ones([1, 1], tf.int32)
            features = {"input_word_ids": ones, "input_mask": ones}
            if self._config["ngram_buckets"]:
                shape = (input_shape or {}).get("input_ngram_ids")
                ngrams = shape[-1] if shape is not None and shape[-1] is not None else 1
                features["input_ngram_ids"] = tf.ones([1, 1, int(ngrams)], tf.int32)
            self.call(features, training=False)
        super().build(input_shape)

    @property
    def output_dim(self) -> int:
        return int(self._config["output_dim"])

    def load_token_embeddings(self, table: np.ndarray) -> None:
        """Assigns float32 [vocab_size, hidden_size] `table` to the word-piece embeddings."""
        self.embedding.word_embeddings.assign(table)

    def call(self, inputs: dict[str, tf.Tensor], training: bool | None = None):
        word_ids = inputs["input_word_ids"]
        mask = inputs["input_mask"]
        x = self.embedding(word_ids, ngram_ids=inputs.get("input_ngram_ids"), training=training)
        attention_mask = self.attention_mask(x, mask)
        for block in self.blocks:
            x = block([x, attention_mask], training=training)
        if self.final_norm is not None:
            x = self.final_norm(x)
        sequence_output = tf.cast(x, tf.float32)
        pooled = self.pooling(sequence_output, mask)
        pooled = tf.cast(self.projection(pooled), tf.float32)
        return {"pooled_output": pooled, "sequence_output": sequence_output, "default": pooled}

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(self._config)
        return config
