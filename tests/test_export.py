"""The exported SavedModel, loaded in fresh processes the way users load it."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from conftest import EXPORT_TEXTS, run_python, trained_model_vectors

pytestmark = pytest.mark.slow

TEXTS = EXPORT_TEXTS

HUB_KERAS_LAYER = """
import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np, tensorflow as tf, tensorflow_hub as hub, tensorflow_text, tf_keras
path, texts, out = sys.argv[1], eval(sys.argv[2]), sys.argv[3]
layer = hub.KerasLayer(path, trainable=True)
text = tf_keras.layers.Input(shape=(), dtype=tf.string)
logits = tf_keras.layers.Dense(2)(layer(text))
model = tf_keras.Model(text, logits)
vectors = layer(tf.constant(texts)).numpy()
before = [v.numpy().copy() for v in layer.trainable_variables]
model.compile(tf_keras.optimizers.SGD(0.1),
              tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.train_on_batch(tf.constant(["the cat", "le chien", "red sun", "lune bleu"]),
                     tf.constant([0, 1, 0, 1]))
changed = sum(not np.array_equal(b, v.numpy()) for b, v in zip(before, layer.trainable_variables))
np.save(out, vectors)
print("TRAINABLE", len(before), "CHANGED", changed)
"""

SAVED_MODEL_LOAD = """
import sys, numpy as np, tensorflow as tf, tensorflow_text
path, texts = sys.argv[1], eval(sys.argv[2])
loaded = tf.saved_model.load(path)
direct = loaded(tf.constant(texts)).numpy()
served = loaded.signatures["serving_default"](inputs=tf.constant(texts))["outputs"].numpy()
empty = loaded.signatures["serving_default"](inputs=tf.constant([], tf.string))["outputs"]
assert np.allclose(direct, served, atol=1e-6)
print("SHAPE", direct.shape, "EMPTY", tuple(empty.shape), "TRAINABLE",
      len(loaded.trainable_variables))
print("NORMS", np.linalg.norm(direct, axis=1).round(5).tolist())
"""


@pytest.fixture(scope="module")
def consumers(exported_model, tmp_path_factory) -> tuple[str, str]:
    """(stdout, hub.npy path) of one fresh process that runs HUB_KERAS_LAYER and then
    SAVED_MODEL_LOAD: two ways users load the export, for the cost of one process start."""
    out = str(tmp_path_factory.mktemp("consumers") / "hub.npy")
    result = run_python(
        ["-c", HUB_KERAS_LAYER + SAVED_MODEL_LOAD, exported_model, repr(TEXTS), out]
    )
    return result.stdout, out


@pytest.fixture(scope="module")
def reference_vectors(trained_run, tmp_path_factory) -> np.ndarray:
    return trained_model_vectors(
        trained_run, TEXTS, str(tmp_path_factory.mktemp("ref") / "ref.npy")
    )


def test_layout_and_vocabulary_asset(exported_model):
    assert os.path.exists(os.path.join(exported_model, "saved_model.pb"))
    assert os.path.exists(os.path.join(exported_model, "assets", "sentencepiece.model"))
    with open(os.path.join(exported_model, "assets.extra", "xling_tf.json")) as f:
        metadata = json.load(f)
    assert metadata["output_dim"] == 24 and metadata["normalized"] is True
    assert not [n for n in os.listdir(os.path.dirname(exported_model)) if ".tmp-" in n]


def test_hub_keras_layer_matches_trained_model_and_fine_tunes(consumers, reference_vectors):
    stdout, out = consumers
    np.testing.assert_allclose(np.load(out), reference_vectors, atol=1e-5)
    trainable, changed = (int(x) for x in stdout.split("TRAINABLE", 1)[1].split()[0:3:2])
    assert trainable > 0 and changed > trainable // 2, stdout


def test_saved_model_load_and_signature(consumers, reference_vectors):
    stdout, _ = consumers
    assert f"SHAPE {reference_vectors.shape}" in stdout
    assert "EMPTY (0, 24)" in stdout
    norms = json.loads(stdout.split("NORMS", 1)[1])
    np.testing.assert_allclose(norms, 1.0, atol=1e-4)


def test_saved_model_cli_run(exported_model, reference_vectors, tmp_path):
    run_python(
        [
            "-m",
            "xling_tf.saved_model_cli",
            "run",
            "--dir",
            exported_model,
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
            "--input_exprs",
            f"inputs={TEXTS[:3]!r}",
            "--outdir",
            str(tmp_path),
        ]
    )
    np.testing.assert_allclose(np.load(tmp_path / "outputs.npy"), reference_vectors[:3], atol=1e-5)


def test_reexport_replaces_atomically(trained_run, exported_model, tmp_path):
    # A copy: the shared export may be read by other tests (and xdist workers) meanwhile.
    exported_model = shutil.copytree(exported_model, str(tmp_path / "export" / "encoder"))
    before = os.stat(os.path.join(exported_model, "saved_model.pb")).st_mtime_ns
    run_python(
        [
            "-m",
            "xling_tf.export.export_hub",
            f"--model_dir={trained_run}",
            f"--export_path={exported_model}",
        ]
    )
    assert os.stat(os.path.join(exported_model, "saved_model.pb")).st_mtime_ns != before
    siblings = os.listdir(os.path.dirname(exported_model))
    assert siblings == [os.path.basename(exported_model)], siblings


def test_failed_export_keeps_the_previous_model(exported_model, tmp_path):
    # A model_dir without checkpoints makes the export fail before anything is swapped.
    bad_dir = tmp_path / "no_ckpt"
    bad_dir.mkdir()
    result = run_python(
        [
            "-m",
            "xling_tf.export.export_hub",
            f"--model_dir={bad_dir}",
            f"--export_path={exported_model}",
        ],
        check=False,
    )
    assert result.returncode != 0 and "params.yaml" in result.stderr
    assert os.path.exists(os.path.join(exported_model, "saved_model.pb"))
