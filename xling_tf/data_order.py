"""A reproducible training data order, across restarts.

The pipeline (data/pair_dataset.py) is deterministic for a fixed shuffle seed: each file's
shuffle is seeded (from `pair_dataset.DEFAULT_SHUFFLE_SEED` when the config has none), the
parallel tokenizing map keeps order, length bucketing is a function of the order it sees, and
the draw of which file gives the next batch is seeded too. So the k-th batch of a run is the
same in every run.

On resume the trainer skips the batches the restored steps consumed (`dataset.skip(step)`
after batching, per input pipeline: every replica takes one batch per global step), so the
batches after a restart are those an uninterrupted run would have seen. Why skip rather than
checkpoint the iterator: Model Garden builds the dataset before the controller restores the
checkpoint, an iterator checkpoint would store the whole shuffle buffer (100k tokenized rows
by default) in every checkpoint, and distributed iterators on TPUs cannot be saved. The cost
is re-reading (not training on) the skipped batches at start-up.

Multi-task runs skip, per task, the batches that task trained on: Model Garden's interleaving
trainer picks a step's task from the step number alone (a stateless draw seeded by the step),
so `task_batches_consumed` replays those picks.

`BatchRecorder` writes one line per step and replica, `step replica rows length fingerprint`,
so tests and users can check that two runs saw the same batches, and of which shape.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import tensorflow as tf


def batch_fingerprint(features: Any) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Returns (int64 [] fingerprint of every integer feature, int32 [] rows, int32 [] length).

    Args:
      features: a nested structure of integer tensors [B, T, ...] (one replica's batch);
        rows and length are B and T of the first of them.
    """
    leaves = [t for t in tf.nest.flatten(features) if t.dtype.is_integer]
    flat = tf.concat([tf.reshape(tf.cast(t, tf.int64), [-1]) for t in leaves], axis=0)
    fingerprint = tf.bitcast(tf.fingerprint(flat[tf.newaxis])[0], tf.int64)
    shape = tf.shape(leaves[0])
    return fingerprint, shape[0], shape[1]


def task_batches_consumed(sampler: Any, num_tasks: int, steps: int) -> list[int]:
    """How many batches of each task global steps 0 .. steps - 1 trained on.

    Replays the choice of `official.modeling.multitask.interleaving_trainer`: at step s,
    r = stateless_uniform(seed=(0, s)) and the task is the i with cdf[i-1] <= r < cdf[i],
    cdf = sampler.task_cumulative_distribution(s), i.e. the number of cdf entries <= r.

    Args:
      sampler: a Model Garden `TaskSampler`.
      num_tasks: number of tasks, in the trainer's task order.
      steps: the restored global step.
    """

    @tf.function
    def count(steps: tf.Tensor) -> tf.Tensor:
        counts = tf.zeros([num_tasks], tf.int64)
        for step in tf.range(steps):
            draw = tf.random.stateless_uniform([], seed=tf.stack([tf.constant(0, tf.int64), step]))
            cdf = sampler.task_cumulative_distribution(step)
            task = tf.reduce_sum(tf.cast(cdf <= draw, tf.int64))
            counts += tf.one_hot(task, num_tasks, dtype=tf.int64)
        return counts

    return [int(c) for c in count(tf.constant(steps, tf.int64)).numpy()]


class BatchRecorder:
    """Appends `step, replica, rows, length, fingerprint` lines (tab-separated) to `path`.

    Runs on the host (cross-replica context), so it also works where the step itself is
    compiled (TPUs). `step` is the global step the batch is trained in (1-based).
    """

    def __init__(self, path: str):
        # tf.print writes only to local files: the batch log is a local debugging aid, even
        # when model_dir is remote.
        self._stream = f"file://{path}"

    def record(
        self, strategy: tf.distribute.Strategy, global_step: tf.Variable, inputs: Any
    ) -> None:
        for replica, local in enumerate(strategy.experimental_local_results(inputs)):
            fingerprint, rows, length = batch_fingerprint(local)
            tf.print(
                global_step + 1,
                replica,
                rows,
                length,
                fingerprint,
                sep="\t",
                output_stream=self._stream,
            )


class BatchRecord(NamedTuple):
    step: int
    replica: int
    rows: int
    length: int
    fingerprint: int


def read_batch_log(path: str) -> list[BatchRecord]:
    """The records of a BatchRecorder file, in the order they were written."""
    with tf.io.gfile.GFile(path) as f:
        return [BatchRecord(*(int(x) for x in line.split("\t"))) for line in f if line.strip()]
