"""Bitext mining with margin scoring (Artetxe & Schwenk, 2019), scored BUCC style (pure numpy).

Given two pools of sentence embeddings, `source` [n, d] and `target` [m, d], in which only some
rows are translations of each other (the rest are non-parallel sentences mixed into both
sides), mining proposes (source, target) pairs and is scored with precision / recall / F1
against the gold pairs.

Scoring is the "ratio" margin of Artetxe & Schwenk (2019), "Margin-based Parallel Corpus
Mining with Multilingual Sentence Embeddings":

    margin(x, y) = cos(x, y) / ( sum_{z in NN_k(x)} cos(x, z) / 2k
                                + sum_{z in NN_k(y)} cos(y, z) / 2k )

where NN_k(x) are the k nearest targets of source x and NN_k(y) the k nearest sources of
target y (exact cosine search, `knn.cosine_knn_both_ways`). The margin discounts "hub"
sentences that are close to everything. As in the paper, the candidates of a source row are
its k nearest targets (and vice versa), and the candidate with the highest margin is kept:

* forward: one pair per source row (its best target);
* backward: one pair per target row (its best source);
* intersection: pairs found in both directions (the paper's best setting for BUCC).

Ties between candidates of equal margin go to the lower index. A pair whose denominator is
<= 0 (only possible when a row's whole neighbourhood has non-positive cosine, e.g. an all-zero
embedding against negative neighbours) gets margin -inf, i.e. is never kept above a threshold.

Threshold: mining outputs a candidate per row, so a score threshold decides which candidates
count as mined. `evaluate_mining` never picks the threshold on the gold pairs it reports F1
on; see its docstring. The best-F1 threshold chosen on the evaluated gold pairs themselves is
reported separately under "oracle" and must be labelled as such.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from xling_tf.evaluation import knn

import numpy as np

if TYPE_CHECKING:
    from xling_tf.evaluation.ann_index import AnnConfig

STRATEGIES = ("forward", "backward", "intersection")

__all__ = [
    "STRATEGIES",
    "Candidates",
    "MinedPairs",
    "best_f1_threshold",
    "evaluate_mining",
    "mine_bitext",
    "mining_f1",
]


@dataclasses.dataclass(frozen=True)
class Candidates:
    """Mined (source, target) pairs with their margin scores.

    Attributes:
      source_ids: [c] int64 source row indices.
      target_ids: [c] int64 target row indices.
      scores: [c] float64 margin scores (higher = more likely a translation).
    """

    source_ids: np.ndarray
    target_ids: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def select(self, mask: np.ndarray) -> Candidates:
        """The candidates where the boolean [c] `mask` is True."""
        return Candidates(self.source_ids[mask], self.target_ids[mask], self.scores[mask])

    def pairs(self) -> list[tuple[int, int]]:
        """The pairs as python (source, target) int tuples, in candidate order."""
        return list(zip(self.source_ids.tolist(), self.target_ids.tolist(), strict=True))


@dataclasses.dataclass(frozen=True)
class MinedPairs:
    """The result of `mine_bitext`: candidates of the three strategies and the k used."""

    forward: Candidates
    backward: Candidates
    intersection: Candidates
    k: int

    def candidates(self, strategy: str) -> Candidates:
        """The candidates of one of `STRATEGIES`."""
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        return getattr(self, strategy)


def _best_by_margin(
    neighbors: knn.Neighbors, query_mean: np.ndarray, candidate_mean: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each query row, the candidate among its k neighbours with the highest margin.

    Returns ([q] int64 candidate indices, [q] float64 margins); ties go to the lower index.
    """
    # Column order by candidate index, so argmax (first maximum) prefers the lower index.
    order = np.argsort(neighbors.indices, axis=1, kind="stable")
    indices = np.take_along_axis(neighbors.indices, order, axis=1)
    cosines = np.take_along_axis(neighbors.similarities, order, axis=1).astype(np.float64)
    denominator = (query_mean[:, None] + candidate_mean[indices]) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        margins = np.where(denominator > 0, cosines / denominator, -np.inf)
    best = np.argmax(margins, axis=1)
    rows = np.arange(indices.shape[0])
    return indices[rows, best], margins[rows, best]


