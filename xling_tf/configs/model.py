"""Dataclass configs of the tokenizer, the shared encoder and the dual-encoder head."""

from __future__ import annotations

import dataclasses

from official.modeling.hyperparams import base_config


@dataclasses.dataclass
class TokenizerConfig(base_config.Config):
    """In-graph tokenizer.

    Attributes:
      sentencepiece_model_file: a trained SentencePiece model. Empty means "train one from the
        training data into <model_dir>/vocab/sentencepiece.model before training starts".
      vocab_size: vocabulary size when the model is trained here.
      lower_case: bake case folding into the trained model.
      max_seq_length: pieces kept per sentence, counting [CLS] and [SEP].
      pad_to_max_length: always pad to max_seq_length (static shapes: TPUs, XLA, serving).
      max_input_chars: characters kept before tokenization (bounds work on huge inputs).
      vocab_training_sentences: at most this many sentences are sampled to train the model.
    """

    sentencepiece_model_file: str = ""
    vocab_size: int = 8000
    lower_case: bool = True
    max_seq_length: int = 64
    pad_to_max_length: bool = False
    max_input_chars: int = 2048
    vocab_training_sentences: int = 400_000


@dataclasses.dataclass
class EncoderConfig(base_config.Config):
    """The shared Transformer sentence encoder (see modeling/encoder.py)."""

    hidden_size: int = 320
    num_layers: int = 3
    num_attention_heads: int = 8
    inner_dim: int = 1280
    inner_activation: str = "gelu"
    output_dim: int = 512
    output_activation: str = ""
    dropout_rate: float = 0.1
    attention_dropout_rate: float = 0.1
    embedding_gradient_multiplier: float = 1.0
    pooling: str = "mean"
    norm_first: bool = True
    initializer_range: float = 0.02


@dataclasses.dataclass
class DualEncoderConfig(base_config.Config):
    """Tokenizer + shared encoder + how two sides are scored against each other.

    Attributes:
      normalize: L2-normalise embeddings, so scores are cosine similarities.
      logit_scale: multiplies the scores before the softmax (needed with cosine scores).
      logit_margin: additive margin subtracted from the gold score (LaBSE uses 0.3).
      bidirectional: rank targets given sources and sources given targets.
    """

    tokenizer: TokenizerConfig = dataclasses.field(default_factory=TokenizerConfig)
    encoder: EncoderConfig = dataclasses.field(default_factory=EncoderConfig)
    normalize: bool = True
    logit_scale: float = 20.0
    logit_margin: float = 0.0
    bidirectional: bool = True
