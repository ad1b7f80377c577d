"""Mixed precision as a config switch (runtime.mixed_precision_dtype), a few steps on a CPU."""

from __future__ import annotations

import json
import math
import os

import xling_tf  # noqa: F401
from xling_tf.evaluation.tensorboard_logs import read_scalars

import pytest
import tensorflow as tf

from conftest import run_python

pytestmark = pytest.mark.slow

# Trains the tiny experiment once per dtype in one fresh process (the dtype policy is
# process-global: it is reset between the runs) and reports, per run, the dtype policies of
# the trained model's layers and its variables' dtypes.
_TRAIN_SCRIPT = """
import json, sys
from xling_tf import train
import tf_keras
from official.core import exp_factory
root, train_path, *dtypes = sys.argv[1:]
for dtype in dtypes:
    tf_keras.mixed_precision.set_global_policy("float32")
    tf_keras.backend.clear_session()
    params = exp_factory.get_exp_config("tiny")
    params.override({
        "runtime": {"mixed_precision_dtype": dtype},
        "task": {"train_data": {"input_path": train_path}},
        "trainer": {"train_steps": 4, "checkpoint_interval": 4, "steps_per_loop": 2,
                    "summary_interval": 2},
    })
    model, _ = train.run(params, f"{root}/{dtype}")
    layers = [m for m in model.submodules if isinstance(m, tf_keras.layers.Layer) and m.weights]
    print("REPORT " + json.dumps({
        "dtype": dtype,
        "policies": sorted({layer.dtype_policy.name for layer in layers}),
        "dense_compute_dtypes": sorted(
            {l.compute_dtype for l in layers if isinstance(l, tf_keras.layers.EinsumDense)}),
        "variable_dtypes": sorted({v.dtype.name for v in model.variables}),
    }), flush=True)
"""
DTYPES = ["float16", "bfloat16"]


@pytest.fixture(scope="module")
def mixed_precision_runs(tmp_path_factory, corpus_dir) -> tuple[str, dict[str, dict]]:
    """(root folder with one run per dtype, dtype -> that run's report)."""
    root = str(tmp_path_factory.mktemp("mixed_precision"))
    train_path = os.path.join(corpus_dir, "train.tsv")
    result = run_python(["-c", _TRAIN_SCRIPT, root, train_path, *DTYPES])
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    reports = [json.loads(line.removeprefix("REPORT ")) for line in lines]
    return root, {report["dtype"]: report for report in reports}


LOSS_SCALE = "optimizer/loss_scale/current_loss_scale/.ATTRIBUTES/VARIABLE_VALUE"


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_few_mixed_precision_steps_on_cpu(mixed_precision_runs, dtype):
    root, reports = mixed_precision_runs
    model_dir = os.path.join(root, dtype)
    report = reports[dtype]

    # Layers compute in the mixed dtype; their variables stay float32.
    assert f"mixed_{dtype}" in report["policies"]
    assert report["dense_compute_dtypes"] == [dtype]
    assert report["variable_dtypes"] == ["float32"]

    losses = read_scalars(os.path.join(model_dir, "train", "translation"), "training_loss")
    assert [step for step, _ in losses] == [2, 4]
    assert all(math.isfinite(loss) for _, loss in losses), losses

    # float16 trains through Model Garden's LossScaleOptimizer (dynamic loss scaling), whose
    # scale is checkpointed; bfloat16 has float32's exponent range and needs none.
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(model_dir))
    names = reader.get_variable_to_shape_map()
    if dtype == "float16":
        assert LOSS_SCALE in names
        assert reader.get_tensor(LOSS_SCALE) > 0
    else:
        assert not any("loss_scale" in name for name in names)
    weights = [n for n in names if n.startswith("encoder/") and "OPTIMIZER_SLOT" not in n]
    assert weights and all(reader.get_tensor(n).dtype.name == "float32" for n in weights)
