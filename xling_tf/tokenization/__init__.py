"""In-graph tokenizers.

Names are imported on first use (PEP 562), so `import xling_tf.tokenization.hashed_ngram_tokenizer`
does not load the SentencePiece layer and with it tensorflow_text: the core-ops tokenizer must
work in processes that never import tensorflow_text.
"""

import importlib

_EXPORTS = {
    "SentencepieceTextTokenizer": "xling_tf.tokenization.sentencepiece_tokenizer",
    "train_sentencepiece": "xling_tf.tokenization.sentencepiece_tokenizer",
    "HashedNgramTokenizer": "xling_tf.tokenization.hashed_ngram_tokenizer",
    "train_word_vocabulary": "xling_tf.tokenization.hashed_ngram_tokenizer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
