"""`embed_file_to_npy` streams: one window of sentences in memory, vectors written to disk.

No TensorFlow here: the encoder is a deterministic numpy function of the strings.
"""

from __future__ import annotations

import tracemalloc
import zlib

from xling_tf.evaluation import embedding

import numpy as np
import pytest

DIM = 8


def fake_vectors(texts: list[str], dim: int = DIM) -> np.ndarray:
    """float32 [len(texts), dim]: a per-string pseudo-random vector (same text, same row)."""
    return (
        np.stack(
            [np.random.default_rng(zlib.crc32(t.encode())).standard_normal(dim) for t in texts]
        ).astype(np.float32)
        if texts
        else np.zeros((0, dim))
    )


def write_lines(path, n: int) -> list[str]:
    lines = [f"sentence number {i} " + "word " * (i % 7) for i in range(n)]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return lines


class LineReadCounter:
    """Wraps `embedding._iter_lines`, counting the lines each pass over the file has read."""

    def __init__(self, original):
        self.original = original
        self.passes: list[int] = []

    def __call__(self, path):
        self.passes.append(0)
        index = len(self.passes) - 1
        for line in self.original(path):
            self.passes[index] += 1
            yield line


def test_npy_reads_one_window_ahead_and_writes_rows_to_disk_as_it_goes(tmp_path, monkeypatch):
    lines = write_lines(tmp_path / "in.txt", 1003)
    counter = LineReadCounter(embedding._iter_lines)
    monkeypatch.setattr(embedding, "_iter_lines", counter)
    output = tmp_path / "out.npy"
    batch_size, sort_window = 100, 300
    calls: list[int] = []

    def embed_fn(batch: list[str]) -> np.ndarray:
        # Windows hold 3 whole batches, so the windows finished before this batch hold:
        done = sum(calls) // sort_window * sort_window
        # The embedding pass has read this window only.
        assert counter.passes[-1] <= done + sort_window
        assert len(batch) <= batch_size
        if done:
            # Rows of earlier windows already sit in the memory-mapped temporary .npy, which
            # holds all n rows from the first window on: vectors go to disk, not to a list.
            (partial,) = [p for p in tmp_path.iterdir() if p.name.startswith("out.npy.tmp-")]
            on_disk = np.load(partial, mmap_mode="r")
            assert on_disk.shape == (len(lines), DIM)
            np.testing.assert_array_equal(on_disk[:done], fake_vectors(lines[:done]))
        calls.append(len(batch))
        return fake_vectors(batch)

    assert (
        embedding.embed_file_to_npy(
            embed_fn,
            tmp_path / "in.txt",
            output,
            batch_size=batch_size,
            progress=False,
            sort_window=sort_window,
        )
        == 1003
    )
    assert calls == [100] * 10 + [3]
    # One decoding pass (the line count before it only counts newlines, it decodes nothing).
    assert counter.passes == [1003]
    np.testing.assert_array_equal(np.load(output), fake_vectors(lines))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.npy"]  # temp renamed


def test_iter_batches_pulls_lazily_from_a_generator():
    pulled = []

    def sentences():
        for i in range(25):
            pulled.append(i)
            yield f"s{i}"

    seen = []
    for batch in embedding.iter_batches(sentences(), 10):
        # Only this batch has been taken from the generator, nothing beyond it.
        assert len(pulled) == sum(seen) + len(batch)
        seen.append(len(batch))
    assert seen == [10, 10, 5]


def _python_peak_bytes(tmp_path, n: int, batch_size: int, sort_window: int) -> int:
    path = tmp_path / f"in-{n}.txt"
    write_lines(path, n)
    zeros = np.zeros((batch_size, 64), np.float32)
    tracemalloc.start()
    try:
        embedding.embed_file_to_npy(
            lambda batch: zeros[: len(batch)],
            path,
            tmp_path / f"out-{n}.npy",
            batch_size=batch_size,
            progress=False,
            sort_window=sort_window,
        )
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("batch_size,sort_window", [(64, 0), (64, 256)])
def test_python_heap_does_not_grow_with_the_file(tmp_path, batch_size, sort_window):
    # tracemalloc sees Python objects and numpy buffers, not the memory-mapped output, so
    # its peak is what the streaming loop itself holds (one window of sentences and
    # vectors). A first small run pays for one-time costs (lazy imports, caches) so they do
    # not count against either size.
    _python_peak_bytes(tmp_path, 10, batch_size, sort_window)
    small = _python_peak_bytes(tmp_path, 2_000, batch_size, sort_window)
    large = _python_peak_bytes(tmp_path, 20_000, batch_size, sort_window)
    full_matrix = 20_000 * 64 * 4  # what holding every vector would cost: 5 MB
    assert large < full_matrix / 10, (small, large)
    assert large < 1.5 * small + 64_000, (small, large)
