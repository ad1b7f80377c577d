"""In-graph tokenizers."""

from xling_tf.tokenization.sentencepiece_tokenizer import (  # noqa: F401
    SentencepieceTextTokenizer,
    train_sentencepiece,
)
