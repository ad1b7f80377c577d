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


def teacher_layout_sentencepiece(sentences: list[str], vocab_size: int = 120) -> bytes:
    """A SentencePiece model laid out like mUSE's: <unk>=0, <s>=1, </s>=2, no padding."""
    import io

    import sentencepiece as spm

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=buffer,
        vocab_size=vocab_size,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        user_defined_symbols=["extra_token_id_1"],
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return buffer.getvalue()


def tiny_vocabulary():
    """(teacher-layout SentencePiece model, float32 [pieces, 40] embeddings): row i is i."""
    from conftest import synthetic_pairs

    model = teacher_layout_sentencepiece([s for row in synthetic_pairs(300, seed=1) for s in row])
    import sentencepiece as spm

    size = spm.SentencePieceProcessor(model_proto=model).get_piece_size()
    table = np.tile(np.arange(size, dtype=np.float32)[:, None], (1, 40))
    table += np.random.default_rng(0).normal(size=table.shape).astype(np.float32)
    return model, table
