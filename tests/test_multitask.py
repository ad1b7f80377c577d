"""Multi-task training of one shared encoder: heads, task losses, samplers, the main job's run."""

from __future__ import annotations

import collections
import json
import math
import os

import xling_tf  # noqa: F401
from xling_tf.evaluation.tensorboard_logs import read_scalars
from xling_tf.modeling.heads import DenseTower, NliClassifier
from xling_tf.multitask import RoundRobinTaskSampler

import numpy as np
import pytest
import tensorflow as tf
from official.modeling.multitask import task_sampler as mg_sampler

from conftest import (
    MAIN_JOB_RUN_NAME,
    MAIN_JOB_SEED,
    MAIN_JOB_STEPS,
    MAIN_JOB_TEST_PAIRS,
    run_training_phases,
)

SMALL = dict(
    vocab_size=50,
    hidden_size=16,
    num_layers=1,
    num_attention_heads=2,
    inner_dim=32,
    output_dim=12,
    max_sequence_length=10,
    dropout_rate=0.0,
    attention_dropout_rate=0.0,
)


def test_response_tower_shapes_and_config():
    tower = DenseTower((20, 8))
    assert tower(tf.zeros([3, 12])).shape == (3, 8)
    assert DenseTower.from_config(tower.get_config()).get_config() == tower.get_config()
    assert np.all(np.abs(tower(tf.random.normal([4, 12]) * 100)) <= 1.0)  # tanh


def test_nli_classifier_features_and_config():
    classifier = NliClassifier(hidden_size=7, num_classes=3, dropout_rate=0.0)
    u, v = tf.random.normal([5, 4]), tf.random.normal([5, 4])
    assert classifier((u, v)).shape == (5, 3)
    assert classifier._hidden.kernel.shape == (16, 7)  # [u, v, |u-v|, u*v] = 4 x 4 features
    clone = NliClassifier.from_config(classifier.get_config())
    assert clone.get_config() == classifier.get_config()


def _draw(sampler, steps):
    chosen = []
    for step in range(steps):
        cumulative = np.concatenate(
            [[0.0], sampler.task_cumulative_distribution(tf.constant(step, tf.int64)).numpy()]
        )
        draw = tf.random.stateless_uniform([], seed=(0, step)).numpy()
        chosen.append(int(np.searchsorted(cumulative, draw, side="right")) - 1)
    return chosen


def test_round_robin_visits_tasks_in_order():
    sampler = RoundRobinTaskSampler({"a": 1.0, "b": 5.0, "c": 1.0})
    assert _draw(sampler, 7) == [0, 1, 2, 0, 1, 2, 0]


def test_proportional_and_uniform_ratios_over_many_draws():
    proportional = collections.Counter(
        _draw(mg_sampler.ProportionalTaskSampler({"big": 3.0, "small": 1.0}), 2000)
    )
    assert abs(proportional[0] / 2000 - 0.75) < 0.04
    uniform = collections.Counter(_draw(mg_sampler.UniformTaskSampler({"a": 3.0, "b": 1.0}), 2000))
    assert abs(uniform[0] / 2000 - 0.5) < 0.04


def test_sampler_distributions_end_at_exactly_one():
    from xling_tf.multitask import XlingTaskSamplingConfig, build_task_sampler

    weights = {f"task_{i}": 0.1 for i in range(7)}
    raw = mg_sampler.ProportionalTaskSampler(weights).task_cumulative_distribution(0).numpy()
    assert raw[-1] < 1.0  # float32 rounding: a draw above it would run no task, forever
    sampler = build_task_sampler(XlingTaskSamplingConfig(type="proportional"), weights, 100)
    closed = sampler.task_cumulative_distribution(tf.constant(0, tf.int64)).numpy()
    assert closed[-1] == 1.0
    np.testing.assert_array_equal(closed[:-1], raw[:-1])


