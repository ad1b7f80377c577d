r"""FAISS approximate k-NN vs the exact search: recall, build and query time, memory; one run.

  nice python benchmarks/ann_recall.py [--sizes 100000,1000000 --dim 512 --queries 1000
      --nprobe 16,64]

For each size N: N base vectors and `--queries` query vectors drawn from one mixture of
N / 100 random centres in `--dim` dimensions (a point = its centre + Gaussian noise of the
same norm, then L2-normalised: clustered like sentence embeddings, unlike uniform random
vectors, on which no index beats a scan). The exact reference is `knn.cosine_knn_both_ways`
(the project's exact tiled search) from the queries to the base; the approximate search is
`ann_index.build_index` (AnnConfig defaults: IVF with sqrt(N) cells, k-means on 65,536
rows) searched at each `--nprobe`. Prints one JSON line per (size, nprobe): recall@1
(the exact nearest neighbour is the approximate first) and recall@10 (share of the exact
10 found in the approximate 10), seconds to build the index and to search the queries,
the exact search's seconds and the ratio, the resident memory the index added (VmRSS
before and after building) and the process's peak resident memory so far (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from xling_tf.evaluation import ann_index, knn

import numpy as np
from mining_scale import peak_rss_kib

K = 10


def clustered_unit_vectors(
    rows: int, dim: int, centres: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """float32 [rows, dim] unit vectors around random rows of `centres` [c, dim]."""
    out = np.empty((rows, dim), np.float32)
    for start in range(0, rows, 65_536):
        stop = min(rows, start + 65_536)
        block = centres[rng.integers(0, len(centres), stop - start)]
        block += rng.standard_normal(block.shape, dtype=np.float32) / np.sqrt(dim)
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def _recall(approximate: np.ndarray, exact: np.ndarray) -> tuple[float, float]:
    at_1 = float(np.mean(approximate[:, 0] == exact[:, 0]))
    found = [len(set(a) & set(e)) for a, e in zip(approximate, exact, strict=True)]
    return at_1, sum(found) / exact.size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--nprobe", default="16,64")
    args = parser.parse_args(argv)
    faiss = ann_index.import_faiss()
    for size in map(int, args.sizes.split(",")):
        rng = np.random.default_rng(size)
        centres = rng.standard_normal((max(1, size // 100), args.dim), dtype=np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        base = clustered_unit_vectors(size, args.dim, centres, rng)
        queries = clustered_unit_vectors(args.queries, args.dim, centres, rng)
        started = time.perf_counter()
        exact, _ = knn.cosine_knn_both_ways(queries, base, K)
        exact_seconds = time.perf_counter() - started
        before_kib = peak_rss_kib("VmRSS")
        started = time.perf_counter()
        index = ann_index.build_index(base, ann_index.AnnConfig())
        build_seconds = time.perf_counter() - started
        index_mib = (peak_rss_kib("VmRSS") - before_kib) / 1024
        for nprobe in map(int, args.nprobe.split(",")):
            faiss.extract_index_ivf(index).nprobe = nprobe
            started = time.perf_counter()
            _, ids = index.search(queries, K)
            query_seconds = time.perf_counter() - started
            at_1, at_10 = _recall(ids, exact.indices)
            print(
                json.dumps(
                    {
                        "size": size,
                        "dim": args.dim,
                        "queries": args.queries,
                        "index": ann_index.AnnConfig().factory_string(size),
                        "nprobe": nprobe,
                        "recall@1": round(at_1, 4),
                        "recall@10": round(at_10, 4),
                        "build_seconds": round(build_seconds, 1),
                        "query_seconds": round(query_seconds, 3),
                        "exact_query_seconds": round(exact_seconds, 1),
                        "exact_over_ann_query": round(exact_seconds / query_seconds, 1),
                        "index_rss_mib": round(index_mib),
                        "peak_rss_mib": round(peak_rss_kib() / 1024),
                    }
                ),
                flush=True,
            )
        del index, base
    return 0


if __name__ == "__main__":
    sys.exit(main())
