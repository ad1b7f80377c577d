"""Registered experiments (`--experiment NAME`), Model Garden style.

  demo_multitask         the README main job: the paper's multi-task recipe at CPU size, en-fr
                         (translation + Quick-Thought + response ranking per language, drawn
                         by the proportional sampler with task weights)
  translation_only       its ablation: the same model and steps, translation ranking alone
  xling_multitask        one model for en, fr, es, de (three translation bridges + native tasks)
  xling_translation_only its ablation
  demo                   the single-task translation-ranking demo (3 x 256, 48 tokens); training
                         runs a single-task experiment as one routine, `translation`
  paper, paper_en_es,    the paper: 3 x 320 Transformer, 512-d output, 64 tokens, batch 100,
  paper_en_de            SGD lr 0.008, embedding gradient multiplier 100, round robin
  tiny, tiny_multitask   seconds-long configs for tests and smoke runs

`runtime.mixed_precision_dtype: auto` picks bfloat16 on TPUs and bfloat16-capable CPUs,
float16 on GPUs, float32 elsewhere (xling_tf/precision.py).

Data paths are left empty: pass them with --params_override or a YAML --config_file, e.g.
`task.train_data.input_path=data/bible/en-fr/train.tsv`.
"""

from __future__ import annotations

from typing import Any

from xling_tf.configs.model import (
    EncoderConfig,
    NgramCnnConfig,
    TokenizerConfig,
    XlingModelConfig,
)
from xling_tf.tasks.translation_ranking import (
    PairDataConfig,
    TranslationExperimentTaskConfig,
    TranslationRankingConfig,
)

from official.core import config_definitions as cfg
from official.core import exp_factory
from official.modeling import optimization

_RESTRICTIONS = [
    "task.train_data.is_training != None",
    "task.validation_data.is_training != None",
]


def adamw_warmup_decay(
    learning_rate: float, train_steps: int, warmup_steps: int, weight_decay: float = 0.01
) -> optimization.OptimizationConfig:
    """AdamW with linear warm-up then linear decay to zero (Model Garden's BERT recipe)."""
    return optimization.OptimizationConfig(
        {
            "optimizer": {
                "type": "adamw",
                "adamw": {
                    "weight_decay_rate": weight_decay,
                    # Regexes searched in variable names: every layer normalisation
                    # (`embeddings_layer_norm`, `*_layer_norm`, the encoder's `final_norm`;
                    # `LayerNorm` for BERT-style checkpoints) and every bias.
                    "exclude_from_weight_decay": ["LayerNorm", "layer_norm", "final_norm", "bias"],
                },
            },
            "learning_rate": {
                "type": "polynomial",
                "polynomial": {
                    "initial_learning_rate": learning_rate,
                    "decay_steps": train_steps,
                    "end_learning_rate": 0.0,
                },
            },
            "warmup": {"type": "linear", "linear": {"warmup_steps": warmup_steps}},
        }
    )


def _trainer(
    train_steps: int,
    optimizer_config: optimization.OptimizationConfig,
    log_every: int,
    checkpoint_every: int,
) -> cfg.TrainerConfig:
    return cfg.TrainerConfig(
        train_steps=train_steps,
        steps_per_loop=log_every,
        summary_interval=log_every,
        checkpoint_interval=checkpoint_every,
        max_to_keep=3,
        validation_steps=20,
        validation_interval=checkpoint_every,
        optimizer_config=optimizer_config,
    )


def _translation_experiment(
    model: XlingModelConfig,
    batch_size: int,
    trainer: cfg.TrainerConfig,
    mixed_precision: str | None = "auto",
) -> cfg.ExperimentConfig:
    return cfg.ExperimentConfig(
        runtime=cfg.RuntimeConfig(mixed_precision_dtype=mixed_precision),
        task=TranslationExperimentTaskConfig(
            model=model,
            train_data=PairDataConfig(global_batch_size=batch_size, is_training=True),
            validation_data=PairDataConfig(global_batch_size=batch_size, is_training=False),
        ),
        trainer=trainer,
        restrictions=_RESTRICTIONS,
    )