def mine_bitext(
    source: np.ndarray,
    target: np.ndarray,
    k: int = 4,
    batch_size: int = 4096,
    search: str = "exact",
    ann: AnnConfig | None = None,
) -> MinedPairs:
    """Mines translation pairs between two embedding pools with ratio-margin scoring.

    Args:
      source: [n, d] float embeddings of the source pool (L2-normalised here).
      target: [m, d] float embeddings of the target pool.
      k: neighbourhood size of the margin and number of candidates per row; <= min(n, m).
      batch_size: tile side of the exact search; memory O((n + m) * k + batch_size**2).
      search, ann: exact or FAISS neighbour search, see `knn.cosine_knn_both_ways`.

    Returns:
      MinedPairs with forward (n pairs), backward (m pairs) and intersection candidates.

    Raises:
      ValueError: empty or non-finite input, different dimensions, or a bad k.
    """
    forward_nn, backward_nn = knn.cosine_knn_both_ways(source, target, k, batch_size, search, ann)
    source_mean = forward_nn.similarities.astype(np.float64).mean(axis=1)  # [n]
    target_mean = backward_nn.similarities.astype(np.float64).mean(axis=1)  # [m]
    best_target, forward_scores = _best_by_margin(forward_nn, source_mean, target_mean)
    best_source, backward_scores = _best_by_margin(backward_nn, target_mean, source_mean)
    n, m = source_mean.shape[0], target_mean.shape[0]
    forward = Candidates(np.arange(n, dtype=np.int64), best_target, forward_scores)
    backward = Candidates(best_source, np.arange(m, dtype=np.int64), backward_scores)
    # A forward pair (i, j) is in the intersection when j's best source is i; the margin is
    # symmetric in (x, y), so the forward score is also the backward score of that pair.
    mutual = best_source[best_target] == np.arange(n)
    return MinedPairs(forward, backward, forward.select(mutual), int(k))


def _check_gold(gold: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    gold_set = {(int(s), int(t)) for s, t in gold}
    if not gold_set:
        raise ValueError("gold pairs are empty; precision/recall/F1 are undefined")
    return gold_set


def _prf(num_correct: int, num_predicted: int, num_gold: int) -> dict[str, float]:
    precision = num_correct / num_predicted if num_predicted else 0.0
    recall = num_correct / num_gold
    f1 = 2 * precision * recall / (precision + recall) if num_correct else 0.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}


def _is_gold(candidates: Candidates, gold: set[tuple[int, int]]) -> np.ndarray:
    return np.array([pair in gold for pair in candidates.pairs()], dtype=bool)


def mining_f1(
    mined: MinedPairs,
    gold: Iterable[tuple[int, int]],
    threshold: float | None = None,
    *,
    strategy: str = "intersection",
) -> dict[str, Any]:
    """Precision, recall and F1 of the mined pairs whose margin is >= `threshold`.

    Args:
      mined: output of `mine_bitext`.
      gold: the true (source_row, target_row) pairs; non-empty.
      threshold: keep candidates with score >= threshold; None keeps every candidate.
      strategy: which candidates to score, one of `STRATEGIES`.

    Returns:
      {"precision", "recall", "f1", "threshold", "num_predicted", "num_correct", "num_gold"};
      precision is 0.0 when nothing is predicted.
    """
    gold_set = _check_gold(gold)
    candidates = mined.candidates(strategy)
    if threshold is not None:
        candidates = candidates.select(candidates.scores >= threshold)
    num_correct = int(np.count_nonzero(_is_gold(candidates, gold_set)))
    result: dict[str, Any] = _prf(num_correct, len(candidates), len(gold_set))
    result.update(
        threshold=threshold,
        num_predicted=len(candidates),
        num_correct=num_correct,
        num_gold=len(gold_set),
    )
    return result


def best_f1_threshold(
    candidates: Candidates, gold: Iterable[tuple[int, int]]
) -> tuple[float, dict[str, float]]:
    """The score threshold that maximises F1 of `candidates` against `gold`.

    Only thresholds equal to a candidate score are tried, and all candidates tied at a score
    are kept or dropped together. Among equally good thresholds the highest (fewest
    predictions) wins. If no candidate is correct the F1 is 0 for every threshold and the
    highest score is returned.

    Returns:
      (threshold, {"precision", "recall", "f1"} at that threshold).
    """
    gold_set = _check_gold(gold)
    if len(candidates) == 0:
        raise ValueError("no mined candidates to choose a threshold from")
    order = np.argsort(-candidates.scores, kind="stable")
    scores = candidates.scores[order]
    correct = np.cumsum(_is_gold(candidates, gold_set)[order])
    # A threshold at scores[i] keeps every candidate tied with it: evaluate only at the last
    # position of each run of equal scores.
    ends = np.flatnonzero(np.append(scores[1:] != scores[:-1], True))
    best_f1, best_end = -1.0, int(ends[0])
    for end in ends:
        f1 = _prf(int(correct[end]), int(end) + 1, len(gold_set))["f1"]
        if f1 > best_f1:
            best_f1, best_end = f1, int(end)
    return float(scores[best_end]), _prf(int(correct[best_end]), best_end + 1, len(gold_set))


