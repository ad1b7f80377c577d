"""Loads an exported text encoder (ours or any TF Hub-style SavedModel) as a batch function."""

from __future__ import annotations

import xling_tf  # noqa: F401

from typing import Callable

import numpy as np
import tensorflow as tf
# Registers SentencepieceOp and friends; without it, loading a model that tokenizes with
# tensorflow_text fails with "Op type not registered".
import tensorflow_text  # noqa: F401

EmbedFn = Callable[[list[str]], np.ndarray]


def load_text_encoder(path: str) -> EmbedFn:
    """Returns fn(list of str) -> float32 [batch, dim] numpy array.

    Uses the `serving_default` signature when it has exactly one output (or one called
    "outputs"), otherwise calls the SavedModel object itself.
    """
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"no SavedModel at {path}")
    loaded = tf.saved_model.load(path)
    signature = loaded.signatures.get("serving_default") if hasattr(loaded, "signatures") else None
    if signature is not None:
        input_name = list(signature.structured_input_signature[1].keys())[0]
        output_names = list(signature.structured_outputs.keys())
        output_name = "outputs" if "outputs" in output_names else output_names[0]

        def embed(texts: list[str]) -> np.ndarray:
            result = signature(**{input_name: tf.constant(texts, dtype=tf.string)})
            return result[output_name].numpy().astype(np.float32)
    else:
        def embed(texts: list[str]) -> np.ndarray:
            return np.asarray(loaded(tf.constant(texts, dtype=tf.string)), dtype=np.float32)

    embed.saved_model = loaded  # keeps the resources alive as long as the function lives
    return embed
