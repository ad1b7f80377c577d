"""Conversational (input, reply) pairs from the chatterbot-corpus package (no download).

chatterbot-corpus 1.3.3 ships YAML files under chatterbot_corpus/data/<language>/, each with a
`conversations` list of turn lists. The first -> second utterance of each conversation is one
pair. Repeated pairs are kept once: the English files hold 2,025 pairs but only 897 distinct
ones (one pair 121 times), and in an in-batch softmax a repeat is a negative of its own twin.
Distinct pairs: 897 English, 87 French, 277 Spanish, 112 German.
"""

from __future__ import annotations

import glob
import importlib.util
import os

CORPUS_LANGUAGES = {
    "en": "english",
    "fr": "french",
    "es": "spanish",
    "de": "german",
    "zh": "chinese",
    "it": "italian",
    "pt": "portuguese",
    "ru": "russian",
}


def corpus_dir(language: str) -> str:
    """The installed YAML folder of `language` (ISO code), found without importing the package."""
    if language not in CORPUS_LANGUAGES:
        raise ValueError(
            f"no chatterbot corpus mapping for {language!r}; known: {sorted(CORPUS_LANGUAGES)}"
        )
    spec = importlib.util.find_spec("chatterbot_corpus")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "chatterbot-corpus is not installed: pip install chatterbot-corpus==1.3.3"
        )
    return os.path.join(
        list(spec.submodule_search_locations)[0], "data", CORPUS_LANGUAGES[language]
    )


def _text(turn) -> str:
    return " ".join(str(turn).split()) if turn is not None else ""


def conversation_pairs(language: str) -> list[tuple[str, str]]:
    """First -> second utterance of every conversation of `language`, in file order, each
    distinct pair once (its first occurrence)."""
    import yaml  # installed with tf-models-official

    pairs: dict[tuple[str, str], None] = {}  # an ordered set
    for path in sorted(glob.glob(os.path.join(corpus_dir(language), "*.yml"))):
        with open(path, encoding="utf-8") as f:
            content = yaml.safe_load(f) or {}
        for turns in content.get("conversations") or []:
            if isinstance(turns, list) and len(turns) >= 2:
                first, second = _text(turns[0]), _text(turns[1])
                if first and second:
                    pairs.setdefault((first, second))
    return list(pairs)
