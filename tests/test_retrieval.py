"""Tests for xling_tf.evaluation.retrieval (hand-computed expected values)."""

from xling_tf.evaluation import retrieval
from xling_tf.evaluation.retrieval import (
    distractor_pool_metrics,
    format_table,
    full_pool_metrics,
    ranks,
)

import numpy as np
import pytest

# Hand-made example (normalize=False, scores are raw dot products).
# S = SOURCE @ TARGET.T:
#            t0  t1  t2
#   s0=[1,0]  1   0   2   -> gold 1, one higher (t2)            -> rank 2
#   s1=[0,1]  0   1  -1   -> gold 1, nothing higher             -> rank 1
#   s2=[1,1]  1   1   1   -> gold 1, two other equal (pessimist) -> rank 3
# tgt2src reads S column-wise:
#   t0: [1, 0, 1] gold 1, s2 equal  -> rank 2
#   t1: [0, 1, 1] gold 1, s2 equal  -> rank 2
#   t2: [2, -1, 1] gold 1, s0 higher -> rank 2
SOURCE = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
TARGET = np.array([[1, 0], [0, 1], [2, -1]], dtype=np.float32)


def test_identity_embeddings_are_perfect():
    eye = np.eye(6, dtype=np.float32)
    result = full_pool_metrics(eye, eye)
    for key in ("src2tgt", "tgt2src", "mean"):
        assert result[key] == {"p@1": 1.0, "p@5": 1.0, "mrr": 1.0}
    assert result["num_pairs"] == 6
    np.testing.assert_array_equal(ranks(eye, eye), np.ones(6, dtype=np.int64))


def test_hand_computed_ranks_and_metrics():
    r = ranks(SOURCE, TARGET, normalize=False)
    assert r.dtype == np.int64 and r.shape == (3,)
    np.testing.assert_array_equal(r, [2, 1, 3])
    np.testing.assert_array_equal(ranks(TARGET, SOURCE, normalize=False), [2, 2, 2])

    result = full_pool_metrics(SOURCE, TARGET, ks=(1, 2, 5), normalize=False)
    assert result["src2tgt"]["p@1"] == pytest.approx(1 / 3)
    assert result["src2tgt"]["p@2"] == pytest.approx(2 / 3)
    assert result["src2tgt"]["p@5"] == 1.0
    assert result["src2tgt"]["mrr"] == pytest.approx((1 / 2 + 1 + 1 / 3) / 3)  # 11/18
    assert result["tgt2src"] == {"p@1": 0.0, "p@2": 1.0, "p@5": 1.0, "mrr": 0.5}
    assert result["mean"]["p@1"] == pytest.approx(1 / 6)
    assert result["mean"]["mrr"] == pytest.approx(5 / 9)
    assert all(type(v) is float for v in result["mean"].values())
    assert result["num_pairs"] == 3


def test_constant_embeddings_get_pessimistic_ranks():
    const = np.ones((4, 3), dtype=np.float32)
    np.testing.assert_array_equal(ranks(const, const), [4, 4, 4, 4])
    result = full_pool_metrics(const, const)
    assert result["mean"]["p@1"] == 0.0
    assert result["mean"]["mrr"] == pytest.approx(0.25)
    pools = distractor_pool_metrics(const, const, pool_size=2)
    assert pools["mean"]["p@1"] == 0.0


def test_zero_rows_do_not_produce_nans():
    source = np.array([[0, 0], [1, 0], [0, 1]], dtype=np.float32)
    target = np.array([[3, 0], [2, 0], [0, 5]], dtype=np.float32)
    # The zero query scores 0 with every candidate -> tied with all -> rank 3.
    # Query [1,0] ties t0 and t1 after normalisation -> rank 2; [0,1] -> rank 1.
    np.testing.assert_array_equal(ranks(source, target), [3, 2, 1])
    np.testing.assert_allclose(
        np.linalg.norm(retrieval.l2_normalize(source), axis=1), [0.0, 1.0, 1.0]
    )


def _reference_ranks(queries, candidates):
    """Brute-force pessimistic ranks with python loops."""
    scores = queries @ candidates.T
    out = []
    for i in range(len(queries)):
        higher = sum(scores[i, j] > scores[i, i] for j in range(len(candidates)))
        equal = sum(scores[i, j] == scores[i, i] for j in range(len(candidates)) if j != i)
        out.append(1 + higher + equal)
    return np.array(out)


