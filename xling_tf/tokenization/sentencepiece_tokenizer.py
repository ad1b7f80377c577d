"""In-graph SentencePiece tokenization: training the vocabulary and the Keras layer.

One SentencePiece model is trained in-process on the text of every language the model covers,
so all languages share one vocabulary (the mUSE / LaBSE recipe). The Keras layer wraps Model
Garden's `layers.SentencepieceTokenizer` (tensorflow_text underneath) and packs its pieces into
the padded `input_word_ids` / `input_mask` pair the encoder reads, so tokenization lives in the
graph of every exported model.

Behaviour on awkward input, pinned by tests/test_tokenizer.py:
  * invalid UTF-8 bytes are replaced by U+FFFD before tokenization (never an error);
  * NUL bytes, emoji, RTL and mixed scripts are ordinary characters to SentencePiece;
  * text longer than `max_input_chars` characters is cut there first (it could not reach the
    model anyway: only `max_seq_length - 2` pieces survive), which bounds the tokenizer's work;
  * an empty or whitespace-only string becomes `[CLS] [SEP]`, so it has a fixed embedding.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from xling_tf.data.pairs import write_bytes_atomically

import sentencepiece as spm
import tensorflow as tf
import tensorflow_text as tf_text
import tf_keras
from official.nlp.modeling import layers as nlp_layers

# Control symbols are never produced from raw text: "[CLS]" typed by a user stays text.
CONTROL_SYMBOLS = ("[CLS]", "[SEP]", "[MASK]")
PAD_ID = 0
UNK_ID = 1


def train_sentencepiece(
    sentences: Iterable[str],
    output_path: str,
    vocab_size: int = 8000,
    model_type: str = "unigram",
    lower_case: bool = True,
    character_coverage: float = 0.9995,
    input_sentence_size: int = 2_000_000,
    seed_sentencepiece_size: int = 1_000_000,
) -> str:
    """Trains a SentencePiece model in-process and writes it atomically to `output_path`.

    Args:
      sentences: training text, one sentence per item, all languages mixed.
      output_path: where the `.model` file goes (parent folders are created).
      vocab_size: target vocabulary size, including `<pad>`, `<unk>` and the control symbols.
        It is a soft limit, so a tiny corpus yields a smaller vocabulary instead of an error.
      model_type: "unigram" or "bpe".
      lower_case: bake case folding into the model's normalizer (`nmt_nfkc_cf`), so no extra
        lower-casing op is needed in the graph.
      character_coverage: share of characters covered by the vocabulary; the rest map to pieces
        of `<unk>`.
      input_sentence_size: at most this many sentences are sampled for training.
      seed_sentencepiece_size: SentencePiece's seed vocabulary size (unigram only).

    Returns:
      `output_path`.
    """
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=buffer,
        vocab_size=vocab_size,
        model_type=model_type,
        normalization_rule_name="nmt_nfkc_cf" if lower_case else "nmt_nfkc",
        character_coverage=character_coverage,
        input_sentence_size=input_sentence_size,
        shuffle_input_sentence=True,
        seed_sentencepiece_size=seed_sentencepiece_size,
        pad_id=PAD_ID,
        unk_id=UNK_ID,
        bos_id=-1,
        eos_id=-1,
        control_symbols=list(CONTROL_SYMBOLS),
        hard_vocab_limit=False,
        minloglevel=2,
    )
    # Written next to the target and renamed, so a crash never leaves a truncated vocabulary.
    return write_bytes_atomically(output_path, buffer.getvalue())


def sanitize_text(inputs: tf.Tensor, max_input_chars: int) -> tf.Tensor:
    """Makes arbitrary byte strings safe and bounded for tokenization.

    Args:
      inputs: tf.string tensor of any shape.
      max_input_chars: keep at most this many characters; 0 keeps everything.

    Returns:
      tf.string tensor of the same shape, valid UTF-8.
    """
    text = tf.strings.unicode_transcode(
        inputs, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    if max_input_chars:
        text = tf.strings.substr(text, 0, max_input_chars, unit="UTF8_CHAR")
    return text


@tf_keras.utils.register_keras_serializable(package="xling_tf")
class SentencepieceTextTokenizer(tf_keras.layers.Layer):
    """Strings to padded SentencePiece ids: `[CLS] pieces... [SEP]`, truncated and padded.

    Call:
      inputs: tf.string [batch].
    Returns:
      {"input_word_ids": int32 [batch, seq], "input_mask": int32 [batch, seq]}, where
      `seq` is the longest packed row in the batch (at most `max_seq_length`), or exactly
      `max_seq_length` with `pad_to_max_length=True` (static shapes for TPUs and serving).

    The model file is tracked as a SavedModel asset (exported models carry it under
    `assets/`), and its bytes are also baked into the tokenizer op, which is what
    tensorflow_text's SentencepieceOp reads at run time.
    """

    def __init__(
        self,
        model_file_path: str,
        max_seq_length: int = 64,
        pad_to_max_length: bool = False,
        max_input_chars: int = 2048,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if max_seq_length < 3:
            raise ValueError(f"max_seq_length must be >= 3 ([CLS] x [SEP]), got {max_seq_length}")
        if not tf.io.gfile.exists(model_file_path):
            raise FileNotFoundError(f"SentencePiece model not found: {model_file_path}")
        self.model_file_path = model_file_path
        self.max_seq_length = max_seq_length
        self.pad_to_max_length = pad_to_max_length
        self.max_input_chars = max_input_chars
        self.vocab_asset = tf.saved_model.Asset(model_file_path)
        self._pieces = nlp_layers.SentencepieceTokenizer(
            lower_case=False, model_file_path=model_file_path, name="sentencepiece"
        )
        special = self._pieces.get_special_tokens_dict()
        missing = {"start_of_sequence_id", "end_of_segment_id", "padding_id"} - set(special)
        if missing or special["padding_id"] != PAD_ID:
            raise ValueError(
                f"{model_file_path} lacks special tokens {sorted(missing)} or does not pad "
                f"with id {PAD_ID}; train it with "
                "xling_tf.tokenization.train_sentencepiece"
            )
        self.special_tokens = special

    @property
    def vocab_size(self) -> int:
        return int(self.special_tokens["vocab_size"])

    def tokenize(self, inputs: tf.Tensor) -> tf.RaggedTensor:
        """tf.string [batch] -> int32 RaggedTensor [batch, (pieces)], no special tokens."""
        inputs = tf.reshape(tf.convert_to_tensor(inputs, tf.string), [-1])
        return self._pieces(sanitize_text(inputs, self.max_input_chars))

    def pack(self, pieces: tf.RaggedTensor) -> tf.RaggedTensor:
        """int32 [batch, (pieces)] -> int32 [batch, (len)]: `[CLS] pieces [SEP]`, len <= max."""
        packed, _ = tf_text.combine_segments(
            [pieces[:, : self.max_seq_length - 2]],
            start_of_sequence_id=self.special_tokens["start_of_sequence_id"],
            end_of_segment_id=self.special_tokens["end_of_segment_id"],
        )
        return tf.cast(packed, tf.int32)

    def call(self, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        packed = self.pack(self.tokenize(inputs))
        if self.pad_to_max_length:
            word_ids, mask = tf_text.pad_model_inputs(
                packed, self.max_seq_length, pad_value=self.special_tokens["padding_id"]
            )
        else:
            word_ids = packed.to_tensor(default_value=self.special_tokens["padding_id"])
            mask = tf.ones_like(packed).to_tensor(default_value=0)
        return {
            "input_word_ids": tf.cast(word_ids, tf.int32),
            "input_mask": tf.cast(mask, tf.int32),
        }

    def row_features(self, columns: tf.Tensor) -> dict[str, tf.Tensor]:
        """The tf.data side of the tokenizer protocol (see data/pair_dataset.py).

        Args:
          columns: tf.string [C], the C sentences of one data row.
        Returns:
          {"input_word_ids": int32 [C, T_row]}, padded with 0 only to the row's longest column.
        """
        return {
            "input_word_ids": self.pack(self.tokenize(columns)).to_tensor(
                default_value=self.special_tokens["padding_id"]
            )
        }

    def row_padded_shapes(self, num_columns: int) -> dict[str, list]:
        """`padded_shapes` for batching `row_features` outputs."""
        length = self.max_seq_length if self.pad_to_max_length else None
        return {"input_word_ids": [num_columns, length]}

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "model_file_path": self.model_file_path,
                "max_seq_length": self.max_seq_length,
                "pad_to_max_length": self.pad_to_max_length,
                "max_input_chars": self.max_input_chars,
            }
        )
        return config
