"""Tests for xling_tf.data.pairs (TSV pair files)."""

from __future__ import annotations

import os

from xling_tf.data import pairs

import pytest


def _write_bytes(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_good_file_reads_all_rows(tmp_path):
    data = b'hello\tbonjour\nthank you\tmerci\textra\r\n"quoted, ok"\tb\n'
    path = _write_bytes(tmp_path, "good.tsv", data)
    stats = pairs.ReadStats()
    rows = list(pairs.iter_rows(path, stats=stats))
    assert rows == [
        ("hello", "bonjour"),
        ("thank you", "merci", "extra"),
        ('"quoted, ok"', "b"),
    ]
    assert stats == pairs.ReadStats(rows=3, skipped=0, first_errors=[])


def test_leading_bom_is_dropped(tmp_path):
    path = _write_bytes(tmp_path, "bom.tsv", "\ufeffa\tb\n".encode())
    assert list(pairs.iter_rows(path)) == [("a", "b")]


def test_missing_column_names_file_and_line(tmp_path):
    path = _write_bytes(tmp_path, "train.tsv", b"a\tb\nc\td\nonly one column\ne\tf\n")
    with pytest.raises(pairs.MalformedRowError) as info:
        list(pairs.iter_rows(path))
    err = info.value
    assert err.path == path
    assert err.line_number == 3
    assert str(err) == f"{path}:3: expected at least 2 tab-separated columns, got 1"
    assert isinstance(err, ValueError)


@pytest.mark.parametrize(
    "line, reason",
    [
        (b"\tb", "column 1 is empty"),
        (b"a\t", "column 2 is empty"),
        (b"a\t  ", "column 2 is whitespace only"),
    ],
)
def test_empty_required_field(tmp_path, line, reason):
    path = _write_bytes(tmp_path, "f.tsv", b"a\tb\n" + line + b"\n")
    with pytest.raises(pairs.MalformedRowError, match=f":2: {reason}$") as info:
        list(pairs.iter_rows(path))
    assert info.value.line_number == 2


def test_empty_optional_field_is_fine(tmp_path):
    path = _write_bytes(tmp_path, "f.tsv", b"a\tb\t\n")
    assert list(pairs.iter_rows(path)) == [("a", "b", "")]


def test_blank_line_is_malformed(tmp_path):
    path = _write_bytes(tmp_path, "f.tsv", b"a\tb\n\nc\td\n")
    with pytest.raises(pairs.MalformedRowError, match=r":2: blank line") as info:
        list(pairs.iter_rows(path))
    assert info.value.line_number == 2


def test_invalid_utf8_reports_its_line(tmp_path):
    path = _write_bytes(tmp_path, "f.tsv", b"a\tb\nc\td\n\xff\xfe\tx\ne\tf\n")
    with pytest.raises(pairs.MalformedRowError, match=r":3: invalid UTF-8") as info:
        list(pairs.iter_rows(path))
    assert info.value.line_number == 3
    assert "0xff" in str(info.value)


def test_skip_mode_counts_and_yields_good_rows(tmp_path):
    path = _write_bytes(
        tmp_path,
        "dirty.tsv",
        b"a\tb\n"  # 1 ok
        b"lonely\n"  # 2 too few columns
        b"\n"  # 3 blank
        b"\xff\xfe\tx\n"  # 4 bad UTF-8
        b"c\td\n"  # 5 ok
        b" \te\n"  # 6 whitespace field
        b"g\th\n",  # 7 ok
    )
    stats = pairs.ReadStats()
    rows = list(pairs.iter_rows(path, on_error="skip", stats=stats))
    assert rows == [("a", "b"), ("c", "d"), ("g", "h")]
    assert stats.rows == 3
    assert stats.skipped == 4
    assert all(msg.startswith(f"{path}:") for msg in stats.first_errors)
    line_numbers = [msg[len(path) + 1 :].split(":")[0] for msg in stats.first_errors]
    assert line_numbers == ["2", "3", "4", "6"]


def test_skip_mode_keeps_only_first_ten_messages(tmp_path):
    path = _write_bytes(tmp_path, "f.tsv", b"bad\n" * 25 + b"a\tb\n")
    stats = pairs.validate_pairs_file(path, on_error="skip")
    assert (stats.rows, stats.skipped) == (1, 25)
    assert len(stats.first_errors) == pairs.MAX_RECORDED_ERRORS == 10
    assert stats.first_errors[-1].startswith(f"{path}:10:")


def test_max_columns(tmp_path):
    path = _write_bytes(tmp_path, "f.tsv", b"a\tb\tc\na\tb\tc\td\n")
    assert pairs.validate_pairs_file(path, max_columns=4).rows == 2
    with pytest.raises(
        pairs.MalformedRowError, match=r":2: expected at most 3 tab-separated columns, got 4"
    ):
        pairs.validate_pairs_file(path, max_columns=3)
    with pytest.raises(pairs.MalformedRowError, match=r":1: expected at most 2"):
        pairs.validate_pairs_file(path, max_columns=2)


def test_min_columns_three(tmp_path):
    path = _write_bytes(tmp_path, "f.tsv", b"a\tb\tc\na\tb\n")
    with pytest.raises(pairs.MalformedRowError, match=r":2: expected at least 3"):
        pairs.validate_pairs_file(path, min_columns=3)


def test_bad_arguments_raise_eagerly(tmp_path):
    path = _write_bytes(tmp_path, "f.tsv", b"a\tb\n")
    with pytest.raises(ValueError, match="on_error"):
        pairs.iter_rows(path, on_error="ignore")
    with pytest.raises(ValueError, match="max_columns"):
        pairs.iter_rows(path, min_columns=3, max_columns=2)
    with pytest.raises(ValueError, match="min_columns"):
        pairs.iter_rows(path, min_columns=0)


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope" / "train.tsv")
    with pytest.raises(FileNotFoundError, match="not found") as info:
        pairs.iter_rows(path)  # Raised by the call itself, not on first next().
    assert path in str(info.value)
    with pytest.raises(FileNotFoundError):
        pairs.validate_pairs_file(path)


def test_write_rows_round_trip(tmp_path):
    path = str(tmp_path / "sub" / "dir" / "out.tsv")
    rows = [("hello", "bonjour"), ["a", "b", "c"], ("é ü", "ß")]
    assert pairs.write_rows(path, rows) == 3
    with open(path, "rb") as f:
        assert f.read() == "hello\tbonjour\na\tb\tc\né ü\tß\n".encode()
    assert list(pairs.iter_rows(path)) == [tuple(r) for r in rows]
    assert os.listdir(os.path.dirname(path)) == ["out.tsv"]  # No temp file left behind.


@pytest.mark.parametrize("bad", ["a\tb", "a\nb", "a\rb"])
def test_write_rows_refuses_tab_and_newline_and_keeps_old_file(tmp_path, bad):
    path = str(tmp_path / "out.tsv")
    pairs.write_rows(path, [("old", "content")])
    with pytest.raises(ValueError, match=r"row index 2, column 2: field contains a tab or newline"):
        pairs.write_rows(path, [("x", "y"), ("x", "y"), ("x", bad), ("never", "written")])
    # Atomic: the failed write neither replaced nor truncated the previous file.
    assert open(path, encoding="utf-8").read() == "old\tcontent\n"
    assert os.listdir(tmp_path) == ["out.tsv"]


def test_write_rows_rejects_non_strings(tmp_path):
    with pytest.raises(TypeError, match="row index 0"):
        pairs.write_rows(str(tmp_path / "a.tsv"), ["ab"])
    with pytest.raises(TypeError, match="row index 1, column 1: expected str"):
        pairs.write_rows(str(tmp_path / "b.tsv"), [("a", "b"), (1, "b")])


def test_read_aligned_pairs_text_files(tmp_path):
    src = _write_bytes(tmp_path, "tatoeba.fra-eng.eng", b"Hello.\r\nThanks.\n")
    tgt = _write_bytes(tmp_path, "tatoeba.fra-eng.fra", b"Bonjour.\nMerci.")
    assert pairs.read_aligned_pairs(src, tgt) == [
        ("Hello.", "Bonjour."),
        ("Thanks.", "Merci."),
    ]


def test_read_aligned_pairs_text_files_count_mismatch(tmp_path):
    src = _write_bytes(tmp_path, "a.eng", b"1\n2\n3\n")
    tgt = _write_bytes(tmp_path, "a.fra", b"1\n2\n")
    with pytest.raises(ValueError) as info:
        pairs.read_aligned_pairs(src, tgt)
    message = str(info.value)
    assert f"{src} has 3 lines" in message
    assert f"{tgt} has 2 lines" in message


def test_read_aligned_pairs_text_files_bad_lines(tmp_path):
    src = _write_bytes(tmp_path, "a.eng", b"1\n\n")
    tgt = _write_bytes(tmp_path, "a.fra", b"1\n2\n")
    with pytest.raises(pairs.MalformedRowError, match=r"a\.eng:2: blank line"):
        pairs.read_aligned_pairs(src, tgt)
    bad = _write_bytes(tmp_path, "b.fra", b"1\n\xff\n")
    with pytest.raises(pairs.MalformedRowError, match=r"b\.fra:2: invalid UTF-8"):
        pairs.read_aligned_pairs(tgt, bad)
    with pytest.raises(FileNotFoundError):
        pairs.read_aligned_pairs(src, str(tmp_path / "missing.fra"))


# --- any tf.io.gfile filesystem: TensorFlow's in-memory `ram://` stands in for gs:// ---------


def _ram_dir(name: str) -> str:
    """A fresh folder on TensorFlow's in-memory filesystem (shared by the whole process)."""
    import tensorflow as tf

    folder = f"ram://test_pairs/{name}"
    if tf.io.gfile.exists(folder):
        tf.io.gfile.rmtree(folder)
    return folder


def test_pairs_round_trip_on_a_remote_filesystem():
    import tensorflow as tf

    folder = _ram_dir("round_trip")
    path = f"{folder}/corpus/train.tsv"
    assert pairs.write_rows(path, [("hello", "bonjour"), ("a\u3000b", "c")]) == 2
    assert list(pairs.iter_rows(path)) == [("hello", "bonjour"), ("a\u3000b", "c")]
    assert pairs.read_aligned_pairs(path) == [("hello", "bonjour"), ("a\u3000b", "c")]
    assert pairs.count_lines(path) == 2
    # Nothing but the file itself is left in its folder (no temporary file).
    assert tf.io.gfile.listdir(f"{folder}/corpus") == ["train.tsv"]
    with pytest.raises(FileNotFoundError):
        pairs.iter_rows(f"{folder}/missing.tsv")


def test_atomic_write_on_a_remote_filesystem_keeps_the_old_file_on_failure():
    import tensorflow as tf

    folder = _ram_dir("atomic")
    path = f"{folder}/deep/er/vocab.txt"
    assert pairs.write_bytes_atomically(path, b"first\n") == path
    with pytest.raises(RuntimeError, match="midway"):
        with pairs.atomic_output(path) as f:
            f.write("half of a second version")
            raise RuntimeError("midway")
    with tf.io.gfile.GFile(path, "rb") as f:
        assert f.read() == b"first\n"
    assert tf.io.gfile.listdir(f"{folder}/deep/er") == ["vocab.txt"]
    pairs.write_bytes_atomically(path, b"second\n")
    with tf.io.gfile.GFile(path, "rb") as f:
        assert f.read() == b"second\n"


def test_lines_are_split_on_newline_only_across_read_chunks(tmp_path, monkeypatch):
    # A tiny chunk makes lines span reads; a lone "\r" stays inside its field (GFile's own
    # line iterator would drop it), a "\r\n" ending is removed, a last line without "\n" counts.
    monkeypatch.setattr(pairs, "_READ_CHUNK", 3)
    path = _write_bytes(tmp_path, "chunks.tsv", b"abc\tdef\r\nx\ry\tz\nlast\tone")
    assert list(pairs.iter_rows(path)) == [("abc", "def"), ("x\ry", "z"), ("last", "one")]
    assert pairs.count_lines(path) == 3
