"""Reads scalar series back from TensorBoard event files (training curves, throughput)."""

from __future__ import annotations

import glob
import os

import tensorflow as tf


def read_scalars(logdir: str, tag: str) -> list[tuple[int, float]]:
    """All (step, value) points of scalar `tag` in the event files of `logdir`, by step.

    Handles both TF2 tensor summaries (what orbit writes) and legacy simple values. A step
    logged twice (a resumed run) keeps the last value written.
    """
    points: dict[int, float] = {}
    for path in sorted(glob.glob(os.path.join(logdir, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag != tag:
                    continue
                if value.HasField("tensor"):
                    points[event.step] = float(tf.make_ndarray(value.tensor))
                else:
                    points[event.step] = float(value.simple_value)
    return sorted(points.items())