def test_annealing_sampler_follows_the_training_length():
    from xling_tf.multitask import XlingTaskSamplingConfig, build_task_sampler

    config = XlingTaskSamplingConfig(type="annealing")
    sampler = build_task_sampler(config, {"big": 9.0, "small": 1.0}, train_steps=1000)

    def share_of_big(step: int) -> float:
        return float(sampler.task_cumulative_distribution(tf.constant(step, tf.int64))[0])

    # Ten "epochs" of 100 steps; Model Garden's exponent is 1 - 0.8 (epoch - 1) / 9: about 1
    # at the start (the weights as given), 0.29 in the last epoch (the tasks nearly even).
    assert share_of_big(0) > 0.9
    last = 1 - 0.8 * 8 / 9
    assert share_of_big(999) == pytest.approx(9**last / (9**last + 1), abs=1e-4)
    assert share_of_big(0) > share_of_big(500) > share_of_big(999)


def test_quick_thought_loss_by_hand():
    from xling_tf.configs.model import XlingModelConfig
    from xling_tf.tasks.quick_thought import QuickThoughtConfig, QuickThoughtTask

    model = XlingModelConfig(logit_scale=1.0, logit_margin=0.0)
    task = QuickThoughtTask(QuickThoughtConfig(), model_config=model)
    eye = tf.eye(2)
    swapped = tf.constant([[0.0, 1.0], [1.0, 0.0]])
    # previous: perfect diagonal [[1,0],[0,1]] -> log(1 + e^-1); next: anti-diagonal.
    loss = task.build_losses(None, {"current": eye, "previous": eye, "next": swapped})
    expected = (math.log(1 + math.exp(-1)) + math.log(1 + math.exp(1))) / 2
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


def test_nli_loss_and_weight_by_hand():
    from xling_tf.configs.model import XlingModelConfig
    from xling_tf.tasks.nli import NliConfig, NliTask

    task = NliTask(NliConfig(loss_weight=2.0), model_config=XlingModelConfig())
    logits = tf.constant([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]])
    loss = task.build_losses({"label": tf.constant([1, 0])}, {"logits": logits})
    expected = 2.0 * (math.log(3.0) + math.log(1 + 2 * math.exp(-10))) / 2
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_one_encoder_shared_by_every_task_model_built_without_data(sentencepiece_model):
    """Every task reads the experiment's one model config, and building the variables reads
    no training file (the routines' input paths do not exist)."""
    from xling_tf.configs import experiments  # noqa: F401
    from xling_tf.multitask import XlingMultiTaskModel, build_multi_task
    from xling_tf.tokenization.vocabulary import ensure_vocabulary

    from official.core import exp_factory

    params = exp_factory.get_exp_config("tiny_multitask")
    params.task.model.tokenizer.sentencepiece_model_file = sentencepiece_model
    for routine in params.task.task_routines:
        routine.task_config.train_data.input_path = "/nonexistent/train.tsv"
    ensure_vocabulary(params, "/nonexistent")
    multi_task = build_multi_task(params.task)
    assert all(task.model_config is params.task.model for task in multi_task.tasks.values())
    model = XlingMultiTaskModel(multi_task, params.task.model)
    model.build()
    encoders = {id(m.encoder) for m in model.sub_tasks.values()}
    assert encoders == {id(model.encoder)} and len(model.sub_tasks) == 4
    assert model.encoder.built and all(m.built for m in model.sub_tasks.values())


def _tiny_trainer(corpus_dir: str, sentencepiece_model: str, total_steps: int):
    """An XlingTrainer of the one-routine `tiny` experiment, built in the current strategy."""
    from xling_tf.configs import experiments  # noqa: F401
    from xling_tf.multitask import (
        XlingMultiTaskModel,
        as_multitask,
        build_multi_task,
        build_task_sampler,
    )
    from xling_tf.trainer import XlingTrainer

    from official.core import exp_factory, train_utils

    params = as_multitask(exp_factory.get_exp_config("tiny"))
    params.task.model.tokenizer.sentencepiece_model_file = sentencepiece_model
    (routine,) = params.task.task_routines
    routine.task_config.train_data.input_path = os.path.join(corpus_dir, "train.tsv")
    multi_task = build_multi_task(params.task)
    model = XlingMultiTaskModel(multi_task, params.task.model)
    return XlingTrainer(
        multi_task=multi_task,
        multi_task_model=model,
        optimizer=train_utils.create_optimizer(multi_task, params),
        task_sampler=build_task_sampler(
            params.trainer.task_sampler, multi_task.task_weights, total_steps
        ),
        total_steps=total_steps,
        batch_sizes={routine.task_name: 16},
    )


