"""Makes sure an experiment has a vocabulary before its model is built.

SentencePiece runs get `<model_dir>/vocab/sentencepiece.model`; hashed n-gram runs
(`tokenizer.type=hashed_ngrams`) get the word list `<model_dir>/vocab/words.txt`. Paths may be
on any `tf.io.gfile` filesystem (`gs://...` for TPU training); files are written atomically.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterable, Iterator

from xling_tf.data import pairs
from xling_tf.data.pair_dataset import EmptyInputError, expand_file_patterns

import tensorflow as tf
from absl import logging

VOCAB_SUBDIR = "vocab"
VOCAB_FILENAME = "sentencepiece.model"
WORD_VOCAB_FILENAME = "words.txt"
TOKEN_EMBEDDINGS_FILENAME = "token_embeddings.npy"


def sentences_from_pair_files(files: Iterable[str], on_malformed: str = "skip") -> Iterator[str]:
    """Every column of every row: both languages (and hard negatives) feed one vocabulary."""
    for path in files:
        for row in pairs.iter_rows(path, min_columns=1, on_error=on_malformed):
            yield from row


def sample_sentences(sentences: Iterable[str], limit: int, seed: int = 7) -> list[str]:
    """Reservoir sample of `limit` sentences: an even draw over languages and files."""
    rng = random.Random(seed)
    sample: list[str] = []
    for i, sentence in enumerate(sentences):
        if i < limit:
            sample.append(sentence)
        else:
            j = rng.randint(0, i)
            if j < limit:
                sample[j] = sentence
    return sample


def is_chief() -> bool:
    """True unless TF_CONFIG names this process a non-chief worker."""
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = tf_config.get("task", {})
    if not task:
        return True
    has_chief = "chief" in tf_config.get("cluster", {})
    return task.get("type") == "chief" or (
        not has_chief and task.get("type") == "worker" and task.get("index", 0) == 0
    )


def task_configs(params) -> list:
    """The task configs of a single-task experiment ([task]) or a multi-task one (routines)."""
    routines = params.task.as_dict().get("task_routines")
    if routines is None:
        return [params.task]
    return [routine.task_config for routine in params.task.task_routines]


def _train_vocabulary(params, path: str) -> None:
    """Samples training sentences and trains the vocabulary of the configured type into `path`.

    The sample is drawn from every task's training files, so one vocabulary covers every
    language and task of the experiment.
    """
    tokenizer = params.task.model.tokenizer
    sources = [
        (expand_file_patterns(task.train_data.input_path), task.train_data.on_malformed)
        for task in task_configs(params)
    ]
    files = [path for paths, _ in sources for path in paths]
    started = time.time()
    sample = sample_sentences(
        (
            sentence
            for paths, on_malformed in sources
            for sentence in sentences_from_pair_files(paths, on_malformed)
        ),
        tokenizer.vocab_training_sentences,
    )
    if not sample:
        # Caught here: SentencePiece would fail with a bare `[!sentences_.empty()]`.
        raise EmptyInputError(
            "; ".join(f"{path}: no rows" for path in files) + " (nothing to train a vocabulary on)"
        )
    logging.info(
        "training a %d-entry %s vocabulary on %d sentences from %s",
        tokenizer.vocab_size,
        tokenizer.type,
        len(sample),
        files,
    )
    # Imported here: each trainer pulls in its own stack (tensorflow_text for SentencePiece),
    # and a hashed n-gram run should not need it.
    if tokenizer.type == "hashed_ngrams":
        from xling_tf.tokenization.hashed_ngram_tokenizer import train_word_vocabulary

        train_word_vocabulary(
            sample, path, vocab_size=tokenizer.vocab_size, lower_case=tokenizer.lower_case
        )
    else:
        from xling_tf.tokenization.sentencepiece_tokenizer import train_sentencepiece

        train_sentencepiece(
            sample, path, vocab_size=tokenizer.vocab_size, lower_case=tokenizer.lower_case
        )
    logging.info("vocabulary written to %s in %.1fs", path, time.time() - started)


def vocabulary_path(params, model_dir: str) -> tuple[str, str]:
    """(tokenizer field, vocabulary file) of a run: the configured file, or the one trained
    into `<model_dir>/vocab/`. The field is `sentencepiece_model_file`, or `word_vocab_file`
    for `type=hashed_ngrams`."""
    tokenizer = params.task.model.tokenizer
    if tokenizer.type == "hashed_ngrams":
        field, filename = "word_vocab_file", WORD_VOCAB_FILENAME
    else:
        field, filename = "sentencepiece_model_file", VOCAB_FILENAME
    return field, getattr(tokenizer, field) or os.path.join(model_dir, VOCAB_SUBDIR, filename)


def ensure_vocabulary(params, model_dir: str, wait_seconds: float = 600.0) -> str:
    """Fills the tokenizer's vocabulary path (`vocabulary_path`), training one if needed.

    The vocabulary is trained once, by the chief, into `<model_dir>/vocab/`; a resumed run or
    another worker reuses it (workers wait for the chief's file instead of training their
    own, which could differ). Returns the file path.
    """
    field, path = vocabulary_path(params, model_dir)
    if getattr(params.task.model.tokenizer, field):
        if not tf.io.gfile.exists(path):
            raise FileNotFoundError(f"tokenizer.{field} not found: {path}")
    elif params.task.model.tokenizer.vocabulary_from:
        return _teacher_vocabulary(params, os.path.dirname(path), wait_seconds)
    elif not tf.io.gfile.exists(path):
        if is_chief():
            _train_vocabulary(params, path)
        else:
            _wait_for(path, wait_seconds)
    _set_vocabulary(params, field, path)
    return path


def _teacher_vocabulary(params, folder: str, wait_seconds: float) -> str:
    """`tokenizer.vocabulary_from`: the teacher's SentencePiece model and token table, written
    once (by the chief) into `folder` and pointed at by the tokenizer and encoder configs."""
    from xling_tf.distillation.teacher_vocabulary import prepare_vocabulary

    model = params.task.model
    path = os.path.join(folder, VOCAB_FILENAME)
    table = os.path.join(folder, TOKEN_EMBEDDINGS_FILENAME)
    if not (tf.io.gfile.exists(path) and tf.io.gfile.exists(table)):
        if is_chief():
            started = time.time()
            # An encoder that starts from the teacher's other weights needs the teacher's table
            # as it is; otherwise the table is rescaled to the encoder's initializer range.
            std = None if model.encoder.initial_weights_from else model.encoder.initializer_range
            prepare_vocabulary(
                model.tokenizer.vocabulary_from, model.encoder.hidden_size, folder, std=std
            )
            logging.info(
                "vocabulary of %s in %s (%.1fs)",
                model.tokenizer.vocabulary_from,
                folder,
                time.time() - started,
            )
        else:
            _wait_for(path, wait_seconds)
            _wait_for(table, wait_seconds)
    _set_vocabulary(params, "sentencepiece_model_file", path)
    params.task.override({"model": {"encoder": {"token_embeddings_file": table}}}, is_strict=True)
    return path


def _wait_for(path: str, wait_seconds: float) -> None:
    deadline = time.time() + wait_seconds
    while not tf.io.gfile.exists(path):
        if time.time() > deadline:
            raise TimeoutError(f"chief did not write the vocabulary {path} in time")
        time.sleep(1.0)


def _set_vocabulary(params, field: str, path: str) -> None:
    """Points the experiment's one model config (`task.model`) at the vocabulary file."""
    params.task.override({"model": {"tokenizer": {field: path}}}, is_strict=True)
