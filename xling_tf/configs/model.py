"""Dataclass configs of the model: the tokenizer, the shared encoder and how embeddings score.

`XlingModelConfig` is an experiment's ONE model config (`task.model`): training (every
routine), export, evaluation, the vocabulary step and the run guard all read it; task
routines hold only what is per task (data, loss weight, heads, the loss direction).
"""

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
class NgramCnnConfig(base_config.Config):
    """The n-gram CNN encoder's own sizes (`EncoderConfig.type: ngram_cnn`,
    modeling/ngram_cnn_encoder.py); the defaults are multilingual USE v3's.

    Attributes:
      branch_width: width of each n-gram branch.
      ngram_orders: window length of each branch.
      ngram_left_context: tokens before t in each branch's window.
      pooled_width: width of the pooled projection.
      head_width: width of the head's first two layers.
      head_inner_dim: width of the head's third layer.
      layer_norm_epsilon: epsilon of its layer norms (mUSE v3: 1e-12).
      train_convolutions: also train the token projection and the convolutions (false: train
        only the pooling projection and the head, a third of the step time on a CPU; enough to
        adapt a teacher's weights to a domain).
    """

    branch_width: int = 256
    ngram_orders: tuple[int, ...] = (2, 3, 5)
    ngram_left_context: tuple[int, ...] = (0, 1, 2)
    pooled_width: int = 512
    head_width: int = 320
    head_inner_dim: int = 512
    layer_norm_epsilon: float = 1e-12
    train_convolutions: bool = True


ENCODER_TYPES = ("transformer", "ngram_cnn")


@dataclasses.dataclass
class EncoderConfig(base_config.Config):
    """The shared sentence encoder: a Transformer (modeling/encoder.py) or multilingual USE
    v3's n-gram CNN (modeling/ngram_cnn_encoder.py).

    Attributes:
      type: one of ENCODER_TYPES. hidden_size is the Transformer's width or the CNN's token
        embedding width; the layer, head and attention fields are the Transformer's, `ngram_cnn`
        the CNN's.
      initial_weights_from: an entry point `module.function` returning {weight name: array}
        for every encoder weight but the token table (names as
        `NgramCnnEncoder.named_weights`), assigned at the start of a fresh run, e.g.
        `xling_tf.distillation.teacher_vocabulary.muse_v3_encoder_weights`. With it, a token
        table from `TokenizerConfig.vocabulary_from` keeps the teacher's scale.
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
    type: str = "transformer"
    initial_weights_from: str = ""
    ngram_cnn: NgramCnnConfig = dataclasses.field(default_factory=NgramCnnConfig)


@dataclasses.dataclass
class XlingModelConfig(base_config.Config):
    """The sentence encoder model: tokenizer + shared encoder + how two embeddings score.

    One per experiment, at `task.model`. The scoring fields belong to the model, not to a task,
    because they go with the embedding space: cosine scores (`normalize`) lie in [-1, 1] and
    need a `logit_scale` for a sharp softmax, raw dot products (the paper) do not. Every
    ranking loss of the experiment uses them; the loss direction is per task
    (`TranslationRankingConfig.bidirectional`).

    Attributes:
      normalize: L2-normalise embeddings, so scores are cosine similarities (exports too).
      logit_scale: multiplies the scores before the softmax (needed with cosine scores).
      logit_margin: additive margin subtracted from the gold score (LaBSE uses 0.3).
      cross_replica_negatives: under several replicas, rank each replica's rows against the
        whole global batch (all replicas' targets and sources, all-gathered; LaBSE) rather
        than its own rows only; changes nothing with one replica (docs/scaling.md).
    """

    tokenizer: TokenizerConfig = dataclasses.field(default_factory=TokenizerConfig)
    encoder: EncoderConfig = dataclasses.field(default_factory=EncoderConfig)
    normalize: bool = True
    logit_scale: float = 20.0
    logit_margin: float = 0.0
    cross_replica_negatives: bool = True
