"""In-batch softmax ranking loss for dual encoders (translation, response, Quick-Thought).

For a batch of B aligned pairs (x_i, y_i), row i of the logits scores x_i against every y_j
(and optional hard negatives); the loss is softmax cross-entropy with the diagonal as the
label. Options follow LaBSE: a scale on the (usually cosine) scores and an additive margin
subtracted from the gold score only, and the loss averaged over both directions.
"""

from __future__ import annotations

import tensorflow as tf


def ranking_logits(
    queries: tf.Tensor,
    candidates: tf.Tensor,
    scale: float = 1.0,
    margin: float = 0.0,
) -> tf.Tensor:
    """Scaled dot-product logits with an additive margin on the gold (diagonal) entries.

    Args:
      queries: float32 [B, D].
      candidates: float32 [C, D], C >= B; candidates[i] is the gold answer of queries[i] and
        the rest are in-batch or hard negatives.
      scale: multiplies every score (LaBSE uses 100 on cosine similarities).
      margin: subtracted from the gold score before scaling (additive margin softmax).

    Returns:
      float32 [B, C] logits.
    """
    scores = tf.matmul(queries, candidates, transpose_b=True)
    if margin:
        batch = tf.shape(queries)[0]
        gold = tf.one_hot(tf.range(batch), depth=tf.shape(candidates)[0], dtype=scores.dtype)
        scores -= margin * gold
    return scale * scores


def in_batch_softmax_loss(
    left: tf.Tensor,
    right: tf.Tensor,
    hard_negatives: tf.Tensor | None = None,
    scale: float = 1.0,
    margin: float = 0.0,
    bidirectional: bool = True,
) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Ranking loss of aligned embeddings against in-batch (and hard) negatives.

    Args:
      left: float32 [B, D] source-side embeddings.
      right: float32 [B, D] target-side embeddings; right[i] translates left[i].
      hard_negatives: optional float32 [B, K, D]; hard_negatives[i] are wrong targets for
        left[i]. All B*K of them join every left query's candidate list (as in the paper,
        they are extra negatives for the whole batch); the reverse direction ignores them.
      scale, margin: see `ranking_logits`.
      bidirectional: also rank left given right and average the two losses.

    Returns:
      (loss, logits): loss is a float32 scalar; logits is {"left_to_right": [B, B + B*K]} plus
      {"right_to_left": [B, B]} when bidirectional. The gold column of row i is i.
    """
    candidates = right
    if hard_negatives is not None:
        candidates = tf.concat([right, tf.reshape(hard_negatives, [-1, tf.shape(right)[-1]])], 0)
    labels = tf.range(tf.shape(left)[0])
    logits = {"left_to_right": ranking_logits(left, candidates, scale, margin)}
    losses = [
        tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=labels, logits=logits["left_to_right"]
            )
        )
    ]
    if bidirectional:
        logits["right_to_left"] = ranking_logits(right, left, scale, margin)
        losses.append(
            tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=labels, logits=logits["right_to_left"]
                )
            )
        )
    return tf.add_n(losses) / len(losses), logits
