"""`xling_tf.inference.load_text_encoder` and `xling-tf embed` with length-aware batching.

A real (tiny) export, loaded in this process: sorting sentences by length before batching
must give the vectors of input-order batching, in input order, to float tolerance.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from conftest import EXPORT_TEXTS, synthetic_pairs

pytestmark = pytest.mark.slow

# float32 model; only the padded length of a batch differs between the two orders, which
# changes the summation order inside the kernels.
ATOL = 1e-5


def mixed_texts(n: int) -> list[str]:
    """Short, long and awkward sentences in a shuffled order (lengths 0 to 10,000 chars)."""
    rng = random.Random(5)
    rows = [s for pair in synthetic_pairs(n, seed=7) for s in pair]
    texts = rows + [" ".join(rows[i : i + 4]) for i in range(0, len(rows), 4)] + EXPORT_TEXTS
    rng.shuffle(texts)
    return texts


def test_load_text_encoder_sorted_batches_match_input_order(exported_model):
    from xling_tf.inference import load_text_encoder

    texts = mixed_texts(60)
    one_call = load_text_encoder(exported_model, batch_size=len(texts))(texts)
    sorted_batches = load_text_encoder(exported_model, batch_size=8)(texts)
    input_order = load_text_encoder(exported_model, batch_size=8, sort_window=0)(texts)
    assert sorted_batches.shape == (len(texts), one_call.shape[1])
    assert sorted_batches.dtype == np.float32
    np.testing.assert_allclose(sorted_batches, input_order, atol=ATOL)
    np.testing.assert_allclose(sorted_batches, one_call, atol=ATOL)
    # Each row is its own sentence's vector, not a neighbour's (rows differ from each other).
    assert np.linalg.norm(sorted_batches[0] - sorted_batches[1]) > 100 * ATOL
    # Small calls are one model call, empty ones keep the model's width.
    assert load_text_encoder(exported_model)([]).shape == (0, one_call.shape[1])


def test_cli_embed_sorted_windows_match_input_order(exported_model, tmp_path):
    from xling_tf import cli

    texts = [t.replace("\n", " ") for t in mixed_texts(40) if "\x00" not in t]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    outputs = {}
    for window in (0, 16, 8192):
        output = tmp_path / f"out-{window}.npy"
        status = cli.main(
            [
                "embed",
                "--model",
                exported_model,
                "--input",
                str(source),
                "--output",
                str(output),
                "--batch_size",
                "8",
                "--sort_window",
                str(window),
                "--quiet",
            ]
        )
        assert status == 0
        outputs[window] = np.load(output)
    assert outputs[0].shape[0] == len(texts)
    np.testing.assert_allclose(outputs[16], outputs[0], atol=ATOL)
    np.testing.assert_allclose(outputs[8192], outputs[0], atol=ATOL)
