"""Shared fixtures: a synthetic parallel corpus, a tiny vocabulary, a tiny trained run.

The suite's time is mostly TensorFlow process start-up (10-20 s a process here), so what
costs a process is built once per session and shared: by every test module (session fixtures)
and, under pytest-xdist (`make test` runs two workers), by every worker (`build_once`).
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from export_cases import SERVING_VERSION
from forkserver import IMPORT_TIME_ENV, ForkedProcess, ForkServer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A toy "language pair": every English word has one French counterpart, so a model that learns
# word alignment retrieves translations; sentences are random, so nothing can be memorised.
EN = (
    "the cat dog house red blue big small runs eats sleeps water tree sun moon bird "
    "green old young river mountain sings reads"
).split()
FR = (
    "le chat chien maison rouge bleu grand petit court mange dort eau arbre soleil lune "
    "oiseau vert vieux jeune fleuve montagne chante lit"
).split()


# Text every tokenizer and exported model must survive (tests document what each becomes).
HOSTILE = [
    "",
    "   \t  ",
    "a" * 10_000,
    "😀🎉 emoji only 👍",
    "مرحبا بالعالم",  # Arabic, right-to-left
    "你好世界",
    "the cat mange 你好 مرحبا 😀",  # mixed scripts
    b"nul\x00byte",
    b"\xff\xfe\xfa invalid utf-8 \xc3",
]

# What the export tests feed every exported model and compare with the trained model.
EXPORT_TEXTS = [
    "the big cat",
    "le grand chat",
    "",
    "   ",
    "a" * 10_000,
    "😀 مرحبا 你好 mixed",
    "nul\x00byte",
]

# Restores a training run's newest checkpoint and saves what its dual encoder embeds for
# `texts`: the reference every exported model is compared against.
_REFERENCE_SCRIPT = """
import sys, numpy as np, tensorflow as tf
from xling_tf.export.export_hub import load_experiment_params, restore_trained_model
from xling_tf.modeling.factory import build_tokenizer
model_dir, texts, out = sys.argv[1], eval(sys.argv[2]), sys.argv[3]
params = load_experiment_params(model_dir)
model, _ = restore_trained_model(params, model_dir)
tokens = build_tokenizer(params.task.model.tokenizer)(tf.constant(texts))
np.save(out, model.embed(tokens).numpy())
"""


# `make test` hands whole files to two xdist workers in this order (--dist loadfile
# --no-loadscope-reorder). The two files that start by building the suite's large shared
# artifacts go first, one to each worker, so that neither worker starts by waiting on the
# other's build lock: test_multitask.py builds the real-corpus main job (main_job_run, about
# 30 s) and test_benchmarks.py the tiny run and its export (trained_run, export_dir, about
# 20 s), which most export tests read. Then the other files by number of tests, largest first
# (xdist's own order, which the flag turns off).
FIRST_FILES = ("test_multitask.py", "test_benchmarks.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests_per_file = Counter(item.path.name for item in items)

    def file_order(item: pytest.Item) -> tuple:
        name = item.path.name
        first = FIRST_FILES.index(name) if name in FIRST_FILES else len(FIRST_FILES)
        return first, -tests_per_file[name], name

    items.sort(key=file_order)  # stable: a file's tests keep their order


def free_ports(count: int) -> list[int]:
    """Ports the OS reports free now (bound together, so they are distinct): for TF_CONFIG
    of local multi-worker runs."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def trained_model_vectors(model_dir: str, texts: list, out_path: str):
    """float32 [len(texts), D] vectors of the trained model, computed in a fresh process."""
    import numpy as np

    run_python(["-c", _REFERENCE_SCRIPT, model_dir, repr(texts), out_path])
    return np.load(out_path)


