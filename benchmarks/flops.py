"""Analytical matmul FLOPs of a Transformer dual encoder's training step (no TensorFlow).

Per sentence of padded length T through L layers of width H with FFN width F, forward:

    L * (8 T H^2 + 4 T^2 H + 4 T H F) + head

(Q, K, V and output projections; attention scores and the weighted sum of values; the two
FFN matmuls). Embedding lookups, layer norms, softmax and GELU are left out. A training
step on B pairs encodes 2B sentences, adds the 2 B^2 D similarity matrix, and costs 3x
the forward pass (the backward pass is about 2x the forward).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class ModelShape:
    """What the analytical FLOP count needs (see the module docstring)."""

    num_layers: int
    hidden_size: int
    inner_dim: int
    head_flops: int  # per sentence, forward
    output_dim: int


def forward_flops_per_sentence(shape: ModelShape, seq_length: int) -> int:
    """Matmul FLOPs of one forward pass of one sentence padded to `seq_length` tokens."""
    t, h, f = seq_length, shape.hidden_size, shape.inner_dim
    per_layer = 8 * t * h * h + 4 * t * t * h + 4 * t * h * f
    return shape.num_layers * per_layer + shape.head_flops


def train_step_flops(shape: ModelShape, batch_size: int, seq_length: int) -> int:
    """Matmul FLOPs of one training step on `batch_size` pairs padded to `seq_length`."""
    forward = 2 * batch_size * forward_flops_per_sentence(shape, seq_length)
    forward += 2 * batch_size * batch_size * shape.output_dim
    return 3 * forward
