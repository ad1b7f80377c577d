"""Token + position embeddings, with the paper's gradient multiplier on the token tables."""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras
from official.modeling import tf_utils
from official.nlp.modeling import layers as nlp_layers


def scale_gradient(x: tf.Tensor, multiplier: float) -> tf.Tensor:
    """Exactly the identity in the forward pass; multiplies the gradient flowing back by
    `multiplier`.

    The paper trains embeddings with a gradient multiplier of 100 under plain SGD: the tables
    are sparse and would otherwise learn far slower than the Transformer. A custom gradient
    rather than `m * x + (1 - m) * stop_gradient(x)`: that sum is the identity only in exact
    arithmetic; in bfloat16 (8 significant bits) `100 x - 99 x` lands about 24% away from x,
    so the forward pass, and every export, would change with the multiplier.

    Args:
      x: float tensor of any shape and dtype (the layer's compute dtype).
      multiplier: gradient scale; 1.0 returns `x` itself.
    """
    if multiplier == 1.0:
        return x

    @tf.custom_gradient
    def identity_with_scaled_gradient(value: tf.Tensor):
        def gradient(upstream: tf.Tensor) -> tf.Tensor:
            return upstream * tf.cast(multiplier, upstream.dtype)

        return tf.identity(value), gradient

    return identity_with_scaled_gradient(x)


@tf_keras.utils.register_keras_serializable(package="xling_tf")
class TextEmbedding(tf_keras.layers.Layer):
    """Word-piece embeddings plus learned position embeddings, layer-normalised.

    With `ngram_buckets > 0` the layer also owns a character n-gram table (the paper's input,
    see tokenization/hashed_ngram_tokenizer.py): each token's vector is its word embedding plus
    the sum of its n-gram embeddings, with n-gram id 0 meaning "no n-gram".

    Call:
      word_ids: int32 [batch, seq].
      ngram_ids: optional int32 [batch, seq, ngrams_per_token]; needs `ngram_buckets > 0`.
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
        ngram_buckets: int = 0,
        trainable_word_embeddings: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.trainable_word_embeddings = trainable_word_embeddings
        self.vocab_size = vocab_size
        self.width = width
        self.max_sequence_length = max_sequence_length
        self.gradient_multiplier = gradient_multiplier
        self.dropout_rate = dropout_rate
        self.initializer_range = initializer_range
        self.ngram_buckets = ngram_buckets
        initializer = tf_keras.initializers.TruncatedNormal(stddev=initializer_range)
        # The tables compute in float32 and `call` casts the rows it gathered, as
        # tf_keras.layers.Embedding does. A mixed-precision table would be an
        # AutoCastVariable, and under a tf.distribute strategy reading it casts the whole
        # table every step (128k x 256: 20 ms of a 0.6 s demo_distill step on 2 CPU cores).
        self._word_embedding = nlp_layers.OnDeviceEmbedding(
            vocab_size=vocab_size,
            embedding_width=width,
            initializer=tf_utils.clone_initializer(initializer),
            dtype=tf.float32,
            name="word_embeddings",
        )
        # Frozen when taken from a teacher (xling_tf/distillation/teacher_vocabulary.py): rows
        # of pieces the training data never shows stay aligned with the rest.
        self._word_embedding.trainable = trainable_word_embeddings
        # Created only when used, so SentencePiece models keep exactly their old variables.
        self._ngram_embedding = (
            nlp_layers.OnDeviceEmbedding(
                vocab_size=ngram_buckets,
                embedding_width=width,
                initializer=tf_utils.clone_initializer(initializer),
                dtype=tf.float32,
                name="ngram_embeddings",
            )
            if ngram_buckets > 0
            else None
        )
        self._position_embedding = nlp_layers.PositionEmbedding(
            max_length=max_sequence_length,
            initializer=tf_utils.clone_initializer(initializer),
            name="position_embedding",
        )
        self._norm = tf_keras.layers.LayerNormalization(
            axis=-1, epsilon=1e-12, dtype=tf.float32, name="embeddings_layer_norm"
        )
        self._dropout = tf_keras.layers.Dropout(rate=dropout_rate)

    def call(
        self, word_ids: tf.Tensor, ngram_ids: tf.Tensor | None = None, training: bool | None = None
    ) -> tf.Tensor:
        words = self._word_embedding(word_ids)
        if ngram_ids is not None:
            if self._ngram_embedding is None:
                raise ValueError(
                    "got ngram_ids but ngram_buckets is 0: build the layer with the "
                    "tokenizer's ngram_buckets"
                )
            ngrams = self._ngram_embedding(ngram_ids)  # [batch, seq, ngrams_per_token, width]
            # Id 0 pads the n-gram slots; its row is a real (trained) row, so mask it out.
            present = tf.cast(tf.not_equal(ngram_ids, 0), ngrams.dtype)[..., tf.newaxis]
            words += tf.reduce_sum(ngrams * present, axis=2)
        words = tf.cast(words, self.compute_dtype)
        # The multiplier is for the sparse token (and n-gram) tables only: every position row
        # gets a gradient from every sentence, like any dense weight.
        words = scale_gradient(words, self.gradient_multiplier)
        embeddings = words + self._position_embedding(words)
        embeddings = self._norm(embeddings)
        return self._dropout(embeddings, training=training)

    @property
    def word_embeddings(self) -> tf.Variable:
        """The token table, float32 [vocab_size, width]."""
        return self._word_embedding.embeddings

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "width": self.width,
                "max_sequence_length": self.max_sequence_length,
                "gradient_multiplier": self.gradient_multiplier,
                "dropout_rate": self.dropout_rate,
                "initializer_range": self.initializer_range,
                "ngram_buckets": self.ngram_buckets,
                "trainable_word_embeddings": self.trainable_word_embeddings,
            }
        )
        return config
