"""The hashed word + n-gram tokenizer end to end: train, export, serve without tensorflow_text.

A tiny run trains with `tokenizer.type=hashed_ngrams`, is exported with xling_tf.export.export_hub, and
the SavedModel is then moved away from its training folder (whose vocabulary is hidden) and
loaded in fresh processes that only import TensorFlow: `tf.saved_model.load` and the stock
`saved_model_cli run` console script, which registers no extra ops.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from xling_tf.evaluation.tensorboard_logs import read_scalars

import numpy as np
import pytest

from conftest import EXPORT_TEXTS, REPO, run_python, train_args, trained_model_vectors

pytestmark = pytest.mark.slow

HASHED_OVERRIDES = (
    "trainer.train_steps=20,trainer.checkpoint_interval=20,trainer.steps_per_loop=5,"
    "trainer.summary_interval=5,task.model.tokenizer.type=hashed_ngrams,"
    "task.model.tokenizer.num_ngram_buckets=2000,task.model.tokenizer.num_oov_buckets=100,"
    "task.model.tokenizer.vocab_size=300"
)

TEXTS = [*EXPORT_TEXTS, "unseenword catz"]

# Deliberately imports nothing from this repository: this is a consumer's process.
PLAIN_TENSORFLOW_LOAD = """
import os, sys
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry
path, texts, out = sys.argv[1], eval(sys.argv[2]), sys.argv[3]

saved_model = saved_model_pb2.SavedModel.FromString(
    open(os.path.join(path, "saved_model.pb"), "rb").read())
ops, functions = set(), set()
for meta_graph in saved_model.meta_graphs:
    library = meta_graph.graph_def.library
    functions.update(f.signature.name for f in library.function)
    ops.update(node.op for node in meta_graph.graph_def.node)
    for f in library.function:
        ops.update(node.op for node in f.node_def)
unregistered = sorted(op for op in ops - functions if op_def_registry.get(op) is None)

