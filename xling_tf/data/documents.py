"""Documents (lists of sentences) -> Quick-Thought triples that never cross a document."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def quick_thought_triples(documents: Iterable[Sequence[str]]) -> list[tuple[str, str, str]]:
    """(sentence, previous, next) for every sentence that has both neighbours in its document."""
    triples = []
    for document in documents:
        for i in range(1, len(document) - 1):
            triples.append((document[i], document[i - 1], document[i + 1]))
    return triples
