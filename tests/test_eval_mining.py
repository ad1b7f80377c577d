"""Tests for exact tiled k-NN search and margin-based bitext mining (hand-computed cases)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from xling_tf.evaluation import knn, mining

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Two sources and three targets with hand-picked cosines (all rows have unit norm):
#            h=(.6,.8,0)  p=(.8,0,.6)  q=(0,.6,.8)
#   a=(1,0,0)     .6          .8           0
#   b=(0,1,0)     .8          0            .6
# With k=2 the neighbourhood means are a: (.8+.6)/2=.7, b: (.8+.6)/2=.7 (over targets) and
# h: (.6+.8)/2=.7, p: (.8+0)/2=.4, q: (.6+0)/2=.3 (over sources). Margins:
#   a-p: .8/((.7+.4)/2) = 16/11   a-h: .6/((.7+.7)/2) = 6/7
#   b-h: .8/((.7+.7)/2) = 8/7     b-q: .6/((.7+.3)/2) = 6/5
# so b's nearest neighbour h (a hub, close to both sources) loses to q under the margin.
HUB_SOURCE = np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float64)
HUB_TARGET = np.array([[0.6, 0.8, 0], [0.8, 0, 0.6], [0, 0.6, 0.8]], dtype=np.float64)


def _reference_top_k(queries: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """Full-matrix top-k, ties to the lower index (what the tiled search must reproduce)."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    c = candidates / np.linalg.norm(candidates, axis=1, keepdims=True)
    scores = q @ c.T
    columns = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    return np.lexsort((columns, -scores), axis=1)[:, :k]


def test_hub_example_margins_forward_backward_intersection():
    mined = mining.mine_bitext(HUB_SOURCE, HUB_TARGET, k=2)
    assert mined.forward.pairs() == [(0, 1), (1, 2)]
    np.testing.assert_allclose(mined.forward.scores, [16 / 11, 6 / 5])
    assert mined.backward.pairs() == [(1, 0), (0, 1), (1, 2)]
    np.testing.assert_allclose(mined.backward.scores, [8 / 7, 16 / 11, 6 / 5])
    assert mined.intersection.pairs() == [(0, 1), (1, 2)]
    assert mined.k == 2


def test_mining_f1_with_and_without_threshold():
    mined = mining.mine_bitext(HUB_SOURCE, HUB_TARGET, k=2)
    gold = {(0, 1), (1, 2)}
    assert mining.mining_f1(mined, gold)["f1"] == 1.0
    # Threshold 1.3 keeps only a-p (16/11 = 1.45): P = 1, R = 1/2, F1 = 2/3.
    result = mining.mining_f1(mined, gold, threshold=1.3)
    assert (result["precision"], result["recall"]) == (1.0, 0.5)
    assert result["f1"] == pytest.approx(2 / 3)
    assert (result["num_predicted"], result["num_correct"], result["num_gold"]) == (1, 1, 2)
    # Backward has 3 candidates, 2 correct: P = 2/3, R = 1, F1 = 0.8.
    backward = mining.mining_f1(mined, gold, strategy="backward")
    assert backward["precision"] == pytest.approx(2 / 3)
    assert backward["f1"] == pytest.approx(0.8)
    # Nothing above the threshold: precision 0 by convention, F1 0.
    nothing = mining.mining_f1(mined, gold, threshold=10.0)
    assert (nothing["precision"], nothing["recall"], nothing["f1"]) == (0.0, 0.0, 0.0)


def test_duplicate_targets_tie_goes_to_lower_index():
    # Targets 0 and 1 are the same sentence; with k=1 source 0's nearest neighbour is a tie.
    source = np.array([[1.0, 0.0], [0.0, 1.0]])
    target = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    mined = mining.mine_bitext(source, target, k=1)
    assert mined.forward.pairs() == [(0, 0), (1, 2)]
    assert mined.backward.pairs() == [(0, 0), (0, 1), (1, 2)]
    assert mined.intersection.pairs() == [(0, 0), (1, 2)]
    # If the gold translation is the second copy, the intersection gets half of it right.
    result = mining.mining_f1(mined, {(0, 1), (1, 2)})
    assert (result["precision"], result["recall"]) == (0.5, 0.5)


