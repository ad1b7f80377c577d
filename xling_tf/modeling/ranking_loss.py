"""In-batch softmax ranking loss for dual encoders (translation, response, Quick-Thought).

For a batch of B aligned pairs (x_i, y_i), row i of the logits scores x_i against every y_j
(and optional hard negatives); the loss is softmax cross-entropy with the diagonal as the
label. Options follow LaBSE: a scale on the (usually cosine) scores and an additive margin
subtracted from the gold score only, and the loss averaged over both directions.

Rows of a batch that are the same example (`same_example_mask`) are not negatives of each
other: a duplicated pair would otherwise be pushed away from itself.
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


def same_example_mask(*token_ids: tf.Tensor) -> tf.Tensor:
    """Which off-diagonal in-batch candidates are the same example as the gold one.

    Entry (i, j), i != j, is True when rows i and j have identical token ids in any of the
    given columns: then row j's candidate either is the very sentence row i must rank first
    (identical candidates, e.g. a pair repeated in a corpus), or answers the very query of row
    i (identical queries with different replies). Either way it is no negative for row i, in
    either direction. Identical ids mean identical (truncated) text, so this needs no extra
    data. It does NOT catch a repeat in other words: two rows of one Bible verse in different
    translations on both sides (the corpus's 3 x 3 crossing), or two paraphrased replies,
    stay negatives of each other; masking those needs the verse (or example) id of each row.

    Args:
      *token_ids: int [B, T] ids of each column to compare (padded to one T per batch, padding
        0), e.g. the left and right `input_word_ids`.

    Returns:
      bool [B, B], False on the diagonal.
    """
    batch = tf.shape(token_ids[0])[0]
    same = tf.zeros([batch, batch], tf.bool)
    for ids in token_ids:
        same |= tf.reduce_all(tf.equal(ids[:, tf.newaxis, :], ids[tf.newaxis, :, :]), axis=-1)
    return same & ~tf.eye(batch, dtype=tf.bool)


def _mask_candidates(logits: tf.Tensor, same_example: tf.Tensor | None) -> tf.Tensor:
    """Pushes the masked in-batch columns (the first B) of float [B, C] logits to -1e9."""
    if same_example is None:
        return logits
    in_batch = tf.shape(same_example)[1]
    masked = tf.where(same_example, tf.constant(-1e9, logits.dtype), logits[:, :in_batch])
    return tf.concat([masked, logits[:, in_batch:]], axis=1)


def in_batch_softmax_loss(
    left: tf.Tensor,
    right: tf.Tensor,
    hard_negatives: tf.Tensor | None = None,
    scale: float = 1.0,
    margin: float = 0.0,
    bidirectional: bool = True,
    same_example: tf.Tensor | None = None,
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
      same_example: optional bool [B, B] (symmetric, False on the diagonal, see
        `same_example_mask`): True entries are left out of the softmax in both directions.

    Returns:
      (loss, logits): loss is a float32 scalar; logits is {"left_to_right": [B, B + B*K]} plus
      {"right_to_left": [B, B]} when bidirectional, masked entries at -1e9. The gold column of
      row i is i.
    """
    candidates = right
    if hard_negatives is not None:
        candidates = tf.concat([right, tf.reshape(hard_negatives, [-1, tf.shape(right)[-1]])], 0)
    labels = tf.range(tf.shape(left)[0])
    logits = {
        "left_to_right": _mask_candidates(
            ranking_logits(left, candidates, scale, margin), same_example
        )
    }
    if bidirectional:
        logits["right_to_left"] = _mask_candidates(
            ranking_logits(right, left, scale, margin), same_example
        )
    losses = [
        tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=x))
        for x in logits.values()
    ]
    return tf.add_n(losses) / len(losses), logits
