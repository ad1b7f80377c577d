"""TF Hub text API split: a `preprocessor` SavedModel and a reusable `encoder` SavedModel.

This follows Model Garden's official/nlp/tools/export_tfhub_lib.py (the BERT exports on TF Hub)
and https://www.tensorflow.org/hub/common_saved_model_apis/text, so code written for those
models works unchanged:

    preprocessor = hub.load("OUT/preprocessor")   # import tensorflow_text first
    encoder = hub.load("OUT/encoder")
    outputs = encoder(preprocessor(tf.constant(["hello world"])))
    outputs["pooled_output"]    # float32 [batch, output_dim], NOT L2-normalised
    outputs["sequence_output"]  # float32 [batch, seq_length, hidden_size]

`pooled_output` is the projection output *before* L2 normalisation (the vector the ranking
loss normalises); `tf.math.l2_normalize(pooled_output, -1)` equals the end-to-end
text_encoder's output. Fine-tuning code usually wants the unnormalised vector, hence the split.

The preprocessor is SentencePiece-only: `.bert_pack_inputs` packs piece-id segments, which a
hashed word + n-gram tokenizer does not produce. The encoder itself is tokenizer-agnostic: its
inputs are whatever the trained tokenizer emits (e.g. "input_ngram_ids") plus the
"input_type_ids" every TF Hub preprocessor emits (accepted and ignored: the model has no
segment embeddings).
"""

from __future__ import annotations

from typing import Any

from xling_tf.precision import float32_outputs
from xling_tf.tokenization.sentencepiece_tokenizer import SentencepieceTextTokenizer

import tensorflow as tf
import tf_keras
from official.nlp.modeling import layers as nlp_layers
from official.nlp.tools import export_tfhub_lib

# Emitted by every TF Hub preprocessor; the encoder accepts it so preprocessor outputs can be
# fed to it unchanged.
TYPE_IDS = "input_type_ids"


def batch_of_strings(sentences: Any) -> Any:
    """`sentences` (a tf.string [batch] Keras input), checked at run time to be 1-D.

    A signature's declared shape is not enforced when it is called (in Python, TF Serving or
    saved_model_cli), and the tokenizers flatten their input, so a [2, 2] tensor used to come
    back as 4 vectors and a scalar as 1. Now either fails with InvalidArgumentError "Shape of
    tensor inputs [2,2] is not compatible with expected shape [?]". (An op on the input:
    grappler folds a rank assertion away, since the placeholder claims rank 1.)
    """
    return tf.ensure_shape(sentences, [None])


def check_supports_preprocessor(tokenizer: Any) -> None:
    """Raises ValueError unless `tokenizer` can back the preprocessor SavedModel."""
    if not isinstance(tokenizer, SentencepieceTextTokenizer):
        raise ValueError(
            f"the TF Hub preprocessor export (--text_api) needs a SentencePiece tokenizer "
            f"(TokenizerConfig.type='sentencepiece'), but this model uses "
            f"{type(tokenizer).__name__}: its features are not BERT-style piece segments, so "
            ".tokenize / .bert_pack_inputs have no meaning. Export the end-to-end text "
            "encoder (and --serving) instead; they carry the tokenizer in the graph."
        )


class _Tokenize(tf_keras.layers.Layer):
    """tf.string [batch] -> int32 RaggedTensor [batch, (pieces)] via `tokenizer.tokenize`.

    A layer (rather than calling the method on a KerasTensor) so the tokenizer, its
    SentencePiece resource and its vocabulary asset are tracked and exported.
    """

    def __init__(self, tokenizer: SentencepieceTextTokenizer, **kwargs: Any):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer

    def call(self, inputs: tf.Tensor) -> tf.RaggedTensor:
        # The tokenizer's own cleanup (invalid UTF-8 -> U+FFFD, cut at max_input_chars) runs
        # here too, so preprocessor + encoder sees exactly what the end-to-end model sees.
        return self.tokenizer.tokenize(inputs)


