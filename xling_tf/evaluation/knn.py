"""Exact k-nearest-neighbour search by cosine similarity, in tiles (pure numpy).

Bitext mining needs the k nearest targets of every source row and the k nearest sources of
every target row; the geometry metric needs the k nearest neighbours of every row within one
space. Both are served by one tiled search: the [n, m] similarity matrix is never formed, only
one [batch_size, batch_size] tile at a time, and each row keeps a running top-k list, so memory
is O((n + m) * k + batch_size**2) whatever n and m are (50k x 50k works on a laptop).

`search="faiss"` (or "auto" above `AUTO_EXACT_MAX_ROWS` candidates) hands both functions to
the approximate FAISS index of `ann_index.py` instead; exact search is the default and the
reference it is measured against.

Ties are broken deterministically: among equal similarities the lower candidate index wins,
both inside a tile and when merging tiles, so results never depend on `batch_size`.
Similarities are computed in the input precision (float32 unless an input is float64).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from xling_tf.evaluation.retrieval import l2_normalize

import numpy as np

if TYPE_CHECKING:
    from xling_tf.evaluation.ann_index import AnnConfig

__all__ = [
    "AUTO_EXACT_MAX_ROWS",
    "SEARCH_METHODS",
    "Neighbors",
    "as_embedding_matrix",
    "cosine_knn",
    "cosine_knn_both_ways",
]

SEARCH_METHODS = ("exact", "faiss", "auto")
# "auto" searches exactly up to this many candidate rows: there the exact search takes
# seconds to a minute on a CPU and the index would only add error.
AUTO_EXACT_MAX_ROWS = 100_000


@dataclasses.dataclass(frozen=True)
class Neighbors:
    """The k nearest candidates of each query row.

    Attributes:
      indices: [n, k] int64 candidate row indices, most similar first (ties: lower index first).
      similarities: [n, k] float cosine similarities matching `indices`.
    """

    indices: np.ndarray
    similarities: np.ndarray


def as_embedding_matrix(name: str, x: np.ndarray) -> np.ndarray:
    """Checks that `x` is a finite, non-empty 2-D numeric [n, d] array; returns it as float.

    float64 input stays float64; anything else becomes float32.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D [n, d] array, got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 rows)")
    if x.shape[1] == 0:
        raise ValueError(f"{name} has embeddings of dimension 0")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise ValueError(f"{name} must be numeric, got dtype {x.dtype}")
    x = x.astype(np.float64 if x.dtype == np.float64 else np.float32, copy=False)
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _check_k_and_batch(k: int, batch_size: int, num_candidates: int) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if k > num_candidates:
        raise ValueError(f"k={k} nearest neighbours requested but only {num_candidates} exist")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be an int, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")


def _tile_top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k columns of each row of `scores` [b, c], ties to the lower column.

    Returns ([b, k'] column indices in increasing column order, [b, k'] scores), k' = min(k, c).
    argpartition alone would keep an arbitrary member of a tie at the k-th place; instead
    everything strictly above the k-th value is kept and the tie is filled from the left.
    """
    k = min(k, scores.shape[1])
    kth = np.partition(scores, -k, axis=1)[:, -k][:, None]  # [b, 1] k-th largest value
    above = scores > kth
    equal = scores == kth
    room = k - np.count_nonzero(above, axis=1)  # [b], >= 1
    keep = above | equal
    tied = np.flatnonzero(np.count_nonzero(equal, axis=1) > room)
    if tied.size:
        # Only rows with more ties than room pay for the [rows, c] int64 running count.
        keep[tied] = above[tied] | (
            equal[tied] & (np.cumsum(equal[tied], axis=1) <= room[tied, None])
        )
    _, columns = np.nonzero(keep)  # row-major: exactly k per row, columns ascending
    columns = columns.reshape(scores.shape[0], k)
    return columns, np.take_along_axis(scores, columns, axis=1)


def _merge(
    best_idx: np.ndarray, best_sim: np.ndarray, new_idx: np.ndarray, new_sim: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Merges two [b, *] candidate lists into the top k, higher similarity then lower index."""
    idx = np.concatenate([best_idx, new_idx], axis=1)
    sim = np.concatenate([best_sim, new_sim], axis=1)
    order = np.lexsort((idx, -sim), axis=1)[:, :k]
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(sim, order, axis=1)


