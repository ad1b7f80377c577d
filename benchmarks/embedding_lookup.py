"""Token-table lookups under a tf.distribute strategy in mixed precision: a table in the compute
dtype (an autocast variable, Model Garden's `OnDeviceEmbedding` as is) against a float32 table
whose looked-up rows are cast (what `TextEmbedding` does), in one process.

  python benchmarks/embedding_lookup.py [--vocab_size 128000 --width 256 --batch 256 --length 40]

The default shape is the main job's student: mUSE v3's 128k-piece table projected to 256, and
a distill_en_<xx> step's two sides of 128 sentences at about 40 pieces. Both lookups run inside
`strategy.run` of a one-device MirroredStrategy (the main job's strategy on a CPU) in
`mixed_bfloat16`, with a gradient tape as in training (the table is frozen, as the student's
is). Prints milliseconds per lookup (best of --rounds) and the ratio.
"""

from __future__ import annotations

import argparse
import sys

import tensorflow as tf
import tf_keras
from bench_common import best_time, format_value, write_result
from official.nlp.modeling import layers as nlp_layers


def lookup_step(strategy: tf.distribute.Strategy, table: tf_keras.layers.Layer):
    """A tf.function: the rows of `ids` as bfloat16, and the gradient of their sum."""
    scale = tf.Variable(1.0)

    def replica_step(ids: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            rows = tf.cast(table(ids), tf.bfloat16) * tf.cast(scale, tf.bfloat16)
            loss = tf.reduce_sum(tf.cast(rows, tf.float32))
        return tape.gradient(loss, scale)

    return tf.function(lambda ids: strategy.run(replica_step, args=(ids,)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocab_size", type=int, default=128_000)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--length", type=int, default=40)
    parser.add_argument("--calls", type=int, default=20, help="lookups per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    tf_keras.mixed_precision.set_global_policy("mixed_bfloat16")
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    ids = tf.random.uniform([args.batch, args.length], maxval=args.vocab_size, dtype=tf.int32)
    variants = {
        "table in the compute dtype (autocast variable)": None,
        "float32 table, rows cast (TextEmbedding)": tf.float32,
    }
    milliseconds = {}
    for name, dtype in variants.items():
        with strategy.scope():
            table = nlp_layers.OnDeviceEmbedding(
                vocab_size=args.vocab_size, embedding_width=args.width, dtype=dtype
            )
            table.build([None, None])
            table.trainable = False
        step = lookup_step(strategy, table)
        step(ids)  # trace

        def run(step=step) -> None:
            for _ in range(args.calls):
                result = step(ids)
            result.numpy()

        milliseconds[name] = best_time(run, args.rounds) / args.calls * 1000
    baseline = next(iter(milliseconds.values()))
    lines = ["| lookup | ms per call | speed-up |", "| --- | --- | --- |"]
    for name, value in milliseconds.items():
        lines.append(f"| {name} | {format_value(value, '.2f')} | {baseline / value:.2f}x |")
    table_text = "\n".join(lines)
    print(table_text)
    shape = f"{args.vocab_size} x {args.width} table, ids [{args.batch}, {args.length}]"
    write_result(
        "embedding_lookup",
        "Token-table lookup under MirroredStrategy, mixed bfloat16",
        table_text,
        notes=f"{shape}; best of {args.rounds} rounds of {args.calls} calls.",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
