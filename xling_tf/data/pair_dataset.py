"""tf.data pipeline for tab-separated sentence pairs, tokenized inside the input graph.

Each line of a pair file is `source \\t target [\\t hard_negative_1 ... \\t hard_negative_K]`.
Files are validated in Python first (cheap, and the only place a bad row can be reported with
its file and line number); the graph then reads, shuffles, batches and tokenizes with parallel
map and prefetch, so the accelerator step never waits on Python.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf
from absl import logging

from xling_tf.data import pairs

TokenizeFn = Callable[[tf.Tensor], dict[str, tf.Tensor]]


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


def validate_files(files: list[str], num_columns: int, on_malformed: str) -> pairs.ReadStats:
    """Checks every row of every file; raises with file:line, or counts what `skip` drops."""
    total = pairs.ReadStats()
    for path in files:
        stats = pairs.validate_pairs_file(path, min_columns=num_columns, on_error=on_malformed)
        total.rows += stats.rows
        total.skipped += stats.skipped
        for message in stats.first_errors:
            logging.warning("skipped malformed row %s", message)
    if total.skipped:
        logging.warning("%d malformed rows skipped in %s (kept %d)", total.skipped, files,
                        total.rows)
    return total


def _split_columns(lines: tf.Tensor, num_columns: int) -> tuple[tf.Tensor, tf.Tensor]:
    """tf.string [B] lines -> (tf.string [B, num_columns] fields, tf.bool [B] row is valid)."""
    fields = tf.strings.split(lines, "\t")
    enough = fields.row_lengths() >= num_columns
    table = fields.to_tensor(default_value="", shape=[None, num_columns])
    non_empty = tf.reduce_all(tf.strings.length(tf.strings.strip(table)) > 0, axis=1)
    valid_utf8 = tf.equal(
        tf.strings.unicode_transcode(lines, "UTF-8", "UTF-8", errors="replace"), lines)
    return table, enough & non_empty & valid_utf8


def tokenize_columns(table: tf.Tensor, tokenize: TokenizeFn, num_columns: int) -> dict:
    """tf.string [B, 2 + K] -> model features, all sides padded to one length T.

    Returns {"left_word_ids", "left_mask", "right_word_ids", "right_mask": int32 [B, T]} and,
    for K > 0, {"negative_word_ids", "negative_mask": int32 [B, K, T]}.
    """
    batch = tf.shape(table)[0]
    # Column-major flattening: rows [0, B) are sources, [B, 2B) targets, then negatives.
    tokens = tokenize(tf.reshape(tf.transpose(table), [-1]))
    ids, mask = tokens["input_word_ids"], tokens["input_mask"]
    features = {
        "left_word_ids": ids[:batch], "left_mask": mask[:batch],
        "right_word_ids": ids[batch:2 * batch], "right_mask": mask[batch:2 * batch],
    }
    if num_columns > 2:
        seq = tf.shape(ids)[-1]
        negatives = num_columns - 2

        def per_example(x):  # [K * B, T] in column-major order -> [B, K, T]
            return tf.transpose(tf.reshape(x[2 * batch:], [negatives, batch, seq]), [1, 0, 2])

        features["negative_word_ids"] = per_example(ids)
        features["negative_mask"] = per_example(mask)
    return features


def make_pair_dataset(
    input_path: str,
    tokenize: TokenizeFn,
    batch_size: int,
    num_hard_negatives: int = 0,
    is_training: bool = True,
    shuffle_buffer_size: int = 100_000,
    seed: int | None = None,
    drop_remainder: bool = True,
    on_malformed: str = "raise",
    input_context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """Builds the per-replica dataset of tokenized pair batches.

    Args:
      input_path: comma-separated TSV files or globs.
      tokenize: strings [N] -> {"input_word_ids", "input_mask": int32 [N, T]}.
      batch_size: per-replica batch size.
      num_hard_negatives: K extra columns of hard negatives per row.
      is_training: shuffle and repeat forever.
      on_malformed: "raise" (stop with file:line) or "skip" (drop and count).
      input_context: from `distribute_datasets_from_function`; rows are sharded across input
        pipelines line by line, so it works with a single file.

    Returns:
      A dataset of feature dicts as documented in `tokenize_columns`.
    """
    num_columns = 2 + num_hard_negatives
    files = expand_file_patterns(input_path)
    validate_files(files, num_columns, on_malformed)
    dataset = tf.data.Dataset.from_tensor_slices(files)
    dataset = dataset.interleave(
        tf.data.TextLineDataset, cycle_length=min(len(files), 8), deterministic=True)
    if input_context and input_context.num_input_pipelines > 1:
        dataset = dataset.shard(input_context.num_input_pipelines,
                                input_context.input_pipeline_id)
    if is_training:
        dataset = dataset.shuffle(shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.repeat()
    if on_malformed == "skip":
        dataset = dataset.filter(lambda line: _split_columns(line[tf.newaxis], num_columns)[1][0])
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    dataset = dataset.map(
        lambda lines: tokenize_columns(_split_columns(lines, num_columns)[0], tokenize,
                                       num_columns),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)