def test_batched_ranks_match_unbatched_with_ties():
    rng = np.random.default_rng(3)
    # Small integer vectors create many exact ties, the tricky case for block boundaries.
    source = rng.integers(-1, 2, size=(50, 3)).astype(np.float32)
    target = rng.integers(-1, 2, size=(50, 3)).astype(np.float32)
    small = ranks(source, target, batch_size=7, normalize=False)
    big = ranks(source, target, batch_size=10000, normalize=False)
    np.testing.assert_array_equal(small, big)
    np.testing.assert_array_equal(small, _reference_ranks(source, target))
    # Same for normalised random data.
    source = rng.normal(size=(60, 8)).astype(np.float32)
    target = source + 0.8 * rng.normal(size=(60, 8)).astype(np.float32)
    np.testing.assert_array_equal(
        ranks(source, target, batch_size=7), ranks(source, target, batch_size=10000)
    )
    a = full_pool_metrics(source, target, batch_size=7)
    b = full_pool_metrics(source, target, batch_size=10000)
    assert a == b


def test_distractor_pool_count_and_perfect_score():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(2500, 16)).astype(np.float32)
    result = distractor_pool_metrics(emb, emb, pool_size=1000)
    assert result["num_pools"] == 2  # the trailing 500 pairs are dropped
    assert result["pool_size"] == 1000
    for key in ("src2tgt", "tgt2src", "mean"):
        assert result[key] == {"p@1": 1.0}


def test_distractor_pools_only_count_confusions_within_a_pool():
    n, pool_size, seed = 3000, 1000, 0
    # Pool membership is the documented shuffle: consecutive slices of this permutation.
    order = np.random.default_rng(seed).permutation(n)
    pools = [order[i : i + pool_size] for i in range(0, n, pool_size)]
    source = np.eye(n, dtype=np.float32)
    target = np.eye(n, dtype=np.float32)

    def confuse(a, b):
        # Both targets become e_a + e_b, so queries a and b (either direction) tie their
        # gold with the partner and get rank 2.
        target[a] = target[b] = 0
        target[a, [a, b]] = target[b, [a, b]] = 1

    for j in range(50):  # 100 confused queries inside pool 0
        confuse(pools[0][2 * j], pools[0][2 * j + 1])
    for j in range(30):  # 60 confused queries whose partners sit in another pool
        confuse(pools[1][j], pools[2][j])

    full = full_pool_metrics(source, target)
    for key in ("src2tgt", "tgt2src", "mean"):
        assert full[key]["p@1"] == pytest.approx(2840 / 3000)
        assert full[key]["p@5"] == 1.0
        assert full[key]["mrr"] == pytest.approx((2840 + 160 * 0.5) / 3000)

    pooled = distractor_pool_metrics(source, target, pool_size=pool_size, seed=seed)
    assert pooled["num_pools"] == 3
    for key in ("src2tgt", "tgt2src", "mean"):
        # Pool 0: 900/1000 hits; pools 1 and 2 never see the partner -> all hits.
        assert pooled[key]["p@1"] == pytest.approx((0.9 + 1.0 + 1.0) / 3)


def test_distractor_pool_needs_enough_pairs():
    emb = np.eye(5, dtype=np.float32)
    with pytest.raises(ValueError, match="at least pool_size=1000"):
        distractor_pool_metrics(emb, emb)
    assert distractor_pool_metrics(emb, emb, pool_size=5)["num_pools"] == 1


@pytest.mark.parametrize("fn", [ranks, full_pool_metrics, distractor_pool_metrics])
def test_empty_and_mismatched_inputs_raise(fn):
    with pytest.raises(ValueError, match="empty"):
        fn(np.zeros((0, 4), np.float32), np.zeros((0, 4), np.float32))
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(4, 2\)"):
        fn(np.zeros((3, 2), np.float32), np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(3, 5\)"):
        fn(np.zeros((3, 2), np.float32), np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="2-D"):
        fn(np.zeros(3, np.float32), np.zeros(3, np.float32))


def test_bad_arguments_raise():
    eye = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match="batch_size"):
        ranks(eye, eye, batch_size=0)
    with pytest.raises(ValueError, match="ks"):
        full_pool_metrics(eye, eye, ks=(0,))
    with pytest.raises(ValueError, match="NaN"):
        ranks(np.full((2, 2), np.nan, np.float32), eye[:2, :2])


def test_format_table():
    rows = [
        {"model": "base", "p@1": 0.91234, "n": 1000},
        {"model": "a|b", "p@1": np.float32(0.5)},
    ]
    assert format_table(rows, ["model", "p@1", "n"]) == (
        "| model | p@1 | n |\n| --- | --- | --- |\n| base | 0.912 | 1000 |\n| a\\|b | 0.500 |  |"
    )
