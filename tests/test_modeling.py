"""Encoder layers: shapes, masking, gradient multiplier, get_config round trips."""

from __future__ import annotations

import xling_tf  # noqa: F401
from xling_tf.modeling.dual_encoder import DualEncoder
from xling_tf.modeling.encoder import SentenceEncoder
from xling_tf.modeling.normalization import l2_normalization
from xling_tf.modeling.pooling import MaskedMeanPooling
from xling_tf.modeling.token_embedding import TextEmbedding, scale_gradient

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

SMALL = dict(
    vocab_size=50,
    hidden_size=16,
    num_layers=2,
    num_attention_heads=2,
    inner_dim=32,
    output_dim=12,
    max_sequence_length=10,
    dropout_rate=0.0,
    attention_dropout_rate=0.0,
)


def _inputs(batch=3, seq=7, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 50, size=(batch, seq)).astype(np.int32)
    mask = np.ones((batch, seq), np.int32)
    mask[0, 4:] = 0
    ids[0, 4:] = 0
    return {"input_word_ids": tf.constant(ids), "input_mask": tf.constant(mask)}


def test_masked_mean_pooling_by_hand():
    seq = tf.constant(
        [[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]], [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]]
    )
    mask = tf.constant([[1, 1, 0], [0, 0, 0]])
    np.testing.assert_allclose(MaskedMeanPooling("mean")(seq, mask), [[2.0, 3.0], [0.0, 0.0]])
    np.testing.assert_allclose(
        MaskedMeanPooling("sqrt_length")(seq, mask),
        [[4.0 / np.sqrt(2), 6.0 / np.sqrt(2)], [0.0, 0.0]],
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="pooling mode"):
        MaskedMeanPooling("max")


