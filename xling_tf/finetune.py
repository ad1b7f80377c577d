"""Fine-tunes an exported text encoder inside a Keras classifier via `hub.KerasLayer`.

  model = build_classifier("exports/demo_distill", num_classes=2)
  fine_tune(model, train_texts, train_labels, head_epochs=1, epochs=3)
  model.predict(tf.constant(["a sentence", "une phrase"]))  # float32 [2, num_classes] logits

Why the learning rate must be small: the encoder arrives with a cross-lingual space in which
translations sit close together. A downstream task usually has far fewer examples, in one
language, than the translation pairs that shaped that space. Large steps (e.g. Adam 1e-3, the
usual rate for a fresh head) rewrite the encoder for the task faster than it can generalise:
sentences collapse onto a few task-separating directions, translations drift apart, and
accuracy on held-out (and other-language) data falls. Hence the recipe of BERT-style
fine-tuning: a randomly initialised head first gets trained with the encoder frozen (its large
early gradients would otherwise flow into the encoder), then everything trains together with
a small rate, `ENCODER_LEARNING_RATE` = 3e-5 (2e-5..1e-4 is the usual range).

Everything is Keras 2 (`tf_keras`), which `hub.KerasLayer` requires; importing `xling_tf`
selects it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import xling_tf  # noqa: F401  (selects tf_keras before TensorFlow loads Keras)

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub

# Registers SentencepieceOp and friends, which the exported graph tokenizes with.
import tensorflow_text  # noqa: F401
import tf_keras

ENCODER_LAYER_NAME = "encoder"
HEAD_LEARNING_RATE = 1e-2
"""Adam rate for the head while the encoder is frozen. The embeddings are unit-norm, so the
head's weights must grow large to give confident logits; 1e-3 gets there slowly."""
ENCODER_LEARNING_RATE = 3e-5
"""Adam rate once the encoder is unfrozen: small, so the pretrained space is kept."""


def build_classifier(
    encoder_path: str,
    num_classes: int,
    trainable: bool = False,
    dropout_rate: float = 0.1,
    seed: int | None = 0,
) -> tf_keras.Model:
    """strings [batch] -> float32 logits [batch, num_classes]: encoder, dropout, dense.

    Args:
      encoder_path: an exported SavedModel (export/export_hub.py) or any TF2 text encoder
        that maps a 1-D tf.string tensor to float32 [batch, dim].
      num_classes: size of the output layer.
      trainable: whether the encoder's weights train from the start. The recommended recipe
        (see `fine_tune`) starts frozen and unfreezes after the head has warmed up.
      dropout_rate: dropout on the sentence embedding, active only in training.
      seed: seeds every Keras/NumPy/Python RNG before the head is created, so two calls with
        the same seed build identical heads (a fair frozen-vs-fine-tuned comparison).
        None leaves the RNGs alone.

    Returns:
      An uncompiled tf_keras.Model; the encoder is `model.get_layer(ENCODER_LAYER_NAME)`.
    """
    if seed is not None:
        tf_keras.utils.set_random_seed(seed)
    text = tf_keras.layers.Input(shape=(), dtype=tf.string, name="text")
    encoder = hub.KerasLayer(encoder_path, trainable=trainable, name=ENCODER_LAYER_NAME)
    embedding = encoder(text)  # float32 [batch, dim]
    dropped = tf_keras.layers.Dropout(dropout_rate, name="dropout")(embedding)
    logits = tf_keras.layers.Dense(num_classes, name="logits")(dropped)
    return tf_keras.Model(text, logits, name="text_classifier")


def set_encoder_trainable(model: tf_keras.Model, trainable: bool) -> None:
    """Freezes or unfreezes the encoder layer. Recompile afterwards for it to take effect."""
    model.get_layer(ENCODER_LAYER_NAME).trainable = trainable


