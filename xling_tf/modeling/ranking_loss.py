"""In-batch softmax ranking loss for dual encoders (translation, response, Quick-Thought).

For a batch of B aligned pairs (x_i, y_i), row i of the logits scores x_i against every y_j
(and optional hard negatives); the loss is softmax cross-entropy with the diagonal as the
label. Options follow LaBSE: a scale on the (usually cosine) scores and an additive margin
subtracted from the gold score only, and the loss averaged over both directions.

Rows of a batch that are the same example (`same_example_mask`) are not negatives of each
other: a duplicated pair would otherwise be pushed away from itself.

Cross-replica negatives (LaBSE's cross-accelerator negative sampling, `cross_replica=True`):
under a tf.distribute strategy with R replicas of b rows, each replica all-gathers every
replica's embeddings (and token ids for the same-example mask), so its b queries are ranked
against all R*b candidates, not just its own b. Its gold columns are then offset by the rows
of the replicas before it. `ReplicaContext.all_gather` is differentiable: the gradient of a
gathered copy is summed over replicas and routed back to the replica that owns the rows, so
the all-reduced gradient of the per-replica losses (each divided by R, as Model Garden does)
equals the gradient of one replica holding the whole global batch. With one replica (or
outside `strategy.run`) the option changes nothing.
"""

from __future__ import annotations

import tensorflow as tf
from absl import logging

# GraphOrParentsInXlaContext: no public API says whether a function is being XLA-compiled.
from tensorflow.python.ops import control_flow_util


def _gathering_context() -> tf.distribute.ReplicaContext | None:
    """The replica context to all-gather over, or None with one replica / no replica context.

    Also None inside an XLA-compiled function on GPUs/CPUs (`--jit_compile` compiles the
    per-replica step only): all_gather needs a `merge_call` between replicas there, which
    TensorFlow cannot run inside the compiled function, so each replica ranks its own rows
    (logged once). TPUs compile the whole step and all-gather inside it.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    in_xla = control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())
    if in_xla and not isinstance(context.strategy, tf.distribute.TPUStrategy):
        logging.log_first_n(
            logging.WARNING,
            "cross-replica negatives are off in an XLA-compiled per-replica step (--jit_compile "
            "with %d replicas): each replica ranks its own rows",
            1,
            context.num_replicas_in_sync,
        )
        return None
    return context


def gold_columns(num_rows: tf.Tensor | int, cross_replica: bool = False) -> tf.Tensor:
    """int32 [num_rows]: the candidate column of each local query's gold answer.

    `tf.range(num_rows)` for in-batch candidates; with `cross_replica` under several
    replicas, shifted by the number of rows of the replicas before this one (replica batches
    may differ in size, e.g. a last partial evaluation batch).
    """
    rows = tf.range(num_rows, dtype=tf.int32)
    context = _gathering_context() if cross_replica else None
    if context is None:
        return rows
    rows_per_replica = context.all_gather(tf.reshape(tf.size(rows), [1]), axis=0)  # [R]
    replica = tf.cast(context.replica_id_in_sync_group, tf.int32)
    return rows + tf.reduce_sum(rows_per_replica[:replica])


def gather_across_replicas(*tensors: tf.Tensor | None) -> tuple[tf.Tensor | None, ...]:
    """All replicas' rows of each [b, ...] tensor, concatenated in replica order: [R*b, ...].

    The tensors (one dtype, one b) travel in one all-gather, flattened side by side into
    [b, sum of row sizes]: one collective per call (and it sidesteps all_gather's gradient,
    which fails on a list of tensors of different ranks). None entries stay None; identity
    with one replica. Differentiable (see the module docstring).
    """
    context = _gathering_context()
    present = [t for t in tensors if t is not None]
    if context is None or not present:
        return tensors
    rows = tf.shape(present[0])[0]
    flat = [tf.reshape(t, [rows, -1]) for t in present]
    widths = [tf.shape(f)[1] for f in flat]
    gathered = tf.split(context.all_gather(tf.concat(flat, axis=1), axis=0), widths, axis=1)
    shaped = iter(
        tf.reshape(g, tf.concat([[-1], tf.shape(t)[1:]], axis=0))
        for g, t in zip(gathered, present, strict=True)
    )
    return tuple(None if t is None else next(shaped) for t in tensors)


def _pad_to_width(ids: tf.Tensor, width: tf.Tensor) -> tf.Tensor:
    """Right-pads int [B, T] ids with 0 (the padding id) to [B, width]."""
    return tf.pad(ids, [[0, 0], [0, width - tf.shape(ids)[1]]])


def ranking_logits(
    queries: tf.Tensor,
    candidates: tf.Tensor,
    scale: float = 1.0,
    margin: float = 0.0,
    gold: tf.Tensor | None = None,
) -> tf.Tensor:
    """Scaled dot-product logits with an additive margin on the gold entries.

    Args:
      queries: float32 [B, D].
      candidates: float32 [C, D], C >= B; candidates[gold[i]] is the gold answer of
        queries[i] and the rest are in-batch or hard negatives.
      scale: multiplies every score (LaBSE uses 100 on cosine similarities).
      margin: subtracted from the gold score before scaling (additive margin softmax).
      gold: int32 [B] gold columns; None: the diagonal, `tf.range(B)`.

    Returns:
      float32 [B, C] logits.
    """
    scores = tf.matmul(queries, candidates, transpose_b=True)
    if margin:
        if gold is None:
            gold = tf.range(tf.shape(queries)[0])
        scores -= margin * tf.one_hot(gold, depth=tf.shape(candidates)[0], dtype=scores.dtype)
    return scale * scores


def without_margin(logits: tf.Tensor, gold: tf.Tensor, scale: float, margin: float) -> tf.Tensor:
    """`ranking_logits` with the margin added back: scale * the plain scores.

    Args:
      logits: float32 [B, C] from `ranking_logits(..., scale, margin, gold)` (masked entries
        stay masked).
      gold: int32 [B] gold columns.
    Returns:
      float32 [B, C], equal to `ranking_logits(..., scale, 0.0)` up to rounding.
    """
    if not margin:
        return logits
    return logits + scale * margin * tf.one_hot(gold, tf.shape(logits)[1], dtype=logits.dtype)


def same_example_mask(*token_ids: tf.Tensor, cross_replica: bool = False) -> tf.Tensor:
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
      cross_replica: compare the local rows with every replica's rows (see the module
        docstring); replicas may pad to different T, so each column is first padded to the
        longest T of any replica.

    Returns:
      bool [B, G], False at each row's own column `gold_columns(B, cross_replica)`; G = B, or
      the global batch with `cross_replica` under several replicas.
    """
    batch = tf.shape(token_ids[0])[0]
    queries: tuple[tf.Tensor, ...] = token_ids
    candidates: tuple[tf.Tensor, ...] = token_ids
    if cross_replica and _gathering_context() is not None:
        (widths,) = gather_across_replicas(tf.stack([tf.shape(ids)[1] for ids in token_ids])[None])
        longest = tf.reduce_max(widths, axis=0)  # [columns]
        queries = tuple(_pad_to_width(ids, longest[i]) for i, ids in enumerate(token_ids))
        candidates = gather_across_replicas(*queries)
    own_column = gold_columns(batch, cross_replica)
    num_candidates = tf.shape(candidates[0])[0]
    same = tf.zeros([batch, num_candidates], tf.bool)
    for local, everyone in zip(queries, candidates, strict=True):
        same |= tf.reduce_all(
            tf.equal(local[:, tf.newaxis, :], everyone[tf.newaxis, :, :]), axis=-1
        )
    return same & (own_column[:, tf.newaxis] != tf.range(num_candidates)[tf.newaxis, :])


