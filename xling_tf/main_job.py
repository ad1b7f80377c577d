"""The README's main job: real data -> trained encoder -> exported SavedModel -> P@1 table.

Each stage is safe to repeat: the corpus build is deterministic, training resumes from the
newest checkpoint (and returns at once when finished), the export is swapped in atomically.
"""

from __future__ import annotations

import json
import os
import time

import xling_tf  # noqa: F401
from xling_tf.configs import experiments  # also registers the experiments
from xling_tf.data import bible, multitask_corpus
from xling_tf.data.pairs import read_aligned_pairs
from xling_tf.evaluation import retrieval, translation_retrieval
from xling_tf.evaluation.embedding_cache import CachedEmbedder
from xling_tf.evaluation.tensorboard_logs import read_scalars
from xling_tf.tokenization.vocabulary import task_configs

import tensorflow as tf
from absl import logging
from official.core import exp_factory
from official.modeling import hyperparams
from official.modeling.multitask import configs as mt_configs


def _mean_throughput(model_dir: str) -> float:
    points = read_scalars(os.path.join(model_dir, "train"), "examples_per_second")
    # The first block includes graph tracing and filling the shuffle buffer.
    steady = [value for _, value in points[1:]] or [value for _, value in points]
    return sum(steady) / len(steady) if steady else float("nan")


def _evaluation_pairs(params, language_pair: str) -> list[tuple[str, str]]:
    """The translation pairs the model is trained on (retrieval is measured on each)."""
    if isinstance(params, mt_configs.MultiTaskExperimentConfig):
        pairs = multitask_corpus.translation_pairs(multitask_corpus.routine_names(params))
        if pairs:
            return pairs
    return [bible.parse_language_pair(language_pair)]


def has_native_tasks(params) -> bool:
    """Whether a multi-task experiment has Quick-Thought or response-ranking routines: the
    ones an NLI file joins (`--nli_file` adds `nli_en` to these, never to a translation-only
    ablation)."""
    return any(
        multitask_corpus.parse_routine(name)[0] in ("quick_thought", "response")
        for name in multitask_corpus.routine_names(params)
    )


def _prepare_training_data(
    params,
    data_dir: str,
    corpus,
    nli_file: str | None,
    nli_split: str | None,
    teacher_cache_dir: str,
) -> str:
    """Points the experiment at its training files; returns a one-line description."""
    if not isinstance(params, mt_configs.MultiTaskExperimentConfig):
        params.override({"task": {"train_data": {"input_path": corpus.train_path}}}, is_strict=True)
        return f"translation ranking on {corpus.train_pairs} pairs"
    native = has_native_tasks(params)
    if nli_file and not native:
        # A translation-only ablation stays translation-only: same flags, one difference.
        print(f"      {nli_file} not used: this experiment has only translation tasks", flush=True)
        nli_file = None
    if nli_file:
        experiments.add_nli_routine(params, "")
    elif native:
        print(
            "      no --nli_file given: training without the NLI task (pass an SNLI/MNLI "
            "jsonl, XNLI or SICK file to add it)",
            flush=True,
        )
    paths = multitask_corpus.fill_routine_paths(params, data_dir, nli_file, nli_split=nli_split)
    for routine in params.task.task_routines:
        if hasattr(routine.task_config, "teacher") and not routine.task_config.teacher_cache_dir:
            # Shared by reruns and other experiments on the same corpus.
            routine.task_config.teacher_cache_dir = os.path.join(teacher_cache_dir, "teacher")
    return "multi-task: " + ", ".join(paths)


def _teacher_spec(params) -> str | None:
    """The teacher of the experiment's distillation routines, if it has any."""
    if isinstance(params, mt_configs.MultiTaskExperimentConfig):
        for routine in params.task.task_routines:
            if hasattr(routine.task_config, "teacher"):
                return routine.task_config.teacher
    return None


def _batch_sizes(params) -> dict[str, int]:
    if isinstance(params, mt_configs.MultiTaskExperimentConfig):
        return {
            routine.task_name: routine.task_config.train_data.global_batch_size
            for routine in params.task.task_routines
        }
    return {"translation": params.task.train_data.global_batch_size}


def _trained_precision(model_dir: str) -> str:
    """The dtype the run trained in, as its params.yaml records it ("auto" resolved).

    The demo serves in that precision: bfloat16 on a CPU with native bfloat16, where it
    embeds about 1.4x faster than float32.
    """
    runtime = hyperparams.read_yaml_to_params_dict(os.path.join(model_dir, "params.yaml")).runtime
    return runtime.mixed_precision_dtype or "float32"


