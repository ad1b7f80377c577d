"""How large eigen-similarity (Psi) is, and how much it varies, when nothing separates two spaces.

Synthetic, seeded 64-d Gaussian clouds (no model): for each number of sentences n and
neighbours per node k, Psi of x against an independent sample of the same distribution, and
of x against a near-copy x + 0.1 * noise, over a few seeds (mean and standard deviation).
These are the values a real measurement has to stand out from (docs/evaluation.md).

    python benchmarks/eigen_similarity_scale.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import sys

from xling_tf.evaluation.geometry import eigen_similarity

import numpy as np

DIM = 64


def scale_rows(sizes: list[int], neighbours: list[int], seeds: int) -> list[str]:
    """One markdown table row per (n, k): mean (sd) of Psi for both pairs of spaces."""
    rows = []
    for n in sizes:
        for k in neighbours:
            independent, near_copy = [], []
            for seed in range(seeds):
                rng = np.random.default_rng(seed)
                x = rng.standard_normal((n, DIM))
                independent.append(eigen_similarity(x, rng.standard_normal((n, DIM)), k))
                near_copy.append(eigen_similarity(x, x + 0.1 * rng.standard_normal((n, DIM)), k))
            rows.append(
                f"| {n} | {k} | {np.mean(independent):.2f} ({np.std(independent):.2f}) "
                f"| {np.mean(near_copy):.2f} ({np.std(near_copy):.2f}) |"
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    print("| n | k | independent samples: Psi mean (sd) | x vs x + 0.1 noise: Psi mean (sd) |")
    print("| --- | --- | --- | --- |")
    for row in scale_rows([100, 250, 500, 1000], [1, 10], args.seeds):
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
