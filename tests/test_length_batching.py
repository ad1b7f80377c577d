"""Length-aware batching (xling_tf.evaluation.embedding): sort by length, batch, unsort.

No TensorFlow here: the encoder is a numpy function that, like a Transformer, pads each batch
to its longest sentence; the end-to-end check with a real export is in tests/test_inference.py.
"""

from __future__ import annotations

import random

from xling_tf.evaluation import embedding

import numpy as np
import pytest


class PaddingEncoder:
    """Maps s to [len(s), hash-ish(s)], recording each batch and the padded cells it costs.

    `padded_cells` adds len(batch) * (longest sentence in the batch) per call: the work a
    model that pads every batch to its longest row does.
    """

    def __init__(self):
        self.calls: list[list[str]] = []
        self.padded_cells = 0

    def __call__(self, batch: list[str]) -> np.ndarray:
        self.calls.append(list(batch))
        self.padded_cells += len(batch) * max(len(s) for s in batch)
        return np.array([[len(s), sum(map(ord, s)) % 97] for s in batch], dtype=np.float32)


def expected(texts: list[str]) -> np.ndarray:
    return np.array([[len(s), sum(map(ord, s)) % 97] for s in texts], dtype=np.float32)


def mixed_lengths(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["w" * rng.choice([1, 2, 3, 40, 41, 90]) + str(i) for i in range(n)]


def test_length_order_is_longest_first_and_stable():
    texts = ["bb", "a", "cccc", "dd", "", "eeee"]
    assert embedding.length_order(texts).tolist() == [2, 5, 0, 3, 1, 4]
    assert embedding.length_order([]).tolist() == []


def test_sorted_batches_give_the_unsorted_vectors_in_input_order():
    texts = mixed_lengths(1000)
    sorted_encoder, input_order_encoder = PaddingEncoder(), PaddingEncoder()
    out = embedding.embed_texts(sorted_encoder, texts, batch_size=64)
    reference = embedding.embed_texts(input_order_encoder, texts, batch_size=64, sort_window=0)
    np.testing.assert_array_equal(out, reference)
    np.testing.assert_array_equal(out, expected(texts))
    # Every batch is a slice of the longest-first order, each sentence embedded exactly once.
    flattened = sum(sorted_encoder.calls, [])
    assert sorted(flattened) == sorted(texts)
    lengths = [len(s) for s in flattened]
    assert lengths == sorted(lengths, reverse=True)
    assert [len(c) for c in sorted_encoder.calls] == [64] * 15 + [40]
    # The point of it: far fewer padded cells than batches cut in input order.
    assert sorted_encoder.padded_cells < 0.6 * input_order_encoder.padded_cells


def test_sorting_stays_inside_bounded_windows_of_a_stream():
    texts = mixed_lengths(250, seed=1)
    pulled: list[str] = []

    def stream():
        for text in texts:
            pulled.append(text)
            yield text

    encoder = PaddingEncoder()

    def checked(batch: list[str]) -> np.ndarray:
        # Only the current window of 100 lines has been read when it is embedded.
        window_start = len(pulled) - 1 - (len(pulled) - 1) % 100
        assert all(text in texts[window_start : window_start + 100] for text in batch)
        return encoder(batch)

    windows = list(embedding.iter_embedded_windows(checked, stream(), 16, sort_window=100))
    assert [len(w) for w, _ in windows] == [100, 100, 50]
    assert sum((w for w, _ in windows), []) == texts
    np.testing.assert_array_equal(np.concatenate([v for _, v in windows]), expected(texts))


@pytest.mark.parametrize("suffix", [".npy", ".tsv"])
def test_embed_file_output_does_not_depend_on_the_window(tmp_path, suffix):
    texts = mixed_lengths(300, seed=2)
    source = tmp_path / "in.txt"
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    outputs = []
    for window in (0, 64, 10_000):
        output = tmp_path / f"out-{window}{suffix}"
        embedding.embed_file(
            PaddingEncoder(), source, output, batch_size=32, progress=False, sort_window=window
        )
        outputs.append(output.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]


def test_a_window_no_larger_than_a_batch_keeps_input_order():
    texts = mixed_lengths(10, seed=3)
    encoder = PaddingEncoder()
    embedding.embed_texts(encoder, texts, batch_size=4, sort_window=4)
    assert encoder.calls == [texts[0:4], texts[4:8], texts[8:10]]


def test_bad_window_and_batch_size():
    with pytest.raises(ValueError, match="sort_window"):
        embedding.embed_texts(PaddingEncoder(), ["a"], batch_size=4, sort_window=-1)
    with pytest.raises(TypeError, match="sort_window"):
        embedding.embed_texts(PaddingEncoder(), ["a"], batch_size=4, sort_window=1.5)
    with pytest.raises(ValueError, match="batch_size"):
        embedding.embed_texts(PaddingEncoder(), ["a"], batch_size=0)
