"""Orbit train action that logs examples/s and ETA and writes them to TensorBoard."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from absl import logging


def format_duration(seconds: float) -> str:
    """12345.6 -> '3h25m45s'; 75 -> '1m15s'."""
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class ProgressLogger:
    """Called by orbit after every `steps_per_loop` block of training steps.

    Adds `examples_per_second` to the train output (so orbit's summary manager writes it to
    TensorBoard next to the loss) and logs one line with the step, rate, ETA and metrics.

    Args:
      global_step: the trainer's step variable.
      total_steps: the step training stops at (for the ETA).
      examples_done: returns how many examples have been trained on so far (a multi-task
        trainer mixes batch sizes, so this is not always steps x batch).
    """

    def __init__(self, global_step, total_steps: int, examples_done: Callable[[], int]):
        self._global_step = global_step
        self._total_steps = total_steps
        self._examples_done = examples_done
        self._last_step = int(global_step.numpy())
        self._last_examples = examples_done()
        self._last_time = time.time()

    def __call__(self, train_output: dict[str, Any]) -> None:
        step, examples, now = int(self._global_step.numpy()), self._examples_done(), time.time()
        steps = step - self._last_step
        elapsed = max(now - self._last_time, 1e-9)
        examples_per_second = (examples - self._last_examples) / elapsed
        self._last_step, self._last_examples, self._last_time = step, examples, now
        if steps <= 0:
            return
        train_output["examples_per_second"] = np.float32(examples_per_second)
        eta = (self._total_steps - step) * elapsed / steps
        logging.info(
            "step %d/%d | %.1f examples/s | ETA %s | %s",
            step,
            self._total_steps,
            examples_per_second,
            format_duration(eta),
            _scalars(train_output),
        )


def _scalars(output: Mapping[str, Any], prefix: str = "") -> str:
    """Flattens (nested, per-task) outputs into `name=value` pairs for the log line."""
    parts = []
    for name, value in sorted(output.items()):
        if isinstance(value, Mapping):
            parts.append(_scalars(value, f"{prefix}{name}/"))
            continue
        try:
            parts.append(f"{prefix}{name}={float(np.asarray(value)):.4f}")
        except (TypeError, ValueError):
            continue
    return " ".join(p for p in parts if p)
