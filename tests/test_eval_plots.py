"""PNG plots of evaluation results: valid images from results.json files, clear errors."""

from __future__ import annotations

import json

from xling_tf.evaluation import plots

import numpy as np
import pytest

from conftest import assert_png


def retrieval_record(dataset: str, languages: str, pool_p1: float | None, full_p1: float):
    distractors = None
    if pool_p1 is not None:
        distractors = {"mean": {"p@1": pool_p1}, "pool_size": 1000}
    return {
        "task": "retrieval",
        "dataset": dataset,
        "languages": languages,
        "metrics": {"distractors": distractors, "full_pool": {"mean": {"p@1": full_p1}}},
    }


def results(*records):
    other = {"task": "mining", "dataset": "bible", "languages": "en-fr", "metrics": {}}
    return {"tasks": [*records, other]}


MODEL_A = results(
    retrieval_record("bible", "en-fr", 0.84, 0.68), retrieval_record("gettext", "en-fr", None, 0.4)
)
MODEL_B = results(retrieval_record("bible", "en-fr", 0.95, 0.9))


def test_retrieval_values_per_panel():
    assert plots._retrieval_values(MODEL_A, "pool") == {"bible en-fr": 0.84}
    assert plots._retrieval_values(MODEL_A, "full") == {"bible en-fr": 0.68, "gettext en-fr": 0.4}


def test_retrieval_bars_compare_models(tmp_path):
    path = plots.plot_retrieval_bars([("a", MODEL_A), ("b", MODEL_B)], str(tmp_path / "p1.png"))
    assert_png(path)
    with pytest.raises(ValueError, match="at least one results file"):
        plots.plot_retrieval_bars([], str(tmp_path / "none.png"))


def test_plots_command_reads_results_files(tmp_path, capsys):
    paths = []
    for name, data in (("a", MODEL_A), ("b", MODEL_B)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps({**data, "model": name}), encoding="utf-8")
    out = tmp_path / "compare" / "p1.png"
    plots.main(["--results", *map(str, paths), "--output", str(out)])
    assert capsys.readouterr().out.strip() == str(out)
    assert_png(out)


def test_similarity_heatmap(tmp_path):
    labels = ["en 1", "en 2", "fr 1", "fr 2"]
    similarity = np.array(
        [[1, 0.1, 0.9, 0], [0.1, 1, 0, 0.8], [0.9, 0, 1, 0.2], [0, 0.8, 0.2, 1]], np.float32
    )
    assert_png(plots.plot_similarity_heatmap(similarity, labels, str(tmp_path / "h.png"), "t"))
    with pytest.raises(ValueError, match=r"must be \[n, n\]"):
        plots.plot_similarity_heatmap(similarity[:3], labels, str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match="3 labels for a 4-row matrix"):
        plots.plot_similarity_heatmap(similarity, labels[:3], str(tmp_path / "x.png"))


def test_projection(tmp_path):
    points = np.random.default_rng(0).normal(size=(6, 2))
    path = plots.plot_projection(
        points, ["en", "en", "fr", "fr", "de", "de"], [0, 1, 0, 1, 0, 1], str(tmp_path / "p.png")
    )
    assert_png(path)
    with pytest.raises(ValueError, match=r"must be \[n, 2\]"):
        plots.plot_projection(np.zeros((6, 3)), ["en"] * 6, [0] * 6, str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match="same length"):
        plots.plot_projection(points, ["en"] * 5, [0] * 6, str(tmp_path / "x.png"))


def test_training_curves_without_logs_is_none(tmp_path):
    assert plots.plot_training_curves(str(tmp_path), str(tmp_path / "c.png")) is None
    assert not (tmp_path / "c.png").exists()


@pytest.mark.slow
def test_training_curves_from_tensorboard_logs(tmp_path):
    import tensorflow as tf

    # A multi-task layout: one event folder per task under train/.
    for task, scale in (("translation", 1.0), ("nli_en", 2.0)):
        writer = tf.summary.create_file_writer(str(tmp_path / "train" / task))
        with writer.as_default():
            for step in range(1, 6):
                tf.summary.scalar("training_loss", scale / step, step=step)
                tf.summary.scalar("accuracy", 1 - 1 / (step + 1), step=step)
                tf.summary.scalar("learning_rate", 0.1, step=step)  # neither panel
        writer.close()
    series = plots.read_training_series(str(tmp_path))
    steps, values = zip(*series["loss"]["translation/training_loss"], strict=True)
    assert steps == (1, 2, 3, 4, 5) and values == pytest.approx([1, 1 / 2, 1 / 3, 1 / 4, 1 / 5])
    assert series["loss"]["nli_en/training_loss"][0] == (1, 2.0)
    assert sorted(series["accuracy"]) == ["nli_en/accuracy", "translation/accuracy"]
    assert series["accuracy"]["nli_en/accuracy"][-1][1] == pytest.approx(5 / 6)
    path = plots.plot_training_curves(str(tmp_path), str(tmp_path / "curves.png"))
    assert path == str(tmp_path / "curves.png")
    assert_png(path)
