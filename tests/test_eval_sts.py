"""Tests for STS correlations of cosine similarity (hand-computed values)."""

from __future__ import annotations

import math

from xling_tf.evaluation import sts

import numpy as np
import pytest

# Cosines of these row pairs are 1, 1/sqrt(2), 0, -1.
A = np.array([[1.0, 0.0], [2.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
B = np.array([[5.0, 0.0], [1.0, 1.0], [0.0, 2.0], [-1.0, 0.0]])


def test_pairwise_cosine_values_duplicates_and_zero_rows():
    np.testing.assert_allclose(sts.pairwise_cosine(A, B), [1.0, 1 / math.sqrt(2), 0.0, -1.0])
    same = np.array([[0.3, -0.4], [0.0, 0.0]])
    # A duplicated sentence has cosine 1; an all-zero embedding has cosine 0.
    np.testing.assert_allclose(sts.pairwise_cosine(same, same), [1.0, 0.0])


def test_pearson_and_spearman_by_hand():
    # x = cosines [1, s, 0, -1] (s = 1/sqrt 2), y = [4, 3, 1, 0]: mean x = s/4, mean y = 2,
    # dy = [2, 1, -1, -2]. Since sum dy = 0, sum dx*dy = sum x*dy = 2 + s + 0 + 2 = 4 + s;
    # sum dx^2 = sum x^2 - 4 (s/4)^2 = 2.5 - s^2/4 = 2.375; sum dy^2 = 10.
    s = 1 / math.sqrt(2)
    expected_pearson = (4 + s) / math.sqrt(2.375 * 10)  # = 0.96588...
    result = sts.similarity_correlations(A, B, [4, 3, 1, 0])
    assert result["pearson"] == pytest.approx(expected_pearson)
    assert result["pearson"] == pytest.approx(0.96588, abs=1e-5)
    assert result["spearman"] == pytest.approx(1.0)  # same order
    assert result["n"] == 4


def test_spearman_ties_use_average_ranks():
    # Gold [2, 2, 1, 0] has ranks [3.5, 3.5, 2, 1]; cosine ranks are [4, 3, 2, 1].
    # Centred: [1, 1, -.5, -1.5] and [1.5, .5, -.5, -1.5]: rho = 4.5 / sqrt(4.5 * 5) = 3/sqrt(10).
    result = sts.similarity_correlations(A, B, [2, 2, 1, 0])
    assert result["spearman"] == pytest.approx(3 / math.sqrt(10))


def test_constant_side_gives_nan_not_a_crash():
    same_vector = np.ones((3, 4))
    result = sts.similarity_correlations(same_vector, same_vector, [0.0, 2.5, 5.0])
    assert math.isnan(result["pearson"]) and math.isnan(result["spearman"])
    constant_gold = sts.similarity_correlations(A, B, [1, 1, 1, 1])
    assert math.isnan(constant_gold["pearson"])


def test_bad_input_raises():
    with pytest.raises(ValueError, match="empty"):
        sts.similarity_correlations(np.zeros((0, 2)), np.zeros((0, 2)), [])
    with pytest.raises(ValueError, match="at least 2 pairs"):
        sts.similarity_correlations(A[:1], B[:1], [1.0])
    with pytest.raises(ValueError, match="same"):
        sts.similarity_correlations(A, B[:3], [1, 2, 3])
    with pytest.raises(ValueError, match="gold must have shape"):
        sts.similarity_correlations(A, B, [1, 2, 3])
    with pytest.raises(ValueError, match="NaN"):
        sts.similarity_correlations(A, B, [1, 2, 3, float("nan")])