def test_best_f1_threshold_keeps_tied_scores_together():
    # Scores 2, 1, 1 with correctness T, T, F against 2 gold pairs. Cutting between the two
    # tied 1s would give F1 = 1.0, but a threshold keeps both: at 1 -> P 2/3, R 1, F1 0.8;
    # at 2 -> P 1, R 1/2, F1 2/3. Best: threshold 1, F1 0.8.
    candidates = mining.Candidates(
        source_ids=np.array([0, 1, 2]),
        target_ids=np.array([0, 1, 5]),
        scores=np.array([2.0, 1.0, 1.0]),
    )
    threshold, scores = mining.best_f1_threshold(candidates, {(0, 0), (1, 1)})
    assert threshold == 1.0
    assert scores["f1"] == pytest.approx(0.8)
    assert scores["precision"] == pytest.approx(2 / 3)


def test_best_f1_threshold_without_correct_candidates_returns_top_score():
    candidates = mining.Candidates(np.array([0, 1]), np.array([1, 0]), np.array([0.5, 3.0]))
    threshold, scores = mining.best_f1_threshold(candidates, {(0, 0)})
    assert threshold == 3.0 and scores["f1"] == 0.0


def test_non_positive_denominator_gives_minus_inf():
    # All cosines are <= 0, so every neighbourhood mean is <= 0: no margin is defined.
    source = np.array([[1.0, 0.0]])
    target = np.array([[-1.0, 0.0], [0.0, 1.0]])
    mined = mining.mine_bitext(source, target, k=1)
    assert np.isneginf(mined.forward.scores).all()


