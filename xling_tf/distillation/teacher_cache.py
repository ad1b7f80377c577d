"""The teacher's vectors for a training corpus: computed once, memory-mapped, reused.

`ensure_teacher_vectors(teacher, files, cache_dir)` gives row i of the concatenated training
files (lines, in file order) the teacher's vector of that row's FIRST column, as a float32
array [rows, d] in a `.npy` file that the tf.data pipeline reads with `np.load(mmap_mode="r")`,
so the vectors never all sit in memory. Identical sentences are embedded once.

The cache file is named by a key over the teacher spec and each file's name, size and content
digest, and a JSON sidecar records what it holds:

    {"teacher": spec, "dim": d, "rows": n, "done": k, "files": [...], "key": ...}

* A run that stops while the teacher encodes (Ctrl-C, kill) keeps the `done` rows written so
  far; the next run resumes at row `done` (the vectors are flushed before `done` is advanced).
* A cache whose sidecar names another teacher, other files, another row count or another
  size, or whose `.npy` cannot be opened with the recorded shape, is rebuilt from scratch
  (with a warning naming the file): a stale cache is never used.

The cache folder must be on the local filesystem: numpy memory-maps the `.npy` file, which
needs a local file (the training files themselves may be remote, `tf.io.gfile` reads them).
With a remote `--model_dir` (e.g. `gs://`), set `task.teacher_cache_dir` to a local folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Literal

from xling_tf.data import pairs
from xling_tf.data.pair_dataset import expand_file_patterns
from xling_tf.distillation.teachers import Teacher, TeacherError, load_teacher
from xling_tf.evaluation.embedding import embed_in_length_order
from xling_tf.tokenization.vocabulary import is_chief, task_configs

import numpy as np
import tensorflow as tf
from absl import logging
from tqdm import tqdm

# Sentences per teacher call: large enough to amortise the teacher's per-call overhead, small
# enough that an interrupted pass loses little work.
TEACHER_BATCH_SIZE = 512
# Rows per resumable unit: vectors are flushed and the sidecar's `done` advanced after each.
CHUNK_ROWS = 8192
# Sentences a shared memo keeps (about 1 GB of 512-d vectors).
MEMO_LIMIT = 500_000


@dataclasses.dataclass
class CacheInfo:
    """The sidecar of a teacher cache (see the module docstring)."""

    teacher: str
    dim: int
    rows: int
    done: int
    files: list[dict]
    key: str


def _file_signatures(files: Sequence[str]) -> list[dict]:
    """Name, size and content digest of each file: a corpus rebuilt byte for byte (as the
    main job does on every run) keeps its cache; any edit invalidates it."""
    signatures = []
    for path in files:
        digest = hashlib.sha256()
        with tf.io.gfile.GFile(path, "rb") as f:
            while chunk := f.read(1 << 22):
                digest.update(chunk)
        signatures.append(
            {
                "name": os.path.basename(path),
                "size": tf.io.gfile.stat(path).length,
                "sha256": digest.hexdigest(),
            }
        )
    return signatures


def cache_key(teacher_spec: str, signatures: list[dict]) -> str:
    """Hex digest naming the cache of `teacher_spec` on files with these signatures."""
    payload = json.dumps({"teacher": teacher_spec, "files": signatures})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def first_columns(files: Sequence[str]) -> list[str]:
    """Column 1 of every line of `files`, in order; "" for a line `pairs` calls malformed
    (the pipeline drops or rejects those rows, so their vector is never read)."""
    texts: list[str] = []
    for path in files:
        for _, line, _ in pairs.iter_decoded_lines(path):
            texts.append((line or "").split("\t", 1)[0].strip())
    return texts


def _read_info(path: str) -> CacheInfo | None:
    try:
        with tf.io.gfile.GFile(path) as f:
            return CacheInfo(**json.load(f))
    except (tf.errors.NotFoundError, FileNotFoundError):
        return None
    except (ValueError, TypeError) as error:
        logging.warning("teacher cache sidecar %s is unreadable (%s): rebuilding", path, error)
        return None


def _write_info(path: str, info: CacheInfo) -> None:
    with pairs.atomic_output(path) as f:
        json.dump(dataclasses.asdict(info), f, indent=1)


def _open_vectors(path: str, info: CacheInfo, mode: Literal["r", "r+"]) -> np.memmap | None:
    """The cache array with the recorded shape, or None if it is missing or does not match.

    Opened read-only first: numpy's "r+" would silently extend a truncated file with zeros.
    """
    try:
        vectors = np.load(path, mmap_mode="r")
        if mode != "r" and vectors.shape == (info.rows, info.dim):
            vectors = np.load(path, mmap_mode=mode)
    except (OSError, ValueError) as error:
        if tf.io.gfile.exists(path):
            logging.warning("teacher cache %s is unreadable (%s): rebuilding", path, error)
        return None
    if vectors.shape != (info.rows, info.dim) or vectors.dtype != np.float32:
        logging.warning(
            "teacher cache %s holds %s %s, expected float32 %s: rebuilding",
            path,
            vectors.dtype,
            vectors.shape,
            (info.rows, info.dim),
        )
        return None
    return vectors


def ensure_teacher_vectors(
    teacher_spec: str,
    files: Sequence[str],
    cache_dir: str,
    progress: bool = True,
    load: Callable[[str], Teacher] = load_teacher,
    memo: dict[str, np.ndarray] | None = None,
) -> str:
    """Path of a complete `.npy` cache [rows, dim] of the teacher on `files` (module
    docstring). Builds, resumes or rebuilds it as needed; a complete valid cache is returned
    at once, without loading the teacher. `memo` (sentence -> vector), shared by calls on
    corpora that repeat sentences, spares the teacher those sentences.
    """
    _check_local(cache_dir)
    signatures = _file_signatures(files)
    key = cache_key(teacher_spec, signatures)
    vectors_path = os.path.join(cache_dir, f"teacher-{key}.npy")
    info_path = os.path.join(cache_dir, f"teacher-{key}.json")
    info = _read_info(info_path)
    texts: list[str] | None = None
    vectors = None
    if info is not None and info.teacher == teacher_spec and info.files == signatures:
        vectors = _open_vectors(vectors_path, info, "r+")
        if vectors is not None and info.done >= info.rows:
            return vectors_path
    teacher = load(teacher_spec)
    if info is None or vectors is None or info.teacher != teacher_spec or info.files != signatures:
        if info is not None:
            logging.warning("teacher cache %s is stale or damaged: rebuilding", vectors_path)
        texts = first_columns(files)
        dim = teacher.probe()
        os.makedirs(cache_dir, exist_ok=True)
        info = CacheInfo(teacher.spec, dim, len(texts), 0, signatures, key)
        vectors = np.lib.format.open_memmap(
            vectors_path, mode="w+", dtype=np.float32, shape=(info.rows, dim)
        )
        _write_info(info_path, info)
    elif teacher.probe() != info.dim:
        raise TeacherError(
            f"teacher {teacher_spec!r} now returns {teacher.dim}-d vectors, but the "
            f"unfinished cache {vectors_path} holds {info.dim}-d ones: delete it to rebuild"
        )
    texts = texts if texts is not None else first_columns(files)
    if len(texts) != info.rows:
        raise RuntimeError(f"{files}: {len(texts)} rows now, {info.rows} when {info_path} was made")
    _encode_rows(teacher, texts, vectors, info, info_path, progress, memo)
    return vectors_path


def _encode_rows(
    teacher: Teacher,
    texts: list[str],
    vectors: np.memmap,
    info: CacheInfo,
    info_path: str,
    progress: bool,
    memo: dict[str, np.ndarray] | None = None,
) -> None:
    """Fills rows [info.done, rows) of `vectors` chunk by chunk, embedding each distinct
    sentence once; after each chunk the vectors are flushed and `done` is advanced, so an
    interrupted pass resumes at the first unfinished chunk."""
    # Sentence -> the row holding its vector, over every finished row.
    row_of: dict[str, int] = {}
    for row, text in enumerate(texts[: info.done]):
        row_of.setdefault(text, row)
    bar = tqdm(
        total=info.rows,
        initial=info.done,
        desc=f"teacher vectors ({teacher.spec})",
        unit="row",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    )
    for chunk_start in range(info.done, info.rows, CHUNK_ROWS):
        chunk_end = min(chunk_start + CHUNK_ROWS, info.rows)
        new: dict[str, int] = {}
        for row in range(chunk_start, chunk_end):
            text = texts[row]
            if text and text not in row_of and text not in new:
                new[text] = row
        memo = memo if memo is not None else {}
        distinct = []
        for text, row in new.items():
            if text in memo:
                vectors[row] = memo[text]
            else:
                distinct.append(text)
        if distinct:
            # Batches of similar length: the teacher pads (or pays per token) like ours does.
            embedded = embed_in_length_order(teacher, distinct, TEACHER_BATCH_SIZE)
            vectors[[new[text] for text in distinct]] = embedded
            if len(memo) < MEMO_LIMIT:
                memo.update(zip(distinct, embedded, strict=True))
        row_of.update(new)
        for row in range(chunk_start, chunk_end):
            text = texts[row]
            if not text:
                vectors[row] = 0.0  # a malformed row: dropped or rejected by the pipeline
            elif row_of[text] != row:
                vectors[row] = vectors[row_of[text]]
        vectors.flush()
        info.done = chunk_end
        _write_info(info_path, info)
        bar.update(chunk_end - chunk_start)
    bar.close()


CACHE_SUBDIR = "teacher_cache"


def _check_local(cache_dir: str) -> None:
    """Raises TeacherError for a remote cache folder (numpy memory maps need local files)."""
    if not pairs.is_local(cache_dir):
        raise TeacherError(
            f"the teacher cache {cache_dir} is not on the local filesystem: its vectors are a "
            "numpy memory map, which needs a local file. Set task.teacher_cache_dir to a local "
            "folder (with a remote --model_dir, the default <model_dir>/teacher_cache is remote)"
        )


def prepare_teacher_vectors(params, model_dir: str, wait_seconds: float = 3600.0) -> None:
    """Fills `teacher_vectors` of every distillation task of `params` (before training).

    The chief computes missing vectors; other workers wait for its finished cache, so every
    worker trains on the same targets. A task whose `teacher_vectors` is already set is left
    as it is.
    """
    memos: dict[str, dict[str, np.ndarray]] = {}  # per teacher, shared by its tasks
    for task in task_configs(params):
        if not hasattr(task, "teacher") or task.teacher_vectors:
            continue
        files = expand_file_patterns(task.train_data.input_path)
        cache_dir = task.teacher_cache_dir or os.path.join(model_dir, CACHE_SUBDIR)
        if is_chief():
            memo = memos.setdefault(task.teacher, {})
            path = ensure_teacher_vectors(task.teacher, files, cache_dir, memo=memo)
        else:
            path = _wait_for_cache(task.teacher, files, cache_dir, wait_seconds)
        task.override({"teacher_vectors": path}, is_strict=True)


def _wait_for_cache(teacher_spec: str, files: Sequence[str], cache_dir: str, wait: float) -> str:
    key = cache_key(teacher_spec, _file_signatures(files))
    info_path = os.path.join(cache_dir, f"teacher-{key}.json")
    deadline = time.time() + wait
    while True:
        info = _read_info(info_path)
        if info is not None and info.done >= info.rows:
            return os.path.join(cache_dir, f"teacher-{key}.npy")
        if time.time() > deadline:
            raise TimeoutError(f"the chief did not finish the teacher cache {info_path} in time")
        time.sleep(2.0)
