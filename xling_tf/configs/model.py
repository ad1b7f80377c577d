"""Dataclass configs of the tokenizer, the shared encoder and the dual-encoder head."""

from __future__ import annotations

import dataclasses

from official.modeling.hyperparams import base_config


@dataclasses.dataclass
class TokenizerConfig(base_config.Config):
    """In-graph tokenizer.

    Attributes:
      type: "sentencepiece" (tensorflow_text SentencePiece pieces) or "hashed_ngrams" (the
        paper's words + hashed character n-grams in core TF ops: exported models need no
        custom ops; see tokenization/hashed_ngram_tokenizer.py).
      sentencepiece_model_file: a trained SentencePiece model. Empty means "train one from the
        training data into <model_dir>/vocab/sentencepiece.model before training starts".
      word_vocab_file: hashed_ngrams only: a word vocabulary (one word per line, the reserved
        tokens first). Empty means "count one from the training data into
        <model_dir>/vocab/words.txt before training starts".
      vocab_size: vocabulary size when the vocabulary is trained here (for hashed_ngrams: lines
        of the word file, the 4 reserved tokens included; OOV buckets come on top).
      lower_case: fold case (baked into the SentencePiece model; an in-graph op for words).
      max_seq_length: tokens kept per sentence, counting [CLS] and [SEP].
      pad_to_max_length: always pad to max_seq_length (static shapes: TPUs, XLA, serving).
      max_input_chars: characters kept before tokenization (bounds work on huge inputs).
      vocab_training_sentences: at most this many sentences are sampled to train the vocabulary.
      num_oov_buckets: hashed_ngrams: hash buckets for out-of-vocabulary words (paper: 10k).
      num_ngram_buckets: hashed_ngrams: hash buckets for character n-grams (paper: 200k).
      ngram_orders: hashed_ngrams: character n-gram lengths (paper: 3 and 4).
      max_ngrams_per_word: hashed_ngrams: n-gram slots per word; longer words keep an evenly
        spaced subset.
      vocabulary_from: take the vocabulary (and starting token embeddings) from a teacher
        instead of training one: an entry point `module.function` returning (SentencePiece
        model bytes, float32 [pieces, d] token embeddings), e.g.
        `xling_tf.distillation.teacher_vocabulary.muse_v3_vocabulary`.
    """

    type: str = "sentencepiece"
    sentencepiece_model_file: str = ""
    word_vocab_file: str = ""
    vocab_size: int = 8000
    lower_case: bool = True
    max_seq_length: int = 64
    pad_to_max_length: bool = False
    max_input_chars: int = 2048
    vocab_training_sentences: int = 400_000
    num_oov_buckets: int = 10_000
    num_ngram_buckets: int = 200_000
    ngram_orders: tuple[int, ...] = (3, 4)
    max_ngrams_per_word: int = 16
    vocabulary_from: str = ""


@dataclasses.dataclass
class EncoderConfig(base_config.Config):
    """The shared Transformer sentence encoder (see modeling/encoder.py).

    Attributes:
      token_embeddings_file: a float32 .npy [vocab_size, hidden_size] the token table starts
        from (a fresh run only; a resumed one restores its checkpoint). Filled in before
        training when the tokenizer's vocabulary comes from a teacher
        (`TokenizerConfig.vocabulary_from`).
      train_token_embeddings: keep training a table loaded from `token_embeddings_file`
        (default: frozen, so pieces the training data never shows stay aligned).
    """

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
    token_embeddings_file: str = ""
    train_token_embeddings: bool = False


@dataclasses.dataclass
class DualEncoderConfig(base_config.Config):
    """Tokenizer + shared encoder + how two sides are scored against each other.

    Attributes:
      normalize: L2-normalise embeddings, so scores are cosine similarities.
      logit_scale: multiplies the scores before the softmax (needed with cosine scores).
      logit_margin: additive margin subtracted from the gold score (LaBSE uses 0.3).
      bidirectional: rank targets given sources and sources given targets.
      cross_replica_negatives: under several replicas, rank each replica's rows against the
        whole global batch (all replicas' targets and sources, all-gathered; LaBSE) rather
        than its own rows only; changes nothing with one replica (docs/scaling.md).
    """

    tokenizer: TokenizerConfig = dataclasses.field(default_factory=TokenizerConfig)
    encoder: EncoderConfig = dataclasses.field(default_factory=EncoderConfig)
    normalize: bool = True
    logit_scale: float = 20.0
    logit_margin: float = 0.0
    bidirectional: bool = True
    cross_replica_negatives: bool = True