def _demo_trainer(
    train_steps: int, warmup_steps: int = 100, checkpoint_every: int = 200
) -> cfg.TrainerConfig:
    return _trainer(
        train_steps,
        adamw_warmup_decay(1e-3, train_steps, warmup_steps),
        log_every=50,
        checkpoint_every=checkpoint_every,
    )


@exp_factory.register_config_factory("demo")
def demo() -> cfg.ExperimentConfig:
    """CPU demo: 3 x 256 Transformer, 48 tokens, batch 128, AdamW 1e-3, about 12 min."""
    train_steps = 800
    model = XlingModelConfig(
        tokenizer=TokenizerConfig(vocab_size=8000, max_seq_length=48),
        encoder=EncoderConfig(
            hidden_size=256,
            num_layers=3,
            num_attention_heads=4,
            inner_dim=1024,
            output_dim=512,
            dropout_rate=0.1,
        ),
        logit_scale=20.0,
        logit_margin=0.1,
    )
    return _translation_experiment(model, batch_size=128, trainer=_demo_trainer(train_steps))


@exp_factory.register_config_factory("tiny")
def tiny() -> cfg.ExperimentConfig:
    """Seconds-long config for tests: 1 x 32 Transformer, 16 tokens, batch 16."""
    train_steps = 20
    model = XlingModelConfig(
        tokenizer=TokenizerConfig(
            vocab_size=300, max_seq_length=16, vocab_training_sentences=4_000
        ),
        encoder=EncoderConfig(
            hidden_size=32,
            num_layers=1,
            num_attention_heads=2,
            inner_dim=64,
            output_dim=24,
            dropout_rate=0.0,
            attention_dropout_rate=0.0,
        ),
    )
    return _translation_experiment(
        model,
        batch_size=16,
        trainer=_trainer(
            train_steps, adamw_warmup_decay(3e-3, train_steps, 2), log_every=5, checkpoint_every=10
        ),
        mixed_precision=None,
    )


def set_train_steps(params: cfg.ExperimentConfig, train_steps: int) -> None:
    """Changes the training length and stretches a polynomial decay to end with it."""
    override: dict[str, Any] = {"trainer": {"train_steps": train_steps}}
    if params.trainer.optimizer_config.learning_rate.type == "polynomial":
        override["trainer"]["optimizer_config"] = {
            "learning_rate": {"polynomial": {"decay_steps": train_steps}}
        }
    params.override(override, is_strict=True)


# --- Multi-task experiments (the paper's method) -------------------------------------------
#
# Task routines are named `<task>_<language(s)>`; their data paths are filled by the main job
# (xling_tf/main_job.py) or a YAML/JSON --params_override / --config_file with one entry per
# routine (Model Garden's `a.b=c` form cannot index a list), e.g.
# {task: {task_routines: [{task_config: {train_data: {input_path: a.tsv}}}, {}, ...]}}


def _multitask_experiment(
    model: XlingModelConfig,
    routines: dict[str, tuple],
    trainer: cfg.TrainerConfig,
    sampler: str = "round_robin",
    mixed_precision: str | None = "auto",
):
    """routines: name -> (task config, task weight); `model` is the experiment's one model
    config (`task.model`), which every routine's task reads: routines hold no copy of it."""
    from xling_tf.multitask import (
        XlingMultiTaskConfig,
        XlingMultiTaskExperimentConfig,
        XlingMultiTaskTrainerConfig,
        XlingTaskSamplingConfig,
        task_routine,
    )

    task_routines = [
        task_routine(name, task_config, weight) for name, (task_config, weight) in routines.items()
    ]
    return XlingMultiTaskExperimentConfig(
        task=XlingMultiTaskConfig(model=model, task_routines=tuple(task_routines)),
        trainer=XlingMultiTaskTrainerConfig(
            task_sampler=XlingTaskSamplingConfig(type=sampler), **trainer.as_dict()
        ),
        runtime=cfg.RuntimeConfig(mixed_precision_dtype=mixed_precision),
    )


def _translation_routines(source: str, targets, batch_size: int) -> dict[str, tuple]:
    return {
        f"translation_{source}_{target}": (
            TranslationRankingConfig(train_data=PairDataConfig(global_batch_size=batch_size)),
            1.0,
        )
        for target in targets
    }


