"""Training faults handled on purpose: non-finite losses and preemption (SIGTERM).

A NaN/Inf loss must stop training *before* the next checkpoint is written, otherwise the
newest checkpoint (the one a restart or an export picks) holds NaN weights. Orbit runs its
train actions after each `steps_per_loop` block and saves the checkpoint after them, so an
action that raises keeps the NaN weights off disk. The step is found in the graph
(`NonFiniteLossGuard.record`, run after every step), so the error names the exact step (and
task, in multi-task training) even when a block runs hundreds of steps.

SIGTERM (what Kubernetes, Borg and Cloud TPU preemption send before killing) and SIGINT
(Ctrl-C) set a flag; the next train action saves a checkpoint at the current step and exits
with 128 + the signal number, so a restart loses no steps (a second Ctrl-C stops at once,
without saving). Multi-worker runs use Model Garden's coordinated `SaveCheckpointIfPreempted`
action instead (all workers must take part in a save).

A checkpoint that cannot be read (a truncated file, a checksum failure) is skipped on resume:
`newest_readable_checkpoint` reads every tensor of the newest checkpoints in turn, says which
ones it skips and why, and restarts from the newest one that reads.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from xling_tf.errors import UserError

import tensorflow as tf
from absl import logging

# Exit code after a preemption save: 128 + SIGTERM, what a process killed by SIGTERM reports,
# so supervisors that restart on failure restart it (after Ctrl-C: 128 + SIGINT).
PREEMPTED_EXIT_CODE = 128 + signal.SIGTERM
INTERRUPTED_EXIT_CODE = 128 + signal.SIGINT
SAVE_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or Inf; the message names the step (and task)."""

    def __init__(self, step: int, task: str | None, checkpoint: str | None):
        where = f"at step {step}" + (f" of task {task!r}" if task else "")
        kept = f"the newest checkpoint is {checkpoint}" if checkpoint else "no checkpoint exists"
        super().__init__(
            f"non-finite training loss {where}; stopped without saving a checkpoint "
            f"({kept}). Lower the learning rate or check the data of that step."
        )
        self.step = step
        self.task = task


class NonFiniteLossGuard:
    """Records the first step whose loss is NaN/Inf (in the graph); raises after the block.

    Args:
      task_names: names of the losses passed to `record`, in order (the trainer's routine
        names; a None name is left out of the error).
      checkpoint_dir: where checkpoints go (named in the error).
      variables: returns the trainable variables (built lazily); they are also checked
        before a checkpoint may be written, since the update made by the last step of a
        block is only seen by the next step's loss.

    Create it inside the strategy scope: its two int64 variables are mirrored.
    """

    def __init__(
        self,
        task_names: Sequence[str | None],
        checkpoint_dir: str | None,
        variables: Callable[[], Sequence[tf.Variable]] | None = None,
    ):
        self._task_names = list(task_names)
        self._checkpoint_dir = checkpoint_dir
        self._variables = variables
        self._first_step = tf.Variable(-1, dtype=tf.int64, trainable=False, name="nonfinite_step")
        self._first_task = tf.Variable(-1, dtype=tf.int64, trainable=False, name="nonfinite_task")

    def record(self, global_step: tf.Variable, loss_totals: Sequence[tf.Tensor]) -> None:
        """Called in cross-replica context after each step, with each task's running loss sum.

        A `Mean` metric's total turns NaN/Inf at the first bad step and stays so until the
        block ends and resets it, so the first step it is seen non-finite is the bad step.
        """
        finite = tf.stack([tf.reduce_all(tf.math.is_finite(t)) for t in loss_totals])
        bad = tf.logical_and(self._first_step < 0, tf.logical_not(tf.reduce_all(finite)))
        step = tf.cast(global_step, tf.int64)
        self._first_step.assign(tf.where(bad, step, self._first_step))
        task = tf.argmin(tf.cast(finite, tf.int64), output_type=tf.int64)
        self._first_task.assign(tf.where(bad, task, self._first_task))

    def check(self, global_step: int | None = None) -> None:
        """Raises NonFiniteLossError if a step of the last block had a non-finite loss.

        Non-finite weights after a block whose losses were all finite are reported at
        `global_step` (the block's last step, whose update produced them).
        """
        step = int(self._first_step.numpy())
        if step < 0 and self._variables and not variables_are_finite(self._variables()):
            step = int(global_step) if global_step is not None else 0
        if step < 0:
            return
        index = int(self._first_task.numpy())
        task = self._task_names[index] if 0 <= index < len(self._task_names) else None
        latest = tf.train.latest_checkpoint(self._checkpoint_dir) if self._checkpoint_dir else None
        error = NonFiniteLossError(step, task, latest)
        logging.error("%s", error)
        raise error


def variables_are_finite(variables: Sequence[tf.Variable]) -> bool:
    """True when every element of every variable is finite (not NaN, not +-Inf)."""
    return all(bool(tf.reduce_all(tf.math.is_finite(v)).numpy()) for v in variables)