def _checkpoint_identity(checkpoint_path: str) -> str:
    """`ckpt-N <index file mtime_ns>`: tells a retrained ckpt-N from the one evaluated."""
    return f"{os.path.basename(checkpoint_path)} {os.stat(checkpoint_path + '.index').st_mtime_ns}"


def _reusable_results(
    results_path: str, export_dir: str, evaluation: dict, checkpoint_path: str
) -> dict | None:
    """The stored results when they measured this checkpoint's export in the same way.

    A rerun of a finished job then prints its table again instead of exporting and
    evaluating the same weights a second time; anything else (another checkpoint, another
    test-set size or teacher, a missing or different export) gets a fresh export and
    evaluation.
    """
    from xling_tf.export.export_hub import read_metadata

    if not os.path.exists(results_path):
        return None
    with open(results_path, encoding="utf-8") as f:
        stored = json.load(f)
    metadata = read_metadata(export_dir)
    if (
        stored.get("evaluation") != evaluation
        or stored.get("checkpoint") != _checkpoint_identity(checkpoint_path)
        or metadata is None
        or metadata.get("checkpoint") != os.path.basename(checkpoint_path)
    ):
        return None
    return stored


def run_main_job(
    workdir: str = ".",
    experiment: str = "demo_distill",
    language_pair: str = "en-fr",
    train_steps: int | None = None,
    params_override: str | dict | None = None,
    nli_file: str | None = None,
    nli_split: str | None = None,
    max_test_pairs: int | None = None,
    seed: int | None = None,
    run_name: str | None = None,
) -> dict:
    """Runs every stage and prints the results table; returns the results dict.

    A multi-task experiment gets every routine's data built (translation pairs, Quick-Thought
    triples, conversations, and NLI from `nli_file` when given, restricted to the SICK
    SemEval_set `nli_split` if set); retrieval is measured on the held-out New Testament
    pairs of every translation routine (a single-task experiment: of `language_pair`), or
    on the first `max_test_pairs` of them (a quicker check; None: all of them).

    When the newest checkpoint is the one the stored results measured (a rerun of a finished
    job), the export and evaluation are not repeated: the stored table is printed again.

    `params_override` (Model Garden's --params_override: a dict, a YAML/JSON string, `a.b=c`
    pairs or a YAML file) applies after the data paths and `train_steps` are set, so it can
    change them too; a bad one is a ConfigError before training starts.

    `seed` seeds the initial weights (`train.seed_everything`) and every task's shuffle
    (`train_data.seed`), so two seeds are two independent runs of one recipe; None keeps the
    default data order and unseeded weights. `run_name` names the runs/, exports/ and
    results/ folders (default: the experiment, plus the pair for a single-task one).
    """
    from xling_tf import train
    from xling_tf.export.export_hub import export_text_encoder
    from xling_tf.inference import load_text_encoder

    logging.set_verbosity(logging.INFO)
    timings: dict[str, float] = {}
    started = time.time()
    data_dir = os.path.join(workdir, "data", "bible")
    params = exp_factory.get_exp_config(experiment)
    eval_pairs = _evaluation_pairs(params, language_pair)
    if not run_name:
        run_name = experiment if len(eval_pairs) > 1 else f"{experiment}-{'-'.join(eval_pairs[0])}"
    model_dir = os.path.join(workdir, "runs", run_name)
    export_dir = os.path.join(workdir, "exports", run_name)
    results_dir = os.path.join(workdir, "results", run_name)

    names = ", ".join(f"{s}-{t}" for s, t in eval_pairs)
    print(f"[1/4] building Bible {names} pairs (New Testament held out) in {data_dir}", flush=True)
    corpora = {pair: bible.build_translation_corpus(data_dir, *pair) for pair in eval_pairs}
    description = _prepare_training_data(
        params,
        data_dir,
        corpora[eval_pairs[0]],
        nli_file,
        nli_split,
        teacher_cache_dir=os.path.join(workdir, "cache"),
    )
    timings["prepare_data_s"] = time.time() - started
    print(f"[2/4] training experiment {experiment!r} in {model_dir}: {description}", flush=True)
    stage = time.time()
    if train_steps:
        experiments.set_train_steps(params, train_steps)
    train.apply_params_override(params, params_override)
    if seed is not None:
        train.seed_everything(seed)
        for task_config in task_configs(params):
            task_config.train_data.override({"seed": seed}, is_strict=True)
    train.run(params, model_dir, mode="train")
    timings["train_s"] = time.time() - stage

    checkpoint_path = tf.train.latest_checkpoint(model_dir)
    teacher = _teacher_spec(params)
    serving_dtype = _trained_precision(model_dir)
    evaluation = {
        "language_pairs": ["-".join(pair) for pair in corpora],
        "max_test_pairs": max_test_pairs,
        "teacher": teacher,
        "serving_dtype": serving_dtype,
    }
    results_path = os.path.join(results_dir, "results.json")
    stored = _reusable_results(results_path, export_dir, evaluation, checkpoint_path)
    if stored is not None:
        with open(os.path.join(results_dir, "results.md"), encoding="utf-8") as f:
            table = f.read()
        print(
            f"[3/4] {export_dir} is the export of {os.path.basename(checkpoint_path)}, the "
            f"newest checkpoint: not exported again\n[4/4] results of that export, measured "
            f"before, from {results_path}:\n\n{table}",
            flush=True,
        )
        return stored

    print(f"[3/4] exporting the text encoder to {export_dir}", flush=True)
    stage = time.time()
    export_text_encoder(model_dir, export_dir, checkpoint_path, serving_dtype=serving_dtype)
    timings["export_s"] = time.time() - stage

    stage = time.time()
    throughput = _mean_throughput(model_dir)
    encoders = {experiment: load_text_encoder(export_dir)}
    if teacher:
        from xling_tf.distillation.teachers import load_teacher

        # The teacher's numbers come from the same run, on the same pairs.
        encoders[f"teacher {teacher.rpartition('.')[2]}"] = load_teacher(teacher)
    # The English test side is the same for every pair: encode each sentence once.
    cached = {name: CachedEmbedder(embed_fn) for name, embed_fn in encoders.items()}
    retrieval_results: dict[str, dict] = {}
    rows = []
    for pair, corpus in corpora.items():
        name = "-".join(pair)
        aligned = read_aligned_pairs(corpus.test_path, max_pairs=max_test_pairs)
        print(f"[4/4] {name} retrieval on {len(aligned)} held-out pairs", flush=True)
        for model_name, embed_fn in cached.items():
            before = embed_fn.stats()
            result = translation_retrieval.evaluate_retrieval(embed_fn, aligned)
            # Speed over the sentences this pair encoded (not over the memo's lookups).
            after = embed_fn.stats()
            encoded = after["encoded"] - before["encoded"]
            seconds = after["encode_seconds"] - before["encode_seconds"]
            result["sentences_per_second"] = encoded / seconds if seconds > 0 else float("nan")
            retrieval_results.setdefault(model_name, {})[name] = result
            row = translation_retrieval.summary_row(f"{model_name} ({name})", result)
            row["train examples/s"] = throughput if model_name == experiment else float("nan")
            rows.append(row)
    timings["evaluate_s"] = time.time() - stage
    timings["total_s"] = time.time() - started

    columns = translation_retrieval.table_columns() + ["train examples/s"]
    table = retrieval.format_table(rows, columns)
    results = {
        "experiment": experiment,
        "language_pairs": evaluation["language_pairs"],
        "checkpoint": _checkpoint_identity(checkpoint_path),
        "evaluation": evaluation,
        "export": os.path.abspath(export_dir),
        "retrieval": retrieval_results[experiment],
        "teacher": teacher,
        "teacher_retrieval": next(
            (result for name, result in retrieval_results.items() if name != experiment), None
        ),
        "train_examples_per_second": throughput,
        "timings": timings,
        "train_steps": params.trainer.train_steps,
        "global_batch_sizes": _batch_sizes(params),
    }
    os.makedirs(results_dir, exist_ok=True)
    # The table first: results.json is what a rerun looks for (see _reusable_results).
    with open(os.path.join(results_dir, "results.md"), "w") as f:
        f.write(table + "\n")
    with open(results_path, "w") as f:
        json.dump(results, f, indent=2)
    print("\n" + table)
    print(
        f"\nwall time {timings['total_s'] / 60:.1f} min "
        f"(data {timings['prepare_data_s']:.0f}s, train {timings['train_s']:.0f}s, "
        f"export {timings['export_s']:.0f}s, evaluate {timings['evaluate_s']:.0f}s); "
        f"results in {results_dir}",
        flush=True,
    )
    return results