def synthetic_pairs(num_pairs: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(num_pairs):
        idx = [rng.randrange(len(EN)) for _ in range(rng.randint(3, 8))]
        rows.append((" ".join(EN[i] for i in idx), " ".join(FR[i] for i in idx)))
    return rows


def assert_png(path) -> None:
    """`path` is a valid PNG image of a readable size (what every plot test checks)."""
    from PIL import Image

    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", path
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.size[0] > 200 and image.size[1] > 150, (path, image.size)


def write_tsv(path: str, rows) -> str:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write("\t".join(row) + "\n")
    return path


# Environment variables a test may set that decide how a process starts, not just what it
# does: a run that sets one gets a real new interpreter instead of a fork (tests/forkserver.py).
REAL_PROCESS_ENV = ("TF_USE_LEGACY_KERAS", "PYTHONHOME", "LD_PRELOAD", "LD_LIBRARY_PATH")

_fork_servers: dict[tuple, ForkServer] = {}


def _python_env(env: dict | None) -> dict[str, str]:
    """The environment of a project process: ours, TensorFlow's C++ log at level 2 (errors
    only; the test process's `import xling_tf` set 1), then the test's `env` on top."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}


def _fork_server(env: dict[str, str], explicit: dict) -> ForkServer | None:
    """This worker's fork server for `env` (started on first use), or None when the run
    needs a real process: XLING_TEST_FORK=0, or `explicit` sets a REAL_PROCESS_ENV key."""
    if os.environ.get("XLING_TEST_FORK") == "0" or set(explicit) & set(REAL_PROCESS_ENV):
        return None
    key = tuple(env.get(name) for name in IMPORT_TIME_ENV)
    if key not in _fork_servers:
        _fork_servers[key] = server = ForkServer(env, cwd=REPO)
        atexit.register(server.close)
    return _fork_servers[key]


def run_python(
    args: list[str], env: dict | None = None, timeout: int = 600, check: bool = True
) -> subprocess.CompletedProcess:
    """Runs the project's Python in a fresh process (the way users load our models).

    The process is forked from a server that has imported TensorFlow and nothing else
    (tests/forkserver.py: the same start-up minus 6 s of CPU), or a real new interpreter when
    `env` sets a REAL_PROCESS_ENV variable. Background processes (`start_python`) are forked
    the same way; the packaging and notebook tests start real ones (an installed script, a
    Jupyter kernel).
    """
    full_env = _python_env(env)
    server = _fork_server(full_env, env or {})
    if server is not None:
        result = server.run(args, full_env, cwd=REPO, timeout=timeout)
    else:
        result = subprocess.run(
            [sys.executable, *args],
            cwd=REPO,
            env=full_env,
            timeout=timeout,
            capture_output=True,
            text=True,
        )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{args[:3]} exited {result.returncode}\nstdout:\n{result.stdout[-4000:]}\n"
            f"stderr:\n{result.stderr[-6000:]}"
        )
    return result


# `python -m xling_tf.train` once per phase, in one process (one TensorFlow start): argv[1] is
# a JSON list of flag lists; "PHASE" goes to stderr before each phase's log.
_TRAINING_PHASES_SCRIPT = r"""
import json, sys
from absl import flags, logging
from xling_tf import train
logging.use_absl_handler()  # as under app.run, with --logtostderr: log lines on stderr
train.define_flags()
for argv in json.loads(sys.argv[1]):
    print("PHASE", file=sys.stderr, flush=True)
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["train", "--logtostderr", *argv])
    logging.set_verbosity(logging.INFO)  # app.run's level; parsing the flags resets it
    train.main(None)
"""


def run_training_phases(phases: list[list[str]]) -> subprocess.CompletedProcess:
    """Runs `xling_tf.train` with each flag list of `phases` in turn, in one fresh process
    (e.g. a training and its resume); stderr holds "PHASE" before each phase's log."""
    return run_python(["-c", _TRAINING_PHASES_SCRIPT, json.dumps(phases)])


def checkpoint_steps(model_dir: str) -> list[int]:
    """Steps of the `ckpt-<step>` checkpoints in `model_dir`, ascending."""
    return sorted(
        int(name[len("ckpt-") : -len(".index")])
        for name in os.listdir(model_dir)
        if name.startswith("ckpt-") and name.endswith(".index")
    )


