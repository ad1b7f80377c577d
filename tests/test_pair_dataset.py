"""The tf.data pair pipeline: features, hard negatives, length buckets, malformed rows."""

from __future__ import annotations

import os

import xling_tf  # noqa: F401
from xling_tf.data.pair_dataset import make_pair_dataset
from xling_tf.data.pairs import MalformedRowError
from xling_tf.tokenization.sentencepiece_tokenizer import SentencepieceTextTokenizer

import numpy as np
import pytest
import tensorflow as tf

from conftest import synthetic_pairs, write_tsv


def _first_batch(**kwargs):
    return next(iter(make_pair_dataset(**kwargs)))


def test_features_match_direct_tokenization(tmp_path, tokenizer):
    rows = synthetic_pairs(8, seed=3)
    path = write_tsv(str(tmp_path / "p.tsv"), rows)
    batch = _first_batch(
        input_path=path,
        tokenizer=tokenizer,
        batch_size=8,
        is_training=False,
        length_bucketing=False,
    )
    direct = tokenizer(tf.constant([r[0] for r in rows] + [r[1] for r in rows]))
    seq = batch["left"]["input_word_ids"].shape[1]
    assert batch["right"]["input_word_ids"].shape == (8, seq)
    width = direct["input_word_ids"].shape[1]
    padded = np.pad(direct["input_word_ids"].numpy(), [(0, 0), (0, seq - width)])
    np.testing.assert_array_equal(batch["left"]["input_word_ids"], padded[:8])
    np.testing.assert_array_equal(batch["right"]["input_word_ids"], padded[8:])
    np.testing.assert_array_equal(
        batch["left"]["input_mask"].numpy().sum(1), direct["input_mask"].numpy()[:8].sum(1)
    )


def test_hard_negative_columns(tmp_path, tokenizer):
    rows = [(a, b, "le chat", "la lune") for a, b in synthetic_pairs(4, seed=4)]
    path = write_tsv(str(tmp_path / "n.tsv"), rows)
    batch = _first_batch(
        input_path=path, tokenizer=tokenizer, batch_size=4, is_training=False, num_hard_negatives=2
    )
    seq = batch["left"]["input_word_ids"].shape[1]
    assert batch["negatives"]["input_word_ids"].shape == (4, 2, seq)
    expected = tokenizer(tf.constant(["le chat"]))["input_word_ids"][0].numpy()
    np.testing.assert_array_equal(
        batch["negatives"]["input_word_ids"][2, 0, : len(expected)], expected
    )


def test_length_buckets_reduce_padding(tmp_path, tokenizer):
    short = [("cat", "chat")] * 32
    long_ = [(" ".join(["the red cat"] * 5), " ".join(["le chat rouge"] * 5))] * 32
    path = write_tsv(str(tmp_path / "b.tsv"), short + long_)
    dataset = make_pair_dataset(
        input_path=path,
        tokenizer=tokenizer,
        batch_size=8,
        is_training=True,
        shuffle_buffer_size=64,
        seed=0,
    )
    widths = {int(b["left"]["input_word_ids"].shape[1]) for b in dataset.take(8)}
    assert min(widths) <= 4 and max(widths) == 16  # short batches stay short


def test_padding_to_bucket_boundaries_leaves_one_shape_per_bucket(tmp_path, tokenizer):
    """What XLA needs: widths 8 and 16 only (16 tokens, width-8 buckets), not every length."""
    rows = [(" ".join(["the red cat"] * n), " ".join(["le chat rouge"] * n)) for n in range(1, 6)]
    path = write_tsv(str(tmp_path / "w.tsv"), rows * 16)
    dataset = make_pair_dataset(
        input_path=path,
        tokenizer=tokenizer,
        batch_size=4,
        is_training=True,
        shuffle_buffer_size=80,
        seed=0,
        pad_to_bucket_boundary=True,
    )
    widths = {int(b["left"]["input_word_ids"].shape[1]) for b in dataset.take(24)}
    assert widths == {8, 16}


def test_static_shapes_for_tpus(tmp_path, sentencepiece_model):
    tokenizer = SentencepieceTextTokenizer(
        sentencepiece_model, max_seq_length=12, pad_to_max_length=True
    )
    path = write_tsv(str(tmp_path / "s.tsv"), synthetic_pairs(16, seed=5))
    dataset = make_pair_dataset(
        input_path=path, tokenizer=tokenizer, batch_size=8, is_training=False
    )
    assert dataset.element_spec["left"]["input_word_ids"].shape.as_list() == [8, 12]


def test_malformed_rows_raise_or_are_skipped(tmp_path, tokenizer):
    path = tmp_path / "m.tsv"
    path.write_text("a cat\tun chat\nno tab here\nthe sun\tle soleil\n", encoding="utf-8")
    with pytest.raises(MalformedRowError, match=f"{path}:2:"):
        make_pair_dataset(
            input_path=str(path), tokenizer=tokenizer, batch_size=2, is_training=False
        )
    batch = _first_batch(
        input_path=str(path),
        tokenizer=tokenizer,
        batch_size=2,
        is_training=False,
        on_malformed="skip",
    )
    assert batch["left"]["input_word_ids"].shape[0] == 2


