"""Reliability: what a new user runs into (bad input, a reused model_dir, broken checkpoints,
signals, CLI errors); each test reproduces one case of docs/reliability.md."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import threading
import time

import xling_tf  # noqa: F401
from xling_tf import cli, faults, train
from xling_tf.configs import experiments  # noqa: F401  (registers experiments)
from xling_tf.data.pair_dataset import EmptyInputError, make_pair_dataset
from xling_tf.evaluation import translation_retrieval
from xling_tf.faults import (
    INTERRUPTED_EXIT_CODE,
    UnreadableCheckpointError,
    newest_readable_checkpoint,
)
from xling_tf.run_guard import (
    LOCK_FILENAME,
    ModelConfigChangedError,
    ModelDirLockedError,
    TrainingLock,
    check_model_config,
)
from xling_tf.tokenization.vocabulary import ensure_vocabulary

import numpy as np
import pytest
import tensorflow as tf
from export_cases import TEXTS
from official.core import exp_factory, train_utils

from conftest import (
    checkpoint_steps,
    run_python,
    start_training,
    synthetic_pairs,
    train_args,
    trainer_overrides,
    wait_for_step,
    write_tsv,
)

# Session fixtures of the exported artifacts (one export for every test_export_* file too).
pytest_plugins = ["export_fixtures"]


def _tiny_params(train_path: str, vocabulary: str = ""):
    params = exp_factory.get_exp_config("tiny")
    params.override(
        {
            "task": {
                "train_data": {"input_path": train_path},
                "model": {"tokenizer": {"sentencepiece_model_file": vocabulary}},
            }
        }
    )
    return params


# ---- input that yields no batch ---------------------------------------------------------------


def test_all_malformed_rows_stop_with_the_file_and_counts(tmp_path, tokenizer):
    path = tmp_path / "allbad.tsv"
    path.write_text("only\nbad\nrows\n", encoding="utf-8")
    # Used to return a dataset whose filter, after repeat(), searched for a row forever.
    with pytest.raises(EmptyInputError, match=rf"^{path}: 0 usable of 3 rows \(3 malformed"):
        make_pair_dataset(str(path), tokenizer, batch_size=4, on_malformed="skip")


def test_fewer_rows_than_input_pipelines_is_an_error(tmp_path, tokenizer):
    path = write_tsv(str(tmp_path / "three.tsv"), synthetic_pairs(3, seed=1))
    context = tf.distribute.InputContext(num_input_pipelines=4, input_pipeline_id=3)
    with pytest.raises(EmptyInputError, match="3 usable rows for 4 input pipelines"):
        make_pair_dataset(path, tokenizer, batch_size=2, input_context=context)


def test_a_single_pass_shorter_than_one_batch_is_an_error(tmp_path, tokenizer):
    path = write_tsv(str(tmp_path / "three.tsv"), synthetic_pairs(3, seed=1))
    with pytest.raises(EmptyInputError, match="less than one batch of 8"):
        make_pair_dataset(path, tokenizer, batch_size=8, is_training=False)
    # Keeping the partial batch is fine.
    dataset = make_pair_dataset(
        path, tokenizer, batch_size=8, is_training=False, drop_remainder=False
    )
    assert sum(1 for _ in dataset) == 1


def test_a_pipeline_whose_rows_are_all_filtered_ends_instead_of_spinning(tmp_path, tokenizer):
    # Two pipelines, rows sharded one by one: pipeline 1 gets only the malformed lines.
    good = synthetic_pairs(3, seed=2)
    lines = [line for row in good for line in ("\t".join(row), "bad")]
    path = tmp_path / "alternate.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1)
    dataset = make_pair_dataset(
        str(path), tokenizer, batch_size=1, on_malformed="skip", input_context=context
    )
    batches = []
    # In a thread: the old pipeline never returned (it filtered a repeated empty shard).
    reader = threading.Thread(target=lambda: batches.extend(dataset.take(1)), daemon=True)
    reader.start()
    reader.join(timeout=60)
    assert not reader.is_alive(), "the pipeline spins instead of ending"
    assert batches == []


def test_an_empty_training_file_is_named(tmp_path, tokenizer, sentencepiece_model):
    empty = tmp_path / "empty.tsv"
    empty.write_text("", encoding="utf-8")
    # With a vocabulary: used to be a bare OutOfRangeError at the first step.
    with pytest.raises(EmptyInputError, match=rf"^{empty}: no rows$"):
        make_pair_dataset(str(empty), tokenizer, batch_size=4)
    # Without one: used to fail inside SentencePiece, `[!sentences_.empty()]`.
    with pytest.raises(EmptyInputError, match=rf"^{empty}: no rows"):
        ensure_vocabulary(_tiny_params(str(empty)), str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run" / "vocab")


# ---- a changed model config on a run with checkpoints -----------------------------------------


def _save_checkpoint(model_dir: str, step: int, size: int = 50_000) -> str:
    """A checkpoint like the trainer's (global_step + a float32 [size] variable)."""
    checkpoint = tf.train.Checkpoint(
        global_step=tf.Variable(step, dtype=tf.int64),
        weights=tf.Variable(np.full(size, step, dtype=np.float32)),
    )
    manager = tf.train.CheckpointManager(checkpoint, model_dir, max_to_keep=5)
    return manager.save(checkpoint_number=step)