def _native_tasks(
    languages,
    batch_sizes: dict[str, int],
    weight: float = 1.0,
) -> dict[str, tuple]:
    """Quick-Thought and response-ranking routines, one per task and language.

    One routine per language (`quick_thought_en`, `quick_thought_fr`: the paper's layout), so
    no batch mixes languages: an in-batch softmax over mixed languages can reject the
    other-language negatives by their language alone, which teaches the shared encoder to
    encode language identity, against the translation bridge. (Within a language, every batch
    also comes from one source translation: see `PairDataConfig.batch_per_file`.)

    batch_sizes: {"quick_thought": B, "response": B}; a task missing from it is left out.
    weight: `task_weight` of every routine, used by the proportional and annealing samplers
      (round robin ignores it).
    """
    from xling_tf.tasks.quick_thought import QuickThoughtConfig
    from xling_tf.tasks.response_ranking import ResponseRankingConfig

    task_configs: dict[str, type[cfg.TaskConfig]] = {
        "quick_thought": QuickThoughtConfig,
        "response": ResponseRankingConfig,
    }
    routines: dict[str, tuple] = {}
    for kind, batch_size in batch_sizes.items():
        for language in languages:
            config = task_configs[kind](train_data=PairDataConfig(global_batch_size=batch_size))
            routines[f"{kind}_{language}"] = (config, weight)
    return routines


@exp_factory.register_config_factory("tiny_multitask")
def tiny_multitask():
    """Seconds-long multi-task config for tests: translation, Quick-Thought, response, NLI."""
    from xling_tf.tasks.nli import NliConfig

    base = tiny()
    routines = _translation_routines("en", ["fr"], batch_size=16)
    routines.update(_native_tasks(["en"], {"quick_thought": 8, "response": 8}))
    routines["nli_en"] = (
        NliConfig(train_data=PairDataConfig(global_batch_size=8), classifier_hidden_size=16),
        1.0,
    )
    return _multitask_experiment(base.task.model, routines, base.trainer, mixed_precision=None)


# The CPU demos: the `demo` encoder (3 x 256) on mUSE v3's vocabulary and frozen token table,
# 64 tokens (demo_multitask_model). Native tasks get smaller
# batches than translation because a Quick-Thought example encodes three sentences and because
# the conversation corpora are small (87 distinct French pairs). Tasks are drawn by the proportional
# sampler: each translation routine has weight 1 and each native task 1 in total, split over
# its per-language routines, so translation gets the share a round robin over one routine per
# task gave it (1/3 for en-fr) however many languages there are. Tune these weights on the
# development split (docs/data-splits.md), not on test numbers.
_DEMO_NATIVE_BATCHES = {"quick_thought": 64, "response": 32}
DEMO_MULTITASK_STEPS = 1200
XLING_STEPS = 1200


def _demo_multitask_experiment(
    targets: list[str], train_steps: int, native_tasks: bool
) -> cfg.ExperimentConfig:
    routines = _translation_routines("en", targets, batch_size=128)
    if native_tasks:
        languages = ["en", *targets]
        routines.update(_native_tasks(languages, _DEMO_NATIVE_BATCHES, weight=1.0 / len(languages)))
    return _multitask_experiment(
        demo_multitask_model(), routines, _demo_trainer(train_steps), sampler="proportional"
    )


def demo_multitask_model() -> XlingModelConfig:
    """The `demo` encoder (3 x 256) with mUSE v3's vocabulary (128k SentencePiece pieces) and
    its token table, projected to 256 and frozen, and 64 tokens. No teacher targets: the model
    learns its tasks from scratch on top of that table. On the development split this beat
    the `demo` model's own 8k vocabulary at 48 tokens: en-fr P@1 0.907 against 0.830 after
    the same 1,200 steps, SICK TRAIN 0.655 against 0.578 (RESULTS.md, section 1b)."""
    model = demo().task.model
    model.tokenizer.override(
        {"vocabulary_from": MUSE_V3_VOCABULARY, "max_seq_length": 64}, is_strict=True
    )
    return model


@exp_factory.register_config_factory("demo_multitask")
def demo_multitask():
    """The README main job: the paper's recipe at demo size, en-fr.

    translation_en_fr (weight 1), quick_thought_{en,fr} and response_{en,fr} (0.5 each),
    drawn by the proportional sampler (`nli_en`, weight 1, is added by the main job when
    given an NLI file); `translation_only` is its ablation.
    """
    return _demo_multitask_experiment(["fr"], DEMO_MULTITASK_STEPS, native_tasks=True)


