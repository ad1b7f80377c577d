"""Tests for xling_tf.evaluation.embedding with a fake, call-recording encoder."""

import os

from xling_tf.data.pairs import count_lines
from xling_tf.evaluation.embedding import (
    embed_file,
    embed_file_to_npy,
    embed_file_to_tsv,
    embed_texts,
    iter_batches,
)

import numpy as np
import pytest


class FakeEncoder:
    """Maps each string s to [len(s), number of 'a' in s, 0.5]; records every batch."""

    def __init__(self, fail_on_call=None):
        self.calls = []
        self.fail_on_call = fail_on_call

    def __call__(self, batch):
        self.calls.append(list(batch))
        if self.fail_on_call is not None and len(self.calls) == self.fail_on_call:
            raise RuntimeError("encoder crashed")
        return np.array([[len(s), s.count("a"), 0.5] for s in batch], dtype=np.float32)


def expected(texts):
    return np.array([[len(s), s.count("a"), 0.5] for s in texts], dtype=np.float32)


def test_iter_batches():
    assert list(iter_batches(iter("abcdefg"), 3)) == [["a", "b", "c"], ["d", "e", "f"], ["g"]]
    assert list(iter_batches([], 3)) == []
    with pytest.raises(ValueError, match="batch_size"):
        list(iter_batches(["a"], 0))


def test_embed_texts_batches_and_order():
    texts = ["a" * i + "b" * (i % 3) for i in range(10)]
    enc = FakeEncoder()
    out = embed_texts(enc, texts, batch_size=3, sort_window=0)  # input order
    assert [len(c) for c in enc.calls] == [3, 3, 3, 1]
    assert sum(enc.calls, []) == texts
    assert out.dtype == np.float32 and out.shape == (10, 3)
    np.testing.assert_array_equal(out, expected(texts))


def test_embed_texts_generator_with_and_without_total():
    texts = [f"s{i}a" for i in range(7)]
    np.testing.assert_array_equal(embed_texts(FakeEncoder(), iter(texts), 2), expected(texts))
    out = embed_texts(FakeEncoder(), iter(texts), 2, total=7)
    np.testing.assert_array_equal(out, expected(texts))
    with pytest.raises(ValueError, match="total"):
        embed_texts(FakeEncoder(), iter(texts), 2, total=5)
    with pytest.raises(ValueError, match="total"):
        embed_texts(FakeEncoder(), iter(texts), 2, total=9)


def test_embed_texts_empty_and_bad_encoder():
    enc = FakeEncoder()
    out = embed_texts(enc, [])
    assert out.shape == (0, 0) and out.dtype == np.float32
    assert enc.calls == []
    with pytest.raises(ValueError, match="shape"):
        embed_texts(lambda batch: np.zeros((len(batch) + 1, 2)), ["x", "y"])
    with pytest.raises(TypeError):
        embed_texts(enc, "not a list")


def test_embed_texts_progress_goes_to_stderr(capsys):
    embed_texts(FakeEncoder(), ["a", "b", "c"], batch_size=2, progress=True, desc="demo")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "demo" in captured.err and "sent" in captured.err


def write_bytes(path, data):
    path.write_bytes(data)
    return path


def test_npy_round_trip(tmp_path):
    # Blank line kept, CRLF stripped, final line without newline still counted.
    inp = write_bytes(tmp_path / "in.txt", b"banana\r\n\nalpha beta\nlast")
    lines = ["banana", "", "alpha beta", "last"]
    enc = FakeEncoder()
    n = embed_file(enc, inp, tmp_path / "out.npy", batch_size=3, progress=False)
    assert n == 4 == count_lines(inp)
    assert [len(c) for c in enc.calls] == [3, 1]
    arr = np.load(tmp_path / "out.npy")
    assert arr.dtype == np.float32
    np.testing.assert_array_equal(arr, expected(lines))
    assert sorted(os.listdir(tmp_path)) == ["in.txt", "out.npy"]  # no temp files left


def test_tsv_round_trip(tmp_path):
    inp = write_bytes(tmp_path / "in.txt", "tab\there\nnaïve façade\n".encode())

    def enc(batch):
        return np.array([[1 / 3, -2.5e-7, 123456.789]] * len(batch), np.float32)

    n = embed_file(enc, inp, tmp_path / "out.TSV", batch_size=1, progress=True)
    assert n == 2
    rows = (tmp_path / "out.TSV").read_text(encoding="utf-8").split("\n")
    assert rows[-1] == ""  # file ends with a newline
    fields = [r.split("\t") for r in rows[:-1]]
    assert [f[0] for f in fields] == ["tab here", "naïve façade"]
    assert fields[0][1:] == ["0.333333", "-2.5e-07", "123457"]  # 6 significant digits
    np.testing.assert_allclose(
        np.array([f[1:] for f in fields], dtype=np.float64),
        [[1 / 3, -2.5e-7, 123456.789]] * 2,
        rtol=1e-5,
    )


def test_invalid_utf8_and_bom_are_tolerated(tmp_path):
    inp = write_bytes(tmp_path / "in.txt", b"\xef\xbb\xbfok\n\xff\xfebad\n")
    enc = FakeEncoder()
    assert embed_file_to_npy(enc, inp, tmp_path / "out.npy", progress=False) == 2
    assert enc.calls == [["ok", "\ufffd\ufffdbad"]]
    assert np.load(tmp_path / "out.npy").shape == (2, 3)


def test_empty_file(tmp_path):
    inp = write_bytes(tmp_path / "in.txt", b"")
    enc = FakeEncoder()
    assert embed_file(enc, inp, tmp_path / "out.npy", progress=False) == 0
    assert np.load(tmp_path / "out.npy").shape == (0, 0)
    assert embed_file(enc, inp, tmp_path / "out.tsv", progress=False) == 0
    assert (tmp_path / "out.tsv").read_text() == ""
    assert enc.calls == []


@pytest.mark.parametrize("writer", [embed_file_to_npy, embed_file_to_tsv])
def test_failure_midway_leaves_no_output(tmp_path, writer):
    inp = write_bytes(tmp_path / "in.txt", b"a\nb\nc\nd\ne\n")
    suffix = ".npy" if writer is embed_file_to_npy else ".tsv"
    out = tmp_path / f"out{suffix}"
    with pytest.raises(RuntimeError, match="encoder crashed"):
        writer(FakeEncoder(fail_on_call=2), inp, out, batch_size=2, progress=False)
    assert sorted(os.listdir(tmp_path)) == ["in.txt"]

    # An existing output is left untouched by a failed run.
    out.write_text("old")
    with pytest.raises(RuntimeError):
        writer(FakeEncoder(fail_on_call=3), inp, out, batch_size=2, progress=False)
    assert out.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["in.txt", out.name]


def test_missing_input_and_bad_suffix(tmp_path):
    missing = tmp_path / "nope.txt"
    for out in ("out.npy", "out.tsv"):
        with pytest.raises(FileNotFoundError, match="nope.txt"):
            embed_file(FakeEncoder(), missing, tmp_path / out, progress=False)
    write_bytes(tmp_path / "in.txt", b"x\n")
    with pytest.raises(ValueError, match="unsupported output format"):
        embed_file(FakeEncoder(), tmp_path / "in.txt", tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()