@pytest.fixture
def fake_run(tmp_path, corpus_dir, sentencepiece_model):
    """A model_dir with the tiny experiment's params.yaml and a checkpoint (no training)."""
    model_dir = str(tmp_path / "run")
    vocabulary = shutil.copy(sentencepiece_model, tmp_path / "sp.model")
    params = _tiny_params(os.path.join(corpus_dir, "train.tsv"), str(vocabulary))
    train_utils.serialize_config(params, model_dir)
    _save_checkpoint(model_dir, 20)
    return model_dir, params


def test_a_changed_model_config_is_refused_before_anything_is_written(fake_run, tmp_path):
    model_dir, params = fake_run
    params.override({"task": {"model": {"encoder": {"hidden_size": 64, "num_layers": 2}}}})
    before = open(os.path.join(model_dir, "params.yaml"), "rb").read()
    # Used to rewrite params.yaml, then fail restoring the checkpoint (shape mismatch).
    with pytest.raises(ModelConfigChangedError) as error:
        train.run(params, model_dir)
    message = str(error.value)
    assert "task.model.encoder.hidden_size: 32 -> 64" in message
    assert "task.model.encoder.num_layers: 1 -> 2" in message
    assert f"{model_dir}/ckpt-20" in message
    assert open(os.path.join(model_dir, "params.yaml"), "rb").read() == before
    assert not os.path.exists(os.path.join(model_dir, LOCK_FILENAME))


def test_training_fields_and_a_moved_run_may_change(fake_run, tmp_path):
    model_dir, params = fake_run
    params.override({"trainer": {"train_steps": 99}, "task": {"train_data": {"seed": 3}}})
    check_model_config(params, model_dir)
    # The run moved: its params.yaml names a vocabulary that is gone, its copy is in vocab/.
    moved = str(tmp_path / "moved")
    shutil.copytree(model_dir, moved)
    os.makedirs(os.path.join(moved, "vocab"))
    shutil.copy(
        params.task.model.tokenizer.sentencepiece_model_file,
        os.path.join(moved, "vocab", "sentencepiece.model"),
    )
    os.remove(params.task.model.tokenizer.sentencepiece_model_file)
    params.override({"task": {"model": {"tokenizer": {"sentencepiece_model_file": ""}}}})
    check_model_config(params, moved)


def test_another_vocabulary_is_a_changed_model_config(fake_run, tmp_path):
    model_dir, params = fake_run
    other = tmp_path / "other.model"
    other.write_bytes(b"not the same vocabulary")
    params.override({"task": {"model": {"tokenizer": {"sentencepiece_model_file": str(other)}}}})
    with pytest.raises(ModelConfigChangedError, match="tokenizer.sentencepiece_model_file"):
        check_model_config(params, model_dir)


