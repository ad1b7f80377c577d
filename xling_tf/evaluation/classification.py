"""Cross-lingual classification transfer with logistic regression on frozen embeddings.

The paper's zero-shot protocol (e.g. Amazon review sentiment): a classifier is trained on
English sentence embeddings only and tested on another language's embeddings, which works to
the extent that the encoder maps translations to the same place. Few-shot adds k labelled
target-language examples to the English training set.

Fixed choices (documented, never tuned on the test language):

* scikit-learn `LogisticRegression` with L2 penalty, `C=1.0` (scikit-learn's default),
  `max_iter=1000`, the lbfgs solver, on the raw embeddings (no scaling). Multi-class labels
  use the multinomial loss. Callers may pass other `c` / `max_iter`, but must choose them
  without looking at test results.
* Few-shot: for each k in `few_shot_ks` and each seed in `seeds`, k test examples are drawn
  without replacement, class-balanced (k // C per class, the k % C leftover examples go to
  classes drawn at random), moved from the test set to the training set, and accuracy is
  measured on the remaining test examples; the reported number is the mean over seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xling_tf.evaluation.knn import as_embedding_matrix

import numpy as np
from sklearn.linear_model import LogisticRegression

DEFAULT_C = 1.0
DEFAULT_MAX_ITER = 1000

__all__ = [
    "DEFAULT_C",
    "DEFAULT_MAX_ITER",
    "balanced_sample",
    "check_labelled",
    "fit_logistic_regression",
    "transfer_accuracy",
]


def check_labelled(name: str, x: np.ndarray, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validates features [n, d] and labels [n]; returns (float features, label array)."""
    x = as_embedding_matrix(f"{name} features", x)
    labels = np.asarray(y)
    if labels.shape != (x.shape[0],):
        raise ValueError(
            f"{name} labels must have shape [{x.shape[0]}] to match the features, "
            f"got {labels.shape}"
        )
    return x, labels


def fit_logistic_regression(
    x: np.ndarray, y: np.ndarray, *, c: float = DEFAULT_C, max_iter: int = DEFAULT_MAX_ITER
) -> LogisticRegression:
    """Fits the fixed logistic regression of this module on features [n, d] and labels [n]."""
    if np.unique(y).size < 2:
        raise ValueError("training labels contain a single class; nothing to classify")
    return LogisticRegression(C=c, max_iter=max_iter).fit(x, y)


def _accuracy(model: LogisticRegression, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict(x) == y))


def balanced_sample(labels: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of k examples drawn without replacement, balanced over the classes of `labels`.

    Each class gets k // C examples (C = number of classes); the k % C leftovers go to
    distinct classes chosen at random. Returns a sorted int64 array of k indices.

    Raises:
      ValueError: if a class has fewer examples than its share.
    """
    classes = np.unique(labels)
    quota = np.full(classes.size, k // classes.size)
    quota[rng.choice(classes.size, size=k % classes.size, replace=False)] += 1
    picked = []
    for label, count in zip(classes, quota, strict=True):
        members = np.flatnonzero(labels == label)
        if count > members.size:
            raise ValueError(
                f"few-shot k={k} needs {count} examples of class {label!r}, "
                f"the test set has {members.size}"
            )
        picked.append(rng.choice(members, size=count, replace=False))
    return np.sort(np.concatenate(picked)).astype(np.int64)


def transfer_accuracy(
    train_x: np.ndarray,
    train_y: Any,
    test_x: np.ndarray,
    test_y: Any,
    few_shot_ks: Sequence[int] = (8, 32, 128),
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    *,
    c: float = DEFAULT_C,
    max_iter: int = DEFAULT_MAX_ITER,
) -> dict[str, Any]:
    """Zero-shot and few-shot accuracy of a source-language classifier on a target language.

    Args:
      train_x: [n_train, d] float embeddings of the source-language (English) training texts.
      train_y: [n_train] labels (ints or strings).
      test_x: [n_test, d] float embeddings of the target-language texts.
      test_y: [n_test] labels.
      few_shot_ks: numbers of target examples added for few-shot; each must be < n_test.
      seeds: seeds of the few-shot draws; accuracies are averaged over them.
      c: inverse L2 strength of the logistic regression (fixed, see module docstring).
      max_iter: solver iteration cap.

    Returns:
      {"zero_shot": accuracy on the whole test set, "few_shot": {k: mean accuracy},
       "few_shot_std": {k: standard deviation over seeds}, "n_train", "n_test"}.

    Raises:
      ValueError: empty or mismatched inputs, a single training class, a k that is not in
        [1, n_test - 1] or that a class cannot supply, or no seeds for few-shot.
    """
    train_x, train_y = check_labelled("train", train_x, train_y)
    test_x, test_y = check_labelled("test", test_x, test_y)
    if train_x.shape[1] != test_x.shape[1]:
        raise ValueError(
            f"train and test embeddings differ in dimension: {train_x.shape[1]} vs "
            f"{test_x.shape[1]}"
        )
    n_test = test_x.shape[0]
    for k in few_shot_ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 < k < n_test:
            raise ValueError(f"few-shot k must be an int in [1, {n_test - 1}], got {k!r}")
    if few_shot_ks and not seeds:
        raise ValueError("few-shot evaluation needs at least one seed")
    zero_shot = fit_logistic_regression(train_x, train_y, c=c, max_iter=max_iter)
    few_shot: dict[int, float] = {}
    few_shot_std: dict[int, float] = {}
    for k in few_shot_ks:
        accuracies = []
        for seed in seeds:
            shots = balanced_sample(test_y, int(k), np.random.default_rng(seed))
            rest = np.ones(n_test, dtype=bool)
            rest[shots] = False
            model = fit_logistic_regression(
                np.concatenate([train_x, test_x[shots]]),
                np.concatenate([train_y, test_y[shots]]),
                c=c,
                max_iter=max_iter,
            )
            accuracies.append(_accuracy(model, test_x[rest], test_y[rest]))
        few_shot[int(k)] = float(np.mean(accuracies))
        few_shot_std[int(k)] = float(np.std(accuracies))
    return {
        "zero_shot": _accuracy(zero_shot, test_x, test_y),
        "few_shot": few_shot,
        "few_shot_std": few_shot_std,
        "n_train": int(train_x.shape[0]),
        "n_test": int(n_test),
    }
