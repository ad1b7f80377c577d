"""In-batch softmax ranking loss against hand-computed values."""

from __future__ import annotations

import math

import xling_tf  # noqa: F401
from xling_tf.modeling.ranking_loss import (
    in_batch_softmax_loss,
    ranking_logits,
    same_example_mask,
)

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


def _cross_entropy_without(logits: np.ndarray, left_out: dict[int, list[int]]) -> float:
    """Mean softmax cross-entropy (gold = diagonal) with some columns of some rows removed."""
    losses = []
    for i, row in enumerate(logits):
        kept = [j for j in range(len(row)) if j not in left_out.get(i, [])]
        losses.append(np.log(np.exp(row[kept]).sum()) - row[i])
    return float(np.mean(losses))


def test_same_example_mask_from_token_ids():
    left = tf.constant([[5, 6, 0], [7, 0, 0], [5, 6, 0], [8, 0, 0]])
    right = tf.constant([[9, 0], [3, 4], [9, 0], [3, 4]])
    mask = same_example_mask(left, right).numpy()
    # Rows 0 and 2 are one pair; rows 1 and 3 share their reply (a different query).
    expected = np.zeros([4, 4], bool)
    expected[0, 2] = expected[2, 0] = expected[1, 3] = expected[3, 1] = True
    np.testing.assert_array_equal(mask, expected)
    np.testing.assert_array_equal(same_example_mask(left).numpy()[1], [False] * 4)


def test_a_duplicated_pair_is_not_a_negative_of_itself():
    rng = np.random.default_rng(0)
    left, right = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    left[2], right[2] = left[0], right[0]  # row 2 repeats the pair of row 0
    left_ids = tf.constant([[1, 2], [3, 0], [1, 2], [4, 0]])
    right_ids = tf.constant([[5, 0], [6, 7], [5, 0], [8, 0]])
    same = same_example_mask(left_ids, right_ids)
    loss, logits = in_batch_softmax_loss(
        tf.constant(left, tf.float32), tf.constant(right, tf.float32), same_example=same
    )
    twins = {0: [2], 2: [0]}
    expected = (
        _cross_entropy_without(left @ right.T, twins)
        + _cross_entropy_without(right @ left.T, twins)
    ) / 2
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    unmasked, _ = in_batch_softmax_loss(
        tf.constant(left, tf.float32), tf.constant(right, tf.float32)
    )
    assert abs(float(unmasked) - expected) > 0.01
    # The twin cannot win the softmax either.
    assert float(logits["left_to_right"][0, 2]) < -1e8


def test_task_masks_duplicates_and_reports_accuracy_without_the_margin():
    from xling_tf.configs.model import XlingModelConfig
    from xling_tf.tasks.translation_ranking import TranslationRankingConfig, TranslationRankingTask

    model = XlingModelConfig(logit_scale=1.0, logit_margin=0.3)
    task = TranslationRankingTask(TranslationRankingConfig(), model_config=model)
    # Gold scores 1.0, the other in-batch scores 0.9: right, but by less than the margin.
    left = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    right = tf.constant([[1.0, 0.9], [0.9, 1.0]])
    outputs = {"left": left, "right": right}
    features = {
        "left": {"input_word_ids": tf.constant([[1, 2], [3, 4]])},
        "right": {"input_word_ids": tf.constant([[5, 6], [7, 8]])},
    }
    metrics = task.build_metrics()
    task.process_metrics(metrics, features, outputs)
    assert [float(m.result()) for m in metrics] == [1.0, 1.0]
    # In a train or validation step build_losses runs first and keeps its logits; the metrics
    # reuse them (margin added back) rather than computing the similarities again: swapped
    # embeddings after the loss would give accuracy 0 if they were recomputed.
    task.build_losses(features, outputs)
    outputs["right"] = tf.reverse(right, [0])
    metrics = task.build_metrics()
    task.process_metrics(metrics, features, outputs)
    assert [float(m.result()) for m in metrics] == [1.0, 1.0]
    # A batch of one pair twice: masked, its loss is that of a batch of one (zero).
    twice = {
        "left": {"input_word_ids": tf.constant([[1, 2], [1, 2]])},
        "right": {"input_word_ids": tf.constant([[5, 6], [5, 6]])},
    }
    same = {"left": tf.constant([[1.0, 0.0]] * 2), "right": tf.constant([[1.0, 0.0]] * 2)}
    np.testing.assert_allclose(task.build_losses(twice, same), 0.0, atol=1e-6)
    assert float(task.build_losses(None, same)) > 0.5  # unmasked: each row ranks its twin
