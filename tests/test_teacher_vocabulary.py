"""A teacher's vocabulary and token table as the student's start (distillation/teacher_vocabulary)."""

from __future__ import annotations

import xling_tf  # noqa: F401
from xling_tf.distillation import teacher_vocabulary

import fake_teachers
import numpy as np
import sentencepiece as spm

from conftest import synthetic_pairs

SENTENCES = [s for row in synthetic_pairs(300, seed=1) for s in row]


def test_the_adapted_model_splits_text_into_the_teachers_pieces():
    teacher_bytes = fake_teachers.teacher_layout_sentencepiece(SENTENCES)
    student_bytes, old_ids = teacher_vocabulary.adapt_sentencepiece(teacher_bytes)
    teacher = spm.SentencePieceProcessor(model_proto=teacher_bytes)
    student = spm.SentencePieceProcessor(model_proto=student_bytes)
    assert (student.pad_id(), student.unk_id(), student.bos_id()) == (0, 1, -1)
    assert [student.id_to_piece(i) for i in range(5)] == [
        "<pad>",
        "<unk>",
        "[CLS]",
        "[SEP]",
        "[MASK]",
    ]
    for text in SENTENCES[:50] + ["unseen wörds ünd çharacters"]:
        student_ids = student.encode(text)
        assert student.encode(text, out_type=str) == teacher.encode(text, out_type=str)
        # Each student id points at the teacher row of the same piece (<unk> at <unk>).
        assert [int(old_ids[i]) for i in student_ids] == teacher.encode(text)
    assert old_ids[2] == teacher.bos_id() and old_ids[3] == teacher.eos_id()
    assert old_ids[0] == -1 and old_ids[4] == -1
    assert "extra_token_id_1" not in {student.id_to_piece(i) for i in range(len(old_ids))}


def test_projection_keeps_the_geometry_of_the_leading_components():
    rng = np.random.default_rng(0)
    # A 64-d table whose variance lives in 8 directions: 8 components keep the distances.
    table = rng.normal(size=(500, 8)) @ rng.normal(size=(8, 64))
    projected = teacher_vocabulary.project_table(table.astype(np.float32), 8, std=0.02)
    assert projected.shape == (500, 8) and abs(projected.std() - 0.02) < 1e-6
    original = np.linalg.norm(table[:50, None] - table[None, :50], axis=-1)
    kept = np.linalg.norm(projected[:50, None] - projected[None, :50], axis=-1)
    ratio = kept[original > 0] / original[original > 0]
    assert ratio.std() / ratio.mean() < 1e-3  # one global scale, no distortion


def test_prepare_vocabulary_writes_a_model_and_a_table_row_per_piece(tmp_path):
    from xling_tf.tokenization.sentencepiece_tokenizer import SentencepieceTextTokenizer

    model_path, table_path = teacher_vocabulary.prepare_vocabulary(
        "fake_teachers.tiny_vocabulary", 16, str(tmp_path)
    )
    tokenizer = SentencepieceTextTokenizer(model_path, max_seq_length=16)
    table = np.load(table_path)
    assert table.shape == (tokenizer.vocab_size, 16)
    assert not table[0].any() and not table[4].any()  # <pad> and [MASK]: no teacher row
    assert np.all(np.abs(table[5:]).sum(axis=1) > 0)