def checkpoint_values(path: str) -> dict:
    """{variable name: numpy value} of every variable in the checkpoint `path`."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


T = TypeVar("T")


def build_once(tmp_path_factory, name: str, build: Callable[[Path], T]) -> T:
    """`build(folder)` run once per test session, also across pytest-xdist workers.

    Without xdist this is `build(tmp_path_factory.mktemp(name))`. Under xdist the first worker
    to ask builds into a folder beside the workers' own temporary folders, holding a file lock
    while it does, and saves the result as JSON; the others wait for the lock and read it.
    So `build` must return JSON-serialisable values (paths as str), and whatever it writes is
    shared read-only: a test that modifies an artifact copies it first.
    """
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return build(tmp_path_factory.mktemp(name))
    # Each worker's basetemp is <session basetemp>/popen-gw<N>: the parent is this run's own.
    shared = tmp_path_factory.getbasetemp().parent / "shared"
    shared.mkdir(exist_ok=True)
    result_path = shared / f"{name}.json"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if result_path.exists():
            return json.loads(result_path.read_text(encoding="utf-8"))
        folder = shared / name
        shutil.rmtree(folder, ignore_errors=True)  # a worker that failed building it
        folder.mkdir()
        result = build(folder)
        result_path.write_text(json.dumps(result), encoding="utf-8")
        return result


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("corpus")
    write_tsv(os.path.join(folder, "train.tsv"), synthetic_pairs(600, seed=1))
    write_tsv(os.path.join(folder, "test.tsv"), synthetic_pairs(120, seed=2))
    return str(folder)


@pytest.fixture(scope="session")
def sentencepiece_model(tmp_path_factory, corpus_dir) -> str:
    from xling_tf.tokenization.sentencepiece_tokenizer import train_sentencepiece

    extra = ["مرحبا بالعالم", "你好世界", "Grüße aus Köln", "😀 emoji"] * 20
    sentences = [s for row in synthetic_pairs(600, seed=1) for s in row] + extra
    return train_sentencepiece(
        sentences, str(tmp_path_factory.mktemp("vocab") / "sp.model"), vocab_size=200
    )


@pytest.fixture
def tokenizer(sentencepiece_model):
    """The tiny SentencePiece tokenizer layer (16 tokens) most data tests feed."""
    from xling_tf.tokenization.sentencepiece_tokenizer import SentencepieceTextTokenizer

    return SentencepieceTextTokenizer(sentencepiece_model, max_seq_length=16)


TINY_OVERRIDES = "trainer.train_steps=40,trainer.checkpoint_interval=20,trainer.steps_per_loop=10,trainer.summary_interval=10"


def train_flags(
    model_dir: str, train_path: str, overrides: str = TINY_OVERRIDES, extra: list[str] | None = None
) -> list[str]:
    """`xling_tf.train`'s flags for a tiny run on `train_path` (`run_training_phases` phases)."""
    return [
        "--experiment=tiny",
        "--mode=train",
        f"--model_dir={model_dir}",
        f"--params_override=task.train_data.input_path={train_path},{overrides}",
        *(extra or []),
    ]


def train_args(
    model_dir: str, train_path: str, overrides: str = TINY_OVERRIDES, extra: list[str] | None = None
) -> list[str]:
    """`python` arguments of a tiny training process (`train_flags` after the module)."""
    return ["-m", "xling_tf.train", *train_flags(model_dir, train_path, overrides, extra)]


def trainer_overrides(train_steps: int, checkpoint_interval: int, steps_per_loop: int) -> str:
    return (
        f"trainer.train_steps={train_steps},trainer.checkpoint_interval={checkpoint_interval},"
        f"trainer.steps_per_loop={steps_per_loop},trainer.summary_interval={steps_per_loop}"
    )