class _RunningTopK:
    """Top-k lists of `n` query rows, updated tile by tile."""

    def __init__(self, n: int, k: int, dtype: np.dtype):
        self.k = k
        # -1 / -inf placeholders lose every merge against a real candidate.
        self.indices = np.full((n, k), -1, dtype=np.int64)
        self.similarities = np.full((n, k), -np.inf, dtype=dtype)

    def update(self, row_start: int, column_start: int, scores: np.ndarray) -> None:
        columns, sims = _tile_top_k(scores, self.k)
        rows = slice(row_start, row_start + scores.shape[0])
        self.indices[rows], self.similarities[rows] = _merge(
            self.indices[rows], self.similarities[rows], columns + column_start, sims, self.k
        )

    def result(self) -> Neighbors:
        return Neighbors(self.indices, self.similarities)


def uses_faiss(search: str, num_candidates: int) -> bool:
    """Whether `search` (one of SEARCH_METHODS) picks FAISS for `num_candidates` rows."""
    if search not in SEARCH_METHODS:
        raise ValueError(f"search must be one of {SEARCH_METHODS}, got {search!r}")
    return search == "faiss" or (search == "auto" and num_candidates > AUTO_EXACT_MAX_ROWS)


def cosine_knn_both_ways(
    source: np.ndarray,
    target: np.ndarray,
    k: int,
    batch_size: int = 4096,
    search: str = "exact",
    ann: AnnConfig | None = None,
) -> tuple[Neighbors, Neighbors]:
    """k nearest targets of every source row and k nearest sources of every target row.

    Args:
      source: [n, d] float embeddings (L2-normalised here; zero rows stay zero).
      target: [m, d] float embeddings.
      k: neighbours per row; must be <= min(n, m).
      batch_size: tile side; peak extra memory is a few [batch_size, batch_size] arrays.
      search: "exact", "faiss" (approximate, `ann_index.faiss_knn_both_ways`) or "auto"
        (FAISS above AUTO_EXACT_MAX_ROWS rows on the larger side).
      ann: the FAISS index settings (default `AnnConfig()`).

    Returns:
      (source_to_target with [n, k] arrays, target_to_source with [m, k] arrays). Every
      similarity tile is computed once and used for both directions.
    """
    if uses_faiss(search, max(len(source), len(target))):
        from xling_tf.evaluation import ann_index

        return ann_index.faiss_knn_both_ways(source, target, k, ann or ann_index.AnnConfig())
    source = l2_normalize(as_embedding_matrix("source", source))
    target = l2_normalize(as_embedding_matrix("target", target))
    if source.shape[1] != target.shape[1]:
        raise ValueError(
            f"source and target dimensions differ: {source.shape[1]} vs {target.shape[1]}"
        )
    _check_k_and_batch(k, batch_size, min(source.shape[0], target.shape[0]))
    dtype = np.result_type(source.dtype, target.dtype)
    forward = _RunningTopK(source.shape[0], k, dtype)
    backward = _RunningTopK(target.shape[0], k, dtype)
    for row_start in range(0, source.shape[0], batch_size):
        source_block = source[row_start : row_start + batch_size]
        for column_start in range(0, target.shape[0], batch_size):
            tile = source_block @ target[column_start : column_start + batch_size].T
            forward.update(row_start, column_start, tile)
            backward.update(column_start, row_start, np.ascontiguousarray(tile.T))
    return forward.result(), backward.result()


def cosine_knn(
    x: np.ndarray,
    k: int,
    batch_size: int = 4096,
    search: str = "exact",
    ann: AnnConfig | None = None,
) -> Neighbors:
    """k nearest other rows of every row of `x` [n, d] (a row is never its own neighbour).

    A duplicate row is a neighbour like any other (similarity 1). Returns [n, k] arrays;
    k must be <= n - 1. `search`, `ann`: as in `cosine_knn_both_ways`.
    """
    if uses_faiss(search, len(x)):
        from xling_tf.evaluation import ann_index

        return ann_index.faiss_knn(x, k, ann or ann_index.AnnConfig())
    x = l2_normalize(as_embedding_matrix("x", x))
    _check_k_and_batch(k, batch_size, x.shape[0] - 1)
    neighbors = _RunningTopK(x.shape[0], k, x.dtype)
    for row_start in range(0, x.shape[0], batch_size):
        block = x[row_start : row_start + batch_size]
        for column_start in range(0, x.shape[0], batch_size):
            tile = block @ x[column_start : column_start + batch_size].T
            # Self-similarity sits on the global diagonal; -inf removes it from every top-k.
            rows = np.arange(tile.shape[0])
            diagonal = rows + row_start - column_start
            inside = (diagonal >= 0) & (diagonal < tile.shape[1])
            tile[rows[inside], diagonal[inside]] = -np.inf
            neighbors.update(row_start, column_start, tile)
    return neighbors.result()
