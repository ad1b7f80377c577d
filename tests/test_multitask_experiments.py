"""Registered multi-task experiments and the routine-name grammar that feeds them data."""

from __future__ import annotations

import xling_tf  # noqa: F401
from xling_tf.configs import experiments  # noqa: F401  (registers the experiments)
from xling_tf.data import multitask_corpus

import pytest
from official.core import exp_factory


@pytest.mark.parametrize(
    "name, expected",
    [
        ("translation_en_fr", ("translation", ["en", "fr"])),
        ("quick_thought_en", ("quick_thought", ["en"])),
        ("quick_thought_en_fr_es_de", ("quick_thought", ["en", "fr", "es", "de"])),
        ("response_en_fr", ("response", ["en", "fr"])),
        ("nli_en", ("nli", ["en"])),
    ],
)
def test_parse_routine(name, expected):
    assert multitask_corpus.parse_routine(name) == expected


@pytest.mark.parametrize(
    "name", ["translation_en", "translation_en_fr_de", "quick_thought_", "sentiment_en", "nli"]
)
def test_parse_routine_rejects_names_it_cannot_build(name):
    with pytest.raises(ValueError, match="routine name must be"):
        multitask_corpus.parse_routine(name)


def test_translation_pairs_of_routines():
    names = ["translation_en_fr", "translation_en_de", "quick_thought_en_fr_es", "nli_en"]
    assert multitask_corpus.translation_pairs(names) == [("en", "fr"), ("en", "de")]


def _routines(name: str) -> dict[str, int]:
    params = exp_factory.get_exp_config(name)
    return {
        r.task_name: r.task_config.train_data.global_batch_size for r in params.task.task_routines
    }


def _translation_share(name: str) -> float:
    """The expected share of steps of the translation routines under the config's sampler."""
    params = exp_factory.get_exp_config(name)
    weights = {r.task_name: r.task_weight for r in params.task.task_routines}
    translation = sum(w for n, w in weights.items() if n.startswith("translation_"))
    return translation / sum(weights.values())


def test_main_job_default_is_multitask_and_translation_only_is_its_ablation():
    # One routine per native task and language: no batch mixes languages.
    assert _routines("demo_multitask") == {
        "translation_en_fr": 128,
        "quick_thought_en": 64,
        "quick_thought_fr": 64,
        "response_en": 32,
        "response_fr": 32,
    }
    # The proportional sampler keeps translation's third of the steps.
    assert _translation_share("demo_multitask") == pytest.approx(1 / 3)
    assert _routines("translation_only") == {"translation_en_fr": 128}
    multi, single = (exp_factory.get_exp_config(n) for n in ("demo_multitask", "translation_only"))
    # An ablation differs in the tasks only: model, steps, optimizer and sampler are the same.
    assert multi.task.model.as_dict() == single.task.model.as_dict()
    multi_trainer, single_trainer = multi.trainer.as_dict(), single.trainer.as_dict()
    assert multi_trainer == single_trainer
    assert multi.trainer.task_sampler.type == "proportional"
    for routine in multi.task.task_routines:  # one model config; response ranks one way
        assert routine.task_config.model is None  # Model Garden's TaskConfig field, unused
        if hasattr(routine.task_config, "bidirectional"):
            bidirectional = routine.task_config.bidirectional
            assert bidirectional == (not routine.task_name.startswith("response_"))


def test_one_model_covers_every_configured_language():
    languages = ["en", "fr", "es", "de"]
    assert _routines("xling_multitask") == {
        "translation_en_fr": 128,
        "translation_en_es": 128,
        "translation_en_de": 128,
        **{f"quick_thought_{language}": 64 for language in languages},
        **{f"response_{language}": 32 for language in languages},
    }
    assert _translation_share("xling_multitask") == pytest.approx(3 / 5)
    assert _routines("xling_translation_only") == {
        "translation_en_fr": 128,
        "translation_en_es": 128,
        "translation_en_de": 128,
    }
    multi, single = (
        exp_factory.get_exp_config(n) for n in ("xling_multitask", "xling_translation_only")
    )
    assert multi.trainer.as_dict() == single.trainer.as_dict()


@pytest.mark.parametrize(
    "name, target", [("paper", "fr"), ("paper_en_es", "es"), ("paper_en_de", "de")]
)
def test_paper_experiments_use_the_papers_hyperparameters(name, target):
    params = exp_factory.get_exp_config(name)
    assert _routines(name) == {
        f"translation_en_{target}": 100,
        "quick_thought_en": 100,
        f"quick_thought_{target}": 100,
        "response_en": 100,
        f"response_{target}": 100,
    }
    encoder = params.task.model.encoder
    assert (encoder.num_layers, encoder.hidden_size, encoder.output_dim) == (3, 320, 512)
    assert encoder.embedding_gradient_multiplier == 100.0
    assert params.task.model.tokenizer.max_seq_length == 64
    assert params.trainer.task_sampler.type == "round_robin"
    optimizer = params.trainer.optimizer_config
    assert optimizer.optimizer.type == "sgd"
    assert optimizer.learning_rate.constant.learning_rate == pytest.approx(0.008)


def test_nli_file_is_not_added_to_a_translation_only_ablation(tmp_path, capsys, monkeypatch):
    from xling_tf import main_job

    params = exp_factory.get_exp_config("translation_only")
    built = {}
    monkeypatch.setattr(
        multitask_corpus,
        "build_routine_file",
        lambda out_dir, routine, nli_file=None, nli_split=None: built.setdefault(
            routine, f"{out_dir}/{routine}.tsv"
        ),
    )
    main_job._prepare_training_data(
        params, str(tmp_path), None, "snli.jsonl", None, teacher_cache_dir=str(tmp_path)
    )
    assert list(built) == ["translation_en_fr"]
    assert "not used" in capsys.readouterr().out


def test_an_nli_file_adds_nli_en_once():
    """The main job adds `nli_en` for --nli_file; an experiment that has it keeps one."""
    for name, before in (("tiny_multitask", 1), ("demo_multitask", 0)):
        params = exp_factory.get_exp_config(name)
        routines = [r.task_name for r in params.task.task_routines]
        assert routines.count("nli_en") == before, name
        experiments.add_nli_routine(params, "")
        experiments.add_nli_routine(params, "")
        assert [r.task_name for r in params.task.task_routines].count("nli_en") == 1, name
