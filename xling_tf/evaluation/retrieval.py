"""Translation retrieval metrics on sentence embeddings (pure numpy, no TensorFlow).

Inputs are two aligned embedding matrices: `source` [n, d] and `target` [n, d] (float32, or
float64 which is kept as is), where row i of `source` is a translation of row i of `target`.
For a query `source[i]` the candidates are all rows of `target` and the gold answer is
`target[i]` ("src2tgt"); "tgt2src" swaps the roles.

Scores are dot products. With `normalize=True` (the default) rows are L2-normalised first, so
scores are cosine similarities; all-zero rows are left as zeros (score 0 with everything)
instead of dividing by zero.

Ties are ranked pessimistically: the rank of the gold candidate is

    1 + #(candidates with a strictly higher score) + #(other candidates with an equal score),

i.e. the number of candidates whose score is >= the gold score. A degenerate encoder that maps
everything to the same vector therefore gets rank n for every query (P@1 = 0 for n >= 2)
rather than a perfect score. Scores are compared exactly, so near-ties that differ in the last
float bit are not ties.

Two protocols are provided:

* `full_pool_metrics`: every query is ranked against all n candidates (P@k and MRR), as in
  most later work on parallel-sentence retrieval.
* `distractor_pool_metrics`: the protocol of Chidambaram et al. (2019), P@1 of each query
  against its gold translation plus `pool_size - 1` random distractors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

DIRECTIONS = ("src2tgt", "tgt2src")

__all__ = [
    "DIRECTIONS",
    "distractor_pool_metrics",
    "format_table",
    "full_pool_metrics",
    "l2_normalize",
    "ranks",
]


def _validate_pair(source: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    """Checks an aligned pair of embedding matrices and returns them as float arrays.

    Returns two arrays of shape [n, d]; float32 unless an input is float64 (or an integer
    type), in which case both are float64 so that comparisons use one precision.
    """
    source = np.asarray(source)
    target = np.asarray(target)
    if source.ndim != 2 or target.ndim != 2 or source.shape != target.shape:
        raise ValueError(
            "source and target must both be 2-D [n, d] with the same shape; got source shape "
            f"{source.shape} and target shape {target.shape}"
        )
    if source.shape[0] == 0:
        raise ValueError("cannot compute retrieval metrics on empty input (n == 0 pairs)")
    if source.shape[1] == 0:
        raise ValueError("cannot compute retrieval metrics on embeddings of dimension 0")
    for name, array in (("source", source), ("target", target)):
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            raise ValueError(f"{name} must be numeric, got dtype {array.dtype}")
    dtype = np.result_type(source.dtype, target.dtype, np.float32)
    if dtype not in (np.float32, np.float64):
        dtype = np.dtype(np.float64)
    source = source.astype(dtype, copy=False)
    target = target.astype(dtype, copy=False)
    for name, array in (("source", source), ("target", target)):
        if not np.isfinite(array).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    return source, target


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Returns `x` [n, d] with each row scaled to unit L2 norm; all-zero rows stay zero.

    The output has the dtype of `x` (float32 or float64) and is a new array.
    """
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    # Dividing a zero row by 1 keeps it zero instead of producing NaNs.
    norms = np.where(norms > 0, norms, 1).astype(x.dtype, copy=False)
    return x / norms


def _check_batch_size(batch_size: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be an int, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return int(batch_size)


def _ranks_unchecked(queries: np.ndarray, candidates: np.ndarray, batch_size: int) -> np.ndarray:
    """Gold ranks for already validated (and, if wanted, normalised) [n, d] arrays.

    Peak extra memory is one [batch_size, n] score block plus one boolean block of that
    shape, so n = 100k works without ever forming the n x n similarity matrix.
    """
    n = queries.shape[0]
    out = np.empty(n, dtype=np.int64)
    candidates_t = np.ascontiguousarray(candidates.T)
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        scores = queries[start:stop] @ candidates_t  # [b, n]
        # min/max propagate NaN and expose inf without allocating a [b, n] mask; overflow
        # is only possible for huge unnormalised inputs, and would make ranks meaningless.
        if not (np.isfinite(scores.min()) and np.isfinite(scores.max())):
            raise ValueError("dot products overflowed to inf/NaN; normalise the embeddings")
        rows = np.arange(stop - start)
        gold = scores[rows, start + rows][:, None]  # [b, 1]
        # Counting candidates with score >= gold (gold itself included) is exactly
        # 1 + #higher + #other-equal: the pessimistic tie rule from the module docstring.
        out[start:stop] = np.count_nonzero(scores >= gold, axis=1)
    return out


def ranks(
    source: np.ndarray,
    target: np.ndarray,
    batch_size: int = 1024,
    *,
    normalize: bool = True,
) -> np.ndarray:
    """1-based rank of `target[i]` among all n targets for the query `source[i]`.

    Args:
      source: [n, d] float32 query embeddings.
      target: [n, d] float32 candidate embeddings, row-aligned with `source`.
      batch_size: number of query rows scored at once; memory is O(batch_size * n).
      normalize: L2-normalise rows first (cosine similarity); zero rows stay zero.

    Returns:
      [n] int64 array of ranks in [1, n], ties counted pessimistically.

    Raises:
      ValueError: on empty input, mismatched shapes, non-finite values or bad batch_size.
    """
    source, target = _validate_pair(source, target)
    batch_size = _check_batch_size(batch_size)
    if normalize:
        source, target = l2_normalize(source), l2_normalize(target)
    return _ranks_unchecked(source, target, batch_size)


def _check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    if isinstance(ks, (int, np.integer)):
        ks = (int(ks),)
    out: list[int] = []
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"every k in ks must be a positive int, got {k!r}")
        if int(k) not in out:
            out.append(int(k))
    if not out:
        raise ValueError("ks must contain at least one k")
    return tuple(out)