def build_preprocessor(
    tokenizer: SentencepieceTextTokenizer, seq_length: int | None = None
) -> tf_keras.Model:
    """The preprocessor of the TF Hub text API (cf. export_tfhub_lib.create_preprocessing).

    Args:
      tokenizer: the trained model's tokenizer layer.
      seq_length: length of the packed outputs; default `tokenizer.max_seq_length`, the
        length the encoder was trained with (longer inputs are untrained positions).

    Returns:
      A tf_keras.Model, to be saved as a SavedModel, with:
        __call__(tf.string [B]) -> {"input_word_ids", "input_mask", "input_type_ids":
          int32 [B, seq_length]}, one segment `[CLS] pieces [SEP]` padded with 0;
        .tokenize(tf.string [B]) -> int32 RaggedTensor [B, (pieces)], no special tokens;
        .tokenize.get_special_tokens_dict() -> {"start_of_sequence_id", "end_of_segment_id",
          "padding_id", "mask_id", "vocab_size": int32 scalars};
        .bert_pack_inputs([segments...], seq_length=...) -> the dict above for 1 or 2
          segments (sentence pairs), each an int32 RaggedTensor [B, (pieces)] or
          [B, (words), (pieces)]; segments are trimmed round-robin to fit, and
          "input_type_ids" is 0 for the first segment, 1 for the second. As for BERT,
          seq_length must not exceed the encoder's max_seq_length (in xling_tf.json).
    """
    check_supports_preprocessor(tokenizer)
    seq_length = seq_length or tokenizer.max_seq_length
    sentences = tf_keras.layers.Input(shape=(), dtype=tf.string, name="sentences")
    tokens = _Tokenize(tokenizer, name="tokenize")(batch_of_strings(sentences))
    pack = nlp_layers.BertPackInputs(
        seq_length=seq_length, special_tokens_dict=tokenizer.special_tokens, name="bert_pack_inputs"
    )
    preprocessor = tf_keras.Model(sentences, pack(tokens), name="preprocessor")
    # Sub-objects must be trackable callables to survive saving; the layout is Model Garden's.
    preprocessor.tokenize = tf_keras.Model(sentences, tokens, name="tokenize")
    special_tokens = dict(tokenizer.special_tokens)
    preprocessor.tokenize.get_special_tokens_dict = tf.train.Checkpoint()
    preprocessor.tokenize.get_special_tokens_dict.__call__ = tf.function(
        lambda: {k: tf.constant(v, tf.int32) for k, v in special_tokens.items()}, input_signature=[]
    )
    # Model Garden's wrapper makes seq_length overridable at call time and pre-traces 1 or 2
    # segments of ragged rank 1 or 2 (a Keras sub-model would freeze both).
    preprocessor.bert_pack_inputs = export_tfhub_lib.BertPackInputsSavedModelWrapper(pack)
    return preprocessor


def encoder_input_specs(tokenizer: Any) -> dict[str, tf.TensorSpec]:
    """The encoder's input dict: the tokenizer's features plus "input_type_ids".

    Probes the tokenizer on one string instead of hard-coding keys, so any tokenizer type
    (SentencePiece ids + mask, hashed n-gram ids [B, T, N], ...) exports unchanged.

    Returns:
      name -> TensorSpec with the batch and sequence axes unknown (other axes too: shapes
      are only checked at call time by the encoder itself).
    """
    features = tokenizer(tf.constant(["probe"]))
    specs = {
        name: tf.TensorSpec([None] * value.shape.rank, value.dtype, name=name)
        for name, value in features.items()
    }
    specs.setdefault(TYPE_IDS, tf.TensorSpec([None, None], tf.int32, name=TYPE_IDS))
    return specs


def build_encoder_model(tokenizer: Any, encoder: tf_keras.layers.Layer) -> tf_keras.Model:
    """The reusable encoder of the TF Hub text API (a Keras model, so hub.KerasLayer fine-tunes).

    Args:
      tokenizer: the trained model's tokenizer layer (only probed for its output keys).
      encoder: the restored SentenceEncoder.

    Returns:
      tf_keras.Model: {"input_word_ids", "input_mask", "input_type_ids": int32 [B, T], plus
      any other tokenizer feature} -> {"pooled_output": float32 [B, output_dim] (before L2
      normalisation), "sequence_output": float32 [B, T, hidden_size], "default": the same
      tensor as "pooled_output"}.
    """
    inputs = {
        name: tf_keras.layers.Input(shape=spec.shape[1:], dtype=spec.dtype, name=name)
        for name, spec in encoder_input_specs(tokenizer).items()
    }
    outputs = encoder(inputs)
    # TF Hub's contract is float32 outputs, whatever dtype the encoder computes in.
    pooled = float32_outputs(outputs["pooled_output"], "pooled_output_float32")
    sequence = float32_outputs(outputs["sequence_output"], "sequence_output_float32")
    return tf_keras.Model(
        inputs,
        {"pooled_output": pooled, "sequence_output": sequence, "default": pooled},
        name="encoder",
    )
