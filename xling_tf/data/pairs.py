"""Reading, validating and writing tab-separated sentence-pair files.

Pair files are the training and evaluation format of the toolkit: UTF-8 text, one example per
line, fields separated by tabs. There is no CSV quoting: a field is everything between two tabs,
so sentences may contain quotes and commas but never tabs or newlines.

Readers report problems as `MalformedRowError` with a `path:line:` prefix so a bad row in a
multi-million-line file can be found with an editor, and can skip bad rows while counting them
when a corpus is known to be slightly dirty.

Every path goes through `tf.io.gfile`, so inputs and outputs may live on any filesystem
TensorFlow knows (local, `gs://`, `ram://`, ...). This module is also the package's one
atomic writer (`atomic_path`, `atomic_output`, `write_bytes_atomically`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from xling_tf.errors import UserError

import tensorflow as tf

# Enough to diagnose a dirty file from the logs without flooding them.
MAX_RECORDED_ERRORS = 10

_ON_ERROR_MODES = ("raise", "skip")
_UTF8_BOM = "\ufeff"


class MalformedRowError(UserError, ValueError):
    """A row of a pair file that cannot be used; the message reads `path:line: reason`."""

    def __init__(self, path: str, line_number: int, reason: str):
        super().__init__(f"{path}:{line_number}: {reason}")
        self.path = path
        self.line_number = line_number
        self.reason = reason


@dataclasses.dataclass
class ReadStats:
    """Counters filled in while reading a pair file.

    Attributes:
      rows: Well-formed rows yielded.
      skipped: Malformed rows skipped (only in `on_error="skip"` mode).
      first_errors: Messages of the first `MAX_RECORDED_ERRORS` malformed rows.
    """

    rows: int = 0
    skipped: int = 0
    first_errors: list[str] = dataclasses.field(default_factory=list)

    def record_error(self, message: str) -> None:
        """Counts a skipped row and keeps its message if there is room."""
        self.skipped += 1
        if len(self.first_errors) < MAX_RECORDED_ERRORS:
            self.first_errors.append(message)


def _check_exists(path: str) -> None:
    """Raises FileNotFoundError up front, before a lazy reader would get to it."""
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(errno.ENOENT, "Pair/text file not found", path)


def is_local(path: str) -> bool:
    """True for a path of the local filesystem (no `scheme://` prefix, or `file://`)."""
    return "://" not in path or path.startswith("file://")


# Bytes per read: lines are split a chunk at a time, so this bounds what a reader holds.
_READ_CHUNK = 1 << 14


def _iter_raw_lines(path: str) -> Iterator[bytes]:
    """The lines of `path` as bytes, split on "\\n" (removed); a last line without one counts.

    Read in chunks and split here: `GFile`'s own line iterator is about 20x slower than a
    local file's and silently drops "\\r" characters.
    """
    with tf.io.gfile.GFile(path, "rb") as f:
        pending = b""
        while chunk := f.read(_READ_CHUNK):
            buffer, start = pending + chunk, 0
            # find() rather than split(): only the current chunk is held, not a list of lines.
            while (end := buffer.find(b"\n", start)) >= 0:
                yield buffer[start:end]
                start = end + 1
            pending = buffer[start:]
        if pending:
            yield pending


def count_lines(path: str | os.PathLike) -> int:
    """Lines of `path` as `iter_decoded_lines` and `tf.data.TextLineDataset` split them
    ("\\n"; a last line without one counts; an empty file has 0), without decoding them."""
    lines, last = 0, b"\n"
    with tf.io.gfile.GFile(os.fspath(path), "rb") as f:
        while chunk := f.read(_READ_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def iter_decoded_lines(
    path: str, errors: str = "report"
) -> Iterator[tuple[int, str | None, str | None]]:
    """Yields `(line_number, text, error)` for each line of `path`, numbered from 1.

    Lines are split on "\\n" only (as `tf.data.TextLineDataset` splits them) and lose a
    trailing "\\n" or "\\r\\n"; a leading UTF-8 byte-order mark is dropped. Decoding is per line
    (not per file) so an invalid byte is reported at its own line and, in skip mode, costs only
    that line.

    Args:
      path: Any `tf.io.gfile` path.
      errors: "report" yields an error message (and text None) for a line that is not valid
        UTF-8; "replace" decodes it with U+FFFD for the bad bytes, so every line has text.

    Yields:
      (line number, text or None, error message or None); exactly one of the two is None.
    """
    for line_number, raw in enumerate(_iter_raw_lines(path), start=1):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            text = raw.decode("utf-8", errors="strict" if errors == "report" else errors)
        except UnicodeDecodeError as e:
            bad = raw[e.start : e.start + 1].hex()
            yield line_number, None, f"invalid UTF-8 (byte 0x{bad} at byte offset {e.start})"
            continue
        # Editors on Windows prepend a BOM; it would otherwise stick to the first field.
        if line_number == 1 and text.startswith(_UTF8_BOM):
            text = text[len(_UTF8_BOM) :]
        yield line_number, text, None


def _row_problem(fields: list[str], min_columns: int, max_columns: int | None) -> str | None:
    """Returns why a split line is malformed, or None if it is fine."""
    if len(fields) < min_columns:
        return f"expected at least {min_columns} tab-separated columns, got {len(fields)}"
    if max_columns is not None and len(fields) > max_columns:
        return f"expected at most {max_columns} tab-separated columns, got {len(fields)}"
    for column, field in enumerate(fields[:min_columns], start=1):
        if not field.strip():
            kind = "empty" if not field else "whitespace only"
            return f"column {column} is {kind}"
    return None


def iter_rows(
    path: str,
    min_columns: int = 2,
    max_columns: int | None = None,
    on_error: str = "raise",
    stats: ReadStats | None = None,
) -> Iterator[tuple[str, ...]]:
    """Iterates over the rows of a UTF-8 TSV pair file.

    A row is malformed if it is blank, is not valid UTF-8, has a column count outside
    `[min_columns, max_columns]`, or has an empty or whitespace-only field among its first
    `min_columns` fields. Fields are returned as written (not stripped).

    Args:
      path: File to read.
      min_columns: Fewest columns a row may have; these columns must be non-blank.
      max_columns: Most columns a row may have, or None for no limit.
      on_error: "raise" to raise `MalformedRowError` at the first malformed row, or "skip" to
        skip malformed rows and count them in `stats`.
      stats: Optional counters updated while iterating.

    Returns:
      An iterator of field tuples. Argument errors and a missing file are raised by this call,
      not on the first `next()`.

    Raises:
      FileNotFoundError: `path` does not exist.
      ValueError: Bad `on_error`, `min_columns` or `max_columns`.
      MalformedRowError: While iterating, in "raise" mode.
    """
    if on_error not in _ON_ERROR_MODES:
        raise ValueError(f"on_error must be one of {_ON_ERROR_MODES}, got {on_error!r}")
    if min_columns < 1:
        raise ValueError(f"min_columns must be >= 1, got {min_columns}")
    if max_columns is not None and max_columns < min_columns:
        raise ValueError(
            f"max_columns ({max_columns}) must be >= min_columns ({min_columns}) or None"
        )
    _check_exists(path)
    return _iter_rows(path, min_columns, max_columns, on_error, stats or ReadStats())


def _iter_rows(
    path: str,
    min_columns: int,
    max_columns: int | None,
    on_error: str,
    stats: ReadStats,
) -> Iterator[tuple[str, ...]]:
    """Generator behind `iter_rows`, which validates its arguments eagerly."""
    for line_number, text, problem in iter_decoded_lines(path):
        fields: list[str] = []
        if problem is None:
            assert text is not None
            if not text.strip():
                problem = "blank line"
            else:
                fields = text.split("\t")
                problem = _row_problem(fields, min_columns, max_columns)
        if problem is not None:
            error = MalformedRowError(path, line_number, problem)
            if on_error == "raise":
                raise error
            stats.record_error(str(error))
            continue
        stats.rows += 1
        yield tuple(fields)


def validate_pairs_file(
    path: str,
    min_columns: int = 2,
    max_columns: int | None = None,
    on_error: str = "raise",
) -> ReadStats:
    """Reads a whole pair file and returns its counters; see `iter_rows` for the rules."""
    stats = ReadStats()
    for _ in iter_rows(path, min_columns, max_columns, on_error, stats):
        pass
    return stats


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yields a temporary name next to `path`; moves it over `path` if the `with` block
    succeeds, removes it otherwise.

    The temporary name (`<path>.tmp-<pid>-<random>`) is in the same folder, so the final
    `tf.io.gfile.rename` is an atomic rename on a local filesystem (on object stores such as
    `gs://` it is a copy then a delete: readers may see the old or the new file, never a
    partial one). Parent folders are created. The caller writes the temporary file by any
    means (a `GFile`, a numpy memory map for local paths, ...); a local one is fsynced first:
    without that a crash soon after the rename can leave an empty file on some filesystems,
    which is worse than the old version.
    """
    parent = os.path.dirname(path)
    if parent:
        tf.io.gfile.makedirs(parent)
    tmp_path = f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        yield tmp_path
        if is_local(tmp_path):
            fd = os.open(tmp_path.removeprefix("file://"), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        tf.io.gfile.rename(tmp_path, path, overwrite=True)
    except BaseException:
        with contextlib.suppress(tf.errors.NotFoundError, FileNotFoundError):
            tf.io.gfile.remove(tmp_path)
        raise


@contextlib.contextmanager
def _atomic_file(path: str, mode: str) -> Iterator[IO[Any]]:
    """A `tf.io.gfile.GFile(<temporary name>, mode)` that replaces `path` on success
    (`atomic_path`). Mode "w" takes str (written as UTF-8, "\\n" kept), "wb" bytes."""
    with atomic_path(path) as tmp_path:
        with tf.io.gfile.GFile(tmp_path, mode) as f:
            # A GFile creates its file on the first write: an empty output must exist too.
            f.write(b"" if "b" in mode else "")
            yield f


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[IO[str]]:
    """Opens a UTF-8 text file that appears at `path` only if the `with` block succeeds.

    Data goes to a temporary file next to `path` and is renamed over `path` at the end
    (`atomic_path`), so readers never see a half-written file and an interrupted run leaves the
    previous version in place. Parent directories are created. Newlines are written as "\\n"
    on every platform so that output is byte-identical across machines.
    """
    with _atomic_file(path, "w") as f:
        yield f


def write_bytes_atomically(path: str, data: bytes) -> str:
    """Writes `data` to `path` like `atomic_output`; returns `path`.

    The file gets the usual (umask) permissions, unlike a `tempfile.mkstemp` file (0600): a
    vocabulary written here and copied into an export stays readable by a model server
    running as another user.
    """
    with _atomic_file(path, "wb") as f:
        f.write(data)
    return path


def write_rows(path: str, rows: Iterable[Sequence[str]]) -> int:
    """Writes rows as a TSV file atomically (see `atomic_output`).

    Args:
      path: Destination file; parent directories are created.
      rows: Sequences of string fields.

    Returns:
      Number of rows written.

    Raises:
      ValueError: A row has no fields, or a field contains a tab or a line break (which would
        silently change the column or row count when read back). `path` is left untouched.
      TypeError: A field is not a string.
    """
    count = 0
    with atomic_output(path) as f:
        for index, row in enumerate(rows):
            if isinstance(row, str):
                # A bare string is a Sequence[str] too and would be written one char per column.
                raise TypeError(f"row index {index}: expected a sequence of fields, got a str")
            if len(row) == 0:
                raise ValueError(f"row index {index}: row has no fields")
            for column, field in enumerate(row, start=1):
                if not isinstance(field, str):
                    raise TypeError(
                        f"row index {index}, column {column}: expected str, "
                        f"got {type(field).__name__}"
                    )
                if "\t" in field or "\n" in field or "\r" in field:
                    raise ValueError(
                        f"row index {index}, column {column}: field contains a tab or "
                        f"newline: {field[:60]!r}"
                    )
            f.write("\t".join(row))
            f.write("\n")
            count += 1
    return count


def _read_text_lines(path: str) -> list[str]:
    """Reads all lines of a UTF-8 file, raising `MalformedRowError` on bad UTF-8."""
    _check_exists(path)
    lines = []
    for line_number, text, problem in iter_decoded_lines(path):
        if problem is not None:
            raise MalformedRowError(path, line_number, problem)
        assert text is not None
        lines.append(text)
    return lines


def _read_aligned_text_files(source_path: str, target_path: str) -> list[tuple[str, str]]:
    """Two line-aligned text files -> (line i of one, line i of the other); see
    `read_aligned_pairs`."""
    source_lines = _read_text_lines(source_path)
    target_lines = _read_text_lines(target_path)
    if len(source_lines) != len(target_lines):
        raise ValueError(
            "aligned files have different line counts: "
            f"{source_path} has {len(source_lines)} lines, "
            f"{target_path} has {len(target_lines)} lines"
        )
    for line_number, (source, target) in enumerate(
        zip(source_lines, target_lines, strict=True), start=1
    ):
        # An empty side would make an unanswerable retrieval query; better fail loudly.
        for path, text in ((source_path, source), (target_path, target)):
            if not text.strip():
                raise MalformedRowError(path, line_number, "blank line")
    return list(zip(source_lines, target_lines, strict=True))


def read_aligned_pairs(
    path: str, target_path: str | None = None, max_pairs: int | None = None
) -> list[tuple[str, str]]:
    """Reads aligned sentence pairs: a two-column TSV, or two line-aligned text files.

    * `target_path` None: `path` is a pair file; each row gives (column 1, column 2) under the
      rules of `iter_rows` (further columns are ignored).
    * `target_path` set (Tatoeba style): line i of `path` is the translation of line i of
      `target_path`. Lines are returned without their line ending and otherwise unchanged.

    Args:
      path: TSV pair file, or the source side's text file.
      target_path: the target side's text file, or None.
      max_pairs: keep only the first `max_pairs` pairs (None or 0: all).

    Returns:
      [(source, target)] in file order, duplicates kept.

    Raises:
      FileNotFoundError: A file is missing.
      MalformedRowError: A blank line, invalid UTF-8, or (TSV) fewer than two columns or an
        empty field; the message names the file and line.
      ValueError: The two text files have different line counts (the message names both files
        and both counts).
    """
    if target_path:
        rows = _read_aligned_text_files(path, target_path)
    else:
        rows = [(row[0], row[1]) for row in iter_rows(path, min_columns=2)]
    return rows[:max_pairs] if max_pairs else rows
