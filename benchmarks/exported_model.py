"""Rebuilds an exported xling text encoder as Keras layers, to try serving settings on it.

An export (`xling-tf export`) is a Keras SavedModel: its `keras_metadata.pb` holds the config
of the tokenizer layer and of the encoder layer, and its variables hold the trained
weights. Rebuilding the two layers from those configs, with the weights copied by variable
name, gives a model whose serving settings can be changed without retraining or touching
library code: compute dtype (float32 / mixed bfloat16), max_seq_length, static padding, and
XLA compilation of the encoder. `check_against_export` measures how far a rebuilt model is
from the export's own `serving_default` signature.

(`tf_keras.models.load_model(export)` is not used: on the demo export it returned an encoder
whose weights differ from the SavedModel's variables by up to 0.145, measured 2026-11-27.)
"""

from __future__ import annotations

import json
import os
from typing import Any

import xling_tf  # noqa: F401  (selects tf_keras)
from xling_tf.evaluation.embedding import EmbedFn
from xling_tf.modeling import factory  # noqa: F401  (registers the tokenizer, encoder classes)

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (SentencePiece ops of the export's graph)
import tf_keras
from tf_keras.protobuf import saved_metadata_pb2  # type: ignore[import-untyped]

# The two layers rebuilt, by their registered Keras names (their node paths move whenever the
# export's functional graph gains a layer).
TOKENIZER = "tokenizer"
ENCODER = "encoder"
_LAYER_CLASSES = {
    TOKENIZER: ("xling_tf>SentencepieceTextTokenizer", "xling_tf>HashedNgramTokenizer"),
    ENCODER: ("xling_tf>SentenceEncoder", "xling_tf>NgramCnnEncoder"),
}


def read_layer_configs(export_dir: str) -> dict[str, dict[str, Any]]:
    """{TOKENIZER, ENCODER: {"class_name": registered name, "config": layer config}} of an
    export, read from its keras_metadata."""
    metadata = saved_metadata_pb2.SavedMetadata()
    with open(os.path.join(export_dir, "keras_metadata.pb"), "rb") as f:
        metadata.ParseFromString(f.read())
    layers = {}
    for node in metadata.nodes:
        info = json.loads(node.metadata)
        for role, classes in _LAYER_CLASSES.items():
            if "config" in info and info.get("class_name") in classes and role not in layers:
                layers[role] = {"class_name": info["class_name"], "config": info["config"]}
    for role in _LAYER_CLASSES:
        if role not in layers:
            raise ValueError(
                f"{export_dir}/keras_metadata.pb has no {role} layer: not an xling text encoder"
            )
    return layers


def _asset_paths(config: dict[str, Any], export_dir: str) -> dict[str, Any]:
    """Points every vocabulary path of a tokenizer config at the export's own assets/ copy."""
    config = dict(config)
    for key, value in config.items():
        if key.endswith("file_path") and isinstance(value, str):
            asset = os.path.join(export_dir, "assets", os.path.basename(value))
            if not os.path.exists(asset):
                raise FileNotFoundError(f"{asset} not found (tokenizer {key}={value!r})")
            config[key] = asset
    return config


class RebuiltTextEncoder:
    """strings -> float32 [batch, D] L2-normalised vectors, rebuilt from an export.

    Args:
      export_dir: the export (a folder with keras_metadata.pb and assets/).
      dtype_policy: "float32" or "mixed_bfloat16" (the policy of every encoder layer).
      max_seq_length: tokens kept per sentence; None keeps the exported value. Must not
        exceed the exported one (the position table has that many rows).
      pad_to_max_length: pad every batch to max_seq_length (static shapes, one XLA program).
      jit_compile: XLA-compile the encoder (the tokenizer's string ops stay outside XLA).
    """

    def __init__(
        self,
        export_dir: str,
        dtype_policy: str = "float32",
        max_seq_length: int | None = None,
        pad_to_max_length: bool = False,
        jit_compile: bool = False,
    ):
        layers = read_layer_configs(export_dir)
        tokenizer_info, encoder_info = layers[TOKENIZER], layers[ENCODER]
        tokenizer_config = _asset_paths(tokenizer_info["config"], export_dir)
        exported_length = int(tokenizer_config["max_seq_length"])
        if max_seq_length is not None and max_seq_length > exported_length:
            raise ValueError(f"max_seq_length {max_seq_length} > exported {exported_length}")
        tokenizer_config["max_seq_length"] = max_seq_length or exported_length
        tokenizer_config["pad_to_max_length"] = pad_to_max_length
        tokenizer_config["dtype"] = "float32"
        tokenizer_class = tf_keras.utils.get_registered_object(tokenizer_info["class_name"])
        if tokenizer_class is None:
            raise ValueError(f"unknown tokenizer class {tokenizer_info['class_name']!r}")
        self.tokenizer = tokenizer_class.from_config(tokenizer_config)
        self.max_seq_length = int(tokenizer_config["max_seq_length"])

        # Sub-layers take the global policy, not their parent's, so set it while building.
        previous_policy = tf_keras.mixed_precision.global_policy()
        tf_keras.mixed_precision.set_global_policy(dtype_policy)
        try:
            encoder_config = dict(encoder_info["config"], dtype=dtype_policy)
            encoder_class = tf_keras.utils.get_registered_object(encoder_info["class_name"])
            self.encoder = encoder_class.from_config(encoder_config)
            self.encoder(self.tokenizer(tf.constant(["build"])))
        finally:
            tf_keras.mixed_precision.set_global_policy(previous_policy)
        self._copy_weights(export_dir)

        encode = tf.function(self._encode_features, jit_compile=jit_compile)
        tokenize = tf.function(self.tokenizer.call)
        self._embed = tf.function(lambda texts: encode(tokenize(texts)))
        self.tokenize = tokenize

    def _encode_features(self, features: dict[str, tf.Tensor]) -> tf.Tensor:
        pooled = self.encoder(features, training=False)["pooled_output"]
        return tf.math.l2_normalize(tf.cast(pooled, tf.float32), axis=-1)

    def _copy_weights(self, export_dir: str) -> None:
        """Assigns the export's variables to the rebuilt encoder, matched by variable name."""
        saved = {v.name: v for v in tf.saved_model.load(export_dir).variables}
        for variable in self.encoder.weights:
            if variable.name not in saved:
                raise ValueError(f"{export_dir} has no variable {variable.name}")
            variable.assign(saved[variable.name])

    def __call__(self, texts: list[str]) -> np.ndarray:
        """list of n strings -> float32 [n, D] L2-normalised numpy array."""
        return self._embed(tf.constant(texts, dtype=tf.string)).numpy()


def check_against_export(embed_fn: EmbedFn, reference_fn: EmbedFn, texts: list[str]) -> float:
    """Smallest cosine between `embed_fn` and `reference_fn` vectors of the same texts."""
    ours, reference = np.asarray(embed_fn(texts)), np.asarray(reference_fn(texts))
    cosine = np.sum(ours * reference, axis=1) / (
        np.linalg.norm(ours, axis=1) * np.linalg.norm(reference, axis=1)
    )
    return float(cosine.min())
