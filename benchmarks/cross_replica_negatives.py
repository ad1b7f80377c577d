r"""Train-step time with cross-replica negatives on vs off, 2 mirrored replicas, one run.

  nice python benchmarks/cross_replica_negatives.py [--replicas 2 --global_batch 128
      --seq_len 32 --steps 10 --rounds 3]

Splits the host CPU into `--replicas` logical devices under MirroredStrategy (what
`--distribution_strategy=mirrored --cpu_replicas=N` does) and trains the `demo` experiment's
translation-ranking model (3 x 256 Transformer, 512-d output) on random token ids of one
fixed shape, with plain SGD: forward pass, loss, gradients, all-reduce, update. Two tasks
share the model and differ only in `cross_replica_negatives`; after a warm-up step each
(tracing), `--rounds` rounds time `--steps` steps of each in turn and the best round counts.
Each step also updates the task's accuracy metrics, as training does. With the option on,
a third arm recomputes the metrics' logits instead of reusing the loss's
(`XlingTask.keep_ranking_logits`): the cost of the second all-gather that reuse avoids.
Prints one JSON line with seconds per step and the ratios. The extra work with the
option on: one all-gather of the local [b, 2 * 512] embeddings (and token ids for the
same-example mask) and [b, R*b] instead of [b, b] logits; on CPU logical devices the
all-gather is a memory copy, so a real interconnect costs more in absolute terms.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import xling_tf  # noqa: E402,F401  (selects tf_keras before TensorFlow loads Keras)
from xling_tf.configs import experiments  # noqa: E402,F401  (registers the experiments)
from xling_tf.distribution import split_host_cpu  # noqa: E402
from xling_tf.modeling.factory import build_encoder  # noqa: E402
from xling_tf.tasks.base import RANKING_LOGITS  # noqa: E402
from xling_tf.tasks.translation_ranking import TranslationRankingTask  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
from official.core import exp_factory  # noqa: E402


def _random_batch(rows: int, seq_len: int, vocab_size: int, seed: int) -> dict:
    """A batch of `rows` pairs of random ids, every row of full length `seq_len`."""
    rng = np.random.default_rng(seed)

    def side():
        ids = rng.integers(1, vocab_size, size=(rows, seq_len)).astype(np.int32)
        return {"input_word_ids": ids, "input_mask": np.ones_like(ids)}

    return {"left": side(), "right": side()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--global_batch", type=int, default=128)
    parser.add_argument("--seq_len", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    split_host_cpu(args.replicas)
    strategy = tf.distribute.MirroredStrategy(
        devices=[f"/cpu:{i}" for i in range(args.replicas)],
        cross_device_ops=tf.distribute.ReductionToOneDevice(),
    )
    tasks = {}
    for cross_replica in (True, False):
        config = exp_factory.get_exp_config("demo").task
        config.model.cross_replica_negatives = cross_replica
        tasks[cross_replica] = TranslationRankingTask(config)
    model_config = tasks[True].task_config.model
    vocab_size = model_config.tokenizer.vocab_size
    with strategy.scope():
        # No vocabulary is trained: the ids are random, the encoder only needs its size.
        encoder = build_encoder(
            model_config.encoder, vocab_size, model_config.tokenizer.max_seq_length
        )
        model = tasks[True].build_task_model(encoder)
        optimizer = tf_keras.optimizers.SGD(0.01)
    local_rows = args.global_batch // args.replicas

    def inputs(context):
        replica = context.replica_id_in_sync_group
        batch = _random_batch(local_rows, args.seq_len, vocab_size, seed=replica)
        return tf.nest.map_structure(tf.constant, batch)

    batch = strategy.experimental_distribute_values_from_function(inputs)

    def train_step(task: TranslationRankingTask, reuse_logits: bool = True):
        with strategy.scope():
            metrics = task.build_metrics(training=True)

        def step(features):
            with tf.GradientTape() as tape:
                outputs = model(features, training=True)
                loss = task.build_losses(features, outputs) / strategy.num_replicas_in_sync
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            if not reuse_logits:  # as before the reuse: the metrics rank (and gather) again
                outputs = {k: v for k, v in outputs.items() if not k.startswith(RANKING_LOGITS)}
            task.process_metrics(metrics, features, outputs)
            return loss

        return tf.function(lambda features: strategy.run(step, args=(features,)))

    steps = {
        "on": train_step(tasks[True]),
        "on, metrics recompute": train_step(tasks[True], reuse_logits=False),
        "off": train_step(tasks[False]),
    }
    for step in steps.values():
        step(batch)  # trace and compile
    best = {arm: float("inf") for arm in steps}
    for _ in range(args.rounds):
        for arm, step in steps.items():
            started = time.perf_counter()
            for _ in range(args.steps):
                loss = step(batch)
            strategy.experimental_local_results(loss)[0].numpy()  # wait for the last step
            seconds = (time.perf_counter() - started) / args.steps
            best[arm] = min(best[arm], seconds)
    print(
        json.dumps(
            {
                "replicas": args.replicas,
                "global_batch": args.global_batch,
                "seq_len": args.seq_len,
                "seconds_per_step_on": round(best["on"], 4),
                "seconds_per_step_on_metrics_recompute": round(best["on, metrics recompute"], 4),
                "seconds_per_step_off": round(best["off"], 4),
                "on_over_off": round(best["on"] / best["off"], 3),
                "recompute_over_reuse": round(best["on, metrics recompute"] / best["on"], 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
