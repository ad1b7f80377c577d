"""Compute precision: `runtime.mixed_precision_dtype: auto` for training, serving dtypes.

Training resolves "auto" to what this host computes fastest. An export computes in its own
serving dtype (`xling-tf export --serving_dtype`), whatever the training used: Keras layers
take the global dtype policy when they are built, so the export builds its layers inside
`global_policy(SERVING_POLICIES[dtype])`. Variables stay float32 under every policy, so the
same checkpoint restores into any of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import tensorflow as tf
import tf_keras

SERVING_POLICIES = {
    "float32": "float32",
    "bfloat16": "mixed_bfloat16",
    "float16": "mixed_float16",
}
"""Serving dtype -> the tf_keras dtype policy its layers are built with."""

_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_supports_bfloat16() -> bool:
    """True when the CPU has native bfloat16 matmul instructions (AVX512_BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
    except OSError:
        return False
    return any(flag in flags for flag in _BF16_CPU_FLAGS)


def resolve_mixed_precision(dtype: str | None, strategy_name: str) -> str | None:
    """Maps "auto" to a concrete dtype; other values pass through unchanged.

    auto -> "bfloat16" on TPUs and on CPUs with native bfloat16 (about 1.6x the float32
    training throughput of the demo model on such a CPU), "float16" on GPUs, else float32
    (None). Variables stay float32 either way (Keras mixed precision), and float16 gets
    dynamic loss scaling from Model Garden's optimizer factory.
    """
    if dtype != "auto":
        return dtype or None
    if strategy_name == "tpu":
        return "bfloat16"
    if tf.config.list_physical_devices("GPU"):
        return "float16"
    return "bfloat16" if cpu_supports_bfloat16() else None


@contextlib.contextmanager
def global_policy(name: str) -> Iterator[None]:
    """Layers built inside compute with tf_keras dtype policy `name`; the old policy returns."""
    previous = tf_keras.mixed_precision.global_policy()
    tf_keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        tf_keras.mixed_precision.set_global_policy(previous)


def float32_outputs(tensor: tf.Tensor, name: str) -> tf.Tensor:
    """A Keras tensor as float32: a mixed-precision model's outputs are in its compute dtype.

    Float32 tensors are returned as they are (no extra layer in float32 exports).
    """
    if tensor.dtype == tf.float32:
        return tensor
    # Keras's recipe for mixed-precision outputs: a float32 layer casts its input.
    return tf_keras.layers.Activation("linear", dtype="float32", name=name)(tensor)
