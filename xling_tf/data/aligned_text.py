"""Readers for aligned evaluation text: Tatoeba two-file pairs and TSV pairs.

* Tatoeba style: two UTF-8 files, line i of one is the translation of line i of the other
  (`read_aligned_files`, the same rules as `pairs.read_aligned_text_files`: different line
  counts raise a ValueError naming both files and both counts; invalid UTF-8 or a blank line
  raises `MalformedRowError` with file and line).
* TSV pairs: `source<TAB>target` per line, our corpus format (`read_aligned_tsv`).

BUCC mining pools (id<TAB>sentence files and a gold file) are read by `xling_tf.data.bucc`.
"""

from __future__ import annotations

from xling_tf.data import pairs

__all__ = ["read_aligned_files", "read_aligned_tsv"]


def read_aligned_files(source_path: str, target_path: str) -> list[tuple[str, str]]:
    """(source, target) pairs from two line-aligned text files (Tatoeba style)."""
    return pairs.read_aligned_text_files(source_path, target_path)


def read_aligned_tsv(path: str) -> list[tuple[str, str]]:
    """(source, target) pairs from the first two columns of a TSV file.

    Raises `MalformedRowError` (file and line) for a blank line, invalid UTF-8, fewer than two
    columns or an empty field.
    """
    return [(row[0], row[1]) for row in pairs.iter_rows(path, min_columns=2)]
