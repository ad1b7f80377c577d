"""Reads scalar series back from TensorBoard event files (training curves, throughput).

A thin layer over TensorBoard's own reader (`EventAccumulator`), which reads any `tf.io.gfile`
folder and, when a resumed run logs a step again, drops the older points from that step on
(so a step logged twice keeps the last value written).
"""

from __future__ import annotations

import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator

# 0 keeps every event: the default keeps a random sample of 10 tensors per tag.
_KEEP_ALL = {event_accumulator.TENSORS: 0, event_accumulator.SCALARS: 0}


def read_all_scalars(logdir: str) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value)] by step} of every scalar in the event files directly in `logdir`.

    Handles both TF2 tensor summaries (what orbit writes; non-scalar tensors such as text
    summaries are left out) and legacy simple values. Empty when there are no event files.
    """
    accumulator = event_accumulator.EventAccumulator(logdir, size_guidance=_KEEP_ALL)
    accumulator.Reload()
    tags = accumulator.Tags()
    series: dict[str, dict[int, float]] = {}
    for tag in tags[event_accumulator.SCALARS]:
        for scalar in accumulator.Scalars(tag):
            series.setdefault(tag, {})[scalar.step] = float(scalar.value)
    for tag in tags[event_accumulator.TENSORS]:
        for event in accumulator.Tensors(tag):
            value = tf.make_ndarray(event.tensor_proto)
            if value.ndim == 0 and value.dtype.kind in "fiu":
                series.setdefault(tag, {})[event.step] = float(value)
    return {tag: sorted(points.items()) for tag, points in series.items()}


def read_scalars(logdir: str, tag: str) -> list[tuple[int, float]]:
    """All (step, value) points of scalar `tag` in the event files of `logdir`, by step;
    see `read_all_scalars`."""
    return read_all_scalars(logdir).get(tag, [])
