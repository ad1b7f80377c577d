r"""Training examples/s of the `demo` experiment vs Model Garden's own DualEncoder, and FLOP/s.

  flock /tmp/xling_heavy.lock .venv/bin/python benchmarks/train_throughput.py \
      --model /tmp/democlone/exports/demo-en-fr [--warmup_steps 5 --steps 10 --rounds 3]

One process, one run, on the same data, batch, sequence length and optimizer:

* `xling demo`: our TranslationRankingTask (`--experiment demo`), batches length-bucketed
  and padded to their own longest row (at most 48 tokens): what `xling-tf train` runs.
* `xling demo, padded 48`: the same task with every batch padded to 48 and no bucketing,
  the shape Model Garden's DualEncoder needs.
* `xling demo, padded 48, per side` and `xling demo (bucketed), per side` (`--per_side`): the
  same steps, but the encoder runs once per side, as Model Garden's DualEncoder does, instead
  of once on both sides stacked.
* `MG DualEncoder`: `official.nlp.modeling.models.DualEncoder` over
  `official.nlp.modeling.networks.BertEncoder` of the same depth, width, heads, FFN, dropout
  and pre-norm, trained by Model Garden's `official.nlp.tasks.dual_encoder.DualEncoderTask`
  (bidirectional in-batch softmax with the same scale 20 and margin 0.1).

Both read the same Bible en-fr training pairs
(`xling_tf.data.bible.build_translation_corpus(data_dir, "en", "fr").train_path`), tokenized by
the same in-graph SentencePiece model (the one inside `--model`, so no vocabulary is trained
here) through the same `xling_tf.data.pair_dataset` pipeline, with the demo's AdamW
(warm-up + linear decay) from `task.create_optimizer`. Each configuration runs in float32
and in mixed bfloat16 (Keras policy set before the model is built); a configuration that
fails is reported with its error instead of a number. Each model is built and takes
`--warmup_steps` steps (tracing, shuffle buffer fill); then `--rounds` rounds time `--steps`
steps of every model in turn, and each model's best round is reported (this machine is
shared: interleaving spreads other jobs' load over all models instead of one).

FLOPs are counted analytically for the matmuls only (embedding lookups, layer norms, softmax
and GELU are left out), forward pass per sentence of padded length T, width H, FFN width F,
L layers:

    L * (8 T H^2        Q, K, V and output projections
         + 4 T^2 H      attention scores and the weighted sum of values
         + 4 T H F)     the two FFN matmuls
    + head            ours: 2 H D (mean-pooled projection to D=512);
                      MG: 2 H^2 (tanh pooler on [CLS])

and per batch of B pairs 2 B^2 D' for the similarity matrix (D' the output width). A training
step costs 3x the forward pass (backward = 2x forward), over 2 sentences per example. T is
the padded length of each timed batch (read from the batch), so these are the FLOPs the CPU
actually executes, padding included. Achieved FLOP/s are divided by the peak of `tf.matmul`
on 2048 x 2048 matrices of the same dtype measured in this run (best of 10 calls,
before and after the training runs).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import xling_tf  # noqa: E402,F401  (selects tf_keras before TensorFlow loads Keras)
from xling_tf.configs import experiments  # noqa: E402
from xling_tf.data.pair_dataset import make_pair_dataset  # noqa: E402
from xling_tf.evaluation.retrieval import format_table  # noqa: E402
from xling_tf.modeling import dual_encoder  # noqa: E402
from xling_tf.modeling.factory import build_tokenizer  # noqa: E402
from xling_tf.trainer import xla_train_step  # noqa: E402

import bench_common  # noqa: E402
import numpy as np  # noqa: E402
import op_profile  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
from flops import ModelShape, train_step_flops  # noqa: E402
from official.core import task_factory  # noqa: E402
from official.modeling import performance  # noqa: E402
from official.nlp.configs import encoders  # noqa: E402
from official.nlp.tasks import dual_encoder as mg_dual_encoder  # noqa: E402

PRECISIONS = ("float32", "bfloat16")


def measure_matmul_peak(dtype: tf.DType, size: int = 2048, repeats: int = 10) -> float:
    """Best FLOP/s of tf.matmul on two [size, size] matrices of `dtype` (2 size^3 FLOPs)."""
    a = tf.random.normal([size, size], dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)
    matmul = tf.function(lambda x, y: tf.reduce_sum(tf.cast(tf.matmul(x, y)[0, :1], tf.float32)))
    matmul(a, b).numpy()  # trace and warm up
    seconds = bench_common.best_time(lambda: matmul(a, b).numpy(), repeats)
    return 2 * size**3 / seconds


def demo_params(train_path: str, sentencepiece_model: str, padded: bool):
    """The `demo` experiment reading `train_path` with an existing SentencePiece model."""
    params = experiments.demo()
    params.override(
        {
            "task": {
                "train_data": {
                    "input_path": train_path,
                    "length_bucketing": not padded,
                    "seed": 1,
                },
                "model": {
                    "tokenizer": {
                        "sentencepiece_model_file": sentencepiece_model,
                        "pad_to_max_length": padded,
                    }
                },
            }
        },
        is_strict=True,
    )
    return params


def build_xling(params) -> tuple[Any, tf_keras.Model, tf.data.Dataset, ModelShape]:
    """Our task, its DualEncoder and its training dataset (as `xling-tf train` builds them)."""
    task = task_factory.get_task(params.task)
    model = task.build_model()
    dataset = task.build_inputs(params.task.train_data)
    encoder = params.task.model.encoder
    shape = ModelShape(
        num_layers=encoder.num_layers,
        hidden_size=encoder.hidden_size,
        inner_dim=encoder.inner_dim,
        head_flops=2 * encoder.hidden_size * encoder.output_dim,
        output_dim=encoder.output_dim,
    )
    return task, model, dataset, shape


@contextlib.contextmanager
def _encoder_call_per_side():
    """Within: `dual_encoder.encode_sides` encodes each side in its own encoder call."""

    def per_side(encoder, sides, training=None):
        return [encoder(side, training=training)["pooled_output"] for side in sides]

    together = dual_encoder.encode_sides
    dual_encoder.encode_sides = per_side
    try:
        yield
    finally:
        dual_encoder.encode_sides = together


def _to_model_garden_features(batch: dict[str, dict[str, tf.Tensor]]) -> dict[str, tf.Tensor]:
    """Our {"left": side, "right": side} batch -> DualEncoder's flat left_*/right_* inputs."""
    features = {}
    for side in ("left", "right"):
        word_ids = batch[side]["input_word_ids"]
        features[f"{side}_word_ids"] = word_ids
        features[f"{side}_mask"] = batch[side]["input_mask"]
        features[f"{side}_type_ids"] = tf.zeros_like(word_ids)
    return features


