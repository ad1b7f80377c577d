"""Zero-shot cross-lingual NLI: a classifier on sentence-pair features, trained in English.

Following the paper (and InferSent / SentEval), a premise embedding u and a hypothesis
embedding v are combined into the feature vector (u, v, |u - v|, u * v); a logistic regression
(`classification.fit_logistic_regression`: C=1.0, max_iter=1000, fixed, not tuned) is trained
on English pairs only and its accuracy is measured on each test language separately.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xling_tf.evaluation.classification import (
    DEFAULT_C,
    DEFAULT_MAX_ITER,
    check_labelled,
    fit_logistic_regression,
)
from xling_tf.evaluation.knn import as_embedding_matrix

import numpy as np

__all__ = ["nli_features", "nli_transfer_accuracy"]


def nli_features(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Pair features (u, v, |u - v|, u * v) of premise `u` [n, d] and hypothesis `v` [n, d].

    Returns [n, 4d] in the dtype of the inputs (float32 unless one is float64).
    """
    u = as_embedding_matrix("premise embeddings", u)
    v = as_embedding_matrix("hypothesis embeddings", v)
    if u.shape != v.shape:
        raise ValueError(f"premise and hypothesis shapes differ: {u.shape} vs {v.shape}")
    return np.concatenate([u, v, np.abs(u - v), u * v], axis=1)


def nli_transfer_accuracy(
    train_u: np.ndarray,
    train_v: np.ndarray,
    train_y: Any,
    tests: Mapping[str, tuple[np.ndarray, np.ndarray, Any]],
    *,
    c: float = DEFAULT_C,
    max_iter: int = DEFAULT_MAX_ITER,
) -> dict[str, float]:
    """Accuracy per test language of an NLI classifier trained on English pairs.

    Args:
      train_u: [n, d] premise embeddings of the English training pairs.
      train_v: [n, d] hypothesis embeddings.
      train_y: [n] labels (e.g. "entailment" / "neutral" / "contradiction").
      tests: language -> (premise [n_l, d], hypothesis [n_l, d], labels [n_l]).
      c, max_iter: logistic-regression settings (fixed; see module docstring).

    Returns:
      {language: accuracy in [0, 1]} in the order of `tests`.

    Raises:
      ValueError: no test languages, empty or mismatched arrays, or a single training class.
    """
    if not tests:
        raise ValueError("no test languages given")
    train_x, labels = check_labelled("train", nli_features(train_u, train_v), train_y)
    model = fit_logistic_regression(train_x, labels, c=c, max_iter=max_iter)
    accuracies = {}
    for language, (u, v, y) in tests.items():
        test_x, test_y = check_labelled(f"test {language!r}", nli_features(u, v), y)
        if test_x.shape[1] != train_x.shape[1]:
            raise ValueError(
                f"test {language!r} embeddings have dimension {test_x.shape[1] // 4}, "
                f"training ones {train_x.shape[1] // 4}"
            )
        accuracies[language] = float(np.mean(model.predict(test_x) == test_y))
    return accuracies
