"""tf.data pipeline for tab-separated sentence pairs, tokenized inside the input graph.

Each line of a pair file is `source \\t target [\\t hard_negative_1 ... \\t hard_negative_K]`.
Files are validated in Python first (cheap, and the only place a bad row can be reported with
its file and line number); the graph then reads, shuffles, tokenizes with a parallel map,
batches rows of similar length together and prefetches, so the step never waits on Python.
"""

from __future__ import annotations

from typing import Protocol

import tensorflow as tf
from absl import logging

from xling_tf.data import pairs


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


def bucket_boundaries(max_seq_length: int, width: int = 8) -> list[int]:
    """Upper length bounds of the length buckets: 9, 17, 25, ... below max_seq_length + 1."""
    return list(range(width + 1, max_seq_length + 1, width))


PADDING_ID = 0  # every tokenizer pads with 0, so masks can be rebuilt after batching


def _features_from_batch(batch: dict[str, tf.Tensor]) -> dict[str, dict[str, tf.Tensor]]:
    """{name: int32 [B, C, T, ...]} of C columns -> {"left", "right"[, "negatives"]} features."""
    mask = tf.cast(tf.not_equal(batch["input_word_ids"], PADDING_ID), tf.int32)
    batch = dict(batch, input_mask=mask)
    features = {"left": {k: v[:, 0] for k, v in batch.items()},
                "right": {k: v[:, 1] for k, v in batch.items()}}
    if batch["input_word_ids"].shape[1] > 2:
        features["negatives"] = {k: v[:, 2:] for k, v in batch.items()}
    return features


def make_pair_dataset(
    input_path: str,
    tokenizer: RowTokenizer,
    batch_size: int,
    num_hard_negatives: int = 0,
    is_training: bool = True,
    shuffle_buffer_size: int = 100_000,
    seed: int | None = None,
    drop_remainder: bool = True,
    on_malformed: str = "raise",
    length_bucketing: bool = True,
    input_context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """Builds the per-replica dataset of tokenized pair batches.

    Args:
      input_path: comma-separated TSV files or globs.
      tokenizer: an in-graph tokenizer layer; its `row_features` runs in tf.data.
      batch_size: per-replica batch size.
      num_hard_negatives: K extra columns of hard negatives per row.
      is_training: shuffle and repeat forever.
      on_malformed: "raise" (stop with file:line) or "skip" (drop and count).
      length_bucketing: batch rows of similar length together (width-8 buckets), so a batch
        is padded to its own longest row rather than to the longest of a random mix; this
        cuts the padded tokens the encoder computes on. Training only (a bucket's last partial
        batch would be dropped); ignored with pad_to_max_length.
      input_context: from `distribute_datasets_from_function`; rows are sharded across input
        pipelines line by line, so it works with a single file.

    Returns:
      A dataset of {"left": side, "right": side} and, for K > 0, {"negatives": side with an
      extra K axis}, where side = {"input_word_ids", "input_mask": int32 [B, T], plus any
      other tokenizer output such as "input_ngram_ids": int32 [B, T, N]}. Every side of a
      batch is padded to one length T (at most max_seq_length; exactly that with
      pad_to_max_length).
    """
    num_columns = 2 + num_hard_negatives
    files = expand_file_patterns(input_path)
    validate_files(files, num_columns, on_malformed)
    dataset = tf.data.Dataset.from_tensor_slices(files)
    dataset = dataset.interleave(
        tf.data.TextLineDataset, cycle_length=min(len(files), 8))
    if input_context and input_context.num_input_pipelines > 1:
        dataset = dataset.shard(input_context.num_input_pipelines,
                                input_context.input_pipeline_id)
    if is_training:
        dataset = dataset.shuffle(shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.repeat()
    if on_malformed == "skip":
        dataset = dataset.filter(lambda line: _split_columns(line[tf.newaxis], num_columns)[1][0])

    def tokenize_row(line: tf.Tensor) -> dict[str, tf.Tensor]:
        return tokenizer.row_features(_split_columns(line[tf.newaxis], num_columns)[0][0])

    dataset = dataset.map(tokenize_row, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    padded_shapes = tokenizer.row_padded_shapes(num_columns)
    if length_bucketing and is_training and not tokenizer.pad_to_max_length:
        boundaries = bucket_boundaries(tokenizer.max_seq_length)
        dataset = dataset.bucket_by_sequence_length(
            element_length_func=lambda row: tf.shape(row["input_word_ids"])[1],
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            padded_shapes=padded_shapes, padding_values=PADDING_ID,
            drop_remainder=drop_remainder)
    else:
        dataset = dataset.padded_batch(batch_size, padded_shapes=padded_shapes,
                                       padding_values=PADDING_ID, drop_remainder=drop_remainder)
    dataset = dataset.map(_features_from_batch, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)