def compile_classifier(model: tf_keras.Model, learning_rate: float) -> None:
    """Adam on sparse softmax cross-entropy over logits, reporting accuracy."""
    model.compile(
        optimizer=tf_keras.optimizers.Adam(learning_rate),
        loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[tf_keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )


def _dataset(
    texts: Sequence[str],
    labels: Sequence[int] | np.ndarray,
    batch_size: int,
    shuffle: bool,
    seed: int,
) -> tf.data.Dataset:
    """(tf.string [batch], int32 [batch]) batches; reshuffled with `seed` every epoch."""
    ds = tf.data.Dataset.from_tensor_slices(
        (tf.constant(list(texts), tf.string), tf.constant(np.asarray(labels), tf.int32))
    )
    if shuffle:
        ds = ds.shuffle(len(texts), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def fine_tune(
    model: tf_keras.Model,
    texts: Sequence[str],
    labels: Sequence[int] | np.ndarray,
    epochs: int = 3,
    head_epochs: int = 1,
    batch_size: int = 32,
    head_learning_rate: float = HEAD_LEARNING_RATE,
    encoder_learning_rate: float = ENCODER_LEARNING_RATE,
    validation_data: tuple[Sequence[str], Sequence[int]] | None = None,
    seed: int = 0,
    verbose: int = 0,
) -> list[tf_keras.callbacks.History]:
    """Trains the head with the encoder frozen, then everything with a small learning rate.

    Args:
      model: from `build_classifier` (any initial `trainable`).
      texts: training sentences, n strings.
      labels: int class ids in [0, num_classes), n of them.
      epochs: epochs with the encoder unfrozen, at `encoder_learning_rate` (0: frozen only).
      head_epochs: warm-up epochs with the encoder frozen, at `head_learning_rate`. They keep
        the large gradients of a random head out of the encoder.
      batch_size: examples per step.
      head_learning_rate: Adam rate of the warm-up.
      encoder_learning_rate: Adam rate of the joint phase (for the head too); 2e-5..1e-4.
      validation_data: optional (texts, labels) evaluated after each epoch.
      seed: shuffling seed.
      verbose: Keras `fit` verbosity.

    Returns:
      The `fit` histories of the phases that ran (warm-up first).
    """
    train = _dataset(texts, labels, batch_size, shuffle=True, seed=seed)
    validation = (
        _dataset(*validation_data, batch_size, shuffle=False, seed=seed)
        if validation_data is not None
        else None
    )
    histories = []
    if head_epochs > 0:
        set_encoder_trainable(model, False)
        compile_classifier(model, head_learning_rate)
        histories.append(
            model.fit(train, epochs=head_epochs, validation_data=validation, verbose=verbose)
        )
    if epochs > 0:
        set_encoder_trainable(model, True)
        # Recompiling builds a fresh optimizer: Adam's moments from the head-only phase have
        # no entries for the encoder variables, and the rate changes anyway.
        compile_classifier(model, encoder_learning_rate)
        histories.append(
            model.fit(train, epochs=epochs, validation_data=validation, verbose=verbose)
        )
    return histories


def train_frozen(
    model: tf_keras.Model,
    texts: Sequence[str],
    labels: Sequence[int] | np.ndarray,
    epochs: int,
    batch_size: int = 32,
    learning_rate: float = HEAD_LEARNING_RATE,
    seed: int = 0,
    verbose: int = 0,
) -> tf_keras.callbacks.History:
    """Trains only the head (the encoder stays fixed): the frozen-feature baseline."""
    set_encoder_trainable(model, False)
    compile_classifier(model, learning_rate)
    return model.fit(
        _dataset(texts, labels, batch_size, shuffle=True, seed=seed), epochs=epochs, verbose=verbose
    )


def accuracy(
    model: tf_keras.Model,
    texts: Sequence[str],
    labels: Sequence[int] | np.ndarray,
    batch_size: int = 256,
) -> float:
    """Fraction of `texts` whose argmax logit equals the label (inference mode)."""
    logits = model.predict(
        tf.constant(list(texts), tf.string), batch_size=batch_size, verbose=0
    )  # float32 [n, num_classes]
    return float(np.mean(np.argmax(logits, axis=-1) == np.asarray(labels)))


def converged_probe_accuracy(
    encoder_path: str,
    train: tuple[Sequence[str], Sequence[int]],
    test: tuple[Sequence[str], Sequence[int]],
    num_classes: int,
    steps: int = 500,
    learning_rate: float = 0.05,
    seed: int = 0,
) -> float:
    """Held-out accuracy of a linear softmax head trained to convergence on frozen embeddings.

    The strongest frozen baseline for a linear head: the embeddings are computed once, then
    the head takes `steps` full-batch Adam steps, far more than a few epochs of minibatches.
    """
    tf_keras.utils.set_random_seed(seed)
    encoder = hub.KerasLayer(encoder_path, trainable=False)
    x_train = encoder(tf.constant(list(train[0]), tf.string))  # float32 [n_train, dim]
    x_test = encoder(tf.constant(list(test[0]), tf.string))  # float32 [n_test, dim]
    head = tf_keras.Sequential([tf_keras.layers.Dense(num_classes)])
    compile_classifier(head, learning_rate)
    head.fit(x_train, np.asarray(train[1]), batch_size=len(train[0]), epochs=steps, verbose=0)
    logits = head.predict(x_test, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == np.asarray(test[1])))


@dataclasses.dataclass
class FrozenVsFineTuned:
    """Held-out accuracies of one head trained two ways on the same data.

    Attributes:
      frozen: head trained on fixed encoder outputs for head_epochs + epochs.
      fine_tuned: same head, head_epochs frozen, then `epochs` with the encoder unfrozen.
      frozen_converged: a linear head trained to convergence on the frozen embeddings
        (`converged_probe_accuracy`), the best the frozen features allow linearly.
    """

    frozen: float
    fine_tuned: float
    frozen_converged: float

    @property
    def gain(self) -> float:
        return self.fine_tuned - self.frozen


def compare_frozen_and_fine_tuned(
    encoder_path: str,
    train: tuple[Sequence[str], Sequence[int]],
    test: tuple[Sequence[str], Sequence[int]],
    num_classes: int,
    epochs: int = 3,
    head_epochs: int = 1,
    batch_size: int = 32,
    head_learning_rate: float = HEAD_LEARNING_RATE,
    encoder_learning_rate: float = ENCODER_LEARNING_RATE,
    dropout_rate: float = 0.1,
    seed: int = 0,
) -> FrozenVsFineTuned:
    """Held-out accuracy of the frozen-encoder baseline vs fine-tuning, compared fairly.

    Both runs build the same head from the same seed, see the same examples in the same order
    for the same number of epochs (head_epochs + epochs), and are scored on `test`, which
    neither trains on. The frozen baseline keeps the head's larger rate throughout, which
    only helps it. `frozen_converged` adds a linear head trained to convergence on the frozen
    embeddings, so a gain cannot come from an under-trained baseline head.
    """
    frozen_model = build_classifier(encoder_path, num_classes, dropout_rate=dropout_rate, seed=seed)
    train_frozen(
        frozen_model,
        *train,
        epochs=head_epochs + epochs,
        batch_size=batch_size,
        learning_rate=head_learning_rate,
        seed=seed,
    )
    frozen = accuracy(frozen_model, *test)
    del frozen_model

    tuned_model = build_classifier(encoder_path, num_classes, dropout_rate=dropout_rate, seed=seed)
    fine_tune(
        tuned_model,
        *train,
        epochs=epochs,
        head_epochs=head_epochs,
        batch_size=batch_size,
        head_learning_rate=head_learning_rate,
        encoder_learning_rate=encoder_learning_rate,
        seed=seed,
    )
    fine_tuned = accuracy(tuned_model, *test)
    del tuned_model
    return FrozenVsFineTuned(
        frozen=frozen,
        fine_tuned=fine_tuned,
        frozen_converged=converged_probe_accuracy(
            encoder_path, train, test, num_classes, seed=seed
        ),
    )


__all__ = [
    "ENCODER_LEARNING_RATE",
    "FrozenVsFineTuned",
    "HEAD_LEARNING_RATE",
    "accuracy",
    "build_classifier",
    "compare_frozen_and_fine_tuned",
    "compile_classifier",
    "converged_probe_accuracy",
    "fine_tune",
    "set_encoder_trainable",
    "train_frozen",
]