@exp_factory.register_config_factory("translation_only")
def translation_only():
    """Ablation of demo_multitask: same model, steps and sampler, translation ranking alone."""
    return _demo_multitask_experiment(["fr"], DEMO_MULTITASK_STEPS, native_tasks=False)


@exp_factory.register_config_factory("xling_multitask")
def xling_multitask():
    """One model for en, fr, es, de: translation en-fr/en-es/en-de + native tasks in all four.

    The three translation routines (weight 1 each), quick_thought_<lang> and response_<lang>
    for the four languages (0.25 each), drawn by the proportional sampler (+ `nli_en` when the
    main job is given an NLI file).
    """
    return _demo_multitask_experiment(["fr", "es", "de"], XLING_STEPS, native_tasks=True)


@exp_factory.register_config_factory("xling_translation_only")
def xling_translation_only():
    """Ablation of xling_multitask: the same model and steps, the translation routines alone."""
    return _demo_multitask_experiment(["fr", "es", "de"], XLING_STEPS, native_tasks=False)


def _paper_model() -> XlingModelConfig:
    return XlingModelConfig(
        tokenizer=TokenizerConfig(vocab_size=32000, max_seq_length=64),
        encoder=EncoderConfig(
            hidden_size=320,
            num_layers=3,
            num_attention_heads=8,
            inner_dim=1280,
            output_dim=512,
            embedding_gradient_multiplier=100.0,
        ),
        normalize=False,
        logit_scale=1.0,
    )


def _paper_experiment(target: str) -> cfg.ExperimentConfig:
    """The paper (Chidambaram et al. 2019): one model per pair en-<target>, sized for accelerators.

    3 x 320 Transformer, 512-d output, 64 tokens, batch 100 for every task, SGD lr 0.008,
    embedding gradient multiplier 100, one step per task in turn: translation_en_<target>,
    quick_thought_{en,<target>}, response_{en,<target>}, and nli_en when given an NLI file.
    """
    optimizer = optimization.OptimizationConfig(
        {
            "optimizer": {"type": "sgd", "sgd": {"momentum": 0.0}},
            "learning_rate": {"type": "constant", "constant": {"learning_rate": 0.008}},
        }
    )
    routines = _translation_routines("en", [target], batch_size=100)
    routines.update(_native_tasks(["en", target], {"quick_thought": 100, "response": 100}))
    return _multitask_experiment(
        _paper_model(),
        routines,
        _trainer(500_000, optimizer, log_every=1000, checkpoint_every=5000),
    )


@exp_factory.register_config_factory("paper")
def paper():
    """The paper's en-fr model (see _paper_experiment)."""
    return _paper_experiment("fr")


@exp_factory.register_config_factory("paper_en_es")
def paper_en_es():
    """The paper's en-es model (see _paper_experiment)."""
    return _paper_experiment("es")


@exp_factory.register_config_factory("paper_en_de")
def paper_en_de():
    """The paper's en-de model (see _paper_experiment)."""
    return _paper_experiment("de")


def add_nli_routine(params, input_path: str, language: str = "en", batch_size: int = 64) -> None:
    """Adds an `nli_<language>` routine reading `input_path` (normalised NLI TSV), unless the
    experiment has one already (its config is kept; the main job fills in its path)."""
    from xling_tf.multitask import task_routine
    from xling_tf.tasks.nli import NliConfig

    name = f"nli_{language}"
    if any(routine.task_name == name for routine in params.task.task_routines):
        return
    config = NliConfig(
        train_data=PairDataConfig(global_batch_size=batch_size, input_path=input_path),
    )
    params.task.task_routines = tuple(params.task.task_routines) + (task_routine(name, config),)


# --- Distillation from an existing encoder (the main job) ------------------------------------
#
# A small, fast student learns from a teacher (xling_tf/distillation/teachers.py) on
# `distill_<src>_<tgt>` routines: each batch pulls g(s) and g(t) toward teacher(s) and ranks
# the batch's translations (ranking_weight). One routine per language pair, round robin, so
# every batch holds one target language.

