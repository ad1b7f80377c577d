"""Awkward input through every exported model: no crash, documented outputs.

Models: the end-to-end text encoder (called directly), the preprocessor -> encoder chain
(pooled_output, L2-normalised here) and the TF Serving `serving_default` signature. Inputs:
see export_cases.BAD_INPUTS.
"""

from __future__ import annotations

import numpy as np
import pytest
from export_cases import BAD_INPUTS, OUTPUT_DIM, SEQ_LENGTH, unit

pytestmark = pytest.mark.slow
# Session fixtures shared with the other test_export_* files (one export, one load each).
pytest_plugins = ["export_fixtures"]

NAMES = list(BAD_INPUTS)
MODELS = ("bad_e2e", "bad_e2e_single", "bad_serving", "bad_chain")


def vectors(arrays: dict, model: str) -> np.ndarray:
    """name -> unit vectors [len(BAD_INPUTS), OUTPUT_DIM] of one model."""
    if model == "bad_chain":
        pooled = arrays["bad_chain_pooled"]
        assert np.isfinite(pooled).all()
        np.testing.assert_array_equal(arrays["bad_chain_default"], pooled)
        return unit(pooled)
    return arrays[model]


def row(model_vectors: np.ndarray, name: str) -> np.ndarray:
    return model_vectors[NAMES.index(name)]


@pytest.mark.parametrize("model", MODELS)
def test_every_input_gives_a_finite_unit_vector(python_api, model):
    result = vectors(python_api[0], model)
    assert result.shape == (len(BAD_INPUTS), OUTPUT_DIM)
    assert np.isfinite(result).all()
    np.testing.assert_allclose(np.linalg.norm(result, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("model", MODELS)
def test_documented_equalities(python_api, model):
    result = vectors(python_api[0], model)
    # Empty and whitespace-only strings are both "[CLS] [SEP]": one fixed vector.
    np.testing.assert_allclose(row(result, "whitespace"), row(result, "empty"), atol=1e-6)
    # Text is cut at max_input_chars characters before tokenization ...
    np.testing.assert_allclose(row(result, "long_10k"), row(result, "long_10k_cut"), atol=1e-6)
    # ... so words after the cut never count, even if everything before it is blank.
    np.testing.assert_allclose(row(result, "spaces_then_text"), row(result, "empty"), atol=1e-6)
    assert not np.allclose(row(result, "text"), row(result, "empty"), atol=1e-3)
    # Invalid UTF-8 bytes are replaced by U+FFFD, not rejected.
    np.testing.assert_allclose(
        row(result, "invalid_utf8"), row(result, "invalid_utf8_replaced"), atol=1e-6
    )


@pytest.mark.parametrize("model", MODELS[1:])
def test_every_model_agrees_with_the_batched_end_to_end_model(python_api, model):
    # Same vectors whether a string comes alone or in a batch, served or split into the TF Hub
    # text API: padding never leaks into the result.
    np.testing.assert_allclose(vectors(python_api[0], model), python_api[0]["bad_e2e"], atol=1e-5)


def test_empty_batch(python_api):
    shapes = python_api[1]["empty_batch"]
    assert shapes["e2e"] == [0, OUTPUT_DIM]
    assert shapes["serving"] == [0, OUTPUT_DIM]
    assert shapes["tokenize"] == [0, None]
    assert shapes["preprocessor"] == {
        name: [0, SEQ_LENGTH] for name in ("input_word_ids", "input_mask", "input_type_ids")
    }
    assert shapes["encoder"]["pooled_output"] == [0, OUTPUT_DIM]
    assert shapes["encoder"]["default"] == [0, OUTPUT_DIM]
    assert shapes["encoder"]["sequence_output"][:2] == [0, SEQ_LENGTH]