def _mask_candidates(logits: tf.Tensor, same_example: tf.Tensor | None) -> tf.Tensor:
    """Pushes the masked in-batch columns (the first G) of float [B, C] logits to -1e9."""
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
    cross_replica: bool = False,
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
      same_example: optional bool [B, G] (False at each row's own column, see
        `same_example_mask`, made with the same `cross_replica`): True entries are left out
        of the softmax in both directions.
      cross_replica: rank against every replica's rows (and hard negatives), see the module
        docstring; G = R*B candidates under R replicas, else G = B.

    Returns:
      (loss, logits): loss is a float32 scalar (the mean over the local rows); logits is
      {"left_to_right": [B, G + G*K]} plus {"right_to_left": [B, G]} when bidirectional,
      masked entries at -1e9. The gold column of row i is `gold_columns(B, cross_replica)[i]`
      (i without cross-replica negatives).
    """
    targets, sources, negatives = right, left, hard_negatives
    if cross_replica:
        targets, sources, negatives = gather_across_replicas(
            right, left if bidirectional else None, hard_negatives
        )
    candidates = targets
    if negatives is not None:
        candidates = tf.concat([targets, tf.reshape(negatives, [-1, tf.shape(right)[-1]])], 0)
    labels = gold_columns(tf.shape(left)[0], cross_replica)
    logits = {
        "left_to_right": _mask_candidates(
            ranking_logits(left, candidates, scale, margin, labels), same_example
        )
    }
    if bidirectional:
        logits["right_to_left"] = _mask_candidates(
            ranking_logits(right, sources, scale, margin, labels), same_example
        )
    losses = [
        tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=x))
        for x in logits.values()
    ]
    return tf.add_n(losses) / len(losses), logits