def build_model_garden(params) -> tuple[Any, tf_keras.Model, tf.data.Dataset, ModelShape]:
    """Model Garden's DualEncoderTask over a BertEncoder shaped like our demo encoder.

    Its data are our padded-to-max batches (same rows, tokens and shuffle), renamed to the
    flat left_*/right_* features DualEncoder takes.
    """
    ours = params.task.model
    bert = encoders.EncoderConfig(
        type="bert",
        bert=encoders.BertEncoderConfig(
            vocab_size=ours.tokenizer.vocab_size,
            hidden_size=ours.encoder.hidden_size,
            num_layers=ours.encoder.num_layers,
            num_attention_heads=ours.encoder.num_attention_heads,
            intermediate_size=ours.encoder.inner_dim,
            hidden_activation=ours.encoder.inner_activation,
            dropout_rate=ours.encoder.dropout_rate,
            attention_dropout_rate=ours.encoder.attention_dropout_rate,
            max_position_embeddings=ours.tokenizer.max_seq_length,
            norm_first=ours.encoder.norm_first,
        ),
    )
    config = mg_dual_encoder.DualEncoderConfig(
        model=mg_dual_encoder.ModelConfig(
            max_sequence_length=ours.tokenizer.max_seq_length,
            normalize=ours.normalize,
            logit_scale=ours.logit_scale,
            logit_margin=ours.logit_margin,
            bidirectional=params.task.bidirectional,
            encoder=bert,
        )
    )
    task = mg_dual_encoder.DualEncoderTask(config)
    model = task.build_model()
    data = params.task.train_data
    dataset = make_pair_dataset(
        data.input_path,
        tokenizer=build_tokenizer(ours.tokenizer),
        batch_size=data.global_batch_size,
        shuffle_buffer_size=data.shuffle_buffer_size,
        seed=data.seed,
        length_bucketing=False,
    ).map(_to_model_garden_features)
    hidden = ours.encoder.hidden_size
    shape = ModelShape(
        num_layers=ours.encoder.num_layers,
        hidden_size=hidden,
        inner_dim=ours.encoder.inner_dim,
        head_flops=2 * hidden * hidden,
        output_dim=hidden,
    )
    return task, model, dataset, shape


