"""Tests for eigen-similarity (hand-checkable graphs) and the 2-D PCA projection."""

from __future__ import annotations

import math

from xling_tf.evaluation import geometry

import numpy as np
import pytest


def _on_circle(degrees):
    radians = np.radians(degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


# With 1 neighbour by angle: 0-10, 10-0, 25-10, 45-25 -> the path P4 (0-10-25-45), whose
# Laplacian eigenvalues are 2 - 2cos(pi j / 4): 0, 2 - sqrt2, 2, 2 + sqrt2.
PATH4 = _on_circle([0, 10, 25, 45])
# 0-10, 10-0, 60-70, 70-60 -> two separate edges, eigenvalues 0, 0, 2, 2.
TWO_EDGES = _on_circle([0, 10, 60, 70])
ROOT2 = math.sqrt(2)


def test_laplacian_spectra_of_hand_built_graphs():
    np.testing.assert_allclose(
        geometry.knn_graph_laplacian_spectrum(PATH4, 1, center=False),
        [0, 2 - ROOT2, 2, 2 + ROOT2],
        atol=1e-12,
    )
    np.testing.assert_allclose(
        geometry.knn_graph_laplacian_spectrum(TWO_EDGES, 1, center=False), [0, 0, 2, 2], atol=1e-12
    )


def test_energy_cutoff():
    # Total 10: partial sums 0, 1, 3, 10 -> 90% (9) first reached at k = 4, 30% (3) at k = 3.
    assert geometry.energy_cutoff(np.array([0.0, 1.0, 2.0, 7.0]), 0.9) == 4
    assert geometry.energy_cutoff(np.array([0.0, 1.0, 2.0, 7.0]), 0.3) == 3
    assert geometry.energy_cutoff(np.array([7.0, 2.0, 1.0, 0.0]), 0.9) == 2  # 7 + 2 = 9 >= 9
    assert geometry.energy_cutoff(np.zeros(3), 0.9) == 3
    with pytest.raises(ValueError, match="energy"):
        geometry.energy_cutoff(np.ones(3), 0.0)


def test_eigen_similarity_path_vs_two_edges_by_hand():
    # Ascending: P4 partial sums 0, .59, 2.59, 6 (total 6, 90% = 5.4) -> k = 4; two edges
    # 0, 0, 2, 4 (90% = 3.6) -> k = 4. Psi = (2 - sqrt2)^2 + 0 + sqrt2^2 = 8 - 4 sqrt2.
    psi = geometry.eigen_similarity(PATH4, TWO_EDGES, k_neighbors=1, center=False)
    assert psi == pytest.approx(8 - 4 * ROOT2)
    # Largest first: P4 3.41, 2 -> 5.41 >= 5.4 gives k = 2; two edges 2, 2 -> k = 2.
    # Psi = (2 + sqrt2 - 2)^2 + (2 - 2)^2 = 2.
    largest = geometry.eigen_similarity(
        PATH4, TWO_EDGES, k_neighbors=1, center=False, largest_first=True
    )
    assert largest == pytest.approx(2.0)
    # Symmetric in its arguments.
    assert geometry.eigen_similarity(TWO_EDGES, PATH4, 1, center=False) == pytest.approx(psi)


def test_identical_rotated_and_different_spaces():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 16))
    rotation, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    assert geometry.eigen_similarity(x, x) == 0.0
    # A rotation keeps every cosine, so the 10-NN graph and its spectrum are identical.
    assert geometry.eigen_similarity(x, x @ rotation) == pytest.approx(0.0, abs=1e-18)
    # A scaled copy too (cosine k-NN ignores length).
    assert geometry.eigen_similarity(x, 3.0 * x) == pytest.approx(0.0, abs=1e-18)
    unrelated = rng.standard_normal((200, 16))
    assert geometry.eigen_similarity(x, unrelated) > 0.1


