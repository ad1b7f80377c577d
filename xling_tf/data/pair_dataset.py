"""tf.data pipeline for tab-separated sentence pairs, tokenized inside the input graph.

Each line of a pair file is `source \\t target [\\t hard_negative_1 ... \\t hard_negative_K]`.
Files are validated in Python first (cheap, and the only place a bad row can be reported with
its file and line number; once per version of a file and process); the graph then reads,
shuffles, tokenizes with a parallel map, batches rows of similar length together and
prefetches, so the step never waits on Python.
By default each file is batched on its own (a batch never mixes files, i.e. languages or
source translations) and the files' batches are interleaved by a seeded draw.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Protocol

from xling_tf.data import pairs
from xling_tf.errors import UserError

import numpy as np
import tensorflow as tf
from absl import logging

# Shuffle seed of training data configs without one: the data order is reproducible by
# default, which a resumed run relies on to continue where it stopped (xling_tf/data_order.py).
DEFAULT_SHUFFLE_SEED = 20190715


class RowTokenizer(Protocol):
    """What the pipeline needs from a tokenizer layer (both tokenizers implement it)."""

    max_seq_length: int
    pad_to_max_length: bool

    def row_features(self, columns: tf.Tensor) -> dict[str, tf.Tensor]: ...

    def row_padded_shapes(self, num_columns: int) -> dict[str, list]: ...


def expand_file_patterns(patterns: str) -> list[str]:
    """Comma-separated files or globs -> sorted list of files; a pattern matching nothing fails."""
    files: list[str] = []
    for pattern in filter(None, (p.strip() for p in patterns.split(","))):
        matched = sorted(tf.io.gfile.glob(pattern))
        if not matched:
            raise FileNotFoundError(f"No input file matches {pattern!r}")
        files.extend(matched)
    if not files:
        raise FileNotFoundError("input_path is empty: give one or more TSV files or globs")
    return files


class EmptyInputError(UserError, ValueError):
    """Input files that yield no batch; the message names every file with its row counts.

    Raised instead of letting a repeating pipeline spin forever in search of a row.
    """


def _file_counts(path: str, stats: pairs.ReadStats) -> str:
    """`path: no rows`, or how many rows `path` has and how many of them are usable."""
    if not stats.rows and not stats.skipped:
        return f"{path}: no rows"
    total = stats.rows + stats.skipped
    return f"{path}: {stats.rows} usable of {total} rows ({stats.skipped} malformed, skipped)"


# (path, size, mtime, rules) -> the counters of a file that passed validation. In-process
# only: a resumed or multi-task run builds its inputs several times in one process, and each
# build would otherwise read every row in Python again before tf.data reads it.
_VALIDATED: dict[tuple, pairs.ReadStats] = {}


def validate_file(
    path: str, num_columns: int, on_malformed: str, label_names: Sequence[str] | None = None
) -> pairs.ReadStats:
    """Checks every row of one file (see `validate_files`), once per version of the file.

    The result is remembered in this process, keyed by the path, size and modification time
    of the file and the rules; a file that changed in any of these is read again. A file that
    fails (a malformed row in "raise" mode) is not remembered.
    """
    stat = tf.io.gfile.stat(path)
    key = (path, stat.length, stat.mtime_nsec, num_columns, on_malformed, tuple(label_names or ()))
    if key not in _VALIDATED:
        stats = pairs.validate_pairs_file(path, min_columns=num_columns, on_error=on_malformed)
        if label_names:
            _check_labels(path, num_columns, label_names, on_malformed, stats)
        _VALIDATED[key] = stats
    return _VALIDATED[key]


def validate_files(
    files: list[str], num_columns: int, on_malformed: str, label_names: Sequence[str] | None = None
) -> list[int]:
    """Checks every row of every file; raises with file:line, or counts what `skip` drops.

    With `label_names`, the last of the `num_columns` columns must be one of them. Each
    version of a file is read once per process (`validate_file`).

    Returns:
      The number of usable rows of each file, in the order of `files`.

    Raises:
      pairs.MalformedRowError: a malformed row in "raise" mode.
      EmptyInputError: no file has a usable row (empty files, or every row skipped).
    """
    total = pairs.ReadStats()
    rows_per_file = []
    counts = []
    for path in files:
        stats = validate_file(path, num_columns, on_malformed, label_names)
        rows_per_file.append(stats.rows)
        total.rows += stats.rows
        total.skipped += stats.skipped
        counts.append(_file_counts(path, stats))
        for message in stats.first_errors:
            logging.warning("skipped malformed row %s", message)
    if total.skipped:
        logging.warning(
            "%d malformed rows skipped in %s (kept %d)", total.skipped, files, total.rows
        )
    if not total.rows:
        raise EmptyInputError("; ".join(counts))
    return rows_per_file


def check_yields_batches(
    files: list[str],
    rows: int,
    batch_size: int,
    repeat: bool,
    drop_remainder: bool,
    num_input_pipelines: int = 1,
) -> None:
    """Raises EmptyInputError when `rows` usable rows cannot make a single batch.

    A repeated (training) pipeline needs one row in each input pipeline's shard; a single
    pass that drops its partial batch needs a full batch per pipeline.
    """
    where = ", ".join(files)
    if rows < num_input_pipelines:
        raise EmptyInputError(
            f"{where}: {rows} usable rows for {num_input_pipelines} input pipelines "
            "(rows are sharded one by one): at least one pipeline would get no row"
        )
    if not repeat and drop_remainder and rows // num_input_pipelines < batch_size:
        raise EmptyInputError(
            f"{where}: {rows} usable rows over {num_input_pipelines} input pipeline(s) is less "
            f"than one batch of {batch_size} per pipeline, and drop_remainder drops it"
        )


def _check_labels(
    path: str,
    num_columns: int,
    label_names: Sequence[str],
    on_malformed: str,
    stats: pairs.ReadStats,
) -> None:
    """Checks the label (last) column of the well-formed rows; counts bad ones in `stats`.

    In skip mode the graph's filter drops these rows too; counting them here keeps the
    logged count equal to what training drops.
    """
    allowed = set(label_names)
    column = num_columns - 1
    seen = pairs.ReadStats()
    for row in pairs.iter_rows(path, min_columns=num_columns, on_error="skip", stats=seen):
        # Every line so far was either yielded or skipped, so this is the row's line number.
        line_number = seen.rows + seen.skipped
        if row[column] in allowed:
            continue
        error = pairs.MalformedRowError(
            path, line_number, f"label {row[column]!r} is not one of {sorted(allowed)}"
        )
        if on_malformed == "raise":
            raise error
        stats.record_error(str(error))
        stats.rows -= 1


# A field of only what Python's str.isspace() calls whitespace (the rule pairs.py validates
# with): tf.strings.strip knows ASCII whitespace only, and a field of U+3000 or U+00A0 would
# be counted as skipped by the Python check yet trained on by the graph.
_BLANK_FIELD = r"[\t\n\x{0b}\f\r\x{1c}-\x{1f} \x{85}\pZ]*"


def _split_columns(lines: tf.Tensor, num_columns: int) -> tuple[tf.Tensor, tf.Tensor]:
    """tf.string [B] lines -> (tf.string [B, num_columns] fields, tf.bool [B] row is valid)."""
    fields = tf.strings.split(lines, "\t")
    enough = fields.row_lengths() >= num_columns
    table = fields.to_tensor(default_value="", shape=[None, num_columns])
    non_empty = tf.reduce_all(~tf.strings.regex_full_match(table, _BLANK_FIELD), axis=1)
    valid_utf8 = tf.equal(
        tf.strings.unicode_transcode(lines, "UTF-8", "UTF-8", errors="replace"), lines
    )
    return table, enough & non_empty & valid_utf8


def bucket_boundaries(max_seq_length: int, width: int = 8) -> list[int]:
    """Upper length bounds of the length buckets: 9, 17, 25, ... below max_seq_length + 1."""
    return list(range(width + 1, max_seq_length + 1, width))


PADDING_ID = 0  # every tokenizer pads with 0, so masks can be rebuilt after batching


def _features_from_batch(
    batch: dict[str, tf.Tensor],
    column_names: Sequence[str],
    num_hard_negatives: int,
    row_vectors: np.ndarray | None = None,
) -> dict[str, Any]:
    """{name: int32 [B, C, T, ...]} of C text columns -> one feature dict per named column.

    Text columns become {"input_word_ids", "input_mask", ...} dicts keyed by `column_names`;
    the hard negatives after them become one "negatives" dict with a K axis after the batch.
    With `row_vectors` [lines, d], the batch's "row_number" [B] becomes "row_vectors"
    float32 [B, d] (read from the memory map, one gather per batch).
    """
    label = batch.pop("label", None)
    row_number = batch.pop("row_number", None)
    mask = tf.cast(tf.not_equal(batch["input_word_ids"], PADDING_ID), tf.int32)
    batch = dict(batch, input_mask=mask)
    features: dict[str, Any] = {
        name: {k: v[:, i] for k, v in batch.items()} for i, name in enumerate(column_names)
    }
    if num_hard_negatives:
        start = len(column_names)
        features["negatives"] = {
            k: v[:, start : start + num_hard_negatives] for k, v in batch.items()
        }
    if label is not None:
        features["label"] = label
    if row_vectors is not None and row_number is not None:
        vectors = tf.numpy_function(
            lambda rows: np.asarray(row_vectors[rows], dtype=np.float32),
            [row_number],
            tf.float32,
            stateful=False,
        )
        features["row_vectors"] = tf.ensure_shape(vectors, [None, row_vectors.shape[1]])
    return features


def _first_line_numbers(files: Sequence[str]) -> tuple[list[int], int]:
    """(global number of each file's first line when `files` are read one after another,
    total lines of all files)."""
    firsts, total = [], 0
    for path in files:
        firsts.append(total)
        total += pairs.count_lines(path)
    return firsts, total


def _check_row_vectors(
    path: str, row_vectors: np.ndarray, files: Sequence[str], lines: int
) -> None:
    if row_vectors.ndim != 2 or row_vectors.shape[0] != lines:
        raise ValueError(
            f"{path}: holds {row_vectors.shape} vectors, but {files} have {lines} lines "
            "(one vector per line expected)"
        )


def make_pair_dataset(
    input_path: str,
    tokenizer: RowTokenizer,
    batch_size: int,
    num_hard_negatives: int = 0,
    column_names: Sequence[str] = ("left", "right"),
    label_names: Sequence[str] | None = None,
    is_training: bool = True,
    shuffle_buffer_size: int = 100_000,
    seed: int | None = None,
    drop_remainder: bool = True,
    on_malformed: str = "raise",
    length_bucketing: bool = True,
    input_context: tf.distribute.InputContext | None = None,
    static_shapes: bool = False,
    row_vectors_path: str | None = None,
    batch_per_file: bool = True,
    pad_to_bucket_boundary: bool = False,
) -> tf.data.Dataset:
    """Builds the per-replica dataset of tokenized pair batches.

    Args:
      input_path: comma-separated TSV files or globs.
      tokenizer: an in-graph tokenizer layer; its `row_features` runs in tf.data.
      batch_size: per-replica batch size.
      num_hard_negatives: K extra columns of hard negatives per row, after the named ones.
      column_names: names of the leading text columns (e.g. premise, hypothesis).
      label_names: if set, one more column holds a class name from this list, returned as
        int32 "label" [B] (its index); other values are malformed rows.
      is_training: shuffle and repeat forever.
      on_malformed: "raise" (stop with file:line) or "skip" (drop and count).
      length_bucketing: batch rows of similar length together (width-8 buckets), so a batch
        is padded to its own longest row rather than to the longest of a random mix; this
        cuts the padded tokens the encoder computes on. Training only (a bucket's last partial
        batch would be dropped); ignored with pad_to_max_length.
      pad_to_bucket_boundary: with length bucketing, pad every batch to its bucket's upper
        bound (8, 16, 24, ... up to max_seq_length) instead of its own longest row, so
        training sees about max_seq_length / 8 shapes rather than up to max_seq_length: what
        XLA needs, since it compiles one program per shape (on under `--jit_compile`).
      input_context: from `distribute_datasets_from_function`; rows are sharded across input
        pipelines line by line, so it works with a single file.
      seed: shuffle seed; None means DEFAULT_SHUFFLE_SEED, so the order is reproducible.
      static_shapes: every batch has the same fully defined shape (TPUs compile one program
        per shape): padded to max_seq_length, no length bucketing, partial batches dropped.
      row_vectors_path: a local float32 `.npy` array [lines, d] (memory-mapped, so not a
        remote path) holding one vector per line of the
        input files (concatenated in sorted file order), e.g. a distillation teacher's
        targets (xling_tf/distillation/teacher_cache.py). It is memory-mapped, not loaded:
        each batch gathers its rows' vectors, returned as float32 "row_vectors" [B, d].
      batch_per_file: every batch holds rows of one file. Give one file per language and per
        source (e.g. per Bible translation): an in-batch softmax over a batch that mixes
        languages or translation styles can reject the other-language negatives by
        recognising the language, which teaches the shared encoder language identity. Each
        file gets its own pipeline (shuffle buffer: its share of `shuffle_buffer_size` by
        rows, seed `seed + file index`); training draws each batch's file at random with
        probability proportional to its rows (seeded, so reproducible), evaluation reads the
        files one after the other (each file's last partial batch is its own). False mixes the
        lines of all files in every batch (many shards of one corpus).

    Returns:
      A dataset of {column_name: side for each of column_names}, plus {"negatives": side with
      an extra K axis} for K > 0, {"label": int32 [B]} with label_names and
      {"row_vectors": float32 [B, d]} with row_vectors_path, where
      side = {"input_word_ids", "input_mask": int32 [B, T], plus any other tokenizer output
      such as "input_ngram_ids": int32 [B, T, N]}. Every side of a
      batch is padded to one length T (at most max_seq_length; exactly that with
      pad_to_max_length).
    """
    num_text_columns = len(column_names) + num_hard_negatives
    num_columns = num_text_columns + (1 if label_names else 0)
    files = expand_file_patterns(input_path)
    rows_per_file = validate_files(files, num_columns, on_malformed, label_names)
    num_input_pipelines = input_context.num_input_pipelines if input_context else 1
    check_yields_batches(
        files,
        sum(rows_per_file),
        batch_size,
        repeat=is_training,
        drop_remainder=drop_remainder or static_shapes,
        num_input_pipelines=num_input_pipelines,
    )
    label_table = None
    if label_names:
        label_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(label_names)), tf.range(len(label_names), dtype=tf.int32)
            ),
            default_value=-1,
        )
    # Every line travels with its global line number (its row in `row_vectors_path`).
    first_lines, total_lines = (
        _first_line_numbers(files) if row_vectors_path else ([0] * len(files), 0)
    )
    if input_context:
        logging.info(
            "input pipeline %d of %d: %d rows per replica batch, %d replica(s) in sync",
            input_context.input_pipeline_id + 1,
            input_context.num_input_pipelines,
            batch_size,
            input_context.num_replicas_in_sync,
        )
    seed = DEFAULT_SHUFFLE_SEED if seed is None else seed
    total_rows = sum(rows_per_file)
    # Groups of file indices whose lines may share a batch.
    if batch_per_file and total_rows:
        # A file without a usable row would never be drawn: leave it out.
        groups = [[i] for i, rows in enumerate(rows_per_file) if rows]
        group_rows = [rows_per_file[i] for (i,) in groups]
    else:
        groups, group_rows = [list(range(len(files)))], [total_rows]

    # The row functions are traced once, as written: every file's pipeline calls the same
    # graph function (with one pipeline per file, tracing the tokenizer for each was most of
    # the time it took to build a many-file corpus's input), and without AutoGraph, since they
    # have no data-dependent Python control flow.
    row_function = functools.partial(
        tf.function,
        input_signature=[tf.TensorSpec([], tf.int64), tf.TensorSpec([], tf.string)],
        autograph=False,
    )

    @row_function
    def is_valid(row_number: tf.Tensor, line: tf.Tensor) -> tf.Tensor:
        del row_number
        fields, valid = _split_columns(line[tf.newaxis], num_columns)
        if label_table is not None:
            valid &= label_table.lookup(fields[:, -1]) >= 0
        return valid[0]

    @row_function
    def tokenize_row(row_number: tf.Tensor, line: tf.Tensor) -> dict[str, tf.Tensor]:
        fields = _split_columns(line[tf.newaxis], num_columns)[0][0]
        row = tokenizer.row_features(fields[:num_text_columns])
        if label_table is not None:
            row["label"] = label_table.lookup(fields[-1])
        if row_vectors_path:
            row["row_number"] = row_number
        return row

    padded_shapes = tokenizer.row_padded_shapes(num_text_columns)
    if static_shapes:
        # The one unknown dimension of a row's features is its length.
        padded_shapes = {
            name: [tokenizer.max_seq_length if dim is None else dim for dim in shape]
            for name, shape in padded_shapes.items()
        }
        drop_remainder, length_bucketing = True, False
    padding_values = {name: PADDING_ID for name in padded_shapes}
    if label_table is not None:
        padded_shapes["label"] = []
        padding_values["label"] = -1
    row_vectors = None
    if row_vectors_path:
        padded_shapes["row_number"] = []
        padding_values["row_number"] = tf.constant(-1, tf.int64)
        row_vectors = np.load(row_vectors_path, mmap_mode="r")
        _check_row_vectors(row_vectors_path, row_vectors, files, total_lines)

    def batches(group: list[int], index: int, rows: int) -> tf.data.Dataset:
        """Batches of the rows of the files `group` (indices into `files`)."""
        dataset = tf.data.Dataset.from_tensor_slices(
            ([files[i] for i in group], tf.constant([first_lines[i] for i in group], tf.int64))
        )
        dataset = dataset.interleave(
            lambda path, first: tf.data.TextLineDataset(path).enumerate(start=first),
            cycle_length=min(len(group), 8),
        )
        if input_context and input_context.num_input_pipelines > 1:
            dataset = dataset.shard(
                input_context.num_input_pipelines, input_context.input_pipeline_id
            )
        if on_malformed == "skip":
            # Before shuffle and repeat: a pipeline left with no row then ends (an error)
            # instead of repeating forever in search of one.
            dataset = dataset.filter(is_valid)
        if is_training:
            # Files share the buffer by rows, so memory stays what one buffer takes.
            buffer = shuffle_buffer_size
            if len(groups) > 1:
                buffer = max(1, -(-shuffle_buffer_size * rows // total_rows))
            dataset = dataset.shuffle(buffer, seed=seed + index, reshuffle_each_iteration=True)
            dataset = dataset.repeat()
        dataset = dataset.map(tokenize_row, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if length_bucketing and is_training and not tokenizer.pad_to_max_length:
            boundaries = bucket_boundaries(tokenizer.max_seq_length)
            if pad_to_bucket_boundary:
                # The last bucket needs an upper bound too; no row is longer than the maximum.
                boundaries.append(tokenizer.max_seq_length + 1)
            return dataset.bucket_by_sequence_length(
                element_length_func=lambda row: tf.shape(row["input_word_ids"])[1],
                bucket_boundaries=boundaries,
                bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
                padded_shapes=padded_shapes,
                padding_values=padding_values,
                pad_to_bucket_boundary=pad_to_bucket_boundary,
                drop_remainder=drop_remainder,
            )
        return dataset.padded_batch(
            batch_size,
            padded_shapes=padded_shapes,
            padding_values=padding_values,
            drop_remainder=drop_remainder,
        )

    per_group = [
        batches(group, index, rows)
        for index, (group, rows) in enumerate(zip(groups, group_rows, strict=True))
    ]
    dataset = per_group[0]
    if len(per_group) > 1 and is_training:
        dataset = tf.data.Dataset.sample_from_datasets(
            per_group, weights=[rows / total_rows for rows in group_rows], seed=seed
        )
    else:
        for following in per_group[1:]:
            dataset = dataset.concatenate(following)
    dataset = dataset.map(
        tf.autograph.experimental.do_not_convert(
            lambda batch: _features_from_batch(batch, column_names, num_hard_negatives, row_vectors)
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return dataset.prefetch(tf.data.AUTOTUNE)
