"""Batched embedding of many sentences with any encoder (numpy; files through `tf.io.gfile`).

An encoder is any `EmbedFn`: a callable mapping a batch (list) of strings to a [batch, d]
array-like (float32 numpy array, TF eager tensor, ...). The helpers here call it batch by
batch, so memory for the model inputs stays O(batch_size), and they check that every batch
returns one d-dimensional row per sentence.

Length-aware batching: a Transformer pads every batch to its longest sentence, so a batch cut
in input order makes each short sentence pay for the longest one next to it. The helpers
therefore read up to `sort_window` sentences at a time, sort that window by length (longest
first, by character count: a cheap proxy for the token count that needs no second
tokenization), cut the sorted window into batches, and put the vectors back in input order
(`embed_in_length_order`). Memory grows with the window, never with the input, and the
output is the same as embedding in input order (up to float rounding). A `sort_window` of at
most `batch_size` keeps input order.

Text files are read as UTF-8, one sentence per line, by the reader of pair files
(`xling_tf.data.pairs.iter_decoded_lines`), from any `tf.io.gfile` path. Every line is
embedded, including blank ones, so output row i always corresponds to input line i (needed for
aligned bitexts). Lines are split on \\n (a \\r before it is stripped), a leading UTF-8
byte-order mark is dropped, and invalid UTF-8 bytes are replaced with U+FFFD instead of
failing the whole file.

File outputs are written to a temporary file next to the destination and moved into place
(`xling_tf.data.pairs.atomic_path`) only after the last batch succeeded, so an interrupted or
failing run never leaves a half-written output behind.
"""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized

from xling_tf.data import pairs

import numpy as np
import tensorflow as tf
from tqdm import tqdm

EmbedFn = Callable[[list[str]], np.ndarray]
"""Maps a batch of n strings to an [n, d] float32 array (or something `np.asarray` takes)."""

PathLike = str | os.PathLike

DEFAULT_SORT_WINDOW = 8192
"""Sentences sorted together by length: 32 batches of 256, about 16 MiB of 512-d vectors."""

DEFAULT_MODEL_BATCH_SIZE = 64
"""Sentences per call of an xling model (`xling_tf.inference.load_text_encoder`, `xling-tf
embed`, TF Serving's max batch). On length-sorted input the demo Transformer (3 x 256, 48
tokens) embedded 1.3-1.7x more sentences/s on a 2-core CPU in batches of 32 or 64 than of 256
(activations of a small batch stay in the CPU caches); 32 and 64 were within noise."""


def iter_batches(texts: Iterable[str], batch_size: int) -> Iterator[list[str]]:
    """Yields consecutive lists of at most `batch_size` items from `texts`, in order.

    Only the last batch may be shorter; an empty iterable yields nothing. `texts` is
    consumed lazily, so generators and open files work without loading everything.
    """
    _check_int("batch_size", batch_size, minimum=1)
    iterator = iter(texts)
    while batch := list(itertools.islice(iterator, int(batch_size))):
        yield batch


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def _embed_batch(embed_fn: EmbedFn, batch: list[str], dim: int | None) -> np.ndarray:
    """Runs `embed_fn` on one batch and checks the result is [len(batch), dim] float32."""
    out = np.asarray(embed_fn(batch), dtype=np.float32)
    if out.ndim != 2 or out.shape[0] != len(batch):
        raise ValueError(
            f"embed_fn returned shape {out.shape} for a batch of {len(batch)} strings; "
            f"expected [{len(batch)}, d]"
        )
    if dim is not None and out.shape[1] != dim:
        raise ValueError(
            f"embed_fn returned dimension {out.shape[1]} after earlier batches had {dim}"
        )
    return out


