"""The TF Hub text API split (preprocessor + encoder), written by one --export_dir command."""

from __future__ import annotations

import os

import numpy as np
import pytest
from export_cases import (
    HIDDEN_SIZE,
    MAX_INPUT_CHARS,
    OUTPUT_DIM,
    SEQ_LENGTH,
    TEXTS,
    read_metadata,
    unit,
)

pytestmark = pytest.mark.slow
# Session fixtures shared with the other test_export_* files (one export, one load each).
pytest_plugins = ["export_fixtures"]


def test_one_command_writes_every_artifact_atomically(export_dir):
    root = export_dir["root"]
    assert sorted(os.listdir(root)) == ["encoder", "preprocessor", "serving", "text_encoder"]
    for name in ("text_encoder", "preprocessor", "encoder"):
        assert os.path.exists(os.path.join(root, name, "saved_model.pb")), name
    # The SentencePiece model travels with every artifact that tokenizes.
    for name in ("text_encoder", "preprocessor"):
        assert os.path.exists(os.path.join(root, name, "assets", "sentencepiece.model")), name
    text_encoder = read_metadata(export_dir["text_encoder"])
    assert text_encoder["normalized"] is True and text_encoder["output_dim"] == OUTPUT_DIM
    assert text_encoder["max_input_chars"] == MAX_INPUT_CHARS
    assert text_encoder["max_seq_length"] == SEQ_LENGTH
    assert text_encoder["requires"] == ["tensorflow_text"]
    preprocessor = read_metadata(export_dir["preprocessor"])
    assert preprocessor["seq_length"] == SEQ_LENGTH and preprocessor["requires"]
    encoder = read_metadata(export_dir["encoder"])
    # The encoder holds no tokenizer, so plain TensorFlow runs it.
    assert encoder["normalized"] is False and encoder["custom_ops"] == []
    assert encoder["inputs"] == ["input_mask", "input_type_ids", "input_word_ids"]
    assert not [n for n in os.listdir(root) if ".tmp-" in n or ".old-" in n]
    print(f"export wall time {export_dir['seconds']:.1f}s")


def test_preprocessor_contract(python_api):
    arrays, facts = python_api
    special = facts["special_tokens"]
    assert {"start_of_sequence_id", "end_of_segment_id", "padding_id", "vocab_size"} <= set(special)
    assert facts["pre_dtypes"] == {
        "input_word_ids": "int32",
        "input_mask": "int32",
        "input_type_ids": "int32",
    }
    word_ids, mask = arrays["pre_input_word_ids"], arrays["pre_input_mask"]
    assert (
        word_ids.shape
        == mask.shape
        == arrays["pre_input_type_ids"].shape
        == (len(TEXTS), SEQ_LENGTH)
    )
    assert not arrays["pre_input_type_ids"].any()
    # Each row is [CLS] + .tokenize()'s pieces + [SEP], then padding under a zero mask.
    for row, pieces, row_mask in zip(word_ids, facts["tokenize"], mask, strict=True):
        length = int(row_mask.sum())
        assert row_mask[:length].all() and not row_mask[length:].any()
        expected = [
            special["start_of_sequence_id"],
            *pieces[: SEQ_LENGTH - 2],
            special["end_of_segment_id"],
        ]
        assert row[:length].tolist() == expected
        assert (row[length:] == special["padding_id"]).all()
    assert facts["tokenize"][4] == []  # "" has no pieces


def test_bert_pack_inputs_packs_sentence_pairs(python_api):
    arrays, facts = python_api
    special = facts["special_tokens"]
    cls, sep = special["start_of_sequence_id"], special["end_of_segment_id"]
    assert arrays["pair_input_word_ids"].shape == (2, SEQ_LENGTH)  # default: max_seq_length
    assert arrays["pair8_input_word_ids"].shape == (2, 8)  # seq_length= overrides it
    for i, (left, right) in enumerate(
        zip(facts["tokenize"][:2], facts["tokenize"][2:4], strict=True)
    ):
        length = 3 + len(left) + len(right)
        assert length <= SEQ_LENGTH  # short enough that nothing is trimmed
        row = arrays["pair_input_word_ids"][i]
        assert row[:length].tolist() == [cls, *left, sep, *right, sep]
        assert arrays["pair_input_type_ids"][i, :length].tolist() == (
            [0] * (len(left) + 2) + [1] * (len(right) + 1)
        )
        assert arrays["pair_input_mask"][i].sum() == length
        # Round-robin trimming keeps both segments (and both [SEP]s) within 8.
        assert arrays["pair8_input_mask"][i].sum() == min(8, length)
        assert (arrays["pair8_input_word_ids"][i] == sep).sum() == 2
    assert np.isfinite(arrays["pair_pooled"]).all()


def test_encoder_outputs_and_chain_equals_end_to_end(python_api):
    arrays, _ = python_api
    pooled = arrays["enc_pooled_output"]
    assert pooled.shape == (len(TEXTS), OUTPUT_DIM)
    assert arrays["enc_sequence_output"].shape == (len(TEXTS), SEQ_LENGTH, HIDDEN_SIZE)
    np.testing.assert_array_equal(arrays["enc_default"], pooled)
    # pooled_output is the vector before L2 normalisation ...
    assert not np.allclose(np.linalg.norm(pooled, axis=1), 1.0, atol=1e-3)
    # ... and normalising it gives exactly the end-to-end model's vector.
    np.testing.assert_allclose(unit(pooled), arrays["e2e"], atol=1e-5)


def test_hub_keras_layer_chain_fine_tunes(hub_keras_layer, python_api):
    arrays, trainable, changed = hub_keras_layer
    np.testing.assert_allclose(arrays["text_encoder"], python_api[0]["e2e"], atol=1e-5)
    np.testing.assert_allclose(unit(arrays["chain"]), arrays["text_encoder"], atol=1e-5)
    # One SGD step through hub.KerasLayer(encoder, trainable=True) moves the encoder weights.
    assert trainable > 0 and changed > trainable // 2, (trainable, changed)


def test_preprocessor_refuses_other_tokenizers():
    from xling_tf.export import text_api

    with pytest.raises(ValueError, match="SentencePiece tokenizer"):
        text_api.check_supports_preprocessor(object())