def _seq_length(batch: Any) -> tf.Tensor:
    word_ids = batch["left"]["input_word_ids"] if "left" in batch else batch["left_word_ids"]
    return tf.shape(word_ids)[1]


def prepare_training(
    task: Any,
    model: tf_keras.Model,
    dataset: tf.data.Dataset,
    params,
    warmup_steps: int,
    jit_compile: bool = False,
) -> Callable[[int], dict[str, Any]]:
    """Builds the optimizer and a compiled train step, runs `warmup_steps`, returns a timer.

    `jit_compile`: the step of `xling-tf train --jit_compile` (`trainer.xla_train_step`: the
    forward pass, loss and gradients in XLA); else `task.train_step` in a plain tf.function.

    The returned function runs `task.train_step` for n more steps on `dataset` and returns
    {"seconds": wall time, "seq_lengths": padded T of each batch, "loss": the last loss}.
    """
    optimizer = task.create_optimizer(params.trainer.optimizer_config, params.runtime)
    metrics = task.build_metrics(training=True)
    iterator = iter(dataset)
    xla_step = xla_train_step(task, model, optimizer, metrics) if jit_compile else None

    @tf.function
    def train_step(iterator):
        batch = next(iterator)
        if xla_step is not None:
            return _seq_length(batch), xla_step(batch)
        logs = task.train_step(batch, model=model, optimizer=optimizer, metrics=metrics)
        return _seq_length(batch), logs[task.loss]

    for _ in range(warmup_steps):  # tracing, shuffle-buffer fill, oneDNN kernel selection
        train_step(iterator)[1].numpy()

    def run(steps: int) -> dict[str, Any]:
        seq_lengths = []
        loss = float("nan")
        started = time.perf_counter()
        for _ in range(steps):
            seq_length, loss_tensor = train_step(iterator)
            seq_lengths.append(int(seq_length.numpy()))
            loss = float(loss_tensor.numpy())
        return {
            "seconds": time.perf_counter() - started,
            "seq_lengths": seq_lengths,
            "loss": loss,
        }

    return run