def test_a_run_without_checkpoints_may_change_its_model(fake_run, caplog):
    model_dir, params = fake_run
    for name in os.listdir(model_dir):
        if name.startswith("ckpt-") or name == "checkpoint":
            os.remove(os.path.join(model_dir, name))
    params.override({"task": {"model": {"encoder": {"hidden_size": 64}}}})
    with caplog.at_level(logging.WARNING):
        check_model_config(params, model_dir)
    assert "hidden_size: 32 -> 64" in caplog.text


# ---- one training per model_dir ---------------------------------------------------------------


def _write_lock(model_dir, **record) -> str:
    os.makedirs(model_dir, exist_ok=True)
    path = os.path.join(model_dir, LOCK_FILENAME)
    defaults = {"pid": os.getppid(), "host": socket.gethostname(), "started": time.time()}
    with open(path, "w", encoding="utf-8") as f:
        json.dump({**defaults, "heartbeat": time.time(), **record}, f)
    return path


def _lock_record(model_dir) -> dict:
    with open(os.path.join(model_dir, LOCK_FILENAME), encoding="utf-8") as f:
        return json.load(f)


def test_a_lock_held_by_a_live_process_stops_a_second_training(tmp_path, fake_run):
    model_dir, params = fake_run
    path = _write_lock(model_dir)  # the parent process: alive, on this host
    with pytest.raises(ModelDirLockedError) as error:
        train.run(params, model_dir)
    message = str(error.value)
    assert f"pid {os.getppid()} on host {socket.gethostname()}" in message
    assert path in message and "--force_unlock" in message
    assert _lock_record(model_dir)["pid"] == os.getppid()  # left alone


def test_lock_is_written_refreshed_and_removed(tmp_path):
    model_dir = str(tmp_path / "run")
    with TrainingLock(model_dir, heartbeat_seconds=0.05):
        first = _lock_record(model_dir)
        assert first["pid"] == os.getpid() and first["host"] == socket.gethostname()
        deadline = time.time() + 30
        while _lock_record(model_dir)["heartbeat"] == first["heartbeat"]:
            assert time.time() < deadline, "heartbeat not refreshed"
            time.sleep(0.05)
    assert not os.path.exists(os.path.join(model_dir, LOCK_FILENAME))


@pytest.mark.parametrize(
    "record, reason",
    [
        ({"pid": 2**22 + 12345}, "is no longer running"),  # above pid_max: never a process
        ({"host": "elsewhere", "heartbeat": time.time() - 3600}, "no heartbeat for"),
        ({"pid": "?", "heartbeat": None}, "no owner recorded"),
    ],
)
def test_a_stale_lock_is_taken_over_with_a_warning(tmp_path, caplog, record, reason):
    model_dir = str(tmp_path / "run")
    _write_lock(model_dir, **record)
    with caplog.at_level(logging.WARNING), TrainingLock(model_dir):
        assert _lock_record(model_dir)["pid"] == os.getpid()
    assert reason in caplog.text


def test_a_live_lock_on_another_host_needs_force_unlock(tmp_path):
    model_dir = str(tmp_path / "run")
    _write_lock(model_dir, host="elsewhere", pid=1)
    with pytest.raises(ModelDirLockedError, match="host elsewhere"):
        TrainingLock(model_dir).acquire()
    with TrainingLock(model_dir, force=True):
        assert _lock_record(model_dir)["host"] == socket.gethostname()


def test_workers_of_a_multi_worker_run_take_no_lock(tmp_path, monkeypatch, fake_run):
    model_dir, params = fake_run
    params.override({"trainer": {"train_steps": 40}})  # past ckpt-20: not a finished run
    _write_lock(model_dir)  # the chief's
    cluster = {"worker": ["localhost:1", "localhost:2"]}
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}})
    )
    monkeypatch.setattr(train, "_run", lambda *args: "ran")
    assert train.run(params, model_dir) == "ran"
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}})
    )
    with pytest.raises(ModelDirLockedError):
        train.run(params, model_dir)


# ---- unreadable checkpoints -------------------------------------------------------------------