def test_missing_input_is_a_clear_error(tmp_path, tokenizer):
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        make_pair_dataset(
            input_path=str(tmp_path / "nothing-here*.tsv"), tokenizer=tokenizer, batch_size=2
        )


def _file_of_each_row(tokenizer, files_rows: dict[str, list]) -> dict[tuple, str]:
    """{token ids of a row's first column (padding stripped): the file it comes from}."""
    owner = {}
    for name, rows in files_rows.items():
        ids = tokenizer(tf.constant([row[0] for row in rows]))["input_word_ids"].numpy()
        for row_ids in ids:
            key = tuple(int(i) for i in row_ids if i)
            assert owner.setdefault(key, name) == name, "marker rows must differ between files"
    return owner


def _files_per_batch(dataset, owner, batches: int) -> list[set[str]]:
    files = []
    for batch in dataset.take(batches):
        rows = batch["left"]["input_word_ids"].numpy()
        files.append({owner[tuple(int(i) for i in row if i)] for row in rows})
    return files


def test_every_batch_holds_rows_of_one_file(tmp_path, tokenizer):
    # Three "sources" with distinct sentences: English, French, and English of another seed.
    files_rows = {
        "en": [(en, en) for en, _ in synthetic_pairs(48, seed=11)],
        "fr": [(fr, fr) for _, fr in synthetic_pairs(24, seed=12)],
        "en2": [(en, en) for en, _ in synthetic_pairs(12, seed=13)],
    }
    paths = {
        name: write_tsv(str(tmp_path / f"{name}.tsv"), rows) for name, rows in files_rows.items()
    }
    owner = _file_of_each_row(tokenizer, files_rows)
    common = dict(
        input_path=",".join(paths.values()),
        tokenizer=tokenizer,
        batch_size=4,
        shuffle_buffer_size=1000,
        seed=3,
    )
    training = _files_per_batch(make_pair_dataset(**common), owner, 60)
    assert all(len(files) == 1 for files in training), training
    drawn = [next(iter(files)) for files in training]
    assert set(drawn) == {"en", "fr", "en2"}
    assert drawn.count("en") > drawn.count("en2")  # drawn in proportion to rows
    # Reproducible: a rebuilt pipeline gives the same batches (resume relies on it).
    assert _files_per_batch(make_pair_dataset(**common), owner, 60) == training
    first = next(iter(make_pair_dataset(**common)))
    again = next(iter(make_pair_dataset(**common)))
    np.testing.assert_array_equal(first["left"]["input_word_ids"], again["left"]["input_word_ids"])
    # Sharded across two input pipelines, with fixed shapes, and in evaluation order.
    sharded = make_pair_dataset(
        **common, input_context=tf.distribute.InputContext(num_input_pipelines=2)
    )
    assert all(len(files) == 1 for files in _files_per_batch(sharded, owner, 30))
    static = make_pair_dataset(**common, static_shapes=True)
    assert static.element_spec["left"]["input_word_ids"].shape == (4, 16)
    assert all(len(files) == 1 for files in _files_per_batch(static, owner, 30))
    evaluation = _files_per_batch(make_pair_dataset(**common, is_training=False), owner, 100)
    assert evaluation == [{"en"}] * 12 + [{"fr"}] * 6 + [{"en2"}] * 3
    # The pipeline can tell the files apart: mixing them puts several in one batch.
    mixed = _files_per_batch(make_pair_dataset(**common, batch_per_file=False), owner, 30)
    assert any(len(files) > 1 for files in mixed)


def test_each_version_of_a_file_is_validated_once(tmp_path, tokenizer, monkeypatch):
    from xling_tf.data import pair_dataset, pairs

    path = write_tsv(str(tmp_path / "once.tsv"), synthetic_pairs(8, seed=5))
    validated = []
    real_validate = pairs.validate_pairs_file

    def counting_validate(file, *args, **kwargs):
        validated.append(file)
        return real_validate(file, *args, **kwargs)

    monkeypatch.setattr(pairs, "validate_pairs_file", counting_validate)
    build = dict(input_path=path, tokenizer=tokenizer, batch_size=4, is_training=False)
    make_pair_dataset(**build)
    make_pair_dataset(**build)  # e.g. the second build of a resumed multi-task run
    assert validated == [path]
    # Other rules (here: three columns) are another validation.
    with pytest.raises(MalformedRowError, match="at least 3"):
        make_pair_dataset(**build, num_hard_negatives=1)
    assert validated == [path, path]
    # A changed file (new size and time) is read again, and its new rows are counted.
    write_tsv(path, synthetic_pairs(12, seed=6))
    os.utime(path, ns=(1, 1))
    assert pair_dataset.validate_files([path], 2, "raise") == [12]
    assert validated == [path, path, path]
