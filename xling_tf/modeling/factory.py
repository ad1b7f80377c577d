"""Builds the tokenizer layer and the shared encoder from the model config."""

from __future__ import annotations

from xling_tf.configs.model import ENCODER_TYPES, EncoderConfig, TokenizerConfig, XlingModelConfig
from xling_tf.modeling.encoder import SentenceEncoder
from xling_tf.modeling.ngram_cnn_encoder import NgramCnnEncoder
from xling_tf.tokenization.hashed_ngram_tokenizer import HashedNgramTokenizer
from xling_tf.tokenization.sentencepiece_tokenizer import SentencepieceTextTokenizer

TOKENIZER_TYPES = ("sentencepiece", "hashed_ngrams")


def build_tokenizer(config: TokenizerConfig) -> SentencepieceTextTokenizer | HashedNgramTokenizer:
    """The in-graph tokenizer layer of `config.type`; its vocabulary file must exist."""
    if config.type == "hashed_ngrams":
        if not config.word_vocab_file:
            raise ValueError(
                "tokenizer.word_vocab_file is empty: train a vocabulary first "
                "(xling_tf.train does this automatically into <model_dir>/vocab/)."
            )
        return HashedNgramTokenizer(
            vocab_file_path=config.word_vocab_file,
            max_seq_length=config.max_seq_length,
            num_oov_buckets=config.num_oov_buckets,
            ngram_orders=tuple(config.ngram_orders),
            num_ngram_buckets=config.num_ngram_buckets,
            max_ngrams_per_word=config.max_ngrams_per_word,
            lower_case=config.lower_case,
            pad_to_max_length=config.pad_to_max_length,
            max_input_chars=config.max_input_chars,
        )
    if config.type != "sentencepiece":
        raise ValueError(f"tokenizer.type must be one of {TOKENIZER_TYPES}, got {config.type!r}")
    if not config.sentencepiece_model_file:
        raise ValueError(
            "tokenizer.sentencepiece_model_file is empty: train a vocabulary first "
            "(xling_tf.train does this automatically into <model_dir>/vocab/)."
        )
    return SentencepieceTextTokenizer(
        model_file_path=config.sentencepiece_model_file,
        max_seq_length=config.max_seq_length,
        pad_to_max_length=config.pad_to_max_length,
        max_input_chars=config.max_input_chars,
    )


def build_encoder(
    config: EncoderConfig,
    vocab_size: int,
    max_sequence_length: int,
    name: str = "sentence_encoder",
    ngram_buckets: int = 0,
) -> SentenceEncoder | NgramCnnEncoder:
    """The shared sentence encoder g of every task, of type `config.type`.

    `ngram_buckets` is the tokenizer's n-gram table size (`HashedNgramTokenizer.ngram_buckets`);
    0, for SentencePiece, builds no n-gram table.
    """
    trainable_word_embeddings = not config.token_embeddings_file or config.train_token_embeddings
    if config.type == "ngram_cnn":
        if ngram_buckets:
            raise ValueError(
                "encoder.type ngram_cnn reads word-piece ids only; use tokenizer.type "
                "sentencepiece (hashed_ngrams needs encoder.type transformer)"
            )
        # NgramCnnConfig's fields are the layer's own arguments, one for one.
        return NgramCnnEncoder(
            vocab_size=vocab_size,
            hidden_size=config.hidden_size,
            output_dim=config.output_dim,
            dropout_rate=config.dropout_rate,
            initializer_range=config.initializer_range,
            trainable_word_embeddings=trainable_word_embeddings,
            name=name,
            **config.ngram_cnn.as_dict(),
        )
    if config.type != "transformer":
        raise ValueError(f"encoder.type must be one of {ENCODER_TYPES}, got {config.type!r}")
    return SentenceEncoder(
        vocab_size=vocab_size,
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        num_attention_heads=config.num_attention_heads,
        inner_dim=config.inner_dim,
        inner_activation=config.inner_activation,
        output_dim=config.output_dim,
        output_activation=config.output_activation or None,
        max_sequence_length=max_sequence_length,
        dropout_rate=config.dropout_rate,
        attention_dropout_rate=config.attention_dropout_rate,
        embedding_gradient_multiplier=config.embedding_gradient_multiplier,
        pooling=config.pooling,
        norm_first=config.norm_first,
        initializer_range=config.initializer_range,
        ngram_buckets=ngram_buckets,
        trainable_word_embeddings=trainable_word_embeddings,
        name=name,
    )


def build_sentence_encoder(
    model: XlingModelConfig, name: str = "sentence_encoder"
) -> SentenceEncoder | NgramCnnEncoder:
    """The shared encoder of `model` (`task.model`), sized to its tokenizer's vocabulary.

    The one way training, export and evaluation build the encoder; the tokenizer's
    vocabulary file must exist (it decides the token table's size).
    """
    tokenizer = build_tokenizer(model.tokenizer)
    return build_encoder(
        model.encoder,
        vocab_size=tokenizer.vocab_size,
        max_sequence_length=model.tokenizer.max_seq_length,
        name=name,
        ngram_buckets=getattr(tokenizer, "ngram_buckets", 0),
    )
