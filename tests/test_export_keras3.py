"""Keras 3 users: keras.layers.TFSMLayer inside a Keras 3 model, in a process without tf_keras."""

from __future__ import annotations

import json

import numpy as np
import pytest
from export_cases import OUTPUT_DIM, TEXTS

from conftest import run_python

pytestmark = pytest.mark.slow
# Session fixtures shared with the other test_export_* files (one export, one load each).
pytest_plugins = ["export_fixtures"]

KERAS3 = r"""
import json, sys
import keras  # Keras 3: TF_USE_LEGACY_KERAS is unset / 0 in this process
import numpy as np
import tensorflow as tf
import tensorflow_text  # registers the SentencePiece ops before the SavedModel loads

paths, texts, out = json.loads(sys.argv[1]), eval(sys.argv[2]), sys.argv[3]
assert keras.__version__.startswith("3."), keras.__version__
assert tf.keras.__version__.startswith("3."), "tf.keras should be Keras 3 here"
text = keras.Input(shape=(), dtype="string", name="text")
embed = keras.layers.TFSMLayer(paths["text_encoder"], call_endpoint="serving_default",
                               trainable=False)
vectors = embed(text)["outputs"]
embedder = keras.Model(text, vectors)
# A frozen encoder under a trainable head: the usual Keras 3 transfer-learning setup.
classifier = keras.Model(text, keras.layers.Dense(2)(vectors))
classifier.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
data = tf.data.Dataset.from_tensor_slices(
    (tf.constant(["the cat", "le chien", "red sun", "lune bleu"]), tf.constant([0, 1, 0, 1])))
history = classifier.fit(data.batch(2), epochs=1, verbose=0)
np.save(out, embedder.predict(tf.constant(texts), verbose=0))
print("RESULT", json.dumps({"loss": history.history["loss"],
                            "tf_keras_loaded": "tf_keras" in sys.modules}))
"""


def test_tfsm_layer_in_keras3_model_matches_hub_keras_layer(export_dir, hub_keras_layer, tmp_path):
    out = str(tmp_path / "keras3.npy")
    result = run_python(
        ["-c", KERAS3, json.dumps(export_dir), repr(TEXTS), out], env={"TF_USE_LEGACY_KERAS": "0"}
    )
    facts = json.loads(result.stdout.split("RESULT", 1)[1])
    assert np.isfinite(facts["loss"]).all()
    assert not facts["tf_keras_loaded"]
    vectors = np.load(out)
    assert vectors.shape == (len(TEXTS), OUTPUT_DIM)
    np.testing.assert_allclose(vectors, hub_keras_layer[0]["text_encoder"], atol=1e-5)
