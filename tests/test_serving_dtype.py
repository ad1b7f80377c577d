"""`xling-tf export --serving_dtype`: what the exported graph computes in, whatever the training.

The tiny run trains in float32; it is exported here (in this process: the export restores the
caller's global dtype policy) in each serving dtype and the vectors are compared with the
float32 export's on the held-out test pairs of the synthetic corpus.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from export_cases import read_metadata

from conftest import synthetic_pairs

pytestmark = pytest.mark.slow

# Smallest cosine between a sentence's vector in the serving dtype and in float32 (bfloat16
# keeps 8 significant bits, float16 11), and the largest drop of retrieval P@1 allowed.
MIN_COSINE = {"bfloat16": 0.99, "float16": 0.999}
MAX_P_AT_1_DROP = 0.005


@pytest.fixture(scope="module")
def exports(tmp_path_factory, trained_run) -> dict[str, str]:
    """serving dtype -> an `export_text_encoder(..., serving_dtype=...)` folder."""
    from xling_tf.export import export_hub

    import tf_keras

    root = tmp_path_factory.mktemp("serving_dtype")
    paths = {}
    for dtype in ("float32", "bfloat16", "float16"):
        paths[dtype] = export_hub.export_text_encoder(
            trained_run, str(root / dtype), serving_dtype=dtype
        )
        # The export builds its layers under its own policy and leaves the caller's alone.
        assert tf_keras.mixed_precision.global_policy().name == "float32"
    return paths


@pytest.fixture(scope="module")
def test_pairs(corpus_dir) -> tuple[list[str], list[str]]:
    # The corpus's own 120 test pairs plus more from the same synthetic language, so that
    # one flipped query moves P@1 by less than the allowed drop.
    rows = synthetic_pairs(600, seed=2)
    return [s for s, _ in rows], [t for _, t in rows]


def _vectors(path: str, texts: list[str]) -> np.ndarray:
    from xling_tf.inference import load_text_encoder

    return load_text_encoder(path)(texts)


def _mean_p_at_1(source: np.ndarray, target: np.ndarray) -> float:
    from xling_tf.evaluation.retrieval import full_pool_metrics

    return float(full_pool_metrics(source, target, ks=(1,))["mean"]["p@1"])


def test_metadata_records_the_serving_dtype(exports):
    for dtype, path in exports.items():
        assert read_metadata(path)["serving_dtype"] == dtype


def test_the_graph_computes_in_the_serving_dtype(exports):
    import tensorflow as tf

    for dtype, path in exports.items():
        loaded = tf.saved_model.load(path)
        graph = loaded.signatures["serving_default"].graph.as_graph_def()
        matmul_types = {
            tf.dtypes.as_dtype(node.attr["T"].type).name
            for function in graph.library.function
            for node in function.node_def
            if node.op in ("MatMul", "BatchMatMulV2", "Einsum")
        }
        assert matmul_types == {dtype}, (dtype, matmul_types)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_vectors_and_p_at_1_stay_close_to_float32(exports, test_pairs, dtype):
    source, target = test_pairs
    reference = [_vectors(exports["float32"], texts) for texts in (source, target)]
    served = [_vectors(exports[dtype], texts) for texts in (source, target)]
    for vectors, expected in zip(served, reference, strict=True):
        assert vectors.dtype == np.float32 and vectors.shape == expected.shape
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-3)
        cosines = np.sum(vectors * expected, axis=1)
        assert cosines.min() >= MIN_COSINE[dtype], cosines.min()
        assert np.abs(vectors - expected).max() > 1e-6  # it really computed in another dtype
    reference_p_at_1 = _mean_p_at_1(*reference)
    assert reference_p_at_1 > 0.5  # a model that retrieves, so a drop could show
    drop = reference_p_at_1 - _mean_p_at_1(*served)
    print(f"{dtype}: min cosine {cosines.min():.6f}, P@1 {reference_p_at_1:.4f} - {drop:+.4f}")
    assert drop <= MAX_P_AT_1_DROP, (drop, reference_p_at_1)


def test_a_bad_serving_dtype_fails_before_restoring(trained_run, tmp_path):
    from xling_tf.export import export_hub

    with pytest.raises(ValueError, match="serving_dtype"):
        export_hub.export_text_encoder(trained_run, str(tmp_path / "x"), serving_dtype="int8")
    assert not os.path.exists(tmp_path / "x")
