"""The paper's input in core TensorFlow ops: words plus hashed character n-grams.

Chidambaram et al. (2019) feed the encoder word embeddings (a vocabulary of frequent words, with
out-of-vocabulary words hashed into extra buckets) plus character 3-gram and 4-gram embeddings
(hashed), summed per token. This module builds those ids with `tf.strings.*` and `tf.lookup.*`
only, so an exported model needs no custom op: it loads and runs in a process that never
imports tensorflow_text, in stock `saved_model_cli run` and in a stock TF Serving binary.

Normalisation (one function, `split_words`, used both in the graph and to count words for the
vocabulary, so training and serving see the same words):
  1. invalid UTF-8 bytes become U+FFFD, then the text is cut at `max_input_chars` characters;
  2. separators and control characters (`\\p{Z}`, `\\p{Cc}`, which include NUL, tab and
     newline) become spaces, and invisible format characters (`\\p{Cf}`: RTL marks, zero-width
     joiners, BOM, soft hyphens) are dropped, so they cannot make a known word look unknown;
  3. lower-casing (full Unicode, `tf.strings.lower(encoding="utf-8")`), if configured;
  4. every punctuation mark, symbol (emoji included) and Han character becomes its own word,
     as BERT's basic tokenizer does: Chinese has no spaces, so a whole clause would otherwise
     be one "word" with only `max_ngrams_per_word` n-grams;
  5. split on spaces.

Ids:
  * words: line number in the vocabulary file; unknown words are hashed (Fingerprint64, stable
    across processes and machines) into `num_oov_buckets` ids after the vocabulary. Ids 0-3
    are `<pad>`, `[CLS]`, `[SEP]`, `[MASK]`; step 4 splits `<`, `[` and `>` off, so no text can
    ever produce them (typing "[CLS]" gives `[`, `cls`, `]`).
  * n-grams: the character n-grams of `<word>` (fastText's boundary markers), hashed into
    `[1, num_ngram_buckets)`; 0 pads. A word with more than `max_ngrams_per_word` n-grams keeps
    an evenly spaced subset, so prefixes and suffixes both survive. `[CLS]`, `[SEP]` and padding
    have no n-grams (all 0).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
from typing import Any

from xling_tf.data.pairs import write_bytes_atomically

import tensorflow as tf
import tf_keras

PAD_ID = 0
CLS_ID = 1
SEP_ID = 2
MASK_ID = 3
# Written as the first lines of every word vocabulary, so their ids are fixed.
RESERVED_TOKENS = ("<pad>", "[CLS]", "[SEP]", "[MASK]")
NGRAM_PAD_ID = 0

# Each of these characters becomes a word of its own (see the module docstring, step 4).
_SPLIT_OFF = r"([\p{P}\p{S}\p{Han}])"
_SPACES = r"[\p{Z}\p{Cc}]+"
_INVISIBLE = r"\p{Cf}"


def split_words(
    inputs: tf.Tensor, lower_case: bool = True, max_input_chars: int = 0
) -> tf.RaggedTensor:
    """Normalises text and splits it into words and punctuation (module docstring, steps 1-5).

    Args:
      inputs: tf.string [batch], any bytes.
      lower_case: fold case.
      max_input_chars: keep at most this many characters before anything else; 0 keeps all.

    Returns:
      tf.string RaggedTensor [batch, (words)]; every word is non-empty valid UTF-8 without
      whitespace.
    """
    text = tf.strings.unicode_transcode(
        inputs, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    if max_input_chars:
        text = tf.strings.substr(text, 0, max_input_chars, unit="UTF8_CHAR")
    # Before lower-casing: ICU's lower stops at a NUL byte, so control characters go first.
    text = tf.strings.regex_replace(text, _SPACES, " ")
    text = tf.strings.regex_replace(text, _INVISIBLE, "")
    if lower_case:
        text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, _SPLIT_OFF, r" \1 ")
    return tf.strings.split(text)


def train_word_vocabulary(
    sentences: Iterable[str],
    output_path: str,
    vocab_size: int,
    lower_case: bool = True,
    batch_size: int = 1024,
) -> str:
    """Counts words with the layer's own normalisation and writes the most frequent ones.

    Args:
      sentences: training text, one sentence per item, all languages mixed.
      output_path: the vocabulary file (parent folders are created); one word per line, the
        reserved tokens `<pad>`, `[CLS]`, `[SEP]`, `[MASK]` first, then words by decreasing
        count (ties in byte order, so the file is deterministic).
      vocab_size: lines in the file, reserved tokens included.
      lower_case: must match the tokenizer's `lower_case`.
      batch_size: sentences normalised per TensorFlow call.

    Returns:
      `output_path`.
    """
    if vocab_size <= len(RESERVED_TOKENS):
        raise ValueError(
            f"vocab_size must exceed the {len(RESERVED_TOKENS)} reserved tokens, got {vocab_size}"
        )
    # The exact graph the layer runs, so a word counted here is a word the layer looks up.
    normalize = tf.function(
        lambda text: split_words(text, lower_case=lower_case).flat_values,
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    counts: collections.Counter = collections.Counter()
    batch: list[str] = []
    for sentence in sentences:
        batch.append(sentence)
        if len(batch) == batch_size:
            counts.update(normalize(tf.constant(batch)).numpy().tolist())
            batch = []
    if batch:
        counts.update(normalize(tf.constant(batch)).numpy().tolist())
    for token in RESERVED_TOKENS:  # unreachable from text (step 4), but never write a duplicate
        counts.pop(token.encode(), None)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    words = [word for word, _ in ranked[: vocab_size - len(RESERVED_TOKENS)]]
    # Written next to the target and renamed, so a crash never leaves a truncated vocabulary.
    lines = [t.encode() for t in RESERVED_TOKENS] + words
    return write_bytes_atomically(output_path, b"\n".join(lines) + b"\n")


def _read_vocabulary_lines(path: str) -> list[str]:
    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read().decode("utf-8").split("\n")


@tf_keras.utils.register_keras_serializable(package="xling_tf")
class HashedNgramTokenizer(tf_keras.layers.Layer):
    """Strings to word ids and hashed character n-gram ids, in core TensorFlow ops only.

    Call:
      inputs: tf.string [batch].
    Returns:
      {"input_word_ids": int32 [batch, seq], "input_mask": int32 [batch, seq],
       "input_ngram_ids": int32 [batch, seq, max_ngrams_per_word]}: `[CLS] words... [SEP]`,
      where `seq` is the longest packed row (at most `max_seq_length`), or exactly
      `max_seq_length` with `pad_to_max_length=True`. Padding is 0 in every output.

    The vocabulary file is a `tf.saved_model.Asset`, and the word table is initialised from it,
    so exported models carry it under `assets/` and still load after being moved.
    """

    def __init__(
        self,
        vocab_file_path: str,
        max_seq_length: int = 64,
        num_oov_buckets: int = 10_000,
        ngram_orders: Sequence[int] = (3, 4),
        num_ngram_buckets: int = 200_000,
        max_ngrams_per_word: int = 16,
        lower_case: bool = True,
        pad_to_max_length: bool = False,
        max_input_chars: int = 2048,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if max_seq_length < 3:
            raise ValueError(f"max_seq_length must be >= 3 ([CLS] x [SEP]), got {max_seq_length}")
        if num_oov_buckets < 1:
            raise ValueError(f"num_oov_buckets must be >= 1, got {num_oov_buckets}")
        if num_ngram_buckets < 2 or max_ngrams_per_word < 1 or not ngram_orders:
            raise ValueError(
                "need num_ngram_buckets >= 2 (0 pads), max_ngrams_per_word >= 1 "
                f"and some ngram_orders, got {num_ngram_buckets}, "
                f"{max_ngrams_per_word}, {ngram_orders}"
            )
        if any(int(order) < 1 for order in ngram_orders):
            raise ValueError(f"ngram_orders must be positive, got {ngram_orders}")
        if not tf.io.gfile.exists(vocab_file_path):
            raise FileNotFoundError(f"word vocabulary not found: {vocab_file_path}")
        lines = _read_vocabulary_lines(vocab_file_path)
        if lines and lines[-1] == "":
            lines.pop()  # the final newline
        if tuple(lines[: len(RESERVED_TOKENS)]) != RESERVED_TOKENS:
            raise ValueError(
                f"{vocab_file_path} must start with the lines {list(RESERVED_TOKENS)}; train it "
                "with xling_tf.tokenization.hashed_ngram_tokenizer.train_word_vocabulary"
            )
        self.vocab_file_path = vocab_file_path
        self.max_seq_length = max_seq_length
        self.num_oov_buckets = num_oov_buckets
        self.ngram_orders = tuple(int(order) for order in ngram_orders)
        self.num_ngram_buckets = num_ngram_buckets
        self.max_ngrams_per_word = max_ngrams_per_word
        self.lower_case = lower_case
        self.pad_to_max_length = pad_to_max_length
        self.max_input_chars = max_input_chars
        self._num_words = len(lines)
        self.vocab_asset = tf.saved_model.Asset(vocab_file_path)
        self._table = tf.lookup.StaticVocabularyTable(
            tf.lookup.TextFileInitializer(
                self.vocab_asset,
                key_dtype=tf.string,
                key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
                value_dtype=tf.int64,
                value_index=tf.lookup.TextFileIndex.LINE_NUMBER,
                vocab_size=self._num_words,
            ),
            num_oov_buckets=num_oov_buckets,
        )
        # Same keys as SentencepieceTextTokenizer.special_tokens, for code that reads either.
        self.special_tokens = {
            "start_of_sequence_id": CLS_ID,
            "end_of_segment_id": SEP_ID,
            "padding_id": PAD_ID,
            "mask_id": MASK_ID,
            "vocab_size": self.vocab_size,
        }

    @property
    def vocab_size(self) -> int:
        """Rows of the word embedding table: vocabulary lines plus OOV buckets."""
        return self._num_words + self.num_oov_buckets

    @property
    def ngram_buckets(self) -> int:
        """Rows of the n-gram embedding table (row 0 is padding)."""
        return self.num_ngram_buckets

    def tokenize(self, inputs: tf.Tensor) -> tf.RaggedTensor:
        """tf.string [batch] -> tf.string RaggedTensor [batch, (words)], already truncated."""
        inputs = tf.reshape(tf.convert_to_tensor(inputs, tf.string), [-1])
        words = split_words(inputs, self.lower_case, self.max_input_chars)
        return words[:, : self.max_seq_length - 2]

    def word_ngram_ids(self, words: tf.Tensor) -> tf.Tensor:
        """tf.string [W] words -> int32 [W, max_ngrams_per_word] hashed n-gram ids, 0-padded."""
        chars = tf.strings.unicode_split(tf.strings.join(["<", words, ">"]), "UTF-8")
        ngrams = tf.concat(
            [tf.strings.ngrams(chars, order, separator="") for order in self.ngram_orders], axis=1
        )
        hashed = tf.strings.to_hash_bucket_fast(ngrams.flat_values, self.num_ngram_buckets - 1) + 1
        # One extra 0 at the end: every missing slot gathers it, and the gather never sees an
        # empty tensor.
        hashed = tf.concat([hashed, tf.zeros([1], tf.int64)], axis=0)
        width = self.max_ngrams_per_word
        counts = ngrams.row_lengths()[:, tf.newaxis]  # int64 [W, 1]
        slots = tf.range(width, dtype=tf.int64)[tf.newaxis, :]  # int64 [1, N]
        # Too many n-grams: take N evenly spaced ones (floor(j * K / N) are distinct for K > N).
        offsets = tf.where(counts > width, slots * counts // width, slots)
        index = tf.where(
            slots < counts,
            ngrams.row_starts()[:, tf.newaxis] + offsets,
            tf.shape(hashed, out_type=tf.int64)[0] - 1,
        )
        return tf.cast(tf.gather(hashed, index), tf.int32)

    def pack(self, words: tf.RaggedTensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
        """Words [batch, (W)] -> `[CLS] words [SEP]` ids.

        Returns:
          (int32 RaggedTensor [batch, (W + 2)] word ids,
           int32 RaggedTensor [batch, (W + 2), max_ngrams_per_word] n-gram ids).
        """
        batch = words.nrows()
        word_ids = tf.cast(self._table.lookup(words), tf.int32)
        word_ids = tf.concat(
            [tf.fill([batch, 1], CLS_ID), word_ids, tf.fill([batch, 1], SEP_ID)], axis=1
        )
        ngram_ids = words.with_flat_values(self.word_ngram_ids(words.flat_values))
        no_ngrams = tf.RaggedTensor.from_tensor(
            tf.zeros([batch, 1, self.max_ngrams_per_word], tf.int32)
        )
        ngram_ids = tf.concat([no_ngrams, ngram_ids, no_ngrams], axis=1)
        return word_ids, ngram_ids

    def _padded(
        self, word_ids: tf.RaggedTensor, ngram_ids: tf.RaggedTensor, length: int | None
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Ragged packed ids -> dense int32 [B, T] and [B, T, N], T = `length` or the longest."""
        words = word_ids.to_tensor(default_value=PAD_ID, shape=[None, length])
        ngrams = ngram_ids.to_tensor(
            default_value=NGRAM_PAD_ID, shape=[None, length, self.max_ngrams_per_word]
        )
        return words, ngrams

    def call(self, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        word_ids, ngram_ids = self.pack(self.tokenize(inputs))
        length = self.max_seq_length if self.pad_to_max_length else None
        words, ngrams = self._padded(word_ids, ngram_ids, length)
        return {
            "input_word_ids": words,
            # Real ids are never 0 ([CLS] is 1, words start at 4), so the mask is exact.
            "input_mask": tf.cast(tf.not_equal(words, PAD_ID), tf.int32),
            "input_ngram_ids": ngrams,
        }

    def row_features(self, columns: tf.Tensor) -> dict[str, tf.Tensor]:
        """The tf.data side of the tokenizer protocol (see data/pair_dataset.py).

        Args:
          columns: tf.string [C], the C sentences of one data row.
        Returns:
          {"input_word_ids": int32 [C, T_row], "input_ngram_ids": int32 [C, T_row, N]},
          padded with 0 only to the row's longest column.
        """
        word_ids, ngram_ids = self._padded(*self.pack(self.tokenize(columns)), None)
        return {"input_word_ids": word_ids, "input_ngram_ids": ngram_ids}

    def row_padded_shapes(self, num_columns: int) -> dict[str, list]:
        """`padded_shapes` for batching `row_features` outputs."""
        length = self.max_seq_length if self.pad_to_max_length else None
        return {
            "input_word_ids": [num_columns, length],
            "input_ngram_ids": [num_columns, length, self.max_ngrams_per_word],
        }

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "vocab_file_path": self.vocab_file_path,
                "max_seq_length": self.max_seq_length,
                "num_oov_buckets": self.num_oov_buckets,
                "ngram_orders": list(self.ngram_orders),
                "num_ngram_buckets": self.num_ngram_buckets,
                "max_ngrams_per_word": self.max_ngrams_per_word,
                "lower_case": self.lower_case,
                "pad_to_max_length": self.pad_to_max_length,
                "max_input_chars": self.max_input_chars,
            }
        )
        return config
