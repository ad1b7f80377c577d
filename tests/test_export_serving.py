"""The TF Serving export: version layout, signature contract, warmup requests, saved_model_cli.

No TF Serving binary can be installed here, so these tests check everything TF Serving reads
(the folder layout, the `serving_default` signature, the warmup TFRecord) and run the model the
way it would, through the signature, in fresh processes.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from export_cases import (
    OUTPUT_DIM,
    SERVING_VERSION,
    TEXTS,
    parse_batching_parameters,
    read_metadata,
)

from conftest import run_python

pytestmark = pytest.mark.slow
# Session fixtures shared with the other test_export_* files (one export, one load each).
pytest_plugins = ["export_fixtures"]


def test_versioned_layout_keeps_other_versions(export_dir):
    base = export_dir["serving_base"]
    # TF Serving serves the highest all-digit folder; nothing else may look like a version.
    assert sorted(os.listdir(base)) == ["1", str(SERVING_VERSION), "batching_parameters.txt"]
    with open(os.path.join(base, "1", "keep.txt")) as f:
        assert f.read() == "an earlier release\n"
    version = export_dir["serving"]
    for name in (
        "saved_model.pb",
        "variables/variables.index",
        "assets/sentencepiece.model",
        "assets.extra/tf_serving_warmup_requests",
    ):
        assert os.path.exists(os.path.join(version, name)), name
    # Not the 0700 of a temporary folder: a server running as another user must read it.
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(version).st_mode & 0o777 == 0o777 & ~umask
    metadata = read_metadata(version)
    assert metadata["serving_version"] == SERVING_VERSION
    assert metadata["serving_dtype"] == "float32"  # the default, whatever the training used
    assert metadata["requires"] == ["tensorflow_text"]  # see the README on TF Serving builds


def test_serving_default_signature(python_api):
    _, facts = python_api
    assert facts["signature"] == {
        "inputs": {"inputs": ["string", [None]]},
        "outputs": {"outputs": ["float32", [None, OUTPUT_DIM]]},
    }


def test_warmup_requests_decode_and_run(python_api, export_dir):
    arrays, facts = python_api
    warmup = facts["warmup"]
    # One request per batch size the server's batching allows (batching_parameters.txt).
    allowed = read_metadata(export_dir["serving"])["batching_parameters"]
    assert [w["batch"] for w in warmup] == allowed["allowed_batch_sizes"]
    for i, request in enumerate(warmup):
        assert request["signature_name"] == "serving_default" and request["inputs"] == ["inputs"]
        assert all(request["texts"]), "warmup requests should be realistic sentences"
        served = arrays[f"warmup_{i}"]
        assert served.shape == (request["batch"], OUTPUT_DIM)
        np.testing.assert_allclose(np.linalg.norm(served, axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(served, arrays[f"warmup_{i}_direct"], atol=1e-6)


def test_batching_parameters_beside_the_versions(export_dir):
    with open(os.path.join(export_dir["serving_base"], "batching_parameters.txt")) as f:
        parsed = parse_batching_parameters(f.read())
    recorded = read_metadata(export_dir["serving"])["batching_parameters"]
    assert parsed.max_batch_size.value == recorded["max_batch_size"] == 64
    assert list(parsed.allowed_batch_sizes) == recorded["allowed_batch_sizes"]
    assert parsed.allowed_batch_sizes[-1] == parsed.max_batch_size.value
    assert parsed.num_batch_threads.value == recorded["num_batch_threads"] >= 1


def test_warmup_file_is_tfrecord_of_prediction_logs(export_dir):
    # Decoded here with the tensorflow_serving protos directly, as TF Serving does.
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(export_dir["serving"], "assets.extra", "tf_serving_warmup_requests")
    logs = [
        prediction_log_pb2.PredictionLog.FromString(r.numpy())
        for r in tf.data.TFRecordDataset(path)
    ]
    assert 1 <= len(logs) <= 1000  # TF Serving replays at most 1000
    for log in logs:
        assert log.WhichOneof("log_type") == "predict_log"
        tensor = log.predict_log.request.inputs["inputs"]
        assert tensor.dtype == tf.string.as_datatype_enum
        assert [d.size for d in tensor.tensor_shape.dim] == [len(tensor.string_val)]


def test_saved_model_cli_run_matches_python_api(export_dir, python_api, tmp_path):
    run_python(
        [
            "-m",
            "xling_tf.saved_model_cli",
            "run",
            "--dir",
            export_dir["serving"],
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
            "--input_exprs",
            f"inputs={TEXTS!r}",
            "--outdir",
            str(tmp_path),
        ]
    )
    np.testing.assert_allclose(np.load(tmp_path / "outputs.npy"), python_api[0]["e2e"], atol=1e-5)


def test_serving_version_must_be_a_non_negative_int():
    from xling_tf.export import serving

    assert serving.version_dir("base", 3) == os.path.join("base", "3")
    for bad in (-1, "1", 1.0, True):
        with pytest.raises(ValueError):
            serving.version_dir("base", bad)


def test_load_text_encoder_resolves_export_layouts(export_dir):
    from xling_tf.inference import resolve_saved_model

    assert resolve_saved_model(export_dir["root"]) == export_dir["text_encoder"]
    # TF Serving's rule: the highest version folder holding a SavedModel.
    assert resolve_saved_model(export_dir["serving_base"]) == export_dir["serving"]
    assert resolve_saved_model(export_dir["encoder"]) == export_dir["encoder"]
    with pytest.raises(FileNotFoundError):
        resolve_saved_model(os.path.join(export_dir["serving_base"], "1"))