def start_python(
    args: list[str], log_path, env: dict | None = None, stderr_path=None
) -> subprocess.Popen | ForkedProcess:
    """Starts the project's Python with `args` in the background (forked like `run_python`),
    stdout to `log_path`, stderr to `stderr_path` (default: into `log_path`)."""
    full_env = _python_env(env)
    server = _fork_server(full_env, env or {})
    if server is not None:
        err = None if stderr_path is None else str(stderr_path)
        return server.start(args, full_env, REPO, str(log_path), err)
    log = open(log_path, "w", encoding="utf-8")
    err_file = subprocess.STDOUT if stderr_path is None else open(stderr_path, "w")
    return subprocess.Popen(
        [sys.executable, *args], cwd=REPO, env=full_env, stdout=log, stderr=err_file
    )


def start_training(
    model_dir, train_path, overrides, batch_log, log_path
) -> subprocess.Popen | ForkedProcess:
    """A training in the background that logs its batches to `batch_log` (see wait_for_step)."""
    args = train_args(model_dir, train_path, overrides, extra=[f"--batch_log={batch_log}"])
    return start_python(args, log_path)


def wait_for_step(
    process: subprocess.Popen | ForkedProcess, batch_log: str, step: int, timeout=600
) -> None:
    """Polls the batch log until it shows `step` (the process is then still training)."""
    from xling_tf.data_order import read_batch_log

    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(batch_log) and any(r.step >= step for r in read_batch_log(batch_log)):
            return
        if process.poll() is not None:
            raise AssertionError(f"training exited ({process.returncode}) before step {step}")
        time.sleep(0.02)
    process.kill()
    raise AssertionError(f"step {step} not reached in {timeout}s")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, corpus_dir) -> str:
    """A tiny translation-ranking run (40 steps, default strategy, --seed=0), trained in a
    subprocess.

    Read-only (shared by every worker): copy it to train on. Its log, with TensorFlow's own
    INFO lines, is the `trained_run_log` fixture.
    """

    def train(folder: Path) -> str:
        model_dir = str(folder / "tiny")
        # TensorFlow's INFO logs too: tests/test_xla.py reads them to see nothing compiled.
        result = run_python(
            # Seeded: tests that judge the model's quality (test_finetune) see the same model
            # in every session.
            train_args(model_dir, os.path.join(corpus_dir, "train.tsv"), extra=["--seed=0"]),
            env={"TF_CPP_MIN_LOG_LEVEL": "0"},
        )
        (folder / "train.log").write_text(result.stdout + result.stderr, encoding="utf-8")
        return model_dir

    return build_once(tmp_path_factory, "trained_run", train)


@pytest.fixture(scope="session")
def trained_run_log(trained_run) -> str:
    """stdout + stderr of the `trained_run` training (TF_CPP_MIN_LOG_LEVEL=0)."""
    return (Path(trained_run).parent / "train.log").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def export_dir(tmp_path_factory, trained_run) -> dict:
    """Every artifact from one `python -m xling_tf.export.export_hub --export_dir ...` command.

    Returns:
      {"root": the --export_dir, "text_encoder", "preprocessor", "encoder", "serving_base",
       "serving": the version folder, "seconds": wall time of the command}.
    """

    def export(folder) -> dict:
        root = str(folder / "demo")
        previous = os.path.join(root, "serving", "1")
        os.makedirs(previous)
        with open(os.path.join(previous, "keep.txt"), "w") as f:
            f.write("an earlier release\n")
        started = time.time()
        result = run_python(
            [
                "-m",
                "xling_tf.export.export_hub",
                f"--model_dir={trained_run}",
                f"--export_dir={root}",
                "--text_api",
                "--serving",
                f"--serving_version={SERVING_VERSION}",
            ]
        )
        seconds = time.time() - started
        print(f"\nexport --text_api --serving took {seconds:.1f}s\n{result.stdout}")
        return {
            "root": root,
            "text_encoder": os.path.join(root, "text_encoder"),
            "preprocessor": os.path.join(root, "preprocessor"),
            "encoder": os.path.join(root, "encoder"),
            "serving_base": os.path.join(root, "serving"),
            "serving": os.path.join(root, "serving", str(SERVING_VERSION)),
            "seconds": seconds,
            "stdout": result.stdout,
        }

    return build_once(tmp_path_factory, "export_dir", export)