def evaluate_mining(
    source_vecs: np.ndarray,
    target_vecs: np.ndarray,
    gold: Iterable[tuple[int, int]],
    *,
    k: int = 4,
    batch_size: int = 4096,
    strategy: str = "intersection",
    threshold: float | None = None,
    calibration_fraction: float = 0.5,
    seed: int = 0,
    search: str = "exact",
    ann: AnnConfig | None = None,
) -> dict[str, Any]:
    """Mines the two pools and reports F1 with an honestly chosen threshold.

    How the threshold is picked:

    * `threshold` given: it is applied as is and F1 is computed on all gold pairs.
    * otherwise (default): the source rows are split at random (`seed`) into a calibration
      part (`calibration_fraction` of the rows) and an evaluation part. The best-F1 threshold
      is chosen on the candidates and gold pairs whose source row is in the calibration part
      and applied to the evaluation part; the reported precision/recall/F1 are on the
      evaluation part only, so the threshold never sees the gold pairs it is scored on. This
      mirrors BUCC, where the threshold is set on the training pairs.

    "oracle" is the best F1 over all thresholds on the evaluated gold pairs themselves: an
    upper bound that needs the answers, to be reported only as "oracle".

    Args:
      source_vecs: [n, d] float source-pool embeddings (parallel and non-parallel rows).
      target_vecs: [m, d] float target-pool embeddings.
      gold: (source_row, target_row) translation pairs.
      k: margin neighbourhood and candidates per row.
      batch_size: tile side of the exact search.
      strategy: one of `STRATEGIES`.
      threshold: a fixed threshold instead of calibration.
      calibration_fraction: share of source rows used to choose the threshold, in (0, 1).
      seed: seed of the calibration split.
      search, ann: exact or FAISS neighbour search, see `knn.cosine_knn_both_ways`.

    Returns:
      {"precision", "recall", "f1", "threshold", "threshold_source" ("given" or
       "calibration split"), "oracle": {"precision", "recall", "f1", "threshold"},
       "strategy", "k", "num_source", "num_target", "num_gold", "num_evaluated_gold",
       "num_candidates"}.

    Raises:
      ValueError: empty gold pairs, a gold index out of range, or (when calibrating) a split
        that leaves either part without gold pairs.
    """
    gold_set = _check_gold(gold)
    mined = mine_bitext(
        source_vecs, target_vecs, k=k, batch_size=batch_size, search=search, ann=ann
    )
    n, m = len(mined.forward), len(mined.backward)
    for s, t in gold_set:
        if not (0 <= s < n and 0 <= t < m):
            raise ValueError(f"gold pair ({s}, {t}) is out of range for {n} sources, {m} targets")
    candidates = mined.candidates(strategy)
    if threshold is not None:
        evaluated = mining_f1(mined, gold_set, threshold, strategy=strategy)
        evaluated_gold, evaluated_candidates = gold_set, candidates
        threshold_source = "given"
    else:
        if not 0.0 < calibration_fraction < 1.0:
            raise ValueError(f"calibration_fraction must be in (0, 1), got {calibration_fraction}")
        in_calibration = np.zeros(n, dtype=bool)
        calibration_rows = np.random.default_rng(seed).permutation(n)
        in_calibration[calibration_rows[: int(round(n * calibration_fraction))]] = True
        calibration_gold = {(s, t) for s, t in gold_set if in_calibration[s]}
        evaluated_gold = gold_set - calibration_gold
        if not calibration_gold or not evaluated_gold:
            raise ValueError(
                "the calibration split left no gold pairs in one part "
                f"({len(calibration_gold)} calibration, {len(evaluated_gold)} evaluation); "
                "pass more gold pairs or a fixed threshold"
            )
        calibration_candidates = candidates.select(in_calibration[candidates.source_ids])
        threshold, _ = best_f1_threshold(calibration_candidates, calibration_gold)
        evaluated_candidates = candidates.select(~in_calibration[candidates.source_ids])
        kept = evaluated_candidates.select(evaluated_candidates.scores >= threshold)
        num_correct = int(np.count_nonzero(_is_gold(kept, evaluated_gold)))
        evaluated = _prf(num_correct, len(kept), len(evaluated_gold))
        threshold_source = "calibration split"
    oracle: dict[str, Any] = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "threshold": None}
    if len(evaluated_candidates):
        oracle_threshold, oracle_scores = best_f1_threshold(evaluated_candidates, evaluated_gold)
        oracle = {**oracle_scores, "threshold": oracle_threshold}
    return {
        "precision": evaluated["precision"],
        "recall": evaluated["recall"],
        "f1": evaluated["f1"],
        "threshold": float(threshold),
        "threshold_source": threshold_source,
        "oracle": oracle,
        "strategy": strategy,
        "k": mined.k,
        "num_source": n,
        "num_target": m,
        "num_gold": len(gold_set),
        "num_evaluated_gold": len(evaluated_gold),
        "num_candidates": len(candidates),
    }
