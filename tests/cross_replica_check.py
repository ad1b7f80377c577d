"""Loss, gradient and accuracy of the translation task's ranking, split over replicas.

Run as a script in a fresh process (logical CPU devices must be set before TensorFlow starts):

  python tests/cross_replica_check.py mirrored            # 2 logical CPUs, MirroredStrategy
  python tests/cross_replica_check.py worker INDEX PORTS  # one of 2 multi-worker processes

prints one JSON line {"loss", "gradient", "accuracy", "per_replica_loss"}: the global-batch
mean loss, the all-reduced gradient of a linear projection and the task's accuracy metrics,
with cross-replica negatives, plus the mean loss without them (what each replica's own
softmax gives). `single_replica_reference()` computes the same numbers with one replica
holding the whole global batch, for the test to compare.
"""

from __future__ import annotations

import json
import os
import sys

import xling_tf  # noqa: F401

import numpy as np

NUM_REPLICAS = 2
ROWS_PER_REPLICA = 4
INPUT_DIM, EMBEDDING_DIM, HARD_NEGATIVES = 6, 4, 1
# Replicas pad their token ids to different lengths, as length-bucketed batches do.
TOKEN_WIDTHS = (3, 5)


def global_batch() -> dict[str, np.ndarray]:
    """The global batch: float32 inputs of the left, right and hard-negative rows, int32 ids.

    Row 5 (on replica 1) repeats the pair of row 1 (on replica 0): only the cross-replica
    same-example mask keeps it from being a negative of row 1.
    """
    rng = np.random.default_rng(7)
    rows = NUM_REPLICAS * ROWS_PER_REPLICA
    left = rng.normal(size=(rows, INPUT_DIM))
    # Noisy translations: most rows rank their own first, so the accuracies are not 0 or 1.
    right = left + 0.8 * rng.normal(size=(rows, INPUT_DIM))
    batch = {
        "left": left.astype(np.float32),
        "right": right.astype(np.float32),
        "negatives": rng.normal(size=(rows, HARD_NEGATIVES, INPUT_DIM)).astype(np.float32),
        "left_ids": np.zeros((rows, max(TOKEN_WIDTHS)), np.int32),
        "right_ids": np.zeros((rows, max(TOKEN_WIDTHS)), np.int32),
    }
    for row in range(rows):
        width = TOKEN_WIDTHS[row // ROWS_PER_REPLICA]
        batch["left_ids"][row, : width - 1] = rng.integers(1, 100, width - 1)
        batch["right_ids"][row, :width] = rng.integers(1, 100, width)
    batch["right_ids"][:ROWS_PER_REPLICA, TOKEN_WIDTHS[0] :] = 0
    for name in ("left", "right", "negatives", "left_ids", "right_ids"):
        batch[name][5] = batch[name][1]
    return batch


def replica_slice(batch: dict[str, np.ndarray], replica: int) -> dict[str, np.ndarray]:
    """Replica `replica`'s rows, its ids cut to its own padded width."""
    rows = slice(replica * ROWS_PER_REPLICA, (replica + 1) * ROWS_PER_REPLICA)
    part = {name: value[rows] for name, value in batch.items()}
    for name in ("left_ids", "right_ids"):
        part[name] = part[name][:, : TOKEN_WIDTHS[replica]]
    return part


def _task():
    from xling_tf.tasks.translation_ranking import TranslationRankingConfig, TranslationRankingTask

    config = TranslationRankingConfig()
    config.model.logit_scale = 5.0
    config.model.logit_margin = 0.2
    return TranslationRankingTask(config)


def _projection():
    import tensorflow as tf

    kernel = np.random.default_rng(3).normal(size=(INPUT_DIM, EMBEDDING_DIM))
    return tf.Variable(kernel.astype(np.float32), name="projection")


def _loss_fn(task, kernel, part, cross_replica: bool):
    """The task's loss on one replica's rows, and (features, outputs) for its metrics."""
    import tensorflow as tf

    task.task_config.model.cross_replica_negatives = cross_replica

    def embed(x):
        return tf.math.l2_normalize(tf.tensordot(x, kernel, axes=1), axis=-1)

    outputs = {
        "left": embed(part["left"]),
        "right": embed(part["right"]),
        "negatives": embed(part["negatives"]),
    }
    features = {
        "left": {"input_word_ids": part["left_ids"]},
        "right": {"input_word_ids": part["right_ids"]},
    }
    return task.build_losses(features, outputs), features, outputs


def run(strategy) -> dict:
    """Loss, gradient and accuracies of `global_batch()` split over `strategy`'s replicas."""
    import tensorflow as tf

    batch = global_batch()
    task = _task()
    with strategy.scope():
        kernel = _projection()
        metrics = task.build_metrics()

    def inputs(context):
        part = replica_slice(batch, context.replica_id_in_sync_group)
        return {name: tf.constant(value) for name, value in part.items()}

    per_replica = strategy.experimental_distribute_values_from_function(inputs)

    @tf.function
    def step(part):
        with tf.GradientTape() as tape:
            loss, features, outputs = _loss_fn(task, kernel, part, cross_replica=True)
            scaled = loss / strategy.num_replicas_in_sync  # as Model Garden's train_step
        gradient = tape.gradient(scaled, kernel)
        task.process_metrics(metrics, features, outputs)
        own_loss, _, _ = _loss_fn(task, kernel, part, cross_replica=False)
        return loss, gradient, own_loss

    loss, gradient, own_loss = strategy.run(step, args=(per_replica,))
    mean = tf.distribute.ReduceOp.MEAN
    return {
        "loss": float(strategy.reduce(mean, loss, axis=None)),
        "gradient": strategy.reduce(tf.distribute.ReduceOp.SUM, gradient, axis=None)
        .numpy()
        .tolist(),
        "accuracy": {m.name: float(m.result()) for m in metrics},
        "per_replica_loss": float(strategy.reduce(mean, own_loss, axis=None)),
    }


def single_replica_reference() -> dict:
    """The same numbers with one replica holding the whole global batch."""
    import tensorflow as tf

    batch = global_batch()
    task = _task()
    kernel = _projection()
    metrics = task.build_metrics()
    part = {name: tf.constant(value) for name, value in batch.items()}
    with tf.GradientTape() as tape:
        loss, features, outputs = _loss_fn(task, kernel, part, cross_replica=True)
    gradient = tape.gradient(loss, kernel)
    task.process_metrics(metrics, features, outputs)
    return {
        "loss": float(loss),
        "gradient": gradient.numpy().tolist(),
        "accuracy": {m.name: float(m.result()) for m in metrics},
    }


def main(argv: list[str]) -> None:
    from xling_tf.distribution import split_host_cpu

    import tensorflow as tf

    if argv[1] == "mirrored":
        split_host_cpu(NUM_REPLICAS)
        strategy = tf.distribute.MirroredStrategy(
            devices=[f"/cpu:{i}" for i in range(NUM_REPLICAS)],
            cross_device_ops=tf.distribute.ReductionToOneDevice(),
        )
    else:
        index, ports = int(argv[2]), argv[3].split(",")
        os.environ["TF_CONFIG"] = json.dumps(
            {
                "cluster": {"worker": [f"localhost:{port}" for port in ports]},
                "task": {"type": "worker", "index": index},
            }
        )
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    assert strategy.num_replicas_in_sync == NUM_REPLICAS, strategy.num_replicas_in_sync
    print(json.dumps(run(strategy)))


if __name__ == "__main__":
    main(sys.argv)