loaded = tf.saved_model.load(path)
direct = loaded(tf.constant(texts)).numpy()
serving = loaded.signatures["serving_default"]
served = serving(inputs=tf.constant(texts))["outputs"].numpy()
empty = serving(inputs=tf.constant([], tf.string))["outputs"]
assert np.allclose(direct, served, atol=1e-6)
np.save(out, served)
print("SIGNATURE", sorted(serving.structured_outputs))
print("SHAPE", served.shape, "EMPTY", tuple(empty.shape))
print("UNREGISTERED", unregistered)
print("NORMS", np.linalg.norm(served, axis=1).round(5).tolist())
print("TEXT_IMPORTED", "tensorflow_text" in sys.modules)
"""


def _stdout_field(stdout: str, name: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith(name))[len(name) :].strip()


@pytest.fixture(scope="module")
def hashed_run(tmp_path_factory, corpus_dir) -> dict[str, str]:
    """Trains, records reference vectors, exports, then moves the export and hides the vocab."""
    root = tmp_path_factory.mktemp("hashed")
    model_dir = str(root / "run")
    run_python(train_args(model_dir, os.path.join(corpus_dir, "train.tsv"), HASHED_OVERRIDES))
    reference = str(root / "reference.npy")
    trained_model_vectors(model_dir, TEXTS, reference)
    export_path = str(root / "export" / "encoder")
    run_python(
        [
            "-m",
            "xling_tf.export.export_hub",
            f"--model_dir={model_dir}",
            f"--export_path={export_path}",
        ]
    )
    moved = str(root / "elsewhere" / "encoder")
    os.makedirs(os.path.dirname(moved))
    os.rename(export_path, moved)
    # The only vocabulary left is the one inside the SavedModel's assets/.
    os.rename(os.path.join(model_dir, "vocab"), os.path.join(model_dir, "vocab.hidden"))
    return {"model_dir": model_dir, "reference": reference, "export": moved}


def test_short_training_lowers_the_loss_and_writes_a_word_vocabulary(hashed_run):
    model_dir = hashed_run["model_dir"]
    losses = read_scalars(os.path.join(model_dir, "train", "translation"), "training_loss")
    assert [step for step, _ in losses] == [5, 10, 15, 20]
    assert losses[-1][1] < 0.8 * losses[0][1], losses
    words = open(os.path.join(model_dir, "vocab.hidden", "words.txt"), encoding="utf-8")
    lines = words.read().splitlines()
    assert lines[:4] == ["<pad>", "[CLS]", "[SEP]", "[MASK]"] and "cat" in lines
    params = open(os.path.join(model_dir, "params.yaml"), encoding="utf-8").read()
    assert "hashed_ngrams" in params and "words.txt" in params


def test_export_carries_the_vocabulary_asset(hashed_run):
    export = hashed_run["export"]
    assert os.path.exists(os.path.join(export, "saved_model.pb"))
    assert os.path.exists(os.path.join(export, "assets", "words.txt"))
    assert not os.path.exists(os.path.join(export, "assets", "sentencepiece.model"))
    with open(os.path.join(export, "assets.extra", "xling_tf.json")) as f:
        metadata = json.load(f)
    assert metadata["output_dim"] == 24
    assert not metadata.get("custom_ops") and not metadata.get("requires")


def test_plain_tensorflow_loads_and_runs_the_moved_export(hashed_run, tmp_path):
    out = str(tmp_path / "loaded.npy")
    result = run_python(["-c", PLAIN_TENSORFLOW_LOAD, hashed_run["export"], repr(TEXTS), out])
    stdout = result.stdout
    assert _stdout_field(stdout, "TEXT_IMPORTED") == "False"
    assert _stdout_field(stdout, "UNREGISTERED") == "[]"
    assert _stdout_field(stdout, "SIGNATURE") == "['outputs']"
    assert f"SHAPE ({len(TEXTS)}, 24) EMPTY (0, 24)" in stdout
    np.testing.assert_allclose(json.loads(_stdout_field(stdout, "NORMS")), 1.0, atol=1e-4)
    # The served vectors are the trained model's vectors.
    np.testing.assert_allclose(np.load(out), np.load(hashed_run["reference"]), atol=1e-5)


def test_stock_saved_model_cli_runs_the_export(hashed_run, tmp_path):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    assert os.path.exists(cli), cli
    texts = TEXTS[:3] + ["unseenword catz"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(
        [
            cli,
            "run",
            "--dir",
            hashed_run["export"],
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
            "--input_exprs",
            f"inputs={texts!r}",
            "--outdir",
            str(tmp_path),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    reference = np.load(hashed_run["reference"])
    np.testing.assert_allclose(
        np.load(tmp_path / "outputs.npy"),
        reference[[0, 1, 2, TEXTS.index("unseenword catz")]],
        atol=1e-5,
    )


HUB_KERAS_LAYER = """
import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np, tensorflow as tf, tensorflow_hub as hub, tf_keras
path, texts, out = sys.argv[1], eval(sys.argv[2]), sys.argv[3]
layer = hub.KerasLayer(path, trainable=True)
text = tf_keras.layers.Input(shape=(), dtype=tf.string)
model = tf_keras.Model(text, tf_keras.layers.Dense(2)(layer(text)))
vectors = layer(tf.constant(texts)).numpy()
ngram_tables = [v for v in layer.trainable_variables if "ngram" in v.name]
before = [v.numpy().copy() for v in ngram_tables]
model.compile(tf_keras.optimizers.SGD(0.1),
              tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.train_on_batch(tf.constant(["the cat", "le chien", "red sun", "lune bleu"]),
                     tf.constant([0, 1, 0, 1]))
changed = sum(not np.array_equal(b, v.numpy()) for b, v in zip(before, ngram_tables))
np.save(out, vectors)
print("NGRAM_TABLES", len(ngram_tables), "CHANGED", changed)
print("TEXT_IMPORTED", "tensorflow_text" in sys.modules)
"""


def test_hub_keras_layer_fine_tunes_the_ngram_table(hashed_run, tmp_path):
    out = str(tmp_path / "hub.npy")
    result = run_python(["-c", HUB_KERAS_LAYER, hashed_run["export"], repr(TEXTS), out])
    assert _stdout_field(result.stdout, "TEXT_IMPORTED") == "False"
    assert "NGRAM_TABLES 1 CHANGED 1" in result.stdout, result.stdout
    np.testing.assert_allclose(np.load(out), np.load(hashed_run["reference"]), atol=1e-5)
