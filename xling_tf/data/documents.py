"""Documents -> Quick-Thought triples (current, previous, next) that never cross a document.

Plain text format: one sentence per line, a blank line between documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from xling_tf.data import pairs

import tensorflow as tf


def read_documents(path: str) -> list[list[str]]:
    """A UTF-8 file of sentences (one per line, blank line = new document) -> documents.

    Invalid UTF-8 bytes are replaced by U+FFFD; surrounding whitespace is stripped.
    """
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"documents file not found: {path}")
    documents: list[list[str]] = [[]]
    for _, line, _ in pairs.iter_decoded_lines(path, errors="replace"):
        sentence = " ".join((line or "").split())
        if sentence:
            documents[-1].append(sentence)
        elif documents[-1]:
            documents.append([])
    return [doc for doc in documents if doc]


def quick_thought_triples(documents: Iterable[Sequence[str]]) -> list[tuple[str, str, str]]:
    """(sentence, previous, next) for every sentence that has both neighbours in its document."""
    triples = []
    for document in documents:
        for i in range(1, len(document) - 1):
            triples.append((document[i], document[i - 1], document[i + 1]))
    return triples
