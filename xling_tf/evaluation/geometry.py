"""Geometry of the embedding spaces: eigen-similarity between languages, and a 2-D projection.

Eigen-similarity (Søgaard, Ruder & Vulić 2018, "On the limitations of unsupervised bilingual
dictionary induction", sec. 4.3; used by Chidambaram et al. 2019 to compare the English and
the other language's sentence spaces, lower = more isomorphic):

1. Build the nearest-neighbour graph of each space: one node per row, an undirected,
   unweighted edge between a row and each of its `k_neighbors` nearest other rows by cosine
   similarity (ties to the lower row index, `knn.cosine_knn`).
2. Compute the eigenvalues of each graph Laplacian L = D - A (degree minus adjacency).
3. For each graph take the smallest k whose first k eigenvalues sum to at least `energy`
   (0.9) of that graph's total, and use the smaller k of the two graphs.
4. Psi = sum_{i < k} (lambda1_i - lambda2_i) ** 2.

Details the paper's prose leaves open follow the authors' released script
(cambridgeltl/iso-study, scripts/evs_script.py, Vulić, Ruder & Søgaard 2020):

* "first k" is in ascending order (it takes networkx's `laplacian_spectrum`, which is sorted
  ascending), although the 2018 text speaks of the "largest" eigenvalues. `largest_first=True`
  gives the descending reading.
* the comparison is ">= energy" (the script's `running_total / total >= minimum_energy`).
* vectors are L2-normalised, mean-centred and L2-normalised again before the k-NN search
  (`center=True`); the script uses 1 neighbour, this module defaults to `k_neighbors=10`
  (`k_neighbors=1` reproduces the script's graphs).

Psi is 0 for identical spaces and for any rotation of a space (the k-NN graph, hence the
spectrum, is unchanged) and grows as the neighbourhood structures differ. The eigenvalues are
computed densely: O(n^2) memory and O(n^3) time, fine for a few thousand sentences.
"""

from __future__ import annotations

from xling_tf.evaluation.knn import as_embedding_matrix, cosine_knn
from xling_tf.evaluation.retrieval import l2_normalize

import numpy as np

__all__ = ["energy_cutoff", "eigen_similarity", "knn_graph_laplacian_spectrum", "project_2d"]


def knn_graph_laplacian_spectrum(
    x: np.ndarray, k_neighbors: int = 10, *, center: bool = True
) -> np.ndarray:
    """Ascending Laplacian eigenvalues (float64 [n]) of the cosine k-NN graph of `x` [n, d].

    See the module docstring for the graph and the `center` preprocessing.
    """
    x = as_embedding_matrix("vectors", x).astype(np.float64)
    if x.shape[0] < 2:
        raise ValueError(f"a nearest-neighbour graph needs at least 2 vectors, got {x.shape[0]}")
    if center:
        x = l2_normalize(x)
        x = x - x.mean(axis=0)
    neighbors = cosine_knn(x, k_neighbors, batch_size=1024).indices  # [n, k]
    n = x.shape[0]
    adjacency = np.zeros((n, n), dtype=np.float64)
    rows = np.repeat(np.arange(n), neighbors.shape[1])
    adjacency[rows, neighbors.ravel()] = 1.0
    adjacency = np.maximum(adjacency, adjacency.T)  # undirected: i~j if either lists the other
    laplacian = np.diag(adjacency.sum(axis=1)) - adjacency
    return np.linalg.eigvalsh(laplacian)


def energy_cutoff(spectrum: np.ndarray, energy: float = 0.9) -> int:
    """The smallest k such that spectrum[:k].sum() >= energy * spectrum.sum().

    `spectrum` is used in the order given. An all-zero spectrum gives len(spectrum).
    """
    if not 0.0 < energy <= 1.0:
        raise ValueError(f"energy must be in (0, 1], got {energy}")
    total = float(np.sum(spectrum))
    if total == 0.0:
        return int(len(spectrum))
    reached = np.flatnonzero(np.cumsum(spectrum) >= energy * total)
    # Rounding can leave the last partial sum a hair under energy * total when energy == 1.
    return int(reached[0]) + 1 if reached.size else int(len(spectrum))


def eigen_similarity(
    x: np.ndarray,
    y: np.ndarray,
    k_neighbors: int = 10,
    energy: float = 0.9,
    *,
    center: bool = True,
    largest_first: bool = False,
) -> float:
    """Psi, the eigen-similarity of the k-NN graphs of two spaces (0 = isomorphic graphs).

    Args:
      x: [n, d1] float embeddings in one language (e.g. English sentences).
      y: [n', d2] float embeddings in the other (usually the translations, n' = n).
      k_neighbors: neighbours per node in each graph; < number of rows.
      energy: share of each spectrum that decides the number of eigenvalues compared.
      center: normalise, mean-centre and renormalise the vectors first (the authors' script).
      largest_first: compare the largest eigenvalues first instead of the smallest.

    Returns:
      Psi >= 0 as a python float.

    Raises:
      ValueError: fewer than k_neighbors + 1 rows, empty or non-finite input, bad energy.
    """
    spectra = []
    for vectors in (x, y):
        spectrum = knn_graph_laplacian_spectrum(vectors, k_neighbors, center=center)
        spectra.append(spectrum[::-1] if largest_first else spectrum)
    k = min(energy_cutoff(spectra[0], energy), energy_cutoff(spectra[1], energy))
    return float(np.sum((spectra[0][:k] - spectra[1][:k]) ** 2))


def project_2d(vectors: np.ndarray) -> np.ndarray:
    """PCA projection of `vectors` [n, d] onto its two main axes: float64 [n, 2] (sklearn PCA).

    The data are mean-centred; column 0 is the coordinate along the direction of largest
    variance, column 1 along the next. sklearn orients each axis so that its largest-magnitude
    loading is positive (SVD signs are otherwise arbitrary), which makes plots reproducible.
    Missing axes (d < 2, or n < 3 points spanning fewer directions) give zero columns.
    """
    from sklearn.decomposition import PCA

    x = as_embedding_matrix("vectors", vectors).astype(np.float64)
    out = np.zeros((x.shape[0], 2), dtype=np.float64)
    components = min(2, *x.shape)
    if components:
        pca = PCA(n_components=components, svd_solver="full").fit(x)
        # An axis without variance is noise in the last bits of the SVD: keep it zero.
        kept = pca.explained_variance_ > 1e-12 * max(pca.explained_variance_.max(), 1e-300)
        out[:, :components] = pca.transform(x) * kept
    return out