@pytest.fixture(scope="session")
def exported_model(export_dir) -> str:
    """The text encoder of `export_dir` (read-only: copy it to modify it). An `--export_path`
    export writes the same model; test_export.py's re-export test runs that command."""
    return export_dir["text_encoder"]


@pytest.fixture(scope="module")
def multitask_data(tmp_path_factory, corpus_dir):
    """TSV files for tiny_multitask's routines: [translation, quick_thought, response, nli]."""
    folder = tmp_path_factory.mktemp("multitask")
    rows = synthetic_pairs(200, seed=9)
    english = [en for en, _ in rows]
    quick_thought = [(english[i], english[i - 1], english[i + 1]) for i in range(1, 199)]
    response = [(en, en.split()[-1] + " " + en.split()[0]) for en in english]
    labels = ("entailment", "neutral", "contradiction")
    nli = [(en, " ".join(en.split()[:2]), labels[i % 3]) for i, en in enumerate(english)]
    return [
        os.path.join(corpus_dir, "train.tsv"),
        write_tsv(str(folder / "qt.tsv"), quick_thought),
        write_tsv(str(folder / "response.tsv"), response),
        write_tsv(str(folder / "nli.tsv"), nli),
    ]


# The real-corpus main job, run once per session: `xling-tf demo` on the Bible en-fr pairs with
# the tiny multi-task experiment, two Transformer blocks by --params_override and an SNLI-style
# file, evaluated on the first MAIN_JOB_TEST_PAIRS held-out pairs (four pools of 1000), then
# run again unchanged. Most of its time is building the Bible corpora; evaluating all 7957
# pairs would add only seconds.
MAIN_JOB_EXPERIMENT = "tiny_multitask"
MAIN_JOB_STEPS = 60  # round robin over 4 tasks: 15 translation steps
MAIN_JOB_TEST_PAIRS = 4000
MAIN_JOB_NLI_RECORDS = 60  # every 10th has no gold label: 54 rows are kept
MAIN_JOB_SEED = 7
MAIN_JOB_RUN_NAME = f"{MAIN_JOB_EXPERIMENT}-seed{MAIN_JOB_SEED}"  # --run_name
# tiny_multitask has one Transformer block: the run must train, checkpoint and export two.
MAIN_JOB_OVERRIDE = "task.model.encoder.num_layers=2"


@pytest.fixture(scope="session")
def main_job_run(tmp_path_factory) -> dict:
    """{"workdir", "stdout", "stderr": of the first run, "again": stdout + stderr of the rerun}."""

    def run(workdir: Path) -> dict:
        labels = ("entailment", "neutral", "contradiction")
        records = [
            {
                "sentence1": f"A man number {i} sleeps.",
                "sentence2": f"Someone {i} rests.",
                "gold_label": labels[i % 3] if i % 10 else "-",
            }
            for i in range(MAIN_JOB_NLI_RECORDS)
        ]
        snli = workdir / "snli.jsonl"
        snli.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
        args = [
            *("-m", "xling_tf.cli", "demo", "--workdir", str(workdir)),
            *("--experiment", MAIN_JOB_EXPERIMENT, "--train_steps", str(MAIN_JOB_STEPS)),
            *("--nli_file", str(snli), "--max_test_pairs", str(MAIN_JOB_TEST_PAIRS)),
            *("--seed", str(MAIN_JOB_SEED), "--run_name", MAIN_JOB_RUN_NAME),
            *("--params_override", MAIN_JOB_OVERRIDE),
        ]
        first = run_python(args)
        # Running it again is safe: training resumes at its last step and trains nothing more.
        again = run_python(args)
        return {
            "workdir": str(workdir),
            "stdout": first.stdout,
            "stderr": first.stderr,
            "again": again.stdout + again.stderr,
        }

    return build_once(tmp_path_factory, "main_job", run)