def _corrupt(prefix: str, how: str) -> None:
    data = f"{prefix}.data-00000-of-00001"
    if how == "truncate":
        os.truncate(data, 1000)
    else:  # flip one byte of the weights: a checksum failure
        with open(data, "r+b") as f:
            f.seek(os.path.getsize(data) // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize("how", ["truncate", "flip_a_byte"])
def test_resume_falls_back_to_the_newest_checkpoint_that_reads(tmp_path, caplog, how):
    model_dir = str(tmp_path / "run")
    for step in (10, 20, 30):
        _save_checkpoint(model_dir, step)
    _corrupt(os.path.join(model_dir, "ckpt-30"), how)
    with caplog.at_level(logging.WARNING):
        path = newest_readable_checkpoint(model_dir, repair=True)
    assert path == os.path.join(model_dir, "ckpt-20")
    assert f"checkpoint {model_dir}/ckpt-30 cannot be read" in caplog.text
    assert f"resuming from {model_dir}/ckpt-20" in caplog.text
    # Model Garden restores tf.train.latest_checkpoint; the broken files are kept aside.
    assert tf.train.latest_checkpoint(model_dir) == path
    assert checkpoint_steps(model_dir) == [10, 20]
    assert os.path.exists(os.path.join(model_dir, "unreadable-ckpt-30.index"))
    assert faults.checkpoint_step(model_dir) == 20


def test_no_readable_checkpoint_names_every_one(tmp_path):
    model_dir = str(tmp_path / "run")
    for step in (10, 20):
        _save_checkpoint(model_dir, step)
        _corrupt(os.path.join(model_dir, f"ckpt-{step}"), "truncate")
    with pytest.raises(UnreadableCheckpointError) as error:
        newest_readable_checkpoint(model_dir)
    assert "ckpt-10 (" in str(error.value) and "ckpt-20 (" in str(error.value)


# ---- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["train", "export"])
def test_help_lists_the_flags_and_exits_0(command, capsys):
    # In this process (cli.main is what `xling-tf` runs): a fresh one would cost ~15 s.
    assert cli.main([command, "--help"]) == 0
    stdout = capsys.readouterr().out
    assert "--model_dir" in stdout and "Try --helpfull" not in stdout
    if command == "train":
        assert "--params_override" in stdout and "--force_unlock" in stdout


def test_train_errors_are_one_line_and_exit_2(tmp_path, capsys, sentencepiece_model):
    allbad = tmp_path / "allbad.tsv"
    allbad.write_text("only\nbad\nrows\n", encoding="utf-8")
    one_bad = tmp_path / "one_bad.tsv"
    rows = [f"sentence {i}\tphrase {i}" for i in range(10)]
    rows.insert(6, "a row without a tab")
    one_bad.write_text("\n".join(rows) + "\n", encoding="utf-8")
    vocabulary = f"task.model.tokenizer.sentencepiece_model_file={sentencepiece_model}"
    model_dir = tmp_path / "run"
    cases = [
        (["--experiment=nope"], "unknown --experiment 'nope'; registered: demo, "),
        (["--experiment=tiny", "--params_override=task.nope=1"], "The key 'nope' does not"),
        (
            [
                "--experiment=tiny",
                f"--params_override=task.train_data.input_path={allbad},"
                f"task.train_data.on_malformed=skip,{vocabulary}",
            ],
            f"{allbad}: 0 usable of 3 rows (3 malformed, skipped)",
        ),
        # A malformed row is an error by default, naming the file and line.
        (
            [
                "--experiment=tiny",
                f"--params_override=task.train_data.input_path={one_bad},{vocabulary}",
            ],
            f"{one_bad}:7: ",
        ),
        (["--experiment=tiny", "--no_such_flag"], "Unknown command line flag 'no_such_flag'"),
    ]
    for flags, expected in cases:
        argv = ["train", "--mode=train", f"--model_dir={model_dir}", *flags]
        assert cli.main(argv) == 2, flags
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert error.startswith("xling-tf train: error: ") and expected in error, error
    # --verbose adds the traceback.
    assert cli.main(["train", "--experiment=nope", "--mode=train", "--verbose"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_retrieval_column_follows_the_pool_size():
    vectors = {t: v for t, v in zip("abcd", np.eye(4, dtype=np.float32), strict=True)}

    def embed(texts):
        return np.stack([vectors[t] for t in texts])

    aligned = [(t, t) for t in "abcd"]
    result = translation_retrieval.evaluate_retrieval(embed, aligned, pool_size=3, progress=False)
    row = translation_retrieval.summary_row("m", result)
    assert list(row) == translation_retrieval.table_columns(3)
    assert row["P@1 (2 distractors)"] == 1.0
    assert translation_retrieval.table_columns()[2] == "P@1 (999 distractors)"


def test_embed_paths_are_checked_before_the_model_loads(tmp_path, capsys):
    text = tmp_path / "in.txt"
    text.write_text("the cat\n", encoding="utf-8")
    existing = tmp_path / "out.npy"
    existing.write_bytes(b"keep me")
    model = str(tmp_path / "no_model")  # never loaded: every case fails first
    cases = [
        ([str(tmp_path), str(tmp_path / "x.npy")], f"--input {tmp_path} is a folder"),
        ([str(text), str(tmp_path / "missing" / "x.npy")], f"folder {tmp_path}/missing does"),
        ([str(text), str(existing)], "exists; pass --overwrite"),
    ]
    for (input_path, output), expected in cases:
        argv = ["embed", "--model", model, "--input", input_path, "--output", output]
        assert cli.main(argv) == 2
        assert expected in capsys.readouterr().err
    assert existing.read_bytes() == b"keep me"


# ---- end to end: a second training, Ctrl-C, a truncated checkpoint ---------------------------


@pytest.mark.slow
def test_second_training_ctrl_c_and_a_truncated_checkpoint(tmp_path, corpus_dir, capsys):
    model_dir, batch_log = str(tmp_path / "run"), str(tmp_path / "batches.tsv")
    train_path = os.path.join(corpus_dir, "train.tsv")
    # Checkpoints every 1000 steps only, so a checkpoint below that comes from the SIGINT.
    process = start_training(
        model_dir, train_path, trainer_overrides(5000, 1000, 1), batch_log, tmp_path / "a.log"
    )
    try:
        wait_for_step(process, batch_log, 7)
        lock = _lock_record(model_dir)
        assert lock["pid"] == process.pid
        # The second training (in this process: it stops before building anything).
        assert cli.main(["train", *train_args(model_dir, train_path)[2:]]) == 2
        assert f"pid {process.pid} on host" in capsys.readouterr().err.splitlines()[-1]
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    log = (tmp_path / "a.log").read_text(encoding="utf-8")
    assert code == INTERRUPTED_EXIT_CODE, log[-4000:]
    interrupted_at = checkpoint_steps(model_dir)[-1]
    assert checkpoint_steps(model_dir) == [1, interrupted_at] and interrupted_at >= 7
    assert f"at step {interrupted_at}; exiting" in log
    assert not os.path.exists(os.path.join(model_dir, LOCK_FILENAME))

    # The newest checkpoint is truncated: the restart says so and resumes from ckpt-1.
    newest = os.path.join(model_dir, f"ckpt-{interrupted_at}")
    os.truncate(f"{newest}.data-00000-of-00001", 1000)
    restart = run_python(train_args(model_dir, train_path, trainer_overrides(3, 1000, 1)))
    assert f"checkpoint {newest} cannot be read" in restart.stderr
    assert f"restored from checkpoint: {model_dir}/ckpt-1" in restart.stderr
    assert checkpoint_steps(model_dir) == [1, 3]


def test_a_second_ctrl_c_stops_at_once():
    before = signal.getsignal(signal.SIGINT)
    saver = faults.PreemptionSaver(lambda: None, tf.Variable(0))
    assert saver.install()
    try:
        os.kill(os.getpid(), signal.SIGINT)  # the first only asks for a checkpoint
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        saver.uninstall()
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl-C works as before after training


# ---- exports ----------------------------------------------------------------------------------


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@pytest.mark.slow
def test_every_exported_file_is_readable_by_other_users(export_dir, exported_model, trained_run):
    umask = _umask()
    modes = {}
    for root in (export_dir["root"], exported_model, os.path.join(trained_run, "vocab")):
        for folder, _, files in os.walk(root):
            modes[folder] = (os.stat(folder).st_mode & 0o777, 0o777 & ~umask)
            for name in files:
                path = os.path.join(folder, name)
                modes[path] = (os.stat(path).st_mode & 0o777, 0o666 & ~umask)
    assert any(path.endswith("assets/sentencepiece.model") for path in modes)
    # The vocabulary used to be 0600 (tempfile.mkstemp) in every export's assets/.
    wrong = {path: oct(mode) for path, (mode, expected) in modes.items() if mode != expected}
    assert not wrong, wrong
    if umask == 0o022:  # the usual case: what the docs promise
        assert {expected for _, expected in modes.values()} == {0o755, 0o644}


@pytest.mark.slow
@pytest.mark.parametrize(
    "artifact, key",
    [("text_encoder", "inputs"), ("serving", "inputs"), ("preprocessor", "sentences")],
)
def test_string_signatures_reject_anything_but_a_batch(export_dir, artifact, key):
    import tensorflow_text  # noqa: F401  (SentencePiece ops)

    signature = tf.saved_model.load(export_dir[artifact]).signatures["serving_default"]
    assert len(next(iter(signature(**{key: tf.constant(["a b", "c"])}).values()))) == 2
    # [2, 2] used to give 4 vectors, [1, 1, 1] and a scalar 1: the tokenizer flattened them.
    for wrong in (tf.constant([["a", "b"], ["c", "d"]]), tf.constant([[["a"]]]), tf.constant("a")):
        shape = ",".join(str(d) for d in wrong.shape)
        expected = (
            rf"Shape of tensor {key} \[{shape}\] is not compatible with expected shape \[\?\]"
        )
        with pytest.raises(tf.errors.InvalidArgumentError, match=expected):
            signature(**{key: wrong})


def _load_keras_model(path: str, timeout: float = 300):
    """tf_keras.models.load_model(path) in a thread: it used to loop forever on preprocessor/."""
    import tf_keras

    outcome: dict = {}

    def load():
        try:
            outcome["model"] = tf_keras.models.load_model(path)
        except Exception as error:  # noqa: BLE001  (the error is the result)
            outcome["error"] = error

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    loader.join(timeout)
    assert not loader.is_alive(), f"tf_keras.models.load_model({path}) still running"
    return outcome


@pytest.mark.slow
def test_tf_keras_load_model_gets_the_saved_weights_or_fails_at_once(export_dir, exported_model):
    import tensorflow_text  # noqa: F401  (SentencePiece ops)

    texts = tf.constant(TEXTS)
    features = tf.saved_model.load(export_dir["preprocessor"])(texts)
    for path, inputs in [
        (exported_model, texts),
        (export_dir["text_encoder"], texts),
        (export_dir["serving"], texts),
        (export_dir["encoder"], features),
    ]:
        saved = tf.saved_model.load(path)
        keras_model = _load_keras_model(path)["model"]
        saved_weights = {v.name: v.numpy() for v in saved.variables}
        keras_weights = {v.name: v.numpy() for v in keras_model.weights}
        assert keras_weights.keys() == saved_weights.keys(), path
        for name, value in keras_weights.items():
            np.testing.assert_array_equal(value, saved_weights[name], err_msg=f"{path}: {name}")
        expected, got = saved(inputs), keras_model(inputs)
        if isinstance(expected, dict):
            expected, got = expected["pooled_output"], got["pooled_output"]
        np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-6, err_msg=path)
    error = _load_keras_model(export_dir["preprocessor"]).get("error")
    assert isinstance(error, ValueError) and "tf.saved_model.load" in str(error), error


@pytest.mark.slow
def test_export_names_an_unreadable_checkpoint(trained_run, tmp_path):
    from xling_tf.export import export_hub

    model_dir = str(tmp_path / "run")
    shutil.copytree(trained_run, model_dir)
    newest = tf.train.latest_checkpoint(model_dir)
    os.truncate(f"{newest}.data-00000-of-00001", 1000)
    # Used to be "IndexError: Read less bytes than requested", with no path.
    with pytest.raises(UnreadableCheckpointError, match=rf"checkpoint {newest} cannot be read"):
        export_hub.restore(model_dir)
