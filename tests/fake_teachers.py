"""Teachers for tests: `module:function` entry points (tests.fake_teachers:NAME).

`hashed_trigrams` is a real, deterministic encoder (hashed character 3-gram counts, 32-d); the
others break one rule of `xling_tf.distillation.teachers.Teacher` each.
"""

from __future__ import annotations

import os
import zlib

import numpy as np

DIM = 32
# Counts the calls of the teacher in this process (tests of caching read it).
CALLS = {"sentences": 0}


def _trigram_vectors(texts: list[str]) -> np.ndarray:
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        padded = f"  {text.lower()} "
        for i in range(len(padded) - 2):
            out[row, zlib.crc32(padded[i : i + 3].encode()) % DIM] += 1.0
    out[:, 0] += 1.0  # never all-zero
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def hashed_trigrams():
    def embed(texts):
        CALLS["sentences"] += len(texts)
        log = os.environ.get("FAKE_TEACHER_LOG")
        if log:
            with open(log, "a") as f:
                f.write(f"{len(texts)}\n")
        limit = os.environ.get("FAKE_TEACHER_DIE_AFTER")
        if limit and CALLS["sentences"] > int(limit):
            os._exit(9)  # a crash in the middle of the teacher pass
        return _trigram_vectors(texts)

    return embed


def raises_on_load():
    raise RuntimeError("weights missing")


def raises_on_call():
    def embed(texts):
        raise RuntimeError("teacher server down")

    return embed


def wrong_shape():
    return lambda texts: np.ones((len(texts) + 1, DIM), np.float32)


def nan_vectors():
    def embed(texts):
        out = _trigram_vectors(texts)
        out[-1, 3] = np.nan
        return out

    return embed


def zero_vectors():
    def embed(texts):
        out = _trigram_vectors(texts)
        out[0] = 0.0
        return out

    return embed


def changing_size():
    calls = []

    def embed(texts):
        calls.append(1)
        return np.ones((len(texts), DIM + len(calls)), np.float32)

    return embed


def not_a_function():
    return 42
