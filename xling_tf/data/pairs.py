"""Reading, validating and writing tab-separated sentence-pair files.

Pair files are the training and evaluation format of the toolkit: UTF-8 text, one example per
line, fields separated by tabs. There is no CSV quoting: a field is everything between two tabs,
so sentences may contain quotes and commas but never tabs or newlines.

Readers report problems as `MalformedRowError` with a `path:line:` prefix so a bad row in a
multi-million-line file can be found with an editor, and can skip bad rows while counting them
when a corpus is known to be slightly dirty.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from xling_tf.errors import UserError

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
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "Pair/text file not found", path)


def iter_decoded_lines(path: str) -> Iterator[tuple[int, str | None, str | None]]:
    """Yields `(line_number, text, error)` for each line of `path`, numbered from 1.

    Lines are split on "\\n" only and lose a trailing "\\n" or "\\r\\n". Decoding is per line
    (not per file) so an invalid byte is reported at its own line and, in skip mode, costs only
    that line. Exactly one of `text` and `error` is None.
    """
    with open(path, "rb") as f:
        for line_number, raw in enumerate(f, start=1):
            if raw.endswith(b"\n"):
                raw = raw[:-1]
                if raw.endswith(b"\r"):
                    raw = raw[:-1]
            try:
                text = raw.decode("utf-8")
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
def _atomic_file(path: str, mode: str, **open_args: Any) -> Iterator[IO[Any]]:
    """Opens `path + ".tmp-<pid>"` with `open(..., mode, **open_args)`; renames it over `path`
    if the `with` block succeeds, removes it otherwise. Parent directories are created."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp_path = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp_path, mode, **open_args) as f:
            yield f
            f.flush()
            # Without this a crash soon after the rename can leave an empty file on some
            # filesystems, which is worse than the old version.
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp_path)
        raise


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[IO[str]]:
    """Opens a UTF-8 text file that appears at `path` only if the `with` block succeeds.

    Data goes to `path + ".tmp-<pid>"` and is renamed over `path` at the end, so readers never
    see a half-written file and an interrupted run leaves the previous version in place. Parent
    directories are created. Newlines are written as "\\n" on every platform so that output is
    byte-identical across machines.
    """
    with _atomic_file(path, "w", encoding="utf-8", newline="\n") as f:
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


def read_aligned_text_files(source_path: str, target_path: str) -> list[tuple[str, str]]:
    """Reads two line-aligned text files (Tatoeba style) into `(source, target)` pairs.

    Line i of one file is the translation of line i of the other. Lines are returned without
    their line ending and otherwise unchanged.

    Raises:
      FileNotFoundError: Either file is missing.
      ValueError: The files have different line counts (the message names both files and both
        counts), or a line is blank (`MalformedRowError`), or not valid UTF-8.
    """
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