# The demo student starts from the teacher's weights and trains its pooling projection and
# head, 200 steps per routine: the development split's scores stop moving after about 650
# steps (RESULTS.md "Distillation").
DEMO_DISTILL_STEPS = 800
DEMO_DISTILL_LEARNING_RATE = 3e-4
# The Transformer student (demo_distill_transformer) learns from scratch: about 312 steps per
# routine, the length the development split favoured (RESULTS.md "Distillation").
TRANSFORMER_DISTILL_STEPS = 1250
TRANSFORMER_DISTILL_LEARNING_RATE = 2e-3


def _distillation_routines(
    targets,
    batch_size: int,
    ranking_weight: float,
    teacher: str | None = None,
    general_english: bool = False,
) -> dict[str, tuple]:
    """distill_en_<target> for each target (Bible + UI-string pairs, with translation ranking
    at `ranking_weight`), plus `distill_en` (WordNet's English examples, monolingual) when
    `general_english`."""
    from xling_tf.tasks.distillation import DistillationConfig

    routines = {}
    if general_english:
        config = DistillationConfig(
            paired=False,
            ranking_weight=0.0,
            train_data=PairDataConfig(global_batch_size=batch_size),
        )
        if teacher is not None:
            config.teacher = teacher
        routines["distill_en"] = (config, 1.0)
    for target in targets:
        config = DistillationConfig(
            ranking_weight=ranking_weight, train_data=PairDataConfig(global_batch_size=batch_size)
        )
        if teacher is not None:
            config.teacher = teacher
        routines[f"distill_en_{target}"] = (config, 1.0)
    return routines


MUSE_V3_VOCABULARY = "xling_tf.distillation.teacher_vocabulary.muse_v3_vocabulary"
MUSE_V3_ENCODER_WEIGHTS = "xling_tf.distillation.teacher_vocabulary.muse_v3_encoder_weights"


def student_model() -> XlingModelConfig:
    """The demo student: multilingual USE v3's own n-gram CNN (modeling/ngram_cnn_encoder.py),
    started from the teacher's weights, so it begins exactly at the teacher; training adapts
    its pooling projection and head (convolutions and token table frozen, a third of the step
    time) to the training domain while distillation keeps it near the teacher elsewhere.
    128 tokens: the teacher reads whole sentences."""
    return XlingModelConfig(
        tokenizer=TokenizerConfig(max_seq_length=128, vocabulary_from=MUSE_V3_VOCABULARY),
        encoder=EncoderConfig(
            type="ngram_cnn",
            hidden_size=512,
            output_dim=512,
            dropout_rate=0.0,
            initial_weights_from=MUSE_V3_ENCODER_WEIGHTS,
            ngram_cnn=NgramCnnConfig(train_convolutions=False),
        ),
        logit_scale=20.0,
    )


def transformer_student_model() -> XlingModelConfig:
    """A 2 x 256 Transformer student learnt from scratch, 64 tokens, 512-d output (the
    teacher's size, so no map is needed and its vectors live in the teacher's space). It
    tokenizes like mUSE v3 (128k SentencePiece pieces) and starts from mUSE's token table,
    projected to 256 and frozen, which beat a vocabulary trained on the Bible on the
    development split (RESULTS.md, "Distillation"); 64 tokens (48 cut about a fifth of the
    French verses) also won there."""
    return XlingModelConfig(
        tokenizer=TokenizerConfig(max_seq_length=64, vocabulary_from=MUSE_V3_VOCABULARY),
        encoder=EncoderConfig(
            hidden_size=256,
            num_layers=2,
            num_attention_heads=4,
            inner_dim=1024,
            output_dim=512,
            dropout_rate=0.0,
            attention_dropout_rate=0.0,
        ),
        logit_scale=20.0,
        logit_margin=0.1,
    )


def _demo_distill(
    model: XlingModelConfig, steps: int, learning_rate: float
) -> cfg.ExperimentConfig:
    """Round robin over distill_en (WordNet's English usage examples, distillation alone) and
    distill_en_fr, distill_en_es, distill_en_de (Bible Old Testament and UI-string pairs, each
    batch with the distillation loss and translation ranking)."""
    routines = _distillation_routines(
        ["fr", "es", "de"], batch_size=128, ranking_weight=1.0, general_english=True
    )
    return _multitask_experiment(model, routines, _distill_trainer(steps, learning_rate))