def _rank_metrics(rank: np.ndarray, ks: Sequence[int]) -> dict[str, float]:
    """P@k for each k and MRR from an [n] int64 rank array, as python floats."""
    metrics = {f"p@{k}": float(np.mean(rank <= k)) for k in ks}
    metrics["mrr"] = float(np.mean(1.0 / rank))
    return metrics


def _mean_over_directions(per_direction: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    first = per_direction[DIRECTIONS[0]]
    return {key: float(np.mean([per_direction[d][key] for d in DIRECTIONS])) for key in first}


def full_pool_metrics(
    source: np.ndarray,
    target: np.ndarray,
    ks: Sequence[int] = (1, 5),
    batch_size: int = 1024,
    *,
    normalize: bool = True,
) -> dict[str, Any]:
    """P@k and MRR of retrieving each gold translation among all n candidates.

    Args:
      source: [n, d] float32 embeddings, row-aligned with `target`.
      target: [n, d] float32 embeddings.
      ks: cut-offs for P@k (a query counts as a hit when its gold rank <= k).
      batch_size: query rows scored at once (memory O(batch_size * n)).
      normalize: L2-normalise rows first (cosine similarity).

    Returns:
      {"src2tgt": {"p@1": .., "p@5": .., "mrr": ..}, "tgt2src": {...}, "mean": {...},
       "num_pairs": n}, all metric values python floats in [0, 1]; "mean" averages the two
      directions.
    """
    source, target = _validate_pair(source, target)
    batch_size = _check_batch_size(batch_size)
    ks = _check_ks(ks)
    if normalize:
        source, target = l2_normalize(source), l2_normalize(target)
    result: dict[str, Any] = {
        "src2tgt": _rank_metrics(_ranks_unchecked(source, target, batch_size), ks),
        "tgt2src": _rank_metrics(_ranks_unchecked(target, source, batch_size), ks),
    }
    result["mean"] = _mean_over_directions(result)
    result["num_pairs"] = int(source.shape[0])
    return result


def distractor_pool_metrics(
    source: np.ndarray,
    target: np.ndarray,
    pool_size: int = 1000,
    seed: int = 0,
    *,
    normalize: bool = True,
) -> dict[str, Any]:
    """P@1 against the gold translation plus `pool_size - 1` random distractors.

    This is the protocol of Chidambaram et al. (2019) (pool_size=1000, i.e. 999
    distractors). The pairs are shuffled with `np.random.default_rng(seed).permutation(n)`
    and cut into consecutive pools of `pool_size` pairs; a trailing partial pool is dropped.
    Within a pool every query is ranked against the pool's candidates only (ties
    pessimistic), and P@1 is averaged over pools (all pools have equal size, so this equals
    the mean over all evaluated queries).

    Args:
      source: [n, d] float32 embeddings, row-aligned with `target`.
      target: [n, d] float32 embeddings.
      pool_size: pairs per pool (gold + pool_size - 1 distractors); at least 2.
      seed: seed of the shuffle that assigns pairs to pools.
      normalize: L2-normalise rows first (cosine similarity).

    Returns:
      {"src2tgt": {"p@1": ..}, "tgt2src": {"p@1": ..}, "mean": {"p@1": ..},
       "num_pools": n // pool_size, "pool_size": pool_size}.

    Raises:
      ValueError: on empty/mismatched input, pool_size < 2, or n < pool_size.
    """
    source, target = _validate_pair(source, target)
    if isinstance(pool_size, bool) or not isinstance(pool_size, (int, np.integer)):
        raise TypeError(f"pool_size must be an int, got {type(pool_size).__name__}")
    if pool_size < 2:
        raise ValueError(f"pool_size must be >= 2 (gold plus distractors), got {pool_size}")
    pool_size = int(pool_size)
    n = source.shape[0]
    if n < pool_size:
        raise ValueError(
            f"distractor-pool evaluation needs at least pool_size={pool_size} pairs, got {n}"
        )
    if normalize:
        source, target = l2_normalize(source), l2_normalize(target)
    order = np.random.default_rng(seed).permutation(n)
    num_pools = n // pool_size
    hits: dict[str, list[float]] = {d: [] for d in DIRECTIONS}
    for p in range(num_pools):
        idx = order[p * pool_size : (p + 1) * pool_size]
        src_pool, tgt_pool = source[idx], target[idx]
        # One pool is at most pool_size x pool_size scores, so score it in a single block.
        hits["src2tgt"].append(np.mean(_ranks_unchecked(src_pool, tgt_pool, pool_size) == 1))
        hits["tgt2src"].append(np.mean(_ranks_unchecked(tgt_pool, src_pool, pool_size) == 1))
    result: dict[str, Any] = {d: {"p@1": float(np.mean(hits[d]))} for d in DIRECTIONS}
    result["mean"] = _mean_over_directions(result)
    result["num_pools"] = num_pools
    result["pool_size"] = pool_size
    return result


def _format_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        text = f"{float(value):.3f}"
    else:
        text = str(value)
    # A literal pipe or newline would break the Markdown row structure.
    return text.replace("|", "\\|").replace("\n", " ")


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Renders `rows` as a Markdown table with the given `columns`, in that order.

    Floats (python or numpy) are shown with 3 decimals, other values with `str`; a key
    missing from a row gives an empty cell. Returns the table without a trailing newline:
    header line, `| --- |` separator line, then one line per row.
    """
    if not columns:
        raise ValueError("format_table needs at least one column")
    lines = [
        "| " + " | ".join(_format_cell(c) for c in columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_format_cell(row.get(c)) for c in columns) + " |")
    return "\n".join(lines)