def _planted(num_source: int, num_target: int, num_parallel: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    source = rng.standard_normal((num_source, 16))
    target = rng.standard_normal((num_target, 16))
    positions = rng.permutation(num_target)[:num_parallel]
    target[positions] = source[:num_parallel] + 0.05 * rng.standard_normal((num_parallel, 16))
    return source, target, {(i, int(p)) for i, p in enumerate(positions)}


def test_evaluate_mining_bucc_style_pool():
    # 120 parallel sentences hidden among 200 sources and 250 targets.
    source, target, gold = _planted(200, 250, 120)
    result = mining.evaluate_mining(source, target, gold)
    assert result["threshold_source"] == "calibration split"
    assert result["f1"] > 0.95
    assert result["oracle"]["f1"] >= result["f1"]
    assert result["num_gold"] == 120
    assert 0 < result["num_evaluated_gold"] < 120
    assert (result["num_source"], result["num_target"], result["k"]) == (200, 250, 4)


def test_evaluate_mining_threshold_never_sees_evaluation_gold():
    source, target, gold = _planted(200, 250, 120)
    result = mining.evaluate_mining(source, target, gold, seed=3)
    # Recover the calibration rows the same way the function does.
    order = np.random.default_rng(3).permutation(200)
    calibration = set(order[:100].tolist())
    calibration_gold = {pair for pair in gold if pair[0] in calibration}
    # Dropping evaluation-part gold pairs changes the reported scores but not the threshold.
    fewer = calibration_gold | set(sorted(gold - calibration_gold)[:10])
    again = mining.evaluate_mining(source, target, fewer, seed=3)
    assert again["threshold"] == result["threshold"]
    assert again["num_evaluated_gold"] == 10


def test_evaluate_mining_with_given_threshold_matches_mining_f1():
    mined = mining.mine_bitext(HUB_SOURCE, HUB_TARGET, k=2)
    gold = {(0, 1), (1, 2)}
    result = mining.evaluate_mining(HUB_SOURCE, HUB_TARGET, gold, k=2, threshold=1.3)
    assert result["threshold_source"] == "given"
    assert result["f1"] == pytest.approx(mining.mining_f1(mined, gold, 1.3)["f1"])
    # The oracle on the same pairs keeps both candidates.
    assert result["oracle"]["f1"] == 1.0
    assert result["oracle"]["threshold"] == pytest.approx(6 / 5)


def _rows_with_exact_cosines(rng: np.random.Generator, n: int) -> np.ndarray:
    """[n, 4] rows with one entry of +-1 (norm 1) or four (norm 2), the rest 0.

    Normalised, their entries are 0, +-0.5 or +-1, so every cosine between two rows is exact in
    any summation order: the many exact ties stay ties whatever BLAS kernel a tile shape picks
    (rounded Gaussian rows tied only up to the last bit, which a [1, d] tile broke on one CPU).
    """
    signs = rng.choice([-1.0, 1.0], size=(n, 4))
    one_hot = np.eye(4)[rng.integers(0, 4, size=n)]
    return np.where(rng.random((n, 1)) < 0.5, signs * one_hot, signs)


@pytest.mark.parametrize("batch_size", [1, 7, 64, 4096])
def test_tiled_knn_matches_full_matrix(batch_size):
    rng = np.random.default_rng(1)
    # Only 24 distinct directions: most similarities are exact ties, broken by index.
    x = _rows_with_exact_cosines(rng, 150)
    y = _rows_with_exact_cosines(rng, 90)
    forward, backward = knn.cosine_knn_both_ways(x, y, k=5, batch_size=batch_size)
    np.testing.assert_array_equal(forward.indices, _reference_top_k(x, y, 5))
    np.testing.assert_array_equal(backward.indices, _reference_top_k(y, x, 5))
    within = knn.cosine_knn(x, k=4, batch_size=batch_size)
    assert not (within.indices == np.arange(150)[:, None]).any()
    full = _reference_top_k(x, x, 150)
    expected = np.array([[j for j in row if j != i][:4] for i, row in enumerate(full)])
    np.testing.assert_array_equal(within.indices, expected)


def test_bad_inputs_raise_clear_errors():
    good = np.eye(3)
    with pytest.raises(ValueError, match="source is empty"):
        mining.mine_bitext(np.zeros((0, 3)), good)
    with pytest.raises(ValueError, match="target is empty"):
        mining.mine_bitext(good, np.zeros((0, 3)))
    with pytest.raises(ValueError, match="dimensions differ"):
        mining.mine_bitext(good, np.eye(4))
    with pytest.raises(ValueError, match="only 3 exist"):
        mining.mine_bitext(good, good, k=4)
    with pytest.raises(ValueError, match="NaN"):
        mining.mine_bitext(np.full((2, 3), np.nan), good)
    mined = mining.mine_bitext(good, good, k=1)
    with pytest.raises(ValueError, match="gold pairs are empty"):
        mining.mining_f1(mined, set())
    with pytest.raises(ValueError, match="strategy"):
        mining.mining_f1(mined, {(0, 0)}, strategy="union")
    with pytest.raises(ValueError, match="out of range"):
        mining.evaluate_mining(good, good, {(0, 7)}, k=1, threshold=0.0)
    with pytest.raises(ValueError, match="no gold pairs in one part"):
        mining.evaluate_mining(good, good, {(0, 0)}, k=1)


@pytest.mark.slow
def test_mining_never_materialises_the_similarity_matrix():
    """12k x 12k 64-d vectors: the full float32 matrix alone would be 576 MB; tiles stay far
    below. (`benchmarks/mining_scale.py --size 50000` is the 50k x 50k measurement.)"""
    completed = subprocess.run(
        [sys.executable, os.path.join(REPO, "benchmarks", "mining_scale.py"), "--size", "12000"],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["peak_rss_mib"] < 450
    assert result["f1"] > 0.99
