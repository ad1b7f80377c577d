"""Tests for zero-/few-shot classification transfer and NLI transfer (hand-derived answers)."""

from __future__ import annotations

from xling_tf.evaluation import classification, nli_transfer

import numpy as np
import pytest

# English training set on a line, symmetric around 0, so the fitted boundary is x = 0.
TRAIN_X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
TRAIN_Y = np.array([0, 0, 1, 1])


def test_zero_shot_accuracy_by_hand():
    # Boundary at 0: predictions for -3, 0.5, -0.5, 3 are 0, 1, 0, 1; gold 0, 0, 0, 1 -> 3/4.
    test_x = np.array([[-3.0], [0.5], [-0.5], [3.0]])
    result = classification.transfer_accuracy(
        TRAIN_X, TRAIN_Y, test_x, [0, 0, 0, 1], few_shot_ks=()
    )
    assert result["zero_shot"] == 0.75
    assert result["few_shot"] == {}
    assert (result["n_train"], result["n_test"]) == (4, 4)


def _orthogonal_languages():
    """English varies only along dimension 0, the target language only along dimension 1.

    A classifier trained on English gets weight exactly 0 on dimension 1 (its gradient there
    is always 0), so it gives every target example the same score: zero-shot accuracy is the
    share of one class, 1/2 on this balanced set. With one target example per class added,
    the problem is symmetric under x -> -x, so the boundary passes through 0 with a positive
    weight on dimension 1: every remaining target example is classified correctly.
    """
    train_x = np.array([[1.0, 0.0], [2.0, 0.0], [-1.0, 0.0], [-2.0, 0.0]])
    train_y = np.array([1, 1, 0, 0])
    test_x = np.array([[0.0, 1.0]] * 10 + [[0.0, -1.0]] * 10)
    test_y = np.array([1] * 10 + [0] * 10)
    return train_x, train_y, test_x, test_y


def test_few_shot_fixes_an_unaligned_language():
    result = classification.transfer_accuracy(
        *_orthogonal_languages(), few_shot_ks=(2, 6), seeds=(0, 1, 2)
    )
    assert result["zero_shot"] == 0.5
    assert result["few_shot"] == {2: 1.0, 6: 1.0}
    assert result["few_shot_std"] == {2: 0.0, 6: 0.0}
    assert result["n_test"] == 20


def test_balanced_sample_quota_and_determinism():
    labels = np.array(["a"] * 5 + ["b"] * 5 + ["c"] * 5)
    picked = classification.balanced_sample(labels, 7, np.random.default_rng(0))
    counts = sorted(np.unique(labels[picked], return_counts=True)[1].tolist())
    assert counts == [2, 2, 3]  # 7 // 3 = 2 each, the one leftover to a random class
    assert len(set(picked.tolist())) == 7 and list(picked) == sorted(picked)
    again = classification.balanced_sample(labels, 7, np.random.default_rng(0))
    np.testing.assert_array_equal(picked, again)
    with pytest.raises(ValueError, match="needs 3 examples of class"):
        classification.balanced_sample(np.array([0, 0, 0, 1, 1]), 6, np.random.default_rng(0))


def test_few_shot_examples_leave_the_test_set(monkeypatch):
    # Every target example is a distinct point (its index in dimension 1), so the rows that
    # are scored identify themselves. Record what each few-shot model is evaluated on.
    train_x, train_y, _, _ = _orthogonal_languages()
    test_x = np.stack([np.zeros(20), np.arange(20.0) - 9.5], axis=1)
    test_y = (test_x[:, 1] > 0).astype(int)
    scored: list[np.ndarray] = []
    real_accuracy = classification._accuracy

    def recording_accuracy(model, x, y):
        scored.append(x[:, 1].copy())
        return real_accuracy(model, x, y)

    monkeypatch.setattr(classification, "_accuracy", recording_accuracy)
    classification.transfer_accuracy(
        train_x, train_y, test_x, test_y, few_shot_ks=(4,), seeds=(0, 1)
    )
    # Calls: few-shot seed 0, seed 1, then zero-shot on the full set.
    assert [len(x) for x in scored] == [16, 16, 20]
    for seed, rows in zip((0, 1), scored[:2], strict=True):
        shots = classification.balanced_sample(test_y, 4, np.random.default_rng(seed))
        assert not set(test_x[shots, 1].tolist()) & set(rows.tolist())


def test_transfer_accuracy_rejects_bad_input():
    test_x = np.zeros((4, 1))
    with pytest.raises(ValueError, match="few-shot k must be an int in \\[1, 3\\]"):
        classification.transfer_accuracy(TRAIN_X, TRAIN_Y, test_x, [0, 1, 0, 1], few_shot_ks=(4,))
    with pytest.raises(ValueError, match="single class"):
        classification.transfer_accuracy(
            TRAIN_X, [1, 1, 1, 1], test_x, [0, 1, 0, 1], few_shot_ks=()
        )
    with pytest.raises(ValueError, match="differ in dimension"):
        classification.transfer_accuracy(TRAIN_X, TRAIN_Y, np.zeros((4, 2)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="labels must have shape"):
        classification.transfer_accuracy(TRAIN_X, TRAIN_Y[:3], test_x, [0, 1, 0, 1])
    with pytest.raises(ValueError, match="test features is empty"):
        classification.transfer_accuracy(TRAIN_X, TRAIN_Y, np.zeros((0, 1)), [], few_shot_ks=())
    with pytest.raises(ValueError, match="at least one seed"):
        classification.transfer_accuracy(TRAIN_X, TRAIN_Y, test_x, [0, 1, 0, 1], (2,), seeds=())


def test_nli_features_by_hand():
    features = nli_transfer.nli_features(np.array([[1.0, 2.0]]), np.array([[3.0, -1.0]]))
    np.testing.assert_array_equal(features, [[1, 2, 3, -1, 2, 3, 3, -2]])
    with pytest.raises(ValueError, match="shapes differ"):
        nli_transfer.nli_features(np.zeros((2, 2)), np.zeros((3, 2)))


def test_nli_transfer_accuracy_per_language():
    # 1-d "embeddings": a pair is "same" when u == v. The training set is symmetric under
    # (u, v) -> (-u, -v) and u <-> v, so only |u - v| (0 same / 2 different) and u*v
    # (+1 / -1) get weight: "same" rises with u*v and falls with |u - v|. Pairs further out
    # along those features than the training ones keep their side.
    train_u = np.array([[1.0], [-1.0], [1.0], [-1.0]])
    train_v = np.array([[1.0], [-1.0], [-1.0], [1.0]])
    train_y = ["same", "same", "different", "different"]
    tests = {
        "xx": (
            np.array([[2.0], [2.0], [-3.0]]),
            np.array([[2.0], [-2.0], [-3.0]]),
            ["same", "different", "same"],
        ),
        # An encoder that flips the sign of the second sentence: every pair looks different.
        "yy": (np.array([[1.0], [2.0]]), np.array([[-1.0], [-2.0]]), ["same", "same"]),
    }
    accuracies = nli_transfer.nli_transfer_accuracy(train_u, train_v, train_y, tests)
    assert accuracies == {"xx": 1.0, "yy": 0.0}
    with pytest.raises(ValueError, match="no test languages"):
        nli_transfer.nli_transfer_accuracy(train_u, train_v, train_y, {})
    with pytest.raises(ValueError, match="dimension"):
        nli_transfer.nli_transfer_accuracy(
            train_u, train_v, train_y, {"zz": (np.zeros((1, 2)), np.zeros((1, 2)), ["same"])}
        )
