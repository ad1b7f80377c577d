"""Guards a training run's model_dir: one training at a time, one model config per run.

`TrainingLock` is the file `<model_dir>/train.lock` (JSON: pid, host, start and heartbeat
times), created before a training touches the folder and removed when it ends, however it
ends (a Python exception, SIGTERM/SIGINT). A second training on the folder stops at once with
`ModelDirLockedError`. A lock left by a crash (SIGKILL, a lost machine) is stale and taken
over with a warning when
  - its host is this host and its process no longer runs (or is this process: a restarted
    container often gets the dead one's pid), or
  - its heartbeat, rewritten every HEARTBEAT_SECONDS by the owner, is older than
    STALE_AFTER_SECONDS (the only sign of life that works across hosts), or
  - the training is started with `--force_unlock` (or the file is deleted by hand).
Only the chief of a multi-worker run takes the lock: the workers share the folder on purpose.

`check_model_config` refuses to train a run that has checkpoints with a different model
config (`task.model`: tokenizer, encoder, head), before anything is written: those
checkpoints could not be restored, and rewriting params.yaml would make exports read sizes
the checkpoints do not have.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from xling_tf.data.pairs import write_bytes_atomically
from xling_tf.errors import UserError
from xling_tf.tokenization.vocabulary import vocabulary_path

import tensorflow as tf
from absl import logging
from official.core import config_definitions as cfg
from official.modeling import hyperparams

LOCK_FILENAME = "train.lock"
HEARTBEAT_SECONDS = 60.0
STALE_AFTER_SECONDS = 600.0


class ModelDirLockedError(UserError):
    """Another training holds the model_dir's lock; the message names it and the way out."""


class ModelConfigChangedError(UserError, ValueError):
    """The model config differs from the one that produced the run's checkpoints."""


def _process_is_running(pid: int) -> bool:
    """True if a process `pid` exists on this host (possibly another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class TrainingLock:
    """The lock file of one training on `model_dir` (a context manager: acquire, release).

    Args:
      model_dir: the run's folder (local or any tf.io.gfile filesystem; on a remote one the
        creation is not atomic, so two trainings started in the same second may both pass).
      force: take the lock over even from a live owner (`--force_unlock`).
      heartbeat_seconds: how often the owner rewrites the file's heartbeat time.
      stale_after_seconds: a lock whose heartbeat is older than this is taken over.
    """

    def __init__(
        self,
        model_dir: str,
        force: bool = False,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        stale_after_seconds: float = STALE_AFTER_SECONDS,
    ):
        self.path = os.path.join(model_dir, LOCK_FILENAME)
        self._model_dir = model_dir
        self._force = force
        self._heartbeat_seconds = heartbeat_seconds
        self._stale_after_seconds = stale_after_seconds
        self._owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def __enter__(self) -> TrainingLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.release()

    def acquire(self) -> None:
        """Creates the lock file, or takes over a stale one; raises ModelDirLockedError."""
        tf.io.gfile.makedirs(self._model_dir)
        if not self._create():
            holder = self._read()
            reason = self._takeover_reason(holder)
            if reason is None:
                raise ModelDirLockedError(self._locked_message(holder))
            logging.warning("taking over the lock %s (%s): %s", self.path, reason, holder)
            tf.io.gfile.remove(self.path)
            if not self._create():
                raise ModelDirLockedError(self._locked_message(self._read()))
        self._heartbeat = threading.Thread(
            target=self._beat, name="train-lock-heartbeat", daemon=True
        )
        self._heartbeat.start()

    def release(self) -> None:
        """Stops the heartbeat and removes the lock file if it is still this one's."""
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
            self._heartbeat = None
        holder = self._read()
        if holder and all(holder.get(key) == self._owner[key] for key in ("pid", "host")):
            with contextlib.suppress(tf.errors.NotFoundError):
                tf.io.gfile.remove(self.path)

    def _record(self) -> str:
        return json.dumps(dict(self._owner, heartbeat=time.time()))

    def _create(self) -> bool:
        """Creates the file with this owner's record; False if it exists."""
        if "://" in self.path:
            if tf.io.gfile.exists(self.path):
                return False
            with tf.io.gfile.GFile(self.path, "w") as f:
                f.write(self._record())
            return True
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(self._record())
        return True

    def _read(self) -> dict[str, Any] | None:
        """The lock file's record; {} if unreadable (e.g. caught mid-write), None if absent."""
        try:
            with tf.io.gfile.GFile(self.path) as f:
                text = f.read()
        except tf.errors.NotFoundError:
            return None
        try:
            record = json.loads(text)
        except json.JSONDecodeError:
            return {}
        return record if isinstance(record, dict) else {}

    def _takeover_reason(self, holder: dict[str, Any] | None) -> str | None:
        """Why the existing lock may be taken over, or None while its owner may be alive."""
        if holder is None:
            return "it was just released"
        if self._force:
            return "--force_unlock"
        pid, host = holder.get("pid"), holder.get("host")
        if host == self._owner["host"] and isinstance(pid, int):
            if pid == os.getpid():
                return "left by an earlier process with this pid"
            if not _process_is_running(pid):
                return f"process {pid} is no longer running"
        heartbeat = holder.get("heartbeat")
        if not isinstance(heartbeat, (int, float)):
            return "no owner recorded in it"
        age = time.time() - heartbeat
        if age > self._stale_after_seconds:
            return f"no heartbeat for {age:.0f}s"
        return None

    def _locked_message(self, holder: dict[str, Any] | None) -> str:
        holder = holder or {}
        started = holder.get("started")
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if started else "?"
        return (
            f"{self._model_dir} is in use by another training (pid {holder.get('pid')} on "
            f"host {holder.get('host')}, since {since}; lock file {self.path}). Wait for it "
            "to end, or use another --model_dir. If that training is no longer running, "
            "delete the lock file or pass --force_unlock."
        )

    def _beat(self) -> None:
        """Rewrites the heartbeat until released (atomically: a reader never sees half)."""
        while not self._stop.wait(self._heartbeat_seconds):
            try:
                write_bytes_atomically(self.path, self._record().encode("utf-8"))
            except (tf.errors.OpError, OSError) as error:  # a full disk must not kill the training
                logging.warning("could not refresh the lock %s: %s", self.path, error)