def _error_summary(error: Exception) -> str:
    """The most telling line of an exception: Keras wraps the real op error in many lines."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    causes = [line for line in lines if "Error: " in line]
    return f"{type(error).__name__}: {(causes or lines or [''])[-1][:300]}"


Builder = Callable[[Any], tuple[Any, tf_keras.Model, tf.data.Dataset, ModelShape]]


@dataclasses.dataclass
class Configuration:
    """One model at one precision, built and warmed up (or the error that stopped it)."""

    name: str
    precision: str
    batch_size: int
    shape: ModelShape | None = None
    run: Callable[[int], dict[str, Any]] | None = None
    error: str = ""
    rounds: list[dict[str, float]] = dataclasses.field(default_factory=list)


def prepare_configuration(
    name: str,
    builder: Builder,
    params,
    precision: str,
    warmup_steps: int,
    jit_compile: bool = False,
    per_side: bool = False,
) -> Configuration:
    """Builds one model at one precision and warms it up; a failure is kept as `error`.

    `per_side`: our DualEncoder runs the encoder once per side (`_encoder_call_per_side`,
    in force while the warm-up traces the step)."""
    configuration = Configuration(name, precision, params.task.train_data.global_batch_size)
    # Keras reads the global policy when layers are built, so set it before building; a
    # built model keeps its policy, so models of both precisions can then run side by side.
    performance.set_mixed_precision_policy(tf.bfloat16 if precision == "bfloat16" else tf.float32)
    try:
        with _encoder_call_per_side() if per_side else contextlib.nullcontext():
            task, model, dataset, configuration.shape = builder(params)
            configuration.run = prepare_training(
                task, model, dataset, params, warmup_steps, jit_compile
            )
    except Exception as error:  # noqa: BLE001  (a failing model is a result, not a crash)
        configuration.error = _error_summary(error)
        print(f"{name} {precision} FAILED: {configuration.error}", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
    finally:
        performance.set_mixed_precision_policy(tf.float32)
    return configuration


def time_round(configuration: Configuration, steps: int) -> None:
    """Times `steps` more steps of a prepared configuration; appends the round's rates."""
    assert configuration.run is not None and configuration.shape is not None
    timing = configuration.run(steps)
    batch_size = configuration.batch_size
    flops = sum(train_step_flops(configuration.shape, batch_size, t) for t in timing["seq_lengths"])
    configuration.rounds.append(
        {
            "examples_per_s": steps * batch_size / timing["seconds"],
            "mean_seq_length": sum(timing["seq_lengths"]) / steps,
            "gflop_per_s": flops / timing["seconds"] / 1e9,
            "loss": timing["loss"],
        }
    )
    print(
        f"{configuration.name} {configuration.precision}: {configuration.rounds[-1]}",
        file=sys.stderr,
        flush=True,
    )


def summary_row(configuration: Configuration) -> dict[str, Any]:
    """The best round (least disturbed by other jobs) plus the median examples/s."""
    row: dict[str, Any] = {"model": configuration.name, "precision": configuration.precision}
    if configuration.error:
        row["error"] = configuration.error
        return row
    best = max(configuration.rounds, key=lambda r: r["examples_per_s"])
    row.update(best)
    row["median_examples_per_s"] = float(
        np.median([r["examples_per_s"] for r in configuration.rounds])
    )
    return row


PROFILED = ("xling demo, padded 48", "MG DualEncoder, padded 48")


