"""In-batch softmax ranking loss against hand-computed values."""

from __future__ import annotations

import math

import xling_tf  # noqa: F401
from xling_tf.modeling.ranking_loss import in_batch_softmax_loss, ranking_logits

import numpy as np
import tensorflow as tf

LEFT = tf.constant([[1.0, 0.0], [0.0, 1.0]])
RIGHT = tf.constant([[1.0, 0.0], [1.0, 0.0]])


def test_bidirectional_loss_by_hand():
    # left->right logits [[1, 1], [0, 0]]: both rows are a coin flip -> log 2 each.
    # right->left logits [[1, 0], [1, 0]]: row 0 gold 1 vs 0, row 1 gold 0 vs 1.
    loss, logits = in_batch_softmax_loss(LEFT, RIGHT)
    l2r = math.log(2.0)
    r2l = (math.log(1 + math.exp(-1)) + math.log(1 + math.exp(1))) / 2
    np.testing.assert_allclose(loss, (l2r + r2l) / 2, rtol=1e-6)
    np.testing.assert_allclose(logits["left_to_right"], [[1, 1], [0, 0]])
    np.testing.assert_allclose(logits["right_to_left"], [[1, 0], [1, 0]])
    one_way, logits = in_batch_softmax_loss(LEFT, RIGHT, bidirectional=False)
    np.testing.assert_allclose(one_way, l2r, rtol=1e-6)
    assert "right_to_left" not in logits


def test_scale_and_additive_margin_by_hand():
    # 2 * ([[1, 1], [0, 0]] - 0.5 * I) = [[1, 2], [0, -1]]: each row's gold trails by 1.
    logits = ranking_logits(LEFT, RIGHT, scale=2.0, margin=0.5)
    np.testing.assert_allclose(logits, [[1, 2], [0, -1]])
    loss, _ = in_batch_softmax_loss(LEFT, RIGHT, scale=2.0, margin=0.5, bidirectional=False)
    np.testing.assert_allclose(loss, math.log(1 + math.e), rtol=1e-6)


def test_hard_negatives_join_the_candidates():
    left = tf.constant([[1.0, 0.0]])
    right = tf.constant([[1.0, 0.0]])
    negatives = tf.constant([[[0.0, 1.0], [0.5, 0.0]]])  # [B=1, K=2, D=2]
    loss, logits = in_batch_softmax_loss(left, right, negatives, bidirectional=False)
    np.testing.assert_allclose(logits["left_to_right"], [[1.0, 0.0, 0.5]])
    expected = -math.log(math.e / (math.e + 1 + math.exp(0.5)))
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


def test_perfect_separation_drives_loss_to_zero():
    eye = tf.eye(4)
    loss, _ = in_batch_softmax_loss(eye, eye, scale=50.0)
    assert float(loss) < 1e-6