def test_duplicate_rows_are_neighbours_with_ties_to_lower_index():
    # Rows 0 and 1 are the same sentence; row 2 is in between rows 0 and 3.
    x = _on_circle([0, 0, 20, 50])
    # 1-NN: 0->1 (sim 1), 1->0, 2->0 (tie with 1, lower index wins), 3->2: edges 0-1, 0-2, 2-3
    # -> the path 1-0-2-3, i.e. P4 again.
    np.testing.assert_allclose(
        geometry.knn_graph_laplacian_spectrum(x, 1, center=False),
        [0, 2 - ROOT2, 2, 2 + ROOT2],
        atol=1e-12,
    )


def test_eigen_similarity_bad_input():
    with pytest.raises(ValueError, match="empty"):
        geometry.eigen_similarity(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match="only 3 exist"):
        geometry.eigen_similarity(np.eye(4), np.eye(4), k_neighbors=4)
    with pytest.raises(ValueError, match="at least 2 vectors"):
        geometry.eigen_similarity(np.ones((1, 3)), np.ones((1, 3)), k_neighbors=1)


def test_project_2d_line_and_plane_by_hand():
    # Points on the line t * (1, 2, 2) / 3 at t = 0, 3, 6: centred t = -3, 0, 3 along one
    # axis, nothing along the second.
    line = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 2.0], [2.0, 4.0, 4.0]])
    np.testing.assert_allclose(geometry.project_2d(line), [[-3, 0], [0, 0], [3, 0]], atol=1e-12)
    # A rectangle 4 wide, 2 high in the x-y plane: x spreads more, so it is axis 0.
    rectangle = np.array([[0.0, 0.0, 5.0], [4.0, 0.0, 5.0], [0.0, 2.0, 5.0], [4.0, 2.0, 5.0]])
    np.testing.assert_allclose(
        geometry.project_2d(rectangle), [[-2, -1], [2, -1], [-2, 1], [2, 1]], atol=1e-12
    )
    # Negating the data keeps the axes (their orientation depends only on the loadings), so
    # every coordinate flips sign.
    np.testing.assert_allclose(
        geometry.project_2d(-rectangle), [[2, 1], [-2, 1], [2, -1], [-2, -1]], atol=1e-12
    )
    # One dimension: the second column is zero.
    np.testing.assert_allclose(geometry.project_2d(np.array([[1.0], [3.0]])), [[-1, 0], [1, 0]])
    with pytest.raises(ValueError, match="2-D"):
        geometry.project_2d(np.zeros(3))


def _authors_eigen_similarity(x: np.ndarray, y: np.ndarray) -> float:
    """Psi as the authors' released script computes it (cambridgeltl/iso-study,
    scripts/evs_script.py), restated independently of `geometry`: normalise, centre and
    normalise again; link each row to its nearest other row by Euclidean distance (sklearn,
    self excluded); Laplacian spectra in ascending order; the smaller of the two 90%-energy
    cutoffs; sum of squared differences."""
    from sklearn.neighbors import NearestNeighbors
    from sklearn.preprocessing import normalize

    spectra = []
    for vectors in (x, y):
        v = normalize(vectors)
        v = normalize(v - v.mean(axis=0))
        _, index = NearestNeighbors(n_neighbors=2).fit(v).kneighbors(v)
        adjacency = np.zeros((len(v), len(v)))
        adjacency[index[:, 0], index[:, 1]] = adjacency[index[:, 1], index[:, 0]] = 1.0
        spectra.append(np.linalg.eigvalsh(np.diag(adjacency.sum(1)) - adjacency))
    cutoffs = []
    for spectrum in spectra:
        shares = np.cumsum(spectrum) / spectrum.sum()
        cutoffs.append(int(np.argmax(shares >= 0.9)) + 1)
    k = min(cutoffs)
    return float(np.sum((spectra[0][:k] - spectra[1][:k]) ** 2))


@pytest.mark.parametrize("noise", [0.3, 3.0])
def test_eigen_similarity_with_one_neighbour_is_the_authors_definition(noise):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((300, 24))
    y = x + noise * rng.standard_normal((300, 24))
    ours = geometry.eigen_similarity(x, y, k_neighbors=1, energy=0.9, center=True)
    assert ours == pytest.approx(_authors_eigen_similarity(x, y), rel=1e-9)
    assert ours > 0.0