# ---- model config of a run with checkpoints -------------------------------------------------


# Filled in by the vocabulary step (from `tokenizer.vocabulary_from`, or a trained file), so a
# rerun's params have them empty until then; the vocabulary itself is compared by file.
VOCABULARY_FIELDS = ("sentencepiece_model_file", "word_vocab_file", "token_embeddings_file")


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}.{index}")
    else:
        yield prefix, value


def model_fields(config: dict[str, Any]) -> dict[str, Any]:
    """{dotted name: value} of every field of the experiment's model config `task.model`.

    Every experiment has it, single- or multi-task; it is the only model config (routines of
    runs made before it was have a copy, which was always equal, so it is not compared).
    """
    return dict(_flatten(config.get("task", {}).get("model", {}), "task.model"))


def _same_file(old: str, new: str) -> bool:
    """Whether the vocabulary `new` is the run's vocabulary `old` (by path, then by bytes)."""
    if os.path.abspath(old) == os.path.abspath(new):
        return True
    if not tf.io.gfile.exists(new):
        return False  # this run would train a new vocabulary
    if not tf.io.gfile.exists(old):
        return True  # the run has moved since: its own copy inside model_dir is the one
    with tf.io.gfile.GFile(old, "rb") as a, tf.io.gfile.GFile(new, "rb") as b:
        return a.read() == b.read()


def check_model_config(params: cfg.ExperimentConfig, model_dir: str) -> None:
    """Raises ModelConfigChangedError if `params` changes the model of a run with checkpoints.

    Compares every `model` field with the run's params.yaml; fields only one side has (a
    field added or removed in a newer version of the code) are not compared. The vocabulary
    is compared by file: the path this run would use (`vocabulary_path`) against the run's.
    A run without checkpoints may change anything (its params.yaml is rewritten).
    """
    yaml_path = os.path.join(model_dir, "params.yaml")
    if not tf.io.gfile.exists(yaml_path):
        return
    old = model_fields(hyperparams.read_yaml_to_params_dict(yaml_path).as_dict())
    new = model_fields(params.as_dict())
    field, vocabulary = vocabulary_path(params, model_dir)
    differences = []
    for name in sorted(old.keys() & new.keys()):
        if name.endswith(f"tokenizer.{field}"):
            if old[name] and not _same_file(old[name], vocabulary):
                differences.append(f"{name}: {old[name]!r} -> {vocabulary!r}")
        elif name.rsplit(".", 1)[-1] not in VOCABULARY_FIELDS:
            if old[name] != new[name]:
                differences.append(f"{name}: {old[name]!r} -> {new[name]!r}")
    if not differences:
        return
    checkpoint = tf.train.latest_checkpoint(model_dir)
    if checkpoint is None:
        logging.warning(
            "%s has no checkpoint: replacing its model config (%s)",
            model_dir,
            "; ".join(differences),
        )
        return
    raise ModelConfigChangedError(
        f"{model_dir} holds checkpoints (newest {checkpoint}) of another model config; "
        f"this run changes {'; '.join(differences)} (vs {yaml_path}). Nothing was written: "
        "train it in a new --model_dir (task.init_checkpoint can warm-start its encoder "
        "from this run), or restore the run's values."
    )
