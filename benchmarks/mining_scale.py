r"""Time and peak memory of exact bitext mining on 50k x 50k random 64-d vectors.

  python benchmarks/mining_scale.py [--size 50000] [--dim 64] [--batch_size 4096]

Builds a BUCC-like pool from random Gaussian vectors: half of the source rows have a noisy
copy (noise 0.1 per coordinate) at a random position of the target pool, the other rows on
both sides are unrelated. Runs `xling_tf.evaluation.mining.evaluate_mining` (exact tiled
cosine search in both directions, ratio margin, k=4, calibrated threshold) and prints one
JSON line: wall seconds of the mining call, this process's peak resident set size (VmHWM
of /proc/self/status, which also counts the inputs: two [size, dim] float32 matrices), and
F1. Not `ru_maxrss`: Linux carries the parent's peak over fork + exec, so a child of a big
process (pytest with TensorFlow loaded) would report the parent's size. The full [size, size]
similarity matrix would need size**2 * 4 bytes (10 GB at 50k); the tiled search needs a few
[batch_size, batch_size] tiles.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

from xling_tf.evaluation import mining

import numpy as np


def planted_pool(
    size: int, dim: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, set[tuple[int, int]]]:
    """Source [size, dim], target [size, dim] float32 and the gold (source, target) pairs."""
    rng = np.random.default_rng(seed)
    source = rng.standard_normal((size, dim), dtype=np.float32)
    target = rng.standard_normal((size, dim), dtype=np.float32)
    parallel = size // 2
    positions = rng.permutation(size)[:parallel]
    noise = 0.1 * rng.standard_normal((parallel, dim), dtype=np.float32)
    target[positions] = source[:parallel] + noise
    return source, target, {(i, int(p)) for i, p in enumerate(positions)}


def peak_rss_kib(field: str = "VmHWM") -> int:
    """Peak resident set size of this process image in KiB (Linux VmHWM; else ru_maxrss).

    `field="VmRSS"`: the current resident set size instead of the peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=50_000, help="rows on each side")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch_size", type=int, default=4096)
    args = parser.parse_args(argv)
    source, target, gold = planted_pool(args.size, args.dim)
    started = time.perf_counter()
    result = mining.evaluate_mining(source, target, gold, batch_size=args.batch_size)
    seconds = time.perf_counter() - started
    peak_kib = peak_rss_kib()
    print(
        json.dumps(
            {
                "size": args.size,
                "dim": args.dim,
                "batch_size": args.batch_size,
                "seconds": round(seconds, 1),
                "peak_rss_mib": round(peak_kib / 1024, 1),
                "f1": round(result["f1"], 4),
                "oracle_f1": round(result["oracle"]["f1"], 4),
                "threshold": round(result["threshold"], 4),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
