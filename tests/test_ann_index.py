"""FAISS approximate k-NN behind knn.py and mining.py, measured against the exact search."""

from __future__ import annotations

import sys

from xling_tf.evaluation import ann_index, knn, mining

import numpy as np
import pytest

pytest.importorskip("faiss")


def _clustered(rows: int, dim: int = 32, clusters: int = 50, seed: int = 0) -> np.ndarray:
    """float32 [rows, dim] points around `clusters` random centres (like sentence vectors)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    points = centres[rng.integers(0, clusters, rows)] + 0.5 * rng.standard_normal((rows, dim))
    return points.astype(np.float32)


def _recall(approximate: np.ndarray, exact: np.ndarray) -> float:
    """Share of the exact [n, k] neighbour ids that the approximate [n, k] lists contain."""
    found = [len(set(a) & set(e)) for a, e in zip(approximate, exact, strict=True)]
    return sum(found) / exact.size


def test_flat_faiss_index_reproduces_the_exact_search_both_ways():
    source, target = _clustered(300, seed=1), _clustered(400, seed=2)
    exact = knn.cosine_knn_both_ways(source, target, k=5)
    flat = knn.cosine_knn_both_ways(
        source, target, k=5, search="faiss", ann=ann_index.AnnConfig(index="Flat")
    )
    for e, f in zip(exact, flat, strict=True):
        np.testing.assert_array_equal(f.indices, e.indices)
        np.testing.assert_allclose(f.similarities, e.similarities, atol=1e-5)


def test_ivf_index_finds_most_exact_neighbours():
    x = _clustered(5000)
    exact = knn.cosine_knn(x, k=10)
    approximate = knn.cosine_knn(x, k=10, search="faiss")  # IVF71,Flat, nprobe 16
    assert ann_index.AnnConfig().factory_string(5000) == "IVF71,Flat"
    assert _recall(approximate.indices, exact.indices) > 0.9
    # A row is never its own neighbour, as in the exact search.
    assert not (approximate.indices == np.arange(5000)[:, None]).any()
    np.testing.assert_array_equal(approximate.indices[:, 0] >= 0, True)


def test_mining_with_faiss_finds_the_planted_pairs():
    rng = np.random.default_rng(3)
    source = rng.standard_normal((3000, 32)).astype(np.float32)
    target = rng.standard_normal((3000, 32)).astype(np.float32)
    positions = rng.permutation(3000)[:1500]
    target[positions] = source[:1500] + 0.1 * rng.standard_normal((1500, 32))
    gold = {(i, int(p)) for i, p in enumerate(positions)}
    exact = mining.evaluate_mining(source, target, gold)
    approximate = mining.evaluate_mining(source, target, gold, search="faiss")
    assert exact["f1"] > 0.95
    assert approximate["f1"] > exact["f1"] - 0.02


def test_auto_search_is_exact_for_small_inputs():
    assert not knn.uses_faiss("auto", knn.AUTO_EXACT_MAX_ROWS)
    assert knn.uses_faiss("auto", knn.AUTO_EXACT_MAX_ROWS + 1)
    assert knn.uses_faiss("faiss", 10) and not knn.uses_faiss("exact", 10**9)
    with pytest.raises(ValueError, match="search must be one of"):
        knn.cosine_knn(np.eye(3), k=1, search="annoy")


def test_memory_mapped_input_is_indexed_batch_by_batch(tmp_path):
    path = tmp_path / "vectors.npy"
    np.save(path, _clustered(1000))
    vectors = np.load(path, mmap_mode="r")
    config = ann_index.AnnConfig(index="Flat", batch_size=128)
    neighbors = ann_index.faiss_knn(vectors, k=3, config=config)
    np.testing.assert_array_equal(neighbors.indices, knn.cosine_knn(np.asarray(vectors), 3).indices)
    bad = np.asarray(vectors).copy()
    bad[700, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ann_index.faiss_knn(bad, k=3, config=config)


def test_missing_faiss_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss -> ImportError
    with pytest.raises(ImportError, match=r"xling_tf\[ann\]"):
        knn.cosine_knn(np.eye(4), k=1, search="faiss")