def test_scale_gradient_is_identity_forward_and_scales_backward():
    x = tf.constant([1.0, -2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = scale_gradient(x, 100.0)
        loss = tf.reduce_sum(3.0 * y)
    np.testing.assert_allclose(y, x)
    np.testing.assert_allclose(tape.gradient(loss, x), [300.0, 300.0])


def _embed_and_gradients(policy: str, multiplier: float):
    """(output, {table: dense gradient}) of a TextEmbedding with fixed weights under `policy`."""
    previous = tf_keras.mixed_precision.global_policy()
    tf_keras.mixed_precision.set_global_policy(policy)
    try:
        layer = TextEmbedding(
            vocab_size=20,
            width=8,
            max_sequence_length=6,
            gradient_multiplier=multiplier,
            dropout_rate=0.0,
            ngram_buckets=11,
        )
        word_ids = tf.constant([[1, 5, 7, 0], [2, 3, 19, 4]])
        ngram_ids = tf.constant(np.arange(24).reshape(2, 4, 3) % 11, tf.int32)
        layer(word_ids, ngram_ids)
        rng = np.random.default_rng(0)
        # Large values (as trained tables reach) make the old 100 x - 99 x rounding visible.
        layer.set_weights([rng.normal(0, 3, w.shape).astype(np.float32) for w in layer.weights])
        tables = {
            "words": layer._word_embedding.embeddings,
            "ngrams": layer._ngram_embedding.embeddings,
            "positions": layer._position_embedding._position_embeddings,
        }
        upstream = tf.constant(rng.normal(size=(2, 4, 8)), tf.float32)
        with tf.GradientTape() as tape:
            output = layer(word_ids, ngram_ids)
            loss = tf.reduce_sum(tf.cast(output, tf.float32) * upstream)
        gradients = tape.gradient(loss, list(tables.values()))
        dense = {
            name: tf.convert_to_tensor(g).numpy() for name, g in zip(tables, gradients, strict=True)
        }
        return output.numpy(), dense
    finally:
        tf_keras.mixed_precision.set_global_policy(previous)


# Relative precision of a gradient summed in the compute dtype (8 and 11 significant bits).
_GRADIENT_PRECISION = {"mixed_bfloat16": 2**-6, "mixed_float16": 2**-9, "float32": 1e-6}


@pytest.mark.parametrize("policy", sorted(_GRADIENT_PRECISION))
def test_gradient_multiplier_leaves_the_forward_pass_alone_in_every_dtype(policy):
    plain, plain_gradients = _embed_and_gradients(policy, 1.0)
    scaled, scaled_gradients = _embed_and_gradients(policy, 100.0)
    np.testing.assert_array_equal(scaled, plain)
    # Token and n-gram tables learn 100x faster; position embeddings do not.
    for table in ("words", "ngrams"):
        expected = 100.0 * plain_gradients[table]
        assert np.abs(expected).max() > 0
        np.testing.assert_allclose(
            scaled_gradients[table],
            expected,
            rtol=0,
            atol=_GRADIENT_PRECISION[policy] * np.abs(expected).max(),
        )
    np.testing.assert_array_equal(scaled_gradients["positions"], plain_gradients["positions"])


def test_mixed_precision_lookups_under_a_strategy_cast_rows_not_tables():
    """Under a tf.distribute strategy a mixed-precision table would be read, and cast, whole on
    every lookup (a 128k x 256 token table: 20 ms a call on 2 CPU cores). The tables stay
    float32 and only the rows looked up are cast to the compute dtype."""
    previous = tf_keras.mixed_precision.global_policy()
    tf_keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
        with strategy.scope():
            layer = TextEmbedding(
                vocab_size=40, width=8, max_sequence_length=6, dropout_rate=0.0, ngram_buckets=30
            )
            word_ids = tf.constant([[1, 5, 7, 0], [2, 3, 39, 4]])
            ngram_ids = tf.constant(np.arange(24).reshape(2, 4, 3) % 30, tf.int32)
            layer(word_ids, ngram_ids)

        @tf.function
        def step(word_ids, ngram_ids):
            def replica_step(word_ids, ngram_ids):
                with tf.GradientTape() as tape:
                    output = layer(word_ids, ngram_ids, training=True)
                    loss = tf.reduce_sum(tf.cast(output, tf.float32))
                return output, tape.gradient(loss, layer.trainable_variables)

            return strategy.run(replica_step, args=(word_ids, ngram_ids))

        output, _ = step(word_ids, ngram_ids)
        graph = step.get_concrete_function(word_ids, ngram_ids).graph
    finally:
        tf_keras.mixed_precision.set_global_policy(previous)
    assert output.dtype == tf.bfloat16
    half_precision_tables = [
        op.name
        for op in graph.get_operations()
        for tensor in op.outputs
        if tensor.dtype == tf.bfloat16 and tensor.shape.as_list() in ([40, 8], [30, 8])
    ]
    assert not half_precision_tables


def test_encoder_shapes_and_padding_invariance():
    encoder = SentenceEncoder(**SMALL)
    inputs = _inputs()
    out = encoder(inputs)
    assert out["pooled_output"].shape == (3, 12)
    assert out["sequence_output"].shape == (3, 7, 16)
    assert out["default"] is out["pooled_output"]
    # Extra padding must not change a sentence's vector.
    trimmed = {k: v[:1, :4] for k, v in inputs.items()}
    np.testing.assert_allclose(
        encoder(trimmed)["pooled_output"], out["pooled_output"][:1], atol=1e-5
    )


@pytest.mark.parametrize(
    "layer",
    [
        TextEmbedding(vocab_size=20, width=8, max_sequence_length=6, gradient_multiplier=100.0),
        MaskedMeanPooling("sqrt_length"),
        l2_normalization(),
    ],
)
def test_small_layers_round_trip(layer):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_encoder_get_config_round_trip_gives_same_outputs():
    encoder = SentenceEncoder(**SMALL, pooling="sqrt_length", embedding_gradient_multiplier=100.0)
    inputs = _inputs()
    expected = encoder(inputs)["pooled_output"]
    clone = SentenceEncoder.from_config(encoder.get_config())
    clone(inputs)
    clone.set_weights(encoder.get_weights())
    assert clone.get_config() == encoder.get_config()
    np.testing.assert_allclose(clone(inputs)["pooled_output"], expected, atol=1e-6)
    # And through Keras' generic (de)serialisation, as SavedModel metadata uses it.
    revived = tf_keras.layers.deserialize(tf_keras.layers.serialize(encoder))
    assert isinstance(revived, SentenceEncoder)


def test_dual_encoder_shares_weights_and_normalises():
    model = DualEncoder(SentenceEncoder(**SMALL))
    a, b = _inputs(seed=1), _inputs(seed=2)
    negatives = _inputs(batch=6, seed=3)
    out = model(
        {
            "left": a,
            "right": b,
            "negatives": {k: tf.reshape(v, [3, 2, 7]) for k, v in negatives.items()},
        }
    )
    assert out["left"].shape == (3, 12) and out["negatives"].shape == (3, 2, 12)
    np.testing.assert_allclose(np.linalg.norm(out["right"], axis=1), 1.0, rtol=1e-5)
    # Same sentence on either side -> same vector (one shared encoder).
    np.testing.assert_allclose(out["left"], model.embed(a), atol=1e-5)
    np.testing.assert_allclose(
        out["negatives"][1, 0], model.embed({k: v[2:3] for k, v in negatives.items()})[0], atol=1e-5
    )
    clone = DualEncoder.from_config(model.get_config())
    assert clone.encoder.get_config() == model.encoder.get_config()


def _task_model_cases():
    from xling_tf.modeling.heads import DenseTower, NliClassifier
    from xling_tf.modeling.nli import NliModel
    from xling_tf.modeling.quick_thought import QuickThoughtModel

    quick_thought = QuickThoughtModel(
        SentenceEncoder(**SMALL),
        previous_tower=DenseTower((8, 12), name="previous_tower"),
        next_tower=DenseTower((6, 12), name="next_tower"),
        normalize=False,
        name="quick_thought",
    )
    nli = NliModel(
        SentenceEncoder(**SMALL),
        NliClassifier(hidden_size=8, dropout_rate=0.0, name="nli_classifier"),
        name="nli",
    )
    return [
        (
            quick_thought,
            {"current": _inputs(seed=1), "previous": _inputs(seed=2), "next": _inputs(seed=3)},
        ),
        (nli, {"premise": _inputs(seed=4), "hypothesis": _inputs(seed=5)}),
    ]


@pytest.mark.parametrize("index", [0, 1], ids=["quick_thought", "nli"])
def test_task_models_round_trip_through_get_config(index):
    """Quick-Thought and NLI models rebuild from get_config (what Keras saving stores),
    with their heads' settings, and compute the same outputs with the same weights."""
    model, inputs = _task_model_cases()[index]
    expected = model(inputs)
    revived = type(model).from_config(model.get_config())
    assert type(revived) is type(model)
    assert revived.get_config() == model.get_config()
    revived(inputs)
    revived.set_weights(model.get_weights())
    for name, value in revived(inputs).items():
        np.testing.assert_allclose(value, expected[name], atol=1e-5)


def test_adamw_decays_weights_but_no_layer_norm_or_bias():
    from xling_tf.configs.experiments import adamw_warmup_decay

    from official.modeling import optimization

    encoder = SentenceEncoder(**SMALL)
    encoder(_inputs())
    config = adamw_warmup_decay(1e-3, train_steps=10, warmup_steps=2)
    factory = optimization.OptimizerFactory(config)
    optimizer = factory.build_optimizer(factory.build_learning_rate())
    decayed = {
        v.name for v in encoder.trainable_variables if optimizer._do_use_weight_decay(v.name)
    }
    norms_and_biases = {
        v.name
        for v in encoder.trainable_variables
        if v.name.endswith(("/gamma:0", "/beta:0", "/bias:0"))
    }
    assert any("final_norm" in name for name in norms_and_biases)
    assert not decayed & norms_and_biases
    assert decayed == {v.name for v in encoder.trainable_variables} - norms_and_biases


def test_l2_normalization_is_float32_under_mixed_precision():
    tf_keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        layer = l2_normalization()
        out = layer(tf.constant([[3.0, 4.0], [0.0, 0.0]], tf.bfloat16))
    finally:
        tf_keras.mixed_precision.set_global_policy("float32")
    assert out.dtype == tf.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]], atol=1e-7)