def test_the_train_loop_is_traced_once(corpus_dir, sentencepiece_model):
    """The model's variables and the optimizer's slots exist before the first step, so orbit's
    train loop is traced once: a tf.function that creates variables is traced twice."""
    trainer = _tiny_trainer(corpus_dir, sentencepiece_model, total_steps=4)
    assert trainer.multi_task_model.encoder.built and trainer.optimizer.weights  # slots too
    for _ in range(2):
        trainer.train(tf.constant(2))
    assert int(trainer.global_step.numpy()) == 4
    assert trainer._train_loop_fn.experimental_get_tracing_count() == 1


def test_training_pipelines_run_without_the_tf_data_autotuner(
    corpus_dir, sentencepiece_model, monkeypatch
):
    """Under a MirroredStrategy on the CPU (the main job's) each replica reads its own
    pipeline, with tf.data's autotuner off: no MultiDeviceIterator adds per-replica pipelines
    with it on. Freeing a pipeline whose autotuner runs waits for the autotuner's sleep, up to
    a minute (the main job's export used to pause about 23 s)."""
    from xling_tf.trainer import training_dataset

    from tensorflow.python.data.ops import multi_device_iterator_ops

    built = []
    original = multi_device_iterator_ops.OwnedMultiDeviceIterator.__init__

    def spy(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(multi_device_iterator_ops.OwnedMultiDeviceIterator, "__init__", spy)
    with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
        trainer = _tiny_trainer(corpus_dir, sentencepiece_model, total_steps=2)
        trainer.train(tf.constant(2))
    assert int(trainer.global_step.numpy()) == 2
    assert not built
    (task,) = trainer.multi_task.tasks.values()
    assert training_dataset(task).options().autotune.enabled is False


def test_a_pipeline_feeding_several_replicas_skips_their_batches_on_a_resume(
    corpus_dir, sentencepiece_model
):
    """One input pipeline feeding two local replicas (a worker with two GPUs, the default
    input mode) hands out two per-replica batches a step, so a run resumed at step 3 starts
    at the pipeline's seventh batch."""
    from xling_tf.trainer import training_dataset

    (task,) = _tiny_trainer(
        corpus_dir, sentencepiece_model, total_steps=2
    ).multi_task.tasks.values()
    context = tf.distribute.InputContext(
        num_input_pipelines=1, input_pipeline_id=0, num_replicas_in_sync=2
    )

    def batches(skip: int, count: int) -> list:
        return [
            [t.numpy() for t in tf.nest.flatten(batch)]
            for batch in training_dataset(task, skip, context).take(count)
        ]

    uninterrupted, resumed = batches(0, 8), batches(3, 2)
    for expected, batch in zip(uninterrupted[6:], resumed, strict=True):
        assert all(np.array_equal(a, b) for a, b in zip(expected, batch, strict=True))


def test_each_training_pipeline_is_built_once(corpus_dir, sentencepiece_model, monkeypatch):
    """Model Garden's base trainer builds every task's training data unless it is given
    them; the trainer gives it its own, so no pipeline is built (and its tokenizer traced)
    twice."""
    from xling_tf.tasks.base import XlingTask

    built = []
    original = XlingTask.build_inputs

    def counting(self, params, input_context=None):
        built.append(self.name)
        return original(self, params, input_context)

    monkeypatch.setattr(XlingTask, "build_inputs", counting)
    trainer = _tiny_trainer(corpus_dir, sentencepiece_model, total_steps=2)
    assert built == list(trainer.multi_task.tasks)
    trainer.train(tf.constant(2))
    assert int(trainer.global_step.numpy()) == 2 and len(built) == 1


@pytest.mark.slow
def test_multitask_main_job_with_an_nli_file(main_job_run):
    """`xling-tf demo --experiment <multi-task> --nli_file F` (conftest.main_job_run): real
    data, train, export, P@1."""
    import json

    workdir = main_job_run["workdir"]
    assert (
        "multi-task: translation_en_fr, quick_thought_en, response_en, nli_en"
        in main_job_run["stdout"]
    )
    with open(os.path.join(workdir, "data", "bible", "nli-en", "train.tsv")) as f:
        nli_rows = f.read().splitlines()
    assert len(nli_rows) == 54  # 6 rows without a gold label skipped
    with open(os.path.join(workdir, "results", MAIN_JOB_RUN_NAME, "results.json")) as f:
        results = json.load(f)
    assert results["retrieval"]["en-fr"]["num_pairs"] == MAIN_JOB_TEST_PAIRS
    assert results["retrieval"]["en-fr"]["distractors"]["mean"]["p@1"] > 0.0
    for task in ("translation_en_fr", "quick_thought_en", "response_en", "nli_en"):
        assert read_scalars(
            os.path.join(workdir, "runs", MAIN_JOB_RUN_NAME, "train", task), "training_loss"
        ), task
    # --seed: every task's data order (and the initial weights) follow the one seed.
    with open(os.path.join(workdir, "runs", MAIN_JOB_RUN_NAME, "params.yaml")) as f:
        assert f.read().count(f"seed: {MAIN_JOB_SEED}\n") == 4  # train_data of each routine


@pytest.mark.slow
def test_the_main_job_logs_every_task_and_trains_the_shared_encoder(main_job_run):
    run_dir = os.path.join(main_job_run["workdir"], "runs", MAIN_JOB_RUN_NAME)
    log = main_job_run["stderr"]
    assert "round_robin" in log and f"step {MAIN_JOB_STEPS}/{MAIN_JOB_STEPS}" in log
    for task in ("translation_en_fr", "quick_thought_en", "response_en", "nli_en"):
        losses = read_scalars(os.path.join(run_dir, "train", task), "training_loss")
        assert losses and all(np.isfinite(v) and v > 0 for _, v in losses), task
        steps = read_scalars(os.path.join(run_dir, "train", task), "steps")
        assert steps[-1][1] == MAIN_JOB_STEPS // 4, (task, steps)  # round robin over 4 tasks
    *_, older, newest = tf.train.get_checkpoint_state(run_dir).all_model_checkpoint_paths
    first, last = (tf.train.load_checkpoint(os.path.join(run_dir, p)) for p in (older, newest))
    encoder_keys = [
        k
        for k in first.get_variable_to_shape_map()
        if k.startswith("encoder/") and "OPTIMIZER_SLOT" not in k
    ]
    assert encoder_keys
    changed = sum(not np.array_equal(first.get_tensor(k), last.get_tensor(k)) for k in encoder_keys)
    assert changed >= len(encoder_keys) // 2


@pytest.mark.slow
def test_one_model_config_shapes_the_trained_and_the_exported_model(main_job_run):
    """`task.model` is the only model config: the main job's --params_override of the encoder
    depth (conftest.MAIN_JOB_OVERRIDE) changes the model every routine trains, the
    checkpoint and the export alike (routines used to keep a copy made before)."""
    from xling_tf.export.export_hub import restore

    import tensorflow_text  # noqa: F401  (the export's SentencePiece ops)

    run_dir = os.path.join(main_job_run["workdir"], "runs", MAIN_JOB_RUN_NAME)
    blocks = {
        name.split("/")[2]
        for name, _ in tf.train.list_variables(tf.train.latest_checkpoint(run_dir))
        if name.startswith("encoder/blocks/")
    }
    assert blocks == {"0", "1"}  # tiny_multitask's own config has one Transformer block
    assert restore(run_dir).encoder.get_config()["num_layers"] == 2
    export = os.path.join(main_job_run["workdir"], "exports", MAIN_JOB_RUN_NAME)
    names = [v.name for v in tf.saved_model.load(export).variables]
    layers = {name.split("/")[2] for name in names if "/transformer/layer_" in name}
    assert layers == {"layer_0", "layer_1"}, names


def test_a_single_task_experiment_is_one_routine_reading_the_one_model_config():
    from xling_tf.configs import experiments  # noqa: F401
    from xling_tf.multitask import SINGLE_TASK_ROUTINE, as_multitask, build_multi_task

    from official.core import exp_factory

    single = exp_factory.get_exp_config("tiny")
    single.override({"task": {"model": {"encoder": {"num_layers": 3}}}}, is_strict=True)
    params = as_multitask(single)
    assert params.task.model.encoder.num_layers == 3
    (routine,) = params.task.task_routines
    assert routine.task_name == SINGLE_TASK_ROUTINE and routine.task_config.model is None
    assert routine.task_config.train_data.as_dict() == single.task.train_data.as_dict()
    assert params.trainer.train_steps == single.trainer.train_steps
    assert params.runtime.as_dict() == single.runtime.as_dict()
    # A routine cannot carry a second model config that would silently disagree.
    routine.task_config.model = single.task.model
    with pytest.raises(ValueError, match="configured once, at task.model"):
        build_multi_task(params.task)


def test_one_way_response_ranking_reports_only_its_direction():
    from xling_tf.configs.model import XlingModelConfig
    from xling_tf.tasks.response_ranking import ResponseRankingConfig, ResponseRankingTask
    from xling_tf.tasks.translation_ranking import TranslationRankingConfig, TranslationRankingTask

    model = XlingModelConfig()
    response = ResponseRankingTask(ResponseRankingConfig(), model_config=model)
    assert [m.name for m in response.build_metrics()] == ["left_to_right_accuracy"]
    translation = TranslationRankingTask(TranslationRankingConfig(), model_config=model)
    assert [m.name for m in translation.build_metrics()] == [
        "left_to_right_accuracy",
        "right_to_left_accuracy",
    ]


@pytest.mark.slow
def test_proportional_sampler_and_task_weights_from_flags_survive_a_resume(
    tmp_path, multitask_data
):
    """`--params_override` sets the sampler and the routines' weights; a resumed run skips,
    per task, the batches the sampler's replayed draws gave that task."""
    from xling_tf.data_order import task_batches_consumed
    from xling_tf.multitask import XlingTaskSamplingConfig, build_task_sampler

    names = ["translation_en_fr", "quick_thought_en", "response_en", "nli_en"]
    weights = dict(zip(names, [3.0, 1.0, 0.5, 0.5], strict=True))
    routines = [
        {"task_weight": weight, "task_config": {"train_data": {"input_path": path}}}
        for weight, path in zip(weights.values(), multitask_data, strict=True)
    ]
    model_dir = str(tmp_path / "mt")

    def override(steps: int) -> str:
        trainer = {
            "task_sampler": {"type": "proportional", "proportional": {"alpha": 0.5}},
            "train_steps": steps,
            "steps_per_loop": 4,
            "summary_interval": 4,
            "checkpoint_interval": 4,
        }
        return json.dumps({"trainer": trainer, "task": {"task_routines": routines}})

    # 8 steps, then a restart to 16, in one process (one TensorFlow start).
    result = run_training_phases(
        [
            [
                "--experiment=tiny_multitask",
                "--mode=train",
                f"--model_dir={model_dir}",
                f"--params_override={override(steps)}",
            ]
            for steps in (8, 16)
        ]
    )
    _, log, resumed_log = result.stderr.split("PHASE\n")
    assert f"with proportional sampling, task weights {weights}" in log
    log = resumed_log
    config = XlingTaskSamplingConfig(type="proportional")
    config.proportional.alpha = 0.5
    sampler = build_task_sampler(config, weights, 16)
    skipped = dict(zip(names, task_batches_consumed(sampler, 4, 8), strict=True))
    assert f"resuming at step 8: skipping {skipped} batches" in log
    expected = task_batches_consumed(sampler, 4, 16)
    assert expected[0] > expected[2]  # the weights matter
    for name, total in zip(names, expected, strict=True):
        steps = read_scalars(os.path.join(model_dir, "train", name), "steps")
        assert steps[-1] == (16, total), (name, steps)
