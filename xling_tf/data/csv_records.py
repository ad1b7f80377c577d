"""CSV records with the line number each starts on, for readers that must name bad lines.

Python's `csv` module handles quoting (a quoted field may hold commas, doubled quotes and
newlines), but decodes nothing and reports no line numbers per record. This wrapper decodes
each physical line as UTF-8 itself, so invalid bytes are reported at their own line, strips a
leading byte-order mark, and yields every record with the number of its first line.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from typing import IO, Any

from xling_tf.data.pairs import MalformedRowError

import tensorflow as tf

__all__ = ["iter_csv_records", "source_name"]

_UTF8_BOM = "\ufeff"


def source_name(source: str | os.PathLike[str] | IO[Any]) -> str:
    """A path, or a file object's `name` (e.g. a tar member's), for error messages."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return str(getattr(source, "name", "<stream>"))


def _decoded_lines(lines: Iterable[bytes | str], name: str) -> Iterator[str]:
    for line_number, raw in enumerate(lines, start=1):
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                bad = raw[error.start : error.start + 1].hex()
                raise MalformedRowError(
                    name, line_number, f"invalid UTF-8 (byte 0x{bad} at byte offset {error.start})"
                ) from None
        else:
            line = raw
        if line_number == 1 and line.startswith(_UTF8_BOM):
            line = line[len(_UTF8_BOM) :]
        yield line


def iter_csv_records(
    source: str | os.PathLike[str] | IO[Any], **reader_options: Any
) -> Iterator[tuple[int, list[str]]]:
    """Yields `(first_line_number, fields)` for each record of a UTF-8 CSV file.

    Args:
      source: a path, or an open binary (preferred: exact UTF-8 errors) or text file object.
      **reader_options: passed to `csv.reader` (e.g. `delimiter="\\t"`,
        `quoting=csv.QUOTE_NONE`).

    A blank line is yielded as an empty field list (callers decide what it means). The reader
    is strict by default (`strict=True`): a quote left open at the end of the file, or text
    after a closing quote, is an error rather than silently merged into a field.

    Raises:
      FileNotFoundError: `source` is a path that does not exist.
      MalformedRowError: invalid UTF-8, or broken quoting (e.g. a quote left open at the end
        of the file), with the file name and line.
    """
    name = source_name(source)
    if isinstance(source, (str, os.PathLike)):
        with tf.io.gfile.GFile(os.fspath(source), "rb") as stream:
            yield from _records(stream, name, reader_options)
    else:
        yield from _records(source, name, reader_options)


def _records(
    stream: Iterable[bytes | str], name: str, reader_options: dict[str, Any]
) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(_decoded_lines(stream, name), **{"strict": True, **reader_options})
    last_line = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise MalformedRowError(name, last_line + 1, f"bad CSV quoting ({error})") from None
        yield last_line + 1, fields
        last_line = reader.line_num