def profile_section(prepared: list[Configuration], steps: int, top: int = 14) -> str:
    """Milliseconds per step by op type and by model scope, ours against Model Garden's.

    Profiles `steps` more steps of the float32 padded-48 configurations (identical shapes),
    after the timed rounds so that tracing and warm-up are not in the profile.
    """
    profiled = {}
    for c in prepared:
        if c.name in PROFILED and c.precision == "float32" and not c.error:
            assert c.run is not None  # set whenever preparing did not fail
            profiled[c.name] = op_profile.profile_ops(functools.partial(c.run, 1), steps)
    by_type = {
        name: op_profile.per_step(events, steps, lambda _, op_type: op_type)
        for name, events in profiled.items()
    }
    counts = {
        name: op_profile.count_per_step(events, steps, lambda _, op_type: op_type)
        for name, events in profiled.items()
    }
    types: list[str] = []
    for totals in by_type.values():
        types += [t for t in list(totals)[:top] if t not in types]
    columns = [f"{name} {what}" for name in by_type for what in ("ms", "calls")]
    type_rows = [
        {
            "op type": t,
            **{f"{name} ms": f"{totals.get(t, 0.0):.1f}" for name, totals in by_type.items()},
            **{f"{name} calls": f"{c.get(t, 0):.0f}" for name, c in counts.items()},
        }
        for t in [*types, "all ops"]
    ]
    for name, totals in by_type.items():
        type_rows[-1][f"{name} ms"] = f"{sum(totals.values()):.1f}"
        type_rows[-1][f"{name} calls"] = f"{sum(counts[name].values()):.0f}"
    sections = [
        f"Profile: {steps} steps of each float32 padded-48 model under TensorFlow's profiler "
        "(benchmarks/op_profile.py), per step: op time in ms summed over the compute threads "
        "(2 cores: the sum can exceed the wall time) and op executions, forward and backward "
        "together.",
        format_table(type_rows, ["op type", *columns]),
    ]
    for name, events in profiled.items():
        scopes = op_profile.per_step(events, steps, lambda op_name, _: op_profile.scope(op_name))
        rows = [{"scope": k, "ms/step": f"{v:.1f}"} for k, v in list(scopes.items())[:top]]
        sections += [f"{name}, by scope:", format_table(rows, ["scope", "ms/step"])]
    return "\n\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=bench_common.DEFAULT_MODEL, help="an xling export")
    parser.add_argument("--data_dir", default=bench_common.DEFAULT_DATA_DIR)
    parser.add_argument("--warmup_steps", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per model")
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument(
        "--xla", action="store_true", help="also time the demo's step compiled with XLA"
    )
    parser.add_argument(
        "--profile_steps",
        type=int,
        default=0,
        help="then profile this many steps of each padded-48 float32 model (op_profile.py)",
    )
    parser.add_argument(
        "--per_side",
        action="store_true",
        help="also time the padded step with one encoder call per side (Model Garden's way)",
    )
    parser.add_argument("--output_name", default="train_throughput", help="results/<name>.md")
    args = parser.parse_args(argv)
    sentencepiece_model = os.path.join(args.model, "assets", "sentencepiece.model")
    if not os.path.exists(sentencepiece_model):
        parser.error(f"{sentencepiece_model} not found: --model must be a SentencePiece export")
    train_path = os.path.join(bench_common.bible_pair_dir(args.data_dir, "en", "fr"), "train.tsv")
    precisions = [p for p in args.precisions.split(",") if p]
    for precision in precisions:
        if precision not in PRECISIONS:
            parser.error(f"--precisions: {precision!r} is not one of {PRECISIONS}")

    # Measured before and after the training runs; the larger is the less disturbed one.
    peaks = {p: measure_matmul_peak(tf.dtypes.as_dtype(p)) for p in PRECISIONS}
    print(f"matmul peak GFLOP/s: { {p: v / 1e9 for p, v in peaks.items()} }", file=sys.stderr)

    bucketed = demo_params(train_path, sentencepiece_model, padded=False)
    padded = demo_params(train_path, sentencepiece_model, padded=True)
    # (name, builder, params, XLA, one encoder call per side)
    configurations: list[tuple[str, Builder, Any, bool, bool]] = [
        ("xling demo (bucketed)", build_xling, bucketed, False, False),
        ("xling demo, padded 48", build_xling, padded, False, False),
        ("MG DualEncoder, padded 48", build_model_garden, padded, False, False),
    ]
    if args.per_side:
        configurations += [
            ("xling demo (bucketed), per side", build_xling, bucketed, False, True),
            ("xling demo, padded 48, per side", build_xling, padded, False, True),
        ]
    if args.xla:
        # One padded shape: XLA compiles once (bucketed batches would compile per length).
        configurations.append(("xling demo, padded 48, XLA", build_xling, padded, True, False))
    prepared = [
        prepare_configuration(name, builder, params, precision, args.warmup_steps, jit, side)
        for precision in precisions
        for name, builder, params, jit, side in configurations
    ]
    # Rounds interleave the configurations, so a burst of load from another job on this
    # shared machine hits one round of each rather than all rounds of one configuration.
    for _ in range(args.rounds):
        for configuration in prepared:
            if not configuration.error:
                time_round(configuration, args.steps)
    rows = [summary_row(c) for c in prepared]

    for p in PRECISIONS:
        peaks[p] = max(peaks[p], measure_matmul_peak(tf.dtypes.as_dtype(p)))
    for row in rows:
        if "gflop_per_s" in row:
            row["peak_share"] = row["gflop_per_s"] * 1e9 / peaks[row["precision"]]

    def rate(name: str, precision: str) -> float | None:
        for row in rows:
            if row["model"] == name and row["precision"] == precision:
                return row.get("examples_per_s")
        return None

    ratios = []
    for numerator, denominator, label in [
        (
            ("xling demo, padded 48", "float32"),
            ("MG DualEncoder, padded 48", "float32"),
            "ours / MG, same padded shapes, float32",
        ),
        (
            ("xling demo (bucketed)", "float32"),
            ("MG DualEncoder, padded 48", "float32"),
            "ours as trained (bucketed) / MG, float32",
        ),
        (
            ("xling demo (bucketed)", "bfloat16"),
            ("MG DualEncoder, padded 48", "float32"),
            "ours as trained (bucketed, bf16 = demo default) / MG float32",
        ),
        (
            ("xling demo, padded 48", "bfloat16"),
            ("MG DualEncoder, padded 48", "bfloat16"),
            "ours / MG, same padded shapes, bfloat16",
        ),
        (
            ("xling demo (bucketed)", "bfloat16"),
            ("xling demo (bucketed)", "float32"),
            "ours: bfloat16 / float32",
        ),
        (
            ("xling demo, padded 48, per side", "float32"),
            ("xling demo, padded 48", "float32"),
            "ours: one encoder call per side / both sides stacked, padded 48, float32",
        ),
        (
            ("xling demo, padded 48, per side", "bfloat16"),
            ("xling demo, padded 48", "bfloat16"),
            "ours: one encoder call per side / both sides stacked, padded 48, bfloat16",
        ),
        (
            ("xling demo (bucketed), per side", "bfloat16"),
            ("xling demo (bucketed)", "bfloat16"),
            "ours as trained (bucketed, bfloat16): one encoder call per side / stacked",
        ),
        (
            ("xling demo, padded 48, per side", "float32"),
            ("MG DualEncoder, padded 48", "float32"),
            "ours, one encoder call per side / MG, same padded shapes, float32",
        ),
        (
            ("xling demo, padded 48, XLA", "float32"),
            ("xling demo, padded 48", "float32"),
            "ours: XLA / no XLA, padded 48, float32",
        ),
        (
            ("xling demo, padded 48, XLA", "bfloat16"),
            ("xling demo, padded 48", "bfloat16"),
            "ours: XLA / no XLA, padded 48, bfloat16",
        ),
        (
            ("xling demo, padded 48, XLA", "bfloat16"),
            ("xling demo (bucketed)", "bfloat16"),
            "ours: XLA padded 48 / demo as trained (bucketed), bfloat16",
        ),
    ]:
        top, bottom = rate(*numerator), rate(*denominator)
        ratios.append(
            {"ratio": label, "value": f"{top / bottom:.2f}x" if top and bottom else "n/a"}
        )

    columns = [
        "model",
        "precision",
        "examples_per_s",
        "median_examples_per_s",
        "mean_seq_length",
        "gflop_per_s",
    ]
    table = format_table(
        [
            {
                **{key: bench_common.format_value(row.get(key), ".1f") for key in columns},
                "peak_share": bench_common.format_value(row.get("peak_share"), ".1%"),
                "error": row.get("error", ""),
            }
            for row in rows
        ],
        [*columns, "peak_share", "error"],
    )
    peak_table = format_table(
        [{"dtype": p, "tf.matmul 2048^2 GFLOP/s": f"{v / 1e9:.0f}"} for p, v in peaks.items()],
        ["dtype", "tf.matmul 2048^2 GFLOP/s"],
    )
    ratio_table = format_table(ratios, ["ratio", "value"])
    profile_tables = profile_section(prepared, args.profile_steps) if args.profile_steps else ""
    body = "\n\n".join(
        [
            f"Batch {bucketed.task.train_data.global_batch_size} pairs, max 48 tokens, "
            f"{args.warmup_steps} warm-up steps, then {args.rounds} rounds of {args.steps} timed "
            f"steps per model, the models interleaved round by round; "
            f"data {train_path}.",
            peak_table,
            table,
            ratio_table,
            profile_tables,
        ]
    )
    notes = (
        "examples/s = pairs per second in the best round (the one least slowed by other jobs "
        "on this shared machine), with the median over rounds next to it; GFLOP/s and "
        "mean_seq_length are from that best round. mean_seq_length = mean padded length T of "
        "the timed batches. GFLOP/s counts matmul FLOPs analytically (formula in benchmarks/"
        "flops.py), padding included; peak share = that / the tf.matmul "
        "peak of the same dtype."
    )
    print(peak_table + "\n\n" + table + "\n\n" + ratio_table + "\n\n" + profile_tables)
    path = bench_common.write_result(
        args.output_name, "Training throughput: xling demo vs Model Garden DualEncoder", body, notes
    )
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
