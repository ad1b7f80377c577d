"""The `xling-tf` command line: subcommands, clear errors, and the main job end to end."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from conftest import MAIN_JOB_RUN_NAME, MAIN_JOB_STEPS, MAIN_JOB_TEST_PAIRS, run_python

CLI = ["-m", "xling_tf.cli"]


def test_prepare_data_writes_held_out_split(tmp_path):
    pytest.importorskip("sqlite3")
    result = run_python(
        CLI
        + [
            "prepare-data",
            "--out",
            str(tmp_path),
            "--pairs",
            "en-es",
            "--train_translations",
            "primary",
            "--max_test_pairs",
            "50",
        ]
    )
    assert "en-es:" in result.stdout
    test_rows = (tmp_path / "en-es" / "test.tsv").read_text(encoding="utf-8").splitlines()
    assert len(test_rows) == 50
    assert test_rows[0].startswith("The book of the generation of Jesus Christ")


# Errors are checked in this process through cli.main, which `xling-tf` runs and exits with
# (a fresh process costs ~15 s; tests/test_reliability.py checks the exit code of one).


def test_unknown_language_is_a_clear_error(tmp_path, capsys):
    from xling_tf import cli

    for pairs, expected in [
        ("en-xx", "Unsupported language 'xx'; supported: ['de', 'en', 'es', 'fr']"),
        ("en", "Language pair must look like 'en-fr', got 'en'"),
        ("fr-fr", "Source and target language must differ, got 'fr' twice"),
    ]:
        assert cli.main(["prepare-data", "--out", str(tmp_path), "--pairs", pairs]) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert error == [f"xling-tf prepare-data: error: {expected}"]
    assert os.listdir(tmp_path) == []  # checked before anything is written


@pytest.mark.slow
def test_embed_and_eval_retrieval(exported_model, corpus_dir, tmp_path):
    sentences = tmp_path / "sentences.txt"
    sentences.write_bytes(b"the cat\n\nle chat\n" + b"\xff broken\n")
    out = tmp_path / "vectors.npy"
    run_python(
        CLI
        + [
            "embed",
            "--model",
            exported_model,
            "--input",
            str(sentences),
            "--output",
            str(out),
            "--batch_size",
            "2",
            "--quiet",
        ]
    )
    vectors = np.load(out)
    assert vectors.shape == (4, 24) and np.isfinite(vectors).all()

    result = run_python(
        CLI
        + [
            "eval-retrieval",
            "--model",
            exported_model,
            "--pairs",
            os.path.join(corpus_dir, "test.tsv"),
            "--pool_size",
            "100",
            "--output_dir",
            str(tmp_path / "eval"),
        ]
    )
    assert "P@1 (99 distractors)" in result.stdout
    metrics = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert metrics["num_pairs"] == 120
    # 40 steps on the toy language already beat chance (1/100) by far.
    assert metrics["distractors"]["mean"]["p@1"] > 0.1


@pytest.mark.slow
def test_cli_errors_name_the_file(exported_model, tmp_path, capsys):
    from xling_tf import cli

    missing = tmp_path / "missing.txt"
    code = cli.main(
        ["embed", "--model", exported_model, "--input", str(missing)]
        + ["--output", str(tmp_path / "x.npy")]
    )
    assert code == 2 and str(missing) in capsys.readouterr().err
    bad = tmp_path / "bad.tsv"
    bad.write_text("one\ttwo\nonly-one-column\n", encoding="utf-8")
    code = cli.main(["eval-retrieval", "--model", exported_model, "--pairs", str(bad)])
    assert code == 2 and f"{bad}:2:" in capsys.readouterr().err


@pytest.mark.slow
def test_main_job_end_to_end_on_real_bible_text(main_job_run):
    """The README main job (conftest.main_job_run): data, train, export, evaluate, table."""
    workdir = main_job_run["workdir"]
    assert "[4/4]" in main_job_run["stdout"] and "P@1 (999 distractors)" in main_job_run["stdout"]
    run_name = MAIN_JOB_RUN_NAME  # --run_name
    results = json.loads(open(os.path.join(workdir, "results", run_name, "results.json")).read())
    # --max_test_pairs keeps the first held-out pairs, in pools of 1000.
    assert results["retrieval"]["en-fr"]["num_pairs"] == MAIN_JOB_TEST_PAIRS
    assert results["retrieval"]["en-fr"]["distractors"]["num_pools"] == MAIN_JOB_TEST_PAIRS // 1000
    # 15 translation steps of a 1-layer model is no translator, but above chance: 0.001, i.e.
    # 4 expected hits in 4,000; 12 or more hits by chance has probability below 0.001
    # (Poisson). Runs score 0.0045-0.006.
    assert results["retrieval"]["en-fr"]["distractors"]["mean"]["p@1"] >= 0.003
    assert results["train_examples_per_second"] > 0
    # Running it again is safe: training resumes at its last step and trains nothing more,
    # and the export and table of that checkpoint are reused, not made again.
    again = main_job_run["again"]
    assert f"step 10/{MAIN_JOB_STEPS}" not in again
    assert f"is the export of ckpt-{MAIN_JOB_STEPS}, the newest checkpoint: not exported" in again
    with open(os.path.join(workdir, "results", run_name, "results.md"), encoding="utf-8") as f:
        assert f.read() in again
    assert os.listdir(os.path.join(workdir, "exports")) == [run_name]


def test_the_main_jobs_params_override_takes_model_garden_forms_and_names_a_bad_key(tmp_path):
    from xling_tf.train import ConfigError, apply_params_override

    from official.core import exp_factory

    params = exp_factory.get_exp_config("tiny")
    apply_params_override(params, "task.model.encoder.num_layers=3")  # a.b=c
    apply_params_override(params, '{"trainer": {"train_steps": 7}}')  # JSON / YAML
    yaml_file = tmp_path / "override.yaml"
    yaml_file.write_text("task:\n  train_data:\n    global_batch_size: 5\n", encoding="utf-8")
    apply_params_override(params, str(yaml_file))  # a YAML file
    apply_params_override(params, None)  # nothing to do
    assert params.task.model.encoder.num_layers == 3 and params.trainer.train_steps == 7
    assert params.task.train_data.global_batch_size == 5
    with pytest.raises(ConfigError, match="bad --params_override.*no_such_field"):
        apply_params_override(params, "task.model.encoder.no_such_field=1")
    with pytest.raises(ConfigError, match="bad --params_override"):
        apply_params_override(params, str(tmp_path / "missing.yaml"))


def test_main_job_reuses_stored_results_only_for_the_same_checkpoint_and_evaluation(tmp_path):
    from xling_tf.main_job import _checkpoint_identity, _reusable_results

    checkpoint = tmp_path / "run" / "ckpt-5"
    checkpoint.parent.mkdir()
    checkpoint.with_suffix(".index").write_bytes(b"index")
    export = tmp_path / "export"
    (export / "assets.extra").mkdir(parents=True)
    metadata = export / "assets.extra" / "xling_tf.json"
    metadata.write_text(json.dumps({"checkpoint": "ckpt-5"}), encoding="utf-8")
    evaluation = {"language_pairs": ["en-fr"], "max_test_pairs": None}
    stored = {"checkpoint": _checkpoint_identity(str(checkpoint)), "evaluation": evaluation}
    results = tmp_path / "results.json"

    def reused(evaluation=evaluation) -> dict | None:
        return _reusable_results(str(results), str(export), evaluation, str(checkpoint))

    assert reused() is None  # nothing stored yet
    results.write_text(json.dumps(stored), encoding="utf-8")
    assert reused() == stored
    assert reused({**evaluation, "max_test_pairs": 100}) is None
    metadata.write_text(json.dumps({"checkpoint": "ckpt-4"}), encoding="utf-8")
    assert reused() is None  # the export is of another checkpoint
    metadata.write_text(json.dumps({"checkpoint": "ckpt-5"}), encoding="utf-8")
    # A retrained ckpt-5 (a new index file) is not the checkpoint the results measured.
    os.utime(checkpoint.with_suffix(".index"), ns=(1, 1))
    assert reused() is None
