"""An `EmbedFn` wrapper that encodes each distinct sentence once (pure numpy, no TensorFlow).

An evaluation suite embeds the same text many times: the English side of the Bible test set is
identical for en-fr, en-es and en-de, mining pools and the geometry sample are drawn from the
retrieval sentences, and datasets repeat sentences. `CachedEmbedder` keeps one float32 vector per
distinct string and only sends strings it has not seen to the wrapped encoder, in batches, so
the suite's cost is that of its distinct sentences.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from xling_tf.evaluation.embedding import EmbedFn, embed_texts

import numpy as np


class CachedEmbedder:
    """Callable `list[str] -> float32 [n, d]` that remembers every vector it computed.

    Attributes:
      encoded: number of distinct strings sent to the wrapped encoder so far.
      requested: number of strings asked for (with repeats) so far.
      encode_seconds: wall time spent inside the wrapped encoder.
    """

    def __init__(self, embed_fn: EmbedFn, batch_size: int = 256, progress: bool = False):
        self._embed_fn = embed_fn
        self._batch_size = batch_size
        self._progress = progress
        self._rows: dict[str, int] = {}  # text -> row of self._vectors
        self._vectors: np.ndarray | None = None  # float32 [capacity, d]
        self.encoded = 0
        self.requested = 0
        self.encode_seconds = 0.0

    @property
    def dim(self) -> int | None:
        """Embedding width d, or None before the first sentence was encoded."""
        return None if self._vectors is None else int(self._vectors.shape[1])

    def _store(self, texts: list[str], vectors: np.ndarray) -> None:
        if self._vectors is None:
            self._vectors = np.empty((max(1024, len(texts)), vectors.shape[1]), np.float32)
        elif vectors.shape[1] != self._vectors.shape[1]:
            raise ValueError(
                f"encoder returned dimension {vectors.shape[1]} after earlier calls returned "
                f"{self._vectors.shape[1]}"
            )
        needed = self.encoded + len(texts)
        if needed > self._vectors.shape[0]:
            # Doubling keeps the amortised cost of growing linear in the number of sentences.
            capacity = max(needed, 2 * self._vectors.shape[0])
            grown = np.empty((capacity, self._vectors.shape[1]), np.float32)
            grown[: self.encoded] = self._vectors[: self.encoded]
            self._vectors = grown
        self._vectors[self.encoded : needed] = vectors
        for offset, text in enumerate(texts):
            self._rows[text] = self.encoded + offset
        self.encoded = needed

    def embed(self, texts: Sequence[str], desc: str = "embed") -> np.ndarray:
        """float32 [len(texts), d] vectors of `texts`, encoding only strings not seen before.

        New strings are encoded once each, in length-sorted batches of `batch_size`
        (`embed_texts`), with a progress bar labelled `desc` when progress is on. An empty
        `texts` returns a [0, d] array ([0, 0] before anything was encoded).
        """
        if isinstance(texts, str):
            raise TypeError("texts must be a collection of strings, not a single str")
        texts = list(texts)
        self.requested += len(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in self._rows))
        if missing:
            started = time.perf_counter()
            vectors = embed_texts(
                self._embed_fn,
                missing,
                batch_size=self._batch_size,
                progress=self._progress,
                desc=desc,
            )
            self.encode_seconds += time.perf_counter() - started
            self._store(missing, vectors)
        if self._vectors is None:
            return np.zeros((0, 0), np.float32)
        return self._vectors[[self._rows[t] for t in texts]]

    def __call__(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)

    def stats(self) -> dict[str, float | int]:
        """{"requested", "encoded", "encode_seconds", "sentences_per_second"} so far."""
        return {
            "requested": self.requested,
            "encoded": self.encoded,
            "encode_seconds": self.encode_seconds,
            "sentences_per_second": self.encoded / self.encode_seconds
            if self.encode_seconds > 0
            else float("nan"),
        }
