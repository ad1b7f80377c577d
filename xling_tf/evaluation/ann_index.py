"""Approximate k-nearest-neighbour search by cosine similarity with FAISS (optional extra).

Exact tiled search (`knn.py`) costs O(n * m * d): fine up to ~100k rows a side, hours at
millions. Here an inverted-file index (FAISS `IndexIVFFlat`, inner product on L2-normalised
rows) clusters the candidates into `nlist` cells with k-means and scans only the `nprobe`
cells nearest each query: O(m * nlist * d) to build, O(n * (nlist + nprobe * m / nlist) * d)
to search. Results are approximate (a true neighbour in an unscanned cell is missed);
`benchmarks/ann_recall.py` measures recall against the exact search, which stays the default
and the reference.

Inputs may be memory-mapped `.npy` arrays (`np.load(path, mmap_mode="r")`): rows are read,
checked and normalised `batch_size` at a time, so peak memory is the index (m * d * 4 bytes
for `Flat` cells, m * d for `SQ8`) plus one batch, never a second copy of the inputs.

FAISS is imported only when used: `pip install 'xling_tf[ann]'` (faiss-cpu).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from typing import Any

from xling_tf.evaluation.knn import Neighbors, as_embedding_matrix
from xling_tf.evaluation.retrieval import l2_normalize

import numpy as np

__all__ = [
    "AnnConfig",
    "build_index",
    "faiss_knn",
    "faiss_knn_both_ways",
    "import_faiss",
    "search_index",
]


@dataclasses.dataclass(frozen=True)
class AnnConfig:
    """How the FAISS index is built and searched.

    Attributes:
      index: a FAISS `index_factory` string over inner product (e.g. "IVF1024,Flat",
        "IVF4096,SQ8", "HNSW32,Flat"); "auto" is "IVF{nlist},Flat" with nlist = sqrt(rows).
      nprobe: cells scanned per query (IVF indexes): higher is slower and more exact.
      train_rows: k-means training sample (rows drawn at random, seeded), at most all rows.
      batch_size: rows checked, normalised and added or searched at a time.
      seed: seed of the training sample.
    """

    index: str = "auto"
    nprobe: int = 16
    train_rows: int = 65_536
    batch_size: int = 65_536
    seed: int = 0

    def factory_string(self, num_rows: int) -> str:
        """The `index_factory` string for an index over `num_rows` candidates."""
        if self.index != "auto":
            return self.index
        # FAISS wants >= 39 training points per cell; sqrt(rows) keeps k-means cheap.
        nlist = max(1, min(round(math.sqrt(num_rows)), num_rows // 39))
        return f"IVF{nlist},Flat"


def import_faiss() -> Any:
    """The `faiss` module, or an ImportError that says how to install it."""
    try:
        import faiss
    except ImportError as error:
        raise ImportError(
            "approximate search (--search faiss) needs FAISS: pip install 'xling_tf[ann]' "
            "(the faiss-cpu package)"
        ) from error
    return faiss


def _normalized_batches(
    name: str, vectors: np.ndarray, batch_size: int
) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, float32 [b, d] L2-normalised rows) of `vectors` [n, d], b <= batch_size."""
    if np.ndim(vectors) != 2 or vectors.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D [n, d] array, got {np.shape(vectors)}")
    for start in range(0, vectors.shape[0], batch_size):
        block = as_embedding_matrix(name, vectors[start : start + batch_size])
        yield start, np.ascontiguousarray(l2_normalize(block), dtype=np.float32)


def build_index(candidates: np.ndarray, config: AnnConfig = AnnConfig()) -> Any:
    """A trained FAISS inner-product index over the L2-normalised rows of `candidates` [m, d].

    Row i of `candidates` is id i of the index.
    """
    faiss = import_faiss()
    num_rows, dim = np.shape(candidates)
    index = faiss.index_factory(dim, config.factory_string(num_rows), faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        sample_size = min(num_rows, config.train_rows)
        rows = np.sort(
            np.random.default_rng(config.seed).choice(num_rows, sample_size, replace=False)
        )
        (_, sample), *_ = _normalized_batches("candidates", candidates[rows], sample_size)
        index.train(sample)
    for _, block in _normalized_batches("candidates", candidates, config.batch_size):
        index.add(block)
    if hasattr(index, "nprobe"):
        index.nprobe = config.nprobe
    else:  # an index built by a factory string wraps the IVF index (e.g. with a transform)
        try:
            faiss.extract_index_ivf(index).nprobe = config.nprobe
        except RuntimeError:
            pass  # not an IVF index (Flat, HNSW): nprobe does not apply
    return index


def search_index(
    index: Any, queries: np.ndarray, k: int, batch_size: int, skip_self: bool = False
) -> Neighbors:
    """k best ids of `index` for each query row (most similar first; -1 / -inf if fewer).

    `skip_self`: the queries are the indexed rows; row i's own id is dropped from its list
    (k + 1 are searched), or its last neighbour when the search did not return it.
    """
    wanted = k + 1 if skip_self else k
    num_rows = queries.shape[0]
    indices = np.empty((num_rows, k), np.int64)
    similarities = np.empty((num_rows, k), np.float32)
    for start, block in _normalized_batches("queries", queries, batch_size):
        sims, ids = index.search(block, wanted)
        if skip_self:
            own = ids == np.arange(start, start + len(block))[:, None]
            own[~own.any(axis=1), -1] = True  # not found: drop the weakest instead
            keep = ~own
            ids = ids[keep].reshape(len(block), k)
            sims = sims[keep].reshape(len(block), k)
        sims = np.where(ids < 0, -np.inf, sims)  # FAISS pads missing results with -1
        indices[start : start + len(block)] = ids
        similarities[start : start + len(block)] = sims
    return Neighbors(indices, similarities)


def _check_k(k: int, num_candidates: int) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if k > num_candidates:
        raise ValueError(f"k={k} nearest neighbours requested but only {num_candidates} exist")


def faiss_knn_both_ways(
    source: np.ndarray, target: np.ndarray, k: int, config: AnnConfig = AnnConfig()
) -> tuple[Neighbors, Neighbors]:
    """Approximate `knn.cosine_knn_both_ways`: k nearest targets of every source row and k
    nearest sources of every target row ([n, k] and [m, k] `Neighbors`, float32 cosines).

    One index at a time is in memory: over the targets, then over the sources.
    """
    if np.shape(source)[-1] != np.shape(target)[-1]:
        raise ValueError(
            f"source and target dimensions differ: {np.shape(source)[-1]} vs {np.shape(target)[-1]}"
        )
    _check_k(k, min(len(source), len(target)))
    forward = search_index(build_index(target, config), source, k, config.batch_size)
    backward = search_index(build_index(source, config), target, k, config.batch_size)
    return forward, backward


def faiss_knn(x: np.ndarray, k: int, config: AnnConfig = AnnConfig()) -> Neighbors:
    """Approximate `knn.cosine_knn`: the k nearest other rows of every row of `x` [n, d]."""
    _check_k(k, len(x) - 1)
    return search_index(build_index(x, config), x, k, config.batch_size, skip_self=True)
