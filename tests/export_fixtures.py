"""Session fixtures shared by the tests of every exported artifact (tests/test_export_*.py).

One `export_hub --export_dir` run writes all artifacts (conftest.export_dir, which the
suite's other export users share); a few fresh processes then load them the way each kind of
user does and save what they saw, and many small tests assert on that.
Batching the consumers this way keeps the suite within minutes: a fresh TensorFlow process
costs 10-20 s here, most of it imports.

Test modules register this file with `pytest_plugins = ["export_fixtures"]`: a plugin's
session fixtures run once per session, while fixtures imported into several modules would run
once per module.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from export_cases import BAD_INPUTS, TEXTS

from conftest import build_once, run_python

# Plain TensorFlow users: tf.saved_model.load (== hub.load) of every artifact, called directly.
PYTHON_API = r"""
import json, sys
import numpy as np
import tensorflow as tf
import tensorflow_text  # registers the SentencePiece ops before loading
from xling_tf.export import serving

paths, inputs, texts, out = json.loads(sys.argv[1]), eval(sys.argv[2]), eval(sys.argv[3]), sys.argv[4]
text_encoder = tf.saved_model.load(paths["text_encoder"])
preprocessor = tf.saved_model.load(paths["preprocessor"])
encoder = tf.saved_model.load(paths["encoder"])
served = tf.saved_model.load(paths["serving"]).signatures["serving_default"]
arrays, facts = {}, {}

def strings(items):
    return tf.constant([t.encode("utf-8") if isinstance(t, str) else t for t in items],
                       dtype=tf.string)

def chain(batch):
    outputs = encoder(preprocessor(batch))
    return {k: v.numpy() for k, v in outputs.items()}

# 1. Awkward input through every model, as one batch and one string at a time.
bad = strings(list(inputs.values()))
arrays["bad_e2e"] = text_encoder(bad).numpy()
arrays["bad_e2e_single"] = np.concatenate([text_encoder(bad[i:i + 1]).numpy()
                                           for i in range(len(inputs))])
arrays["bad_serving"] = served(inputs=bad)["outputs"].numpy()
bad_chain = chain(bad)
arrays["bad_chain_pooled"] = bad_chain["pooled_output"]
arrays["bad_chain_default"] = bad_chain["default"]
empty = tf.constant([], tf.string)
empty_features = preprocessor(empty)
facts["empty_batch"] = {
    "e2e": text_encoder(empty).shape.as_list(),
    "serving": served(inputs=empty)["outputs"].shape.as_list(),
    "preprocessor": {k: v.shape.as_list() for k, v in empty_features.items()},
    "encoder": {k: v.shape.as_list() for k, v in encoder(empty_features).items()},
    "tokenize": preprocessor.tokenize(empty).shape.as_list(),
}

# 2. The text API on ordinary text.
batch = strings(texts)
arrays["e2e"] = text_encoder(batch).numpy()
features = preprocessor(batch)
for name, value in features.items():
    arrays["pre_" + name] = value.numpy()
facts["pre_dtypes"] = {k: v.dtype.name for k, v in features.items()}
facts["tokenize"] = preprocessor.tokenize(batch).to_list()
facts["special_tokens"] = {k: int(v) for k, v in preprocessor.tokenize.get_special_tokens_dict().items()}
outputs = encoder(features)
for name, value in outputs.items():
    arrays["enc_" + name] = value.numpy()
left, right = preprocessor.tokenize(batch[:2]), preprocessor.tokenize(batch[2:4])
for name, value in preprocessor.bert_pack_inputs([left, right]).items():
    arrays["pair_" + name] = value.numpy()
for name, value in preprocessor.bert_pack_inputs([left, right], seq_length=8).items():
    arrays["pair8_" + name] = value.numpy()
arrays["pair_pooled"] = encoder(preprocessor.bert_pack_inputs([left, right]))["pooled_output"].numpy()