class PreemptionSaver:
    """On SIGTERM or SIGINT: checkpoint at the current step, then exit with 128 + signal.

    `install()` replaces the handlers of SAVE_SIGNALS (main thread only) until `uninstall()`;
    a handler only sets a flag, because a step running in TensorFlow cannot be interrupted
    safely. Orbit calls the saver (a train action) after each block, so the checkpoint is at
    most `steps_per_loop` steps after the signal, at the step training reached, not at the last
    checkpoint interval. A second SIGINT raises KeyboardInterrupt: Ctrl-C twice stops at once.

    Args:
      checkpoint_manager: returns the `tf.train.CheckpointManager` to save with (called only
        on a signal, so a manager made for the occasion sees the directory as it is then).
      global_step: the trainer's step variable.
    """

    def __init__(
        self,
        checkpoint_manager: Callable[[], tf.train.CheckpointManager],
        global_step: tf.Variable,
    ):
        self._checkpoint_manager = checkpoint_manager
        self._global_step = global_step
        self._signal: int | None = None
        self._previous_handlers: dict[int, Any] = {}

    def install(self) -> bool:
        """Handles SAVE_SIGNALS from now on; False (nothing installed) off the main thread,
        where Python cannot set signal handlers (e.g. training started from a notebook thread)."""
        if threading.current_thread() is not threading.main_thread():
            logging.warning("not on the main thread: SIGTERM will not save a checkpoint")
            return False
        for signum in SAVE_SIGNALS:
            self._previous_handlers[signum] = signal.signal(signum, self._on_signal)
        return True

    def uninstall(self) -> None:
        """Puts back the handlers `install` replaced (Ctrl-C works again after training)."""
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers.clear()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        del frame
        if self._signal == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt
        name = signal.Signals(signum).name
        logging.warning(
            "%s received: checkpointing after the current block%s",
            name,
            " (Ctrl-C again stops without saving)" if signum == signal.SIGINT else "",
        )
        self._signal = signum

    def __call__(self, train_output: Any) -> None:
        if self._signal is None:
            return
        step = int(self._global_step.numpy())
        path = self._checkpoint_manager().save(checkpoint_number=step, check_interval=False)
        logging.warning("preempted: saved checkpoint %s at step %d; exiting", path, step)
        # Raised through orbit's loop: the controller's final save must not run after this.
        raise SystemExit(128 + self._signal)


class UnreadableCheckpointError(UserError):
    """No checkpoint of a run can be read; the message names each one and its error."""


def checkpoint_problem(path: str) -> str | None:
    """Why the checkpoint `path` (a prefix such as model_dir/ckpt-40) cannot be read, or None.

    Reads every tensor, which is what catches a truncated data file or a checksum failure
    (the index alone opens fine); costs one more read of the checkpoint.
    """
    try:
        reader = tf.train.load_checkpoint(path)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except (tf.errors.OpError, IndexError, ValueError) as error:
        return f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"
    return None


def newest_readable_checkpoint(model_dir: str, repair: bool = False) -> str | None:
    """The newest checkpoint of `model_dir` that reads; None when there is none at all.

    Unreadable newer ones are skipped with a warning naming each. With `repair` (the chief
    only: workers share model_dir), they are renamed `unreadable-ckpt-N.*` and the
    `checkpoint` state file is pointed at the one returned, so that Model Garden restores it
    and a later save may reuse the name.

    Raises:
      UnreadableCheckpointError: checkpoints exist but none reads.
    """
    state = tf.train.get_checkpoint_state(model_dir)
    if state is None or not state.model_checkpoint_path:
        return None
    candidates = list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]
    skipped = []
    for path in reversed(candidates):
        problem = checkpoint_problem(path)
        if problem is None:
            break
        logging.warning("checkpoint %s cannot be read (%s); trying the one before", path, problem)
        skipped.append(f"{path} ({problem})")
    else:
        raise UnreadableCheckpointError(
            f"no checkpoint of {model_dir} can be read: {'; '.join(skipped)}. Move them "
            "away to train from scratch."
        )
    if skipped:
        logging.warning("resuming from %s, the newest checkpoint that reads", path)
        if repair:
            kept = candidates[: candidates.index(path) + 1]
            for bad in candidates[len(kept) :]:
                for name in tf.io.gfile.glob(bad + ".*"):
                    folder, base = os.path.split(name)
                    tf.io.gfile.rename(name, os.path.join(folder, "unreadable-" + base), True)
            # Relative names, as CheckpointManager writes them: the run stays movable.
            tf.compat.v1.train.update_checkpoint_state(
                model_dir,
                os.path.basename(path),
                all_model_checkpoint_paths=[os.path.basename(p) for p in kept],
            )
    return path


def checkpoint_step(model_dir: str, checkpoint: str | None = None) -> int:
    """The global step of `checkpoint`, by default the newest in `model_dir` (0 if none)."""
    path = checkpoint or tf.train.latest_checkpoint(model_dir)
    if not path:
        return 0
    return int(tf.train.load_variable(path, "global_step/.ATTRIBUTES/VARIABLE_VALUE"))
