"""Cross-replica negatives: R replicas of b rows give the loss, gradient and accuracy of one
replica holding the whole global batch (tests/cross_replica_check.py runs the replicas)."""

from __future__ import annotations

import json
import os

import xling_tf  # noqa: F401

import numpy as np
import pytest
from cross_replica_check import single_replica_reference

from conftest import free_ports, run_python, start_python

CHECK = os.path.join("tests", "cross_replica_check.py")


def _assert_matches_one_replica(result: dict, reference: dict) -> None:
    np.testing.assert_allclose(result["loss"], reference["loss"], rtol=1e-5)
    np.testing.assert_allclose(result["gradient"], reference["gradient"], rtol=1e-4, atol=1e-6)
    assert result["accuracy"] == pytest.approx(reference["accuracy"])
    # Not vacuous: each replica's own softmax (b candidates) gives another loss.
    assert abs(result["per_replica_loss"] - reference["loss"]) > 0.05


def test_two_mirrored_replicas_equal_one_replica_with_the_global_batch():
    reference = single_replica_reference()
    assert 0.0 < min(reference["accuracy"].values()) < 1.0, reference["accuracy"]
    result = json.loads(run_python([CHECK, "mirrored"]).stdout.splitlines()[-1])
    _assert_matches_one_replica(result, reference)


@pytest.mark.slow
def test_two_workers_equal_one_replica_with_the_global_batch(tmp_path):
    ports = ",".join(map(str, free_ports(2)))
    outs = [tmp_path / f"worker{i}.out" for i in range(2)]
    workers = [
        start_python([CHECK, "worker", str(i), ports], outs[i], stderr_path=tmp_path / f"w{i}.log")
        for i in range(2)
    ]
    try:
        codes = [w.wait(timeout=300) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    errors = [(tmp_path / f"w{i}.log").read_text(encoding="utf-8")[-3000:] for i in range(2)]
    assert codes == [0, 0], errors
    outputs = [out.read_text(encoding="utf-8") for out in outs]
    reference = single_replica_reference()
    for output in outputs:
        _assert_matches_one_replica(json.loads(output.splitlines()[-1]), reference)
