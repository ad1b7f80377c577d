"""Loads an exported text encoder (ours or any TF Hub-style SavedModel) as a batch function.

`path` may be a SavedModel folder, an `export_hub --export_dir` folder (its `text_encoder/` is
used) or a TF Serving base folder (its highest numbered version is used).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable

import xling_tf  # noqa: F401
from xling_tf.evaluation.embedding import (
    DEFAULT_MODEL_BATCH_SIZE,
    DEFAULT_SORT_WINDOW,
    EmbedFn,
    embed_texts,
)

import numpy as np
import tensorflow as tf

# Registers SentencepieceOp and friends; without it, loading a model that tokenizes with
# tensorflow_text fails with "Op type not registered".
import tensorflow_text  # noqa: F401


def resolve_saved_model(path: str) -> str:
    """The SavedModel folder meant by `path` (see the module docstring).

    Raises:
      FileNotFoundError: if `path` holds none of those layouts.
    """

    def is_saved_model(folder: str) -> bool:
        return tf.io.gfile.exists(os.path.join(folder, "saved_model.pb")) or tf.io.gfile.exists(
            os.path.join(folder, "saved_model.pbtxt")
        )

    if not tf.io.gfile.isdir(path):
        raise FileNotFoundError(f"no SavedModel at {path}")
    if is_saved_model(path):
        return path
    text_encoder = os.path.join(path, "text_encoder")
    if is_saved_model(text_encoder):
        return text_encoder
    # TF Serving's rule: the highest all-digit sub-folder is the live version.
    versions = sorted(
        (
            int(name)
            for name in tf.io.gfile.listdir(path)
            if name.strip("/").isdigit() and is_saved_model(os.path.join(path, name.strip("/")))
        ),
        reverse=True,
    )
    if versions:
        return os.path.join(path, str(versions[0]))
    raise FileNotFoundError(f"no SavedModel at {path} (nor in text_encoder/ or a version folder)")


def load_text_encoder(
    path: str, batch_size: int = DEFAULT_MODEL_BATCH_SIZE, sort_window: int = DEFAULT_SORT_WINDOW
) -> EmbedFn:
    """Returns fn(list of n str) -> float32 [n, dim] numpy array, rows in input order.

    Uses the `serving_default` signature when it has exactly one output (or one called
    "outputs"), otherwise calls the SavedModel object itself. A call with more than
    `batch_size` sentences runs the model on length-sorted batches of at most `batch_size`
    (`xling_tf.evaluation.embedding.embed_texts`, windows of `sort_window` sentences), since
    the model pads each batch to its longest sentence; the result equals one big call up to
    float rounding, at a fraction of the padding. A call with at most `batch_size` sentences
    is one model call on the sentences as given; that single call is also the returned
    function's `embed_batch` attribute.
    """
    loaded = tf.saved_model.load(resolve_saved_model(path))
    signature = loaded.signatures.get("serving_default") if hasattr(loaded, "signatures") else None
    if signature is not None:
        input_name = list(signature.structured_input_signature[1].keys())[0]
        output_names = list(signature.structured_outputs.keys())
        output_name = "outputs" if "outputs" in output_names else output_names[0]

        def embed_batch(texts: list[str]) -> np.ndarray:
            result = signature(**{input_name: tf.constant(texts, dtype=tf.string)})
            return result[output_name].numpy().astype(np.float32)
    else:

        def embed_batch(texts: list[str]) -> np.ndarray:
            return np.asarray(loaded(tf.constant(texts, dtype=tf.string)), dtype=np.float32)

    def embed(texts: list[str]) -> np.ndarray:
        if len(texts) <= batch_size:
            return embed_batch(texts)
        return embed_texts(embed_batch, texts, batch_size=batch_size, sort_window=sort_window)

    # Keeps the SavedModel's resources alive as long as the function lives.
    embed.saved_model = loaded  # type: ignore[attr-defined]
    embed.embed_batch = embed_batch  # type: ignore[attr-defined]
    return embed


def is_entry_point(spec: str) -> bool:
    """`package.module:function` or `package.module.function` (Model Garden's
    --params_override cannot hold a colon), and not an existing path."""
    parts = spec.replace(":", ".").split(".")
    return (
        spec.count(":") <= 1
        and len(parts) >= 2
        and all(part.isidentifier() for part in parts)
        and not os.path.exists(spec)
    )


def import_entry_point(spec: str) -> Callable:
    """The function named `module:function` or `module.function`.

    Raises:
      ImportError: the module does not import. AttributeError: it has no such function.
    """
    module_name, _, attribute = spec.replace(":", ".").rpartition(".")
    factory = getattr(importlib.import_module(module_name), attribute, None)
    if not callable(factory):
        raise AttributeError(f"{module_name} has no function {attribute!r}")
    return factory


def load_encoder(spec: str) -> EmbedFn:
    """Any text encoder by name: a SavedModel (`load_text_encoder`) or a Python entry point
    `module:function` (or `module.function`) that, called with no arguments, returns a
    function of list[str] -> float32 [n, d] (e.g. a peer encoder to compare against).

    Raises:
      ImportError / AttributeError: the entry point does not exist.
      FileNotFoundError: no SavedModel at the path.
    """
    if not is_entry_point(spec):
        return load_text_encoder(spec)
    embed_fn = import_entry_point(spec)()
    if not callable(embed_fn):
        raise TypeError(
            f"{spec} returned {type(embed_fn).__name__}, not a function of "
            "list[str] -> float32 [n, d]"
        )
    return embed_fn
