"""The in-graph SentencePiece tokenizer on ordinary and hostile input."""

from __future__ import annotations

import xling_tf  # noqa: F401
from xling_tf.tokenization.sentencepiece_tokenizer import SentencepieceTextTokenizer

import numpy as np
import pytest
import tensorflow as tf

from conftest import HOSTILE


def test_pads_and_masks_a_batch(tokenizer):
    out = tokenizer(tf.constant(["the cat", "the big red dog sleeps"]))
    ids, mask = out["input_word_ids"].numpy(), out["input_mask"].numpy()
    assert ids.dtype == np.int32 and mask.dtype == np.int32
    assert ids.shape == mask.shape and ids.shape[0] == 2
    special = tokenizer.special_tokens
    assert (ids[:, 0] == special["start_of_sequence_id"]).all()
    lengths = mask.sum(axis=1)
    assert lengths[0] < lengths[1] == ids.shape[1]  # padded to the longest row
    assert ids[0, lengths[0] - 1] == special["end_of_segment_id"]
    assert (ids[0, lengths[0] :] == special["padding_id"]).all()


def test_hostile_inputs_never_crash_and_are_bounded(tokenizer):
    out = tokenizer(tf.constant(HOSTILE))
    ids, mask = out["input_word_ids"].numpy(), out["input_mask"].numpy()
    assert ids.shape == (len(HOSTILE), 16)  # the 10,000-character row is truncated at 16
    lengths = mask.sum(axis=1)
    assert lengths[2] == 16
    assert lengths.min() >= 2  # every row keeps [CLS] ... [SEP]
    # Empty and whitespace-only text both become exactly [CLS] [SEP].
    assert lengths[0] == lengths[1] == 2
    np.testing.assert_array_equal(ids[0], ids[1])
    # Non-empty scripts produce real pieces, not nothing.
    assert (lengths[3:] > 2).all()


def test_invalid_utf8_is_replaced_not_dropped(tokenizer):
    bad = tokenizer.tokenize(tf.constant([b"\xff\xfe ok"])).to_list()[0]
    replaced = tokenizer.tokenize(tf.constant(["\ufffd\ufffd ok"])).to_list()[0]
    assert bad == replaced


def test_static_padding_for_tpus(sentencepiece_model):
    tokenizer = SentencepieceTextTokenizer(
        sentencepiece_model, max_seq_length=12, pad_to_max_length=True
    )
    assert tokenizer(tf.constant(["the cat"]))["input_word_ids"].shape == (1, 12)
    assert tokenizer(tf.constant([], tf.string))["input_word_ids"].shape == (0, 12)


def test_empty_batch(tokenizer):
    out = tokenizer(tf.constant([], tf.string))
    assert out["input_word_ids"].shape[0] == 0


def test_control_symbols_typed_as_text_stay_text(tokenizer):
    ids = tokenizer.tokenize(tf.constant(["[CLS]"])).to_list()[0]
    assert tokenizer.special_tokens["start_of_sequence_id"] not in ids


def test_get_config_round_trip(tokenizer):
    clone = SentencepieceTextTokenizer.from_config(tokenizer.get_config())
    text = tf.constant(HOSTILE)
    np.testing.assert_array_equal(clone(text)["input_word_ids"], tokenizer(text)["input_word_ids"])


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.model"):
        SentencepieceTextTokenizer(str(tmp_path / "nope.model"))
