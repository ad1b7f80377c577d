"""The core-ops word + character n-gram tokenizer, its embeddings and its config switch."""

from __future__ import annotations

import os

import xling_tf  # noqa: F401
from xling_tf.tokenization.hashed_ngram_tokenizer import (
    CLS_ID,
    RESERVED_TOKENS,
    SEP_ID,
    HashedNgramTokenizer,
    split_words,
    train_word_vocabulary,
)

import numpy as np
import pytest
import tensorflow as tf

from conftest import HOSTILE, run_python

WORDS = ["the", "cat", "dog"]  # ids 4, 5, 6
OOV = 7
NGRAM_BUCKETS = 1000
MAX_NGRAMS = 16


@pytest.fixture
def vocab_file(tmp_path) -> str:
    path = tmp_path / "words.txt"
    path.write_text("\n".join(list(RESERVED_TOKENS) + WORDS) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def tokenizer(vocab_file) -> HashedNgramTokenizer:
    return HashedNgramTokenizer(
        vocab_file,
        max_seq_length=16,
        num_oov_buckets=OOV,
        num_ngram_buckets=NGRAM_BUCKETS,
        max_ngrams_per_word=MAX_NGRAMS,
    )


def expected_ngrams(word: str, orders=(3, 4)) -> list[str]:
    """fastText's n-grams of `<word>`, all 3-grams then all 4-grams (pure Python, by hand)."""
    bounded = f"<{word}>"
    return [bounded[i : i + n] for n in orders for i in range(len(bounded) - n + 1)]


def hashed(ngrams: list[str]) -> list[int]:
    return (tf.strings.to_hash_bucket_fast(ngrams, NGRAM_BUCKETS - 1) + 1).numpy().tolist()


def test_known_and_unknown_word_ids(tokenizer):
    out = tokenizer(tf.constant(["the cat", "dog zebra the", "zebra"]))
    ids = out["input_word_ids"].numpy()
    assert ids.dtype == np.int32 and ids.shape == (3, 5)
    np.testing.assert_array_equal(ids[0], [CLS_ID, 4, 5, SEP_ID, 0])
    assert ids[1, 1] == 6 and ids[1, 3] == 4 and ids[1, 4] == SEP_ID
    # Unknown words hash into the buckets after the 7 vocabulary lines, the same way each time.
    zebra = ids[1, 2]
    assert 7 <= zebra < 7 + OOV and ids[2, 1] == zebra
    assert tokenizer.vocab_size == 7 + OOV == tokenizer.special_tokens["vocab_size"]
    np.testing.assert_array_equal(out["input_mask"].numpy(), (ids != 0).astype(np.int32))


def test_oov_ids_are_stable_across_layers_and_processes(tokenizer, vocab_file):
    words = ["zebra", "giraffe", "ornithorhynque", "猫"]
    ids = tokenizer(tf.constant([" ".join(words)]))["input_word_ids"].numpy()[0, 1:-1].tolist()
    script = (
        "import sys, xling_tf, tensorflow as tf\n"
        "from xling_tf.tokenization.hashed_ngram_tokenizer import HashedNgramTokenizer\n"
        f"t = HashedNgramTokenizer(sys.argv[1], num_oov_buckets={OOV})\n"
        f"print(t(tf.constant([{' '.join(words)!r}]))['input_word_ids'].numpy()[0, 1:-1].tolist())\n"
    )
    result = run_python(["-c", script, vocab_file])
    assert result.stdout.strip().splitlines()[-1] == str(ids)


def test_ngrams_by_hand(tokenizer):
    ngrams = tokenizer(tf.constant(["cat the cat", "a cat"]))["input_ngram_ids"].numpy()
    assert ngrams.dtype == np.int32 and ngrams.shape == (2, 5, MAX_NGRAMS)
    cat = ngrams[0, 1]
    # "<cat>": 3 three-grams and 2 four-grams, in that order, then padding.
    assert expected_ngrams("cat") == ["<ca", "cat", "at>", "<cat", "cat>"]
    assert cat.tolist() == hashed(expected_ngrams("cat")) + [0] * (MAX_NGRAMS - 5)
    assert (cat[:5] >= 1).all() and (cat[:5] < NGRAM_BUCKETS).all()
    # The same word has the same n-grams wherever it is.
    np.testing.assert_array_equal(ngrams[0, 3], cat)
    np.testing.assert_array_equal(ngrams[1, 2], cat)
    # "<a>": one 3-gram, no 4-gram.
    assert ngrams[1, 1].tolist() == hashed(["<a>"]) + [0] * (MAX_NGRAMS - 1)
    # [CLS], [SEP] and padding have no n-grams.
    assert not ngrams[0, [0, 4]].any() and not ngrams[1, [0, 3, 4]].any()


def test_long_word_keeps_evenly_spaced_ngrams(tokenizer):
    word = "abcdefghij"
    every = expected_ngrams(word)
    assert len(every) == 19 > MAX_NGRAMS
    keep = [every[j * len(every) // MAX_NGRAMS] for j in range(MAX_NGRAMS)]
    got = tokenizer(tf.constant([word]))["input_ngram_ids"].numpy()[0, 1]
    assert got.tolist() == hashed(keep)
    assert "<ab" in keep and "ij>" in keep  # prefix and suffix both survive


def test_normalisation_splits_punctuation_symbols_and_han():
    words = split_words(
        tf.constant(
            [
                "Hello, World! ÉCOLE",
                "你好 mixed😀",
                "a\u00a0b\u3000c\td",
                "don't",
                "nul\x00byte",
                "\u200fمرحبا\u200f",
            ]
        )
    )
    assert [[w.decode() for w in row] for row in words.to_list()] == [
        ["hello", ",", "world", "!", "école"],
        ["你", "好", "mixed", "😀"],
        ["a", "b", "c", "d"],
        ["don", "'", "t"],
        ["nul", "byte"],
        ["مرحبا"],  # the right-to-left marks are dropped, so the word is the plain word
    ]
    cased = split_words(tf.constant(["The Cat"]), lower_case=False).to_list()
    assert cased == [[b"The", b"Cat"]]


def test_reserved_ids_cannot_come_from_text(tokenizer):
    ids = tokenizer(tf.constant(["<pad> [CLS] [SEP] [MASK] <PAD>"]))["input_word_ids"].numpy()
    assert ids[0, 0] == CLS_ID and ids[0, -1] == SEP_ID
    assert (ids[0, 1:-1] >= len(RESERVED_TOKENS)).all()


def test_hostile_inputs_never_crash_and_are_bounded(tokenizer):
    out = tokenizer(tf.constant(HOSTILE))
    ids, mask, ngrams = (
        out[k].numpy() for k in ("input_word_ids", "input_mask", "input_ngram_ids")
    )
    lengths = mask.sum(axis=1)
    assert lengths.min() >= 2 and lengths.max() <= 16
    assert ids.shape == mask.shape == (len(HOSTILE), lengths.max())  # padded to the longest
    assert ngrams.shape == (len(HOSTILE), lengths.max(), MAX_NGRAMS)
    # Empty and whitespace-only text both become exactly [CLS] [SEP].
    assert lengths[0] == lengths[1] == 2
    np.testing.assert_array_equal(ids[0], ids[1])
    assert not ngrams[0].any()
    # The 10,000-character word is one (unknown) word with a full set of n-grams.
    assert lengths[2] == 3 and ids[2, 1] >= 7 and (ngrams[2, 1] > 0).all()
    assert (lengths[3:] > 2).all()  # every script yields words
    assert (ngrams >= 0).all() and (ngrams < NGRAM_BUCKETS).all()
    assert (ids >= 0).all() and (ids < tokenizer.vocab_size).all()
    # Every real word has at least one n-gram; nothing else has any.
    has_ngrams = ngrams.any(axis=-1)
    words = mask.astype(bool) & (ids != CLS_ID) & (ids != SEP_ID)
    np.testing.assert_array_equal(has_ngrams, words)


def test_invalid_utf8_is_replaced_not_dropped(tokenizer):
    bad = tokenizer(tf.constant([b"\xff\xfe ok"]))
    replaced = tokenizer(tf.constant(["\ufffd\ufffd ok"]))
    for key in bad:
        np.testing.assert_array_equal(bad[key], replaced[key])


def test_many_words_are_truncated(tokenizer):
    ids = tokenizer(tf.constant([" ".join(["cat"] * 100)]))["input_word_ids"].numpy()
    assert ids.shape == (1, 16) and ids[0, -1] == SEP_ID and (ids[0, 1:-1] == 5).all()


def test_empty_batch_and_static_padding(vocab_file, tokenizer):
    out = tokenizer(tf.constant([], tf.string))
    assert out["input_word_ids"].shape == (0, 0) == out["input_mask"].shape
    assert out["input_ngram_ids"].shape == (0, 0, MAX_NGRAMS)
    padded = HashedNgramTokenizer(
        vocab_file, max_seq_length=12, pad_to_max_length=True, max_ngrams_per_word=4
    )
    assert padded(tf.constant(["the cat"]))["input_word_ids"].shape == (1, 12)
    assert padded(tf.constant(["the cat"]))["input_ngram_ids"].shape == (1, 12, 4)
    empty = padded(tf.constant([], tf.string))
    assert empty["input_word_ids"].shape == (0, 12)
    assert empty["input_ngram_ids"].shape == (0, 12, 4)


def test_row_protocol_for_tf_data(tokenizer):
    row = tokenizer.row_features(tf.constant(["the cat", "dog"]))
    assert set(row) == {"input_word_ids", "input_ngram_ids"}
    assert row["input_word_ids"].shape == (2, 4)
    assert row["input_ngram_ids"].shape == (2, 4, MAX_NGRAMS)
    full = tokenizer(tf.constant(["the cat", "dog"]))
    for key in row:
        np.testing.assert_array_equal(row[key], full[key])
    assert tokenizer.row_padded_shapes(3) == {
        "input_word_ids": [3, None],
        "input_ngram_ids": [3, None, MAX_NGRAMS],
    }


def test_pair_dataset_batches_ngram_ids(tokenizer, corpus_dir):
    from xling_tf.data.pair_dataset import make_pair_dataset

    dataset = make_pair_dataset(
        os.path.join(corpus_dir, "train.tsv"), tokenizer, batch_size=4, is_training=False
    )
    batch = next(iter(dataset))
    for side in ("left", "right"):
        ids, ngrams = batch[side]["input_word_ids"], batch[side]["input_ngram_ids"]
        assert ngrams.shape[:2] == ids.shape and ngrams.shape[2] == MAX_NGRAMS
        np.testing.assert_array_equal(batch[side]["input_mask"], (ids.numpy() != 0))


def test_get_config_round_trip(tokenizer):
    config = tokenizer.get_config()
    clone = HashedNgramTokenizer.from_config(config)
    assert clone.get_config() == config
    text = tf.constant(HOSTILE)
    for key, value in tokenizer(text).items():
        np.testing.assert_array_equal(clone(text)[key], value)


def test_bad_vocabulary_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        HashedNgramTokenizer(str(tmp_path / "nope.txt"))
    plain = tmp_path / "plain.txt"
    plain.write_text("the\ncat\n", encoding="utf-8")
    with pytest.raises(ValueError, match="must start with"):
        HashedNgramTokenizer(str(plain))


def test_train_word_vocabulary_uses_the_layer_normalisation(tmp_path):
    sentences = ["The CAT, the dog!", "the cat sleeps", "Le chat 你好"] * 3
    path = train_word_vocabulary(sentences, str(tmp_path / "v" / "words.txt"), vocab_size=8)
    lines = open(path, encoding="utf-8").read().splitlines()
    assert lines[:4] == list(RESERVED_TOKENS)
    # Counts: the 9, cat 6, then count-3 words in byte order.
    assert lines[4:] == ["the", "cat", "!", ","]
    assert os.listdir(tmp_path / "v") == ["words.txt"]  # no temporary file left behind
    layer = HashedNgramTokenizer(path, num_oov_buckets=3)
    ids = layer(tf.constant(["THE Cat!"]))["input_word_ids"].numpy()[0].tolist()
    assert ids == [CLS_ID, 4, 5, 6, SEP_ID]
    assert layer.vocab_size == 11


def test_traced_graph_uses_only_core_tensorflow_ops(vocab_file):
    """Traced in a process that never imports tensorflow_text; every op must be core TF."""
    script = r"""
import sys
import xling_tf
import tensorflow as tf
from tensorflow.python.framework import op_def_registry
from xling_tf.tokenization.hashed_ngram_tokenizer import HashedNgramTokenizer

layer = HashedNgramTokenizer(sys.argv[1], max_seq_length=8)
call = tf.function(layer.__call__).get_concrete_function(tf.TensorSpec([None], tf.string))
row = tf.function(layer.row_features).get_concrete_function(tf.TensorSpec([None], tf.string))
ops = set()
for function in (call, row):
    graph_def = function.graph.as_graph_def()
    ops.update(node.op for node in graph_def.node)
    for library_function in graph_def.library.function:
        ops.update(node.op for node in library_function.node_def)
unregistered = sorted(op for op in ops if op_def_registry.get(op) is None)
assert not unregistered, unregistered
assert "tensorflow_text" not in sys.modules
print("OPS", " ".join(sorted(ops)))
"""
    result = run_python(["-c", script, vocab_file])
    ops = result.stdout.split("OPS", 1)[1].split()
    assert "LookupTableFindV2" in ops and "StringNGrams" in ops
    suspicious = [
        op
        for op in ops
        if any(
            name in op.lower() for name in ("sentencepiece", "wordpiece", "normalize", "fastbert")
        )
    ]
    assert not suspicious, suspicious


# --- embeddings, encoder and the config switch -------------------------------------------


def test_text_embedding_sums_nonzero_ngrams():
    from xling_tf.modeling.token_embedding import TextEmbedding

    layer = TextEmbedding(
        vocab_size=20, width=8, max_sequence_length=6, dropout_rate=0.0, ngram_buckets=50
    )
    words = tf.constant([[1, 5, 2]])
    ngrams = tf.constant([[[0, 0], [3, 7], [0, 0]]])
    out = layer(words, ngram_ids=ngrams).numpy()
    # Extra all-padding n-gram slots change nothing: id 0 is masked out, not added.
    wider = tf.pad(ngrams, [[0, 0], [0, 0], [0, 3]])
    np.testing.assert_allclose(layer(words, ngram_ids=wider).numpy(), out, atol=1e-6)
    # A token with n-grams differs from the same token without them; the others do not.
    no_ngrams = layer(words, ngram_ids=tf.zeros_like(ngrams)).numpy()
    assert not np.allclose(out[0, 1], no_ngrams[0, 1])
    np.testing.assert_allclose(out[0, [0, 2]], no_ngrams[0, [0, 2]], atol=1e-6)
    # The pre-norm sum is word + n-gram 3 + n-gram 7 (+ positions): check the table rows.
    table = layer._ngram_embedding.embeddings.numpy()
    word_table = layer._word_embedding.embeddings.numpy()
    position = layer._position_embedding._position_embeddings.numpy()[1]
    mixed = word_table[5] + table[3] + table[7] + position
    normed = (mixed - mixed.mean()) / np.sqrt(mixed.var() + 1e-12)
    np.testing.assert_allclose(out[0, 1], normed, atol=1e-4)
    clone = TextEmbedding.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config() and clone.ngram_buckets == 50


def test_text_embedding_without_table_rejects_ngram_ids():
    from xling_tf.modeling.token_embedding import TextEmbedding

    layer = TextEmbedding(vocab_size=20, width=8, max_sequence_length=6)
    layer(tf.constant([[1, 2]]))
    assert [w.name.split("/")[-2] for w in layer.weights][:1] == ["word_embeddings"]
    assert not any("ngram" in w.name for w in layer.weights)
    with pytest.raises(ValueError, match="ngram_buckets is 0"):
        layer(tf.constant([[1, 2]]), ngram_ids=tf.constant([[[1], [2]]]))


def test_encoder_reads_the_tokenizer_output(tokenizer):
    from xling_tf.modeling.encoder import SentenceEncoder

    encoder = SentenceEncoder(
        vocab_size=tokenizer.vocab_size,
        hidden_size=16,
        num_layers=1,
        num_attention_heads=2,
        inner_dim=32,
        output_dim=8,
        max_sequence_length=16,
        dropout_rate=0.0,
        attention_dropout_rate=0.0,
        ngram_buckets=tokenizer.ngram_buckets,
    )
    features = tokenizer(tf.constant(["the cat", "zebra crossing 你好", ""]))
    pooled = encoder(features)["pooled_output"]
    assert pooled.shape == (3, 8)
    assert any("ngram_embeddings" in w.name for w in encoder.weights)
    clone = SentenceEncoder.from_config(encoder.get_config())
    assert clone.get_config() == encoder.get_config()
    # Unknown words with different spellings get different vectors through their n-grams.
    unknown = encoder(tokenizer(tf.constant(["zebra", "zebras", "giraffe"])))["pooled_output"]
    unknown = unknown.numpy()
    assert not np.allclose(unknown[0], unknown[1]) and not np.allclose(unknown[0], unknown[2])


def test_config_switch_builds_tokenizer_encoder_and_vocabulary(tmp_path, corpus_dir):
    import xling_tf.configs.experiments  # noqa: F401  (registers "tiny")
    from xling_tf.modeling.factory import build_encoder, build_tokenizer
    from xling_tf.tokenization.vocabulary import ensure_vocabulary

    from official.core import exp_factory

    params = exp_factory.get_exp_config("tiny")
    params.override(
        {
            "task": {
                "train_data": {"input_path": os.path.join(corpus_dir, "train.tsv")},
                "model": {
                    "tokenizer": {
                        "type": "hashed_ngrams",
                        "num_ngram_buckets": 2000,
                        "num_oov_buckets": 100,
                        "vocab_size": 30,
                    }
                },
            }
        }
    )
    with pytest.raises(ValueError, match="word_vocab_file is empty"):
        build_tokenizer(params.task.model.tokenizer)
    path = ensure_vocabulary(params, str(tmp_path / "run"))
    assert path == str(tmp_path / "run" / "vocab" / "words.txt")
    assert params.task.model.tokenizer.word_vocab_file == path
    assert len(open(path, encoding="utf-8").read().splitlines()) == 30
    tokenizer = build_tokenizer(params.task.model.tokenizer)
    assert isinstance(tokenizer, HashedNgramTokenizer)
    assert tokenizer.vocab_size == 130 and tokenizer.ngram_buckets == 2000
    assert tokenizer.ngram_orders == (3, 4) and tokenizer.max_seq_length == 16
    encoder = build_encoder(
        params.task.model.encoder,
        vocab_size=tokenizer.vocab_size,
        max_sequence_length=16,
        ngram_buckets=tokenizer.ngram_buckets,
    )
    assert encoder.get_config()["ngram_buckets"] == 2000
    assert encoder(tokenizer(tf.constant(["the cat"])))["pooled_output"].shape == (1, 24)
    # A second call reuses the file instead of training again.
    assert ensure_vocabulary(params, str(tmp_path / "elsewhere")) == path
    params.override({"task": {"model": {"tokenizer": {"type": "nope"}}}})
    with pytest.raises(ValueError, match="tokenizer.type"):
        build_tokenizer(params.task.model.tokenizer)


def test_vocabulary_trained_read_and_loaded_on_a_remote_filesystem(corpus_dir):
    # TensorFlow's in-memory `ram://` filesystem stands in for gs://: the training file, the
    # run folder and the vocabulary written into it are all remote paths.
    import xling_tf.configs.experiments  # noqa: F401  (registers "tiny")
    from xling_tf.modeling.factory import build_tokenizer
    from xling_tf.tokenization.vocabulary import ensure_vocabulary

    from official.core import exp_factory

    root = "ram://test_vocabulary"
    if tf.io.gfile.exists(root):
        tf.io.gfile.rmtree(root)
    tf.io.gfile.makedirs(f"{root}/corpus")
    train = f"{root}/corpus/train.tsv"
    tf.io.gfile.copy(os.path.join(corpus_dir, "train.tsv"), train)
    params = exp_factory.get_exp_config("tiny")
    params.override(
        {
            "task": {
                "train_data": {"input_path": train},
                "model": {"tokenizer": {"type": "hashed_ngrams", "vocab_size": 30}},
            }
        }
    )
    path = ensure_vocabulary(params, f"{root}/run")
    assert path == f"{root}/run/vocab/words.txt"
    assert tf.io.gfile.listdir(f"{root}/run/vocab") == ["words.txt"]  # no temporary file left
    with tf.io.gfile.GFile(path) as f:
        assert len(f.read().splitlines()) == 30
    tokenizer = build_tokenizer(params.task.model.tokenizer)
    assert tokenizer(tf.constant(["the cat"]))["input_word_ids"].shape[0] == 1
    # A second run reuses the remote file instead of training again.
    assert ensure_vocabulary(params, f"{root}/run") == path
