"""Semantic textual similarity: correlation of cosine similarity with gold scores (numpy/scipy).

The STS protocol of the paper (STS-Benchmark, translated STS-B, SemEval-17): each sentence pair
is scored by the cosine similarity of its two embeddings, with no training, and the scores are
compared with the human ratings by Pearson's r (the paper's number) and Spearman's rho.
"""

from __future__ import annotations

from typing import Any

from xling_tf.evaluation.knn import as_embedding_matrix
from xling_tf.evaluation.retrieval import l2_normalize

import numpy as np
from scipy import stats

__all__ = ["pairwise_cosine", "similarity_correlations"]


def pairwise_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of row i of `a` [n, d] with row i of `b` [n, d]: float64 [n].

    An all-zero row has cosine 0 with everything.
    """
    a = as_embedding_matrix("a", a).astype(np.float64)
    b = as_embedding_matrix("b", b).astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same [n, d] shape, got {a.shape} and {b.shape}")
    return np.einsum("nd,nd->n", l2_normalize(a), l2_normalize(b))


def similarity_correlations(a: np.ndarray, b: np.ndarray, gold: np.ndarray) -> dict[str, Any]:
    """Pearson and Spearman correlation between pairwise cosine similarity and gold scores.

    Args:
      a: [n, d] float embeddings of the first sentences.
      b: [n, d] float embeddings of the second sentences.
      gold: [n] gold similarity scores (e.g. 0-5 for STS-B, 1-5 for SICK).

    Returns:
      {"pearson": float, "spearman": float, "n": n}. Spearman ranks ties by their average
      rank. A correlation is NaN when either side is constant (e.g. an encoder that maps
      every sentence to the same vector), since it is undefined there.

    Raises:
      ValueError: empty input, mismatched shapes, fewer than 2 pairs or non-finite values.
    """
    cosines = pairwise_cosine(a, b)
    gold = np.asarray(gold, dtype=np.float64)
    if gold.shape != cosines.shape:
        raise ValueError(f"gold must have shape [{cosines.shape[0]}], got {gold.shape}")
    if not np.isfinite(gold).all():
        raise ValueError("gold scores contain NaN or infinite values")
    n = int(cosines.shape[0])
    if n < 2:
        raise ValueError(f"correlation needs at least 2 pairs, got {n}")
    if np.ptp(cosines) == 0 or np.ptp(gold) == 0:
        return {"pearson": float("nan"), "spearman": float("nan"), "n": n}
    return {
        "pearson": float(stats.pearsonr(cosines, gold)[0]),
        "spearman": float(stats.spearmanr(cosines, gold)[0]),
        "n": n,
    }