def _distill_trainer(steps: int, learning_rate: float) -> cfg.TrainerConfig:
    return _trainer(
        steps,
        adamw_warmup_decay(learning_rate, steps, warmup_steps=50),
        log_every=50,
        checkpoint_every=300,
    )


@exp_factory.register_config_factory("demo_distill")
def demo_distill():
    """The README main job: multilingual USE v3 adapted to the Bible and UI strings (en, fr,
    es, de) by distillation from itself plus translation ranking (`student_model`)."""
    return _demo_distill(student_model(), DEMO_DISTILL_STEPS, DEMO_DISTILL_LEARNING_RATE)


@exp_factory.register_config_factory("demo_distill_transformer")
def demo_distill_transformer():
    """demo_distill with a 2 x 256 Transformer student learnt from scratch
    (`transformer_student_model`): the main job before the student started from the teacher."""
    return _demo_distill(
        transformer_student_model(), TRANSFORMER_DISTILL_STEPS, TRANSFORMER_DISTILL_LEARNING_RATE
    )


@exp_factory.register_config_factory("tiny_distill")
def tiny_distill():
    """Seconds-long distillation config for tests (distill_en_fr, ranking on; the tests pass
    their own teacher with task.task_routines.0.task_config.teacher=module:function)."""
    base = tiny()
    routines = _distillation_routines(["fr"], batch_size=16, ranking_weight=1.0)
    return _multitask_experiment(base.task.model, routines, base.trainer, mixed_precision=None)


def _distillation_only(params: cfg.ExperimentConfig) -> cfg.ExperimentConfig:
    """`params` (a _demo_distill experiment) with the distillation loss alone."""
    for routine in params.task.task_routines:
        routine.task_config.ranking_weight = 0.0
    return params


def _ranking_only(model: XlingModelConfig, steps: int, learning_rate: float):
    """Translation ranking alone on the Bible pairs (no teacher targets, no distill_en), for
    the steps the round robin of _demo_distill gives its three pair routines."""
    routines = _translation_routines("en", ["fr", "es", "de"], batch_size=128)
    params = _multitask_experiment(model, routines, _distill_trainer(steps, learning_rate))
    set_train_steps(params, steps * 3 // 4)
    return params


@exp_factory.register_config_factory("demo_distill_only")
def demo_distill_only():
    """Ablation of demo_distill: the same student, data and steps, distillation loss alone."""
    return _distillation_only(demo_distill())


@exp_factory.register_config_factory("demo_student_ranking_only")
def demo_student_ranking_only():
    """Ablation of demo_distill: the same student (from the teacher's weights) and pair steps,
    translation ranking alone (on the Bible pairs, no teacher targets, no distill_en)."""
    return _ranking_only(student_model(), DEMO_DISTILL_STEPS, DEMO_DISTILL_LEARNING_RATE)


@exp_factory.register_config_factory("demo_distill_transformer_only")
def demo_distill_transformer_only():
    """Ablation of demo_distill_transformer: distillation loss alone."""
    return _distillation_only(demo_distill_transformer())


@exp_factory.register_config_factory("demo_transformer_ranking_only")
def demo_transformer_ranking_only():
    """Ablation of demo_distill_transformer: translation ranking alone (no teacher)."""
    return _ranking_only(
        transformer_student_model(), TRANSFORMER_DISTILL_STEPS, TRANSFORMER_DISTILL_LEARNING_RATE
    )


@exp_factory.register_config_factory("demo_distill_core_ops")
def demo_distill_core_ops():
    """demo_distill_transformer with the paper's hashed word + character n-gram tokenizer
    instead of the teacher's SentencePiece: its exports tokenize in core TensorFlow ops, so they
    serve on stock TF Serving and load without tensorflow_text (the word vocabulary is counted
    from the training data; the token table starts from scratch). The n-gram CNN reads the
    teacher's pieces only, so this variant keeps the Transformer student."""
    params = demo_distill_transformer()
    tokenizer = {"type": "hashed_ngrams", "vocabulary_from": "", "vocab_size": 50_000}
    params.task.model.override({"tokenizer": tokenizer}, is_strict=True)
    return params