# 3. TF Serving: the signature's contract and its warmup requests, replayed.
inputs_spec = served.structured_input_signature[1]
outputs_spec = served.structured_outputs
facts["signature"] = {
    "inputs": {k: [v.dtype.name, v.shape.as_list()] for k, v in inputs_spec.items()},
    "outputs": {k: [v.dtype.name, v.shape.as_list()] for k, v in outputs_spec.items()},
}
facts["warmup"] = []
for i, log in enumerate(serving.read_warmup_requests(paths["serving"])):
    request = log.predict_log.request
    texts_in = tf.make_ndarray(request.inputs["inputs"])
    vectors = served(**{k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()})
    arrays[f"warmup_{i}"] = vectors["outputs"].numpy()
    arrays[f"warmup_{i}_direct"] = text_encoder(tf.constant(texts_in)).numpy()
    facts["warmup"].append({"signature_name": request.model_spec.signature_name,
                            "inputs": sorted(request.inputs), "batch": len(texts_in),
                            "texts": [t.decode("utf-8") for t in texts_in]})
np.savez(out + ".npz", **arrays)
with open(out + ".json", "w") as f:
    json.dump(facts, f)
"""


@pytest.fixture(scope="session")
def python_api(export_dir, tmp_path_factory) -> tuple[dict, dict]:
    """What a fresh tf.saved_model.load process sees: (arrays, facts), see PYTHON_API."""

    def load(folder) -> str:
        out = str(folder / "result")
        run_python(["-c", PYTHON_API, json.dumps(export_dir), repr(BAD_INPUTS), repr(TEXTS), out])
        return out

    out = build_once(tmp_path_factory, "python_api", load)
    with np.load(out + ".npz") as data:
        arrays = dict(data)
    with open(out + ".json") as f:
        return arrays, json.load(f)


# tf_keras users: hub.KerasLayer on the end-to-end model, and the text API fine-tuned.
HUB_KERAS_LAYER = r"""
import json, os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np, tensorflow as tf, tensorflow_hub as hub, tensorflow_text, tf_keras
paths, texts, out = json.loads(sys.argv[1]), eval(sys.argv[2]), sys.argv[3]
text_encoder = hub.KerasLayer(paths["text_encoder"])
preprocess = hub.KerasLayer(paths["preprocessor"], name="preprocessor")
encode = hub.KerasLayer(paths["encoder"], trainable=True, name="encoder")

text = tf_keras.layers.Input(shape=(), dtype=tf.string)
pooled = encode(preprocess(text))["pooled_output"]
classifier = tf_keras.Model(text, tf_keras.layers.Dense(2)(pooled))
vectors = text_encoder(tf.constant(texts)).numpy()
chain = encode(preprocess(tf.constant(texts)))["pooled_output"].numpy()
before = [v.numpy().copy() for v in encode.trainable_variables]
classifier.compile(tf_keras.optimizers.SGD(0.1),
                   tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
classifier.train_on_batch(tf.constant(["the cat", "le chien", "red sun", "lune bleu"]),
                          tf.constant([0, 1, 0, 1]))
changed = sum(not np.array_equal(b, v.numpy())
              for b, v in zip(before, encode.trainable_variables))
np.savez(out, text_encoder=vectors, chain=chain)
print("TRAINABLE", len(before), "CHANGED", changed)
"""


@pytest.fixture(scope="session")
def hub_keras_layer(export_dir, tmp_path_factory) -> tuple[dict, int, int]:
    """(arrays, trainable variable count, changed by one step), see HUB_KERAS_LAYER."""

    def load(folder) -> tuple[str, str]:
        out = str(folder / "hub.npz")
        result = run_python(["-c", HUB_KERAS_LAYER, json.dumps(export_dir), repr(TEXTS), out])
        return out, result.stdout

    out, stdout = build_once(tmp_path_factory, "hub_keras_layer", load)
    trainable, changed = (int(x) for x in stdout.split("TRAINABLE", 1)[1].split()[::2])
    with np.load(out) as data:
        return dict(data), trainable, changed