def length_order(texts: Sequence[str]) -> np.ndarray:
    """int64 [n] permutation putting `texts` longest first (by characters; ties keep order)."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    return np.argsort(-lengths, kind="stable")


def embed_in_length_order(
    embed_fn: EmbedFn,
    texts: Sequence[str],
    batch_size: int,
    dim: int | None = None,
    on_batch: Callable[[int], object] | None = None,
) -> np.ndarray:
    """Embeds `texts` in batches of similar length; returns rows in input order.

    Args:
      embed_fn: maps a list of at most `batch_size` strings to a [batch, d] array.
      texts: the sentences of one window (all held in memory).
      batch_size: maximum number of strings per `embed_fn` call.
      dim: the width d earlier windows had, checked on every batch (None: not known yet).
      on_batch: called with the size of each batch once it is embedded (progress bars).

    Returns:
      float32 [len(texts), d], row i the embedding of texts[i]. `texts` must not be empty.
    """
    if len(texts) <= batch_size:
        # One call either way: sorting cannot change the padding of a single batch.
        vectors = _embed_batch(embed_fn, list(texts), dim)
        if on_batch is not None:
            on_batch(len(texts))
        return vectors
    order = length_order(texts)
    out: np.ndarray | None = None
    for start in range(0, len(texts), batch_size):
        rows = order[start : start + batch_size]
        vectors = _embed_batch(embed_fn, [texts[i] for i in rows], dim)
        if out is None:
            dim = vectors.shape[1]
            out = np.empty((len(texts), dim), dtype=np.float32)
        out[rows] = vectors
        if on_batch is not None:
            on_batch(len(rows))
    assert out is not None  # texts is not empty
    return out


def iter_embedded_windows(
    embed_fn: EmbedFn,
    texts: Iterable[str],
    batch_size: int,
    sort_window: int = DEFAULT_SORT_WINDOW,
    on_batch: Callable[[int], object] | None = None,
) -> Iterator[tuple[list[str], np.ndarray]]:
    """Streams (sentences, float32 [len, d] vectors) window by window, in input order.

    Reads `max(sort_window, batch_size)` sentences from `texts` at a time (lazily) and embeds
    each window with `embed_in_length_order`; every window must have the first one's width d.
    """
    _check_int("batch_size", batch_size, minimum=1)
    _check_int("sort_window", sort_window, minimum=0)
    dim: int | None = None
    for window in iter_batches(texts, max(int(sort_window), batch_size)):
        vectors = embed_in_length_order(embed_fn, window, batch_size, dim, on_batch)
        dim = vectors.shape[1]
        yield window, vectors


def _progress_bar(enabled: bool, total: int | None, desc: str) -> tqdm:
    # unit="sent" makes tqdm report throughput as sentences per second.
    return tqdm(
        total=total,
        desc=desc,
        unit="sent",
        unit_scale=True,
        file=sys.stderr,
        disable=not enabled,
        dynamic_ncols=True,
    )


def embed_texts(
    embed_fn: EmbedFn,
    texts: Sequence[str] | Iterable[str],
    batch_size: int = 256,
    progress: bool = False,
    total: int | None = None,
    desc: str = "embed",
    sort_window: int = DEFAULT_SORT_WINDOW,
) -> np.ndarray:
    """Embeds `texts` with `embed_fn`, `batch_size` strings per call, preserving order.

    Args:
      embed_fn: maps a list of at most `batch_size` strings to a [batch, d] array.
      texts: a sequence or any iterable of strings (consumed once, lazily).
      batch_size: maximum number of strings per `embed_fn` call.
      sort_window: sentences sorted by length together (see module docstring); at most
        `batch_size` keeps input order.
      progress: show a tqdm bar on stderr with sentences/s.
      total: number of texts, if `texts` has no len(); enables preallocating the output
        and a progress bar with an ETA. It must match the actual count.
      desc: progress bar label.

    Returns:
      [n, d] float32 array, row i the embedding of texts[i]. Empty input returns an array of
      shape [0, 0] (d is unknown without calling the encoder) and never calls `embed_fn`.

    Raises:
      ValueError: if `embed_fn` returns the wrong shape or `total` does not match.
    """
    if isinstance(texts, str):
        # A bare string is an iterable of characters; embedding those is never intended.
        raise TypeError("texts must be a collection of strings, not a single str")
    if total is None and isinstance(texts, Sized):
        total = len(texts)
    if total is not None and total < 0:
        raise ValueError(f"total must be >= 0, got {total}")
    out: np.ndarray | None = None  # preallocated [total, d] once d is known
    chunks: list[np.ndarray] = []  # used only when the length is unknown
    dim: int | None = None
    count = 0
    with _progress_bar(progress, total, desc) as bar:
        for batch, vectors in iter_embedded_windows(
            embed_fn, texts, batch_size, sort_window, on_batch=bar.update
        ):
            if total is not None and count + len(batch) > total:
                raise ValueError(f"texts has more than total={total} items")
            if dim is None:
                dim = vectors.shape[1]
                if total is not None:
                    out = np.empty((total, dim), dtype=np.float32)
            if out is not None:
                out[count : count + len(batch)] = vectors
            else:
                chunks.append(vectors)
            count += len(batch)
    if total is not None and count != total:
        raise ValueError(f"texts has {count} items but total={total}")
    if count == 0:
        return np.zeros((0, 0), dtype=np.float32)
    if out is not None:
        return out
    return np.concatenate(chunks, axis=0)


def _iter_lines(path: str) -> Iterator[str]:
    """Yields the lines of a UTF-8 text file without their line terminator (see module
    docstring; invalid bytes become U+FFFD)."""
    for _, text, _ in pairs.iter_decoded_lines(path, errors="replace"):
        assert text is not None  # errors="replace" always decodes
        yield text


def _existing_file(path: PathLike) -> str:
    path = os.fspath(path)
    if not tf.io.gfile.exists(path) or tf.io.gfile.isdir(path):
        raise FileNotFoundError(f"input file not found: {path}")
    return path


def _embedded_windows(
    embed_fn: EmbedFn,
    input_path: str,
    batch_size: int,
    sort_window: int,
    progress: bool,
    total: int | None,
) -> Iterator[tuple[list[str], np.ndarray]]:
    """Streams (sentences, float32 [len, d] vectors) window by window from a text file.

    Windows are `iter_embedded_windows`'s (input order, length-sorted inside); the progress
    bar advances per batch.
    """
    with _progress_bar(progress, total, os.path.basename(input_path)) as bar:
        yield from iter_embedded_windows(
            embed_fn, _iter_lines(input_path), batch_size, sort_window, on_batch=bar.update
        )


def embed_file_to_npy(
    embed_fn: EmbedFn,
    input_path: PathLike,
    output_path: PathLike,
    batch_size: int = 256,
    progress: bool = True,
    sort_window: int = DEFAULT_SORT_WINDOW,
) -> int:
    """Embeds each line of a UTF-8 text file and saves a [n, d] float32 `.npy` file.

    Sentences are streamed: the file is read once to count lines, then again `sort_window`
    lines at a time (each window embedded in length-sorted batches, see the module
    docstring) into a memory-mapped `.npy` (`np.lib.format.open_memmap`), so neither all
    sentences nor all vectors need to fit in RAM. An empty input file yields a [0, 0] array
    without calling `embed_fn`. The output appears atomically (see module docstring).

    Returns:
      n, the number of lines embedded.

    Raises:
      FileNotFoundError: if `input_path` is not an existing file.
      ValueError: if `embed_fn` returns the wrong shape.
    """
    input_path = _existing_file(input_path)
    output_path = os.fspath(output_path)
    n = pairs.count_lines(input_path)
    with pairs.atomic_path(output_path) as tmp:
        if pairs.is_local(tmp):
            _write_npy(embed_fn, input_path, tmp, n, batch_size, sort_window, progress)
        else:
            # A memory map needs a local file: build it in a local temporary folder, then copy.
            with tempfile.TemporaryDirectory(prefix="embed-") as local_dir:
                local = os.path.join(local_dir, "vectors.npy")
                _write_npy(embed_fn, input_path, local, n, batch_size, sort_window, progress)
                tf.io.gfile.copy(local, tmp, overwrite=True)
    return n


def _write_npy(
    embed_fn: EmbedFn,
    input_path: str,
    output_path: str,
    n: int,
    batch_size: int,
    sort_window: int,
    progress: bool,
) -> None:
    """Embeds the n lines of `input_path` into a float32 [n, d] `.npy` at the local
    `output_path` (a memory map, written window by window; [0, 0] when n is 0)."""
    if n == 0:
        # Through a file object: np.save would append ".npy" to the temporary name.
        with open(output_path, "wb") as f:
            np.save(f, np.zeros((0, 0), dtype=np.float32))
        return
    memmap: np.memmap | None = None
    count = 0
    for batch, vectors in _embedded_windows(
        embed_fn, input_path, batch_size, sort_window, progress, total=n
    ):
        if memmap is None:
            memmap = np.lib.format.open_memmap(
                output_path, mode="w+", dtype=np.float32, shape=(n, vectors.shape[1])
            )
        if count + len(batch) > n:
            raise RuntimeError(f"{input_path} grew while it was being embedded")
        memmap[count : count + len(batch)] = vectors
        count += len(batch)
    if count != n or memmap is None:
        raise RuntimeError(f"{input_path} changed while it was being embedded")
    memmap.flush()
    # Drop the mapping before the rename so the file is closed (required on Windows).
    del memmap


def _format_tsv_row(sentence: str, vector: np.ndarray) -> str:
    # Tabs inside a sentence would shift the vector columns, so they become spaces.
    text = sentence.replace("\t", " ")
    return text + "\t" + "\t".join(f"{v:.6g}" for v in vector.tolist()) + "\n"


def embed_file_to_tsv(
    embed_fn: EmbedFn,
    input_path: PathLike,
    output_path: PathLike,
    batch_size: int = 256,
    progress: bool = True,
    sort_window: int = DEFAULT_SORT_WINDOW,
) -> int:
    """Embeds each line of a UTF-8 text file into a TSV: `sentence<TAB>v1<TAB>...<TAB>vd`.

    One output line per input line, in order (streamed `sort_window` lines at a time, as
    for `embed_file_to_npy`); floats use 6 significant digits (`%.6g`);
    tab characters inside a sentence are replaced by spaces so every row has 1 + d fields.
    The file is UTF-8 with `\\n` line endings, written atomically (see module docstring).

    Returns:
      n, the number of lines embedded.

    Raises:
      FileNotFoundError: if `input_path` is not an existing file.
      ValueError: if `embed_fn` returns the wrong shape.
    """
    input_path = _existing_file(input_path)
    # The line count only serves the progress bar's ETA, so skip that pass without a bar.
    total = pairs.count_lines(input_path) if progress else None
    count = 0
    with pairs.atomic_output(os.fspath(output_path)) as out:
        for batch, vectors in _embedded_windows(
            embed_fn, input_path, batch_size, sort_window, progress, total
        ):
            out.write("".join(map(_format_tsv_row, batch, vectors)))
            count += len(batch)
    return count


_WRITERS: dict[str, Callable[..., int]] = {
    ".npy": embed_file_to_npy,
    ".tsv": embed_file_to_tsv,
}


def embed_file(
    embed_fn: EmbedFn,
    input_path: PathLike,
    output_path: PathLike,
    batch_size: int = 256,
    progress: bool = True,
    sort_window: int = DEFAULT_SORT_WINDOW,
) -> int:
    """Embeds a one-sentence-per-line file, choosing the format by `output_path`'s suffix.

    `.npy` -> `embed_file_to_npy` ([n, d] float32 array), `.tsv` -> `embed_file_to_tsv`
    (case-insensitive); `sort_window` lines are sorted by length together. Returns the
    number of lines embedded.

    Raises:
      ValueError: for any other suffix (checked before reading the input).
      FileNotFoundError: if `input_path` is not an existing file.
    """
    suffix = os.path.splitext(os.fspath(output_path))[1].lower()
    writer = _WRITERS.get(suffix)
    if writer is None:
        raise ValueError(
            f"unsupported output format {suffix or '(no suffix)'!r} for {output_path}; "
            f"use one of {sorted(_WRITERS)}"
        )
    return writer(
        embed_fn,
        input_path,
        output_path,
        batch_size=batch_size,
        progress=progress,
        sort_window=sort_window,
    )


__all__ = [
    "DEFAULT_MODEL_BATCH_SIZE",
    "DEFAULT_SORT_WINDOW",
    "EmbedFn",
    "embed_file",
    "embed_file_to_npy",
    "embed_file_to_tsv",
    "embed_in_length_order",
    "embed_texts",
    "iter_batches",
    "iter_embedded_windows",
    "length_order",
]
