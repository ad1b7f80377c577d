"""Where a TensorFlow step spends its time: TensorFlow's profiler, summed per op type and scope.

`profile_ops(fn, steps)` runs `fn` `steps` times under `tf.profiler.experimental` and reads the
trace it writes (the XSpace protocol buffer, `*.xplane.pb`) back: every executed op is an event
named `<op name>:<op type>` on one of the host's TensorFlow compute threads, with its wall
duration. Summing those durations per op type (and per model scope, the op name's first
components) says where a step's time goes; divided by `steps`, milliseconds per step. Ops run
on two threads at once on a 2-core machine, so the sum can exceed the wall time; the shares
are what to compare between models.
"""

from __future__ import annotations

import collections
import glob
import os
import tempfile
from collections.abc import Callable

import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

INPUT_PIPELINE = "tf.data input pipeline"


def _op_events(space: xplane_pb2.XSpace) -> list[tuple[str, str, float]]:
    """(op name, op type, milliseconds) of every op executed on a host compute thread."""
    events = []
    for plane in space.planes:
        if not plane.name.startswith("/host:"):
            continue
        for line in plane.lines:
            if not line.name.startswith("tf_Compute") and not line.name.startswith("tf_data"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                milliseconds = event.duration_ps / 1e9
                if name.startswith("Iterator::"):
                    # tf.data's stages nest (Prefetch > Map > Batch): count the innermost.
                    events.append((INPUT_PIPELINE, name.rpartition("::")[2], milliseconds))
                    continue
                if "::" in name:  # the executor's own bookkeeping, around the ops it runs
                    continue
                op_name, colon, op_type = name.rpartition(":")
                if colon and op_name and op_type:
                    events.append((op_name, op_type, milliseconds))
    return events


def profile_ops(fn: Callable[[], object], steps: int) -> list[tuple[str, str, float]]:
    """Runs `fn` `steps` times under the profiler; returns its op events (name, type, ms)."""
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            for _ in range(steps):
                fn()
        finally:
            tf.profiler.experimental.stop()
        (path,) = glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb"))
        with open(path, "rb") as f:
            space = xplane_pb2.XSpace.FromString(f.read())
    return _op_events(space)


def per_step(
    events: list[tuple[str, str, float]], steps: int, key: Callable[[str, str], str]
) -> dict[str, float]:
    """Milliseconds per step summed by `key(op name, op type)`, largest first."""
    totals: collections.defaultdict[str, float] = collections.defaultdict(float)
    for op_name, op_type, milliseconds in events:
        totals[key(op_name, op_type)] += milliseconds / steps
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def count_per_step(
    events: list[tuple[str, str, float]], steps: int, key: Callable[[str, str], str]
) -> dict[str, float]:
    """Executions per step by `key(op name, op type)`: unlike times, not slowed by load."""
    counts: collections.Counter[str] = collections.Counter()
    for op_name, op_type, _ in events:
        counts[key(op_name, op_type)] += 1
    return {k: v / steps for k, v in counts.items()}


def scope(op_name: str, depth: int = 3) -> str:
    """The op's model scope: its name's first `depth` components, gradients folded in.

    `gradient_tape/dual_encoder/encoder/.../MatMul` and `dual_encoder/encoder/.../MatMul` both
    land on `dual_encoder/encoder/...`, so a scope's time is its forward and backward pass.
    """
    parts = [p for p in op_name.split("/") if p and p != "gradient_tape"]
    return "/".join(parts[:depth]) or op_name
