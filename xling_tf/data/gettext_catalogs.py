"""English -> other-language pairs from the compiled gettext catalogs of an installed package.

Internationalised Python packages ship their user-interface translations as compiled gettext
`.mo` files. Django's are a few thousand professionally reviewed strings per language, under

    django/conf/locale/<lang>/LC_MESSAGES/*.mo
    django/contrib/<app>/locale/<lang>/LC_MESSAGES/*.mo

`catalog_pairs` reads all of them for one language (Python's `gettext.GNUTranslations`
parses the binary format) and returns (english, translated) pairs. Nothing is downloaded.

Which entries are kept, and why:

* plural entries (msgid_plural) and entries with a context (msgctxt) are skipped: their
  source text is not a plain sentence paired with one translation;
* the catalog header (empty msgid) and untranslated entries (empty msgstr, or a msgstr equal
  to the msgid such as "OK" or "%s") are skipped;
* whitespace runs are collapsed to one space (multi-line strings become one line, so the
  pairs can be written as TSV rows), and entries with fewer than `min_words`
  whitespace-separated words in the English text are skipped;
* duplicates (the same pair in several catalogs) are merged, and the result is sorted, so the
  output does not depend on file system order.
"""

from __future__ import annotations

import glob
import importlib.util
import io
import os
import struct
from collections.abc import Iterable
from gettext import GNUTranslations

__all__ = ["catalog_files", "catalog_pairs", "mo_bytes_pairs", "mo_file_pairs", "normalized_pairs"]

# gettext joins a context and its msgid with this byte (EOT) in the parsed catalog keys.
_CONTEXT_SEPARATOR = "\x04"


def _package_dir(package: str) -> str:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"package {package!r} is not installed; its gettext catalogs are read from it "
            f"(pip install {package})"
        )
    return list(spec.submodule_search_locations)[0]


def catalog_files(language: str, package_dir: str) -> list[str]:
    """Sorted paths of the .mo files for `language` (a locale folder name, e.g. "fr",
    "zh_Hans") under a Django-style package tree rooted at `package_dir`."""
    patterns = [
        os.path.join(package_dir, "conf", "locale", language, "LC_MESSAGES", "*.mo"),
        os.path.join(package_dir, "contrib", "*", "locale", language, "LC_MESSAGES", "*.mo"),
    ]
    return sorted(path for pattern in patterns for path in glob.glob(pattern))


def mo_file_pairs(path: str) -> list[tuple[str, str]]:
    """(msgid, msgstr) of the plain translated entries of one .mo file, in catalog order.

    Skips the header, plural and context entries and empty translations (module docstring);
    whitespace is not yet normalised.
    """
    with open(path, "rb") as f:
        return mo_bytes_pairs(f.read(), path)


def mo_bytes_pairs(data: bytes, name: str) -> list[tuple[str, str]]:
    """`mo_file_pairs` of a .mo file's bytes (e.g. a member of a wheel); `name` is for errors."""
    try:
        catalog = GNUTranslations(io.BytesIO(data))
    except (OSError, UnicodeDecodeError, struct.error, IndexError) as error:
        raise ValueError(f"{name}: not a readable gettext .mo file ({error})") from None
    # `_catalog` is the parsed msgid -> msgstr table; GNUTranslations has no public iterator.
    # Plural entries are keyed (msgid, n) and so are not str.
    entries: dict[object, str] = catalog._catalog  # type: ignore[attr-defined]
    return [
        (msgid, msgstr)
        for msgid, msgstr in entries.items()
        if isinstance(msgid, str) and msgid and _CONTEXT_SEPARATOR not in msgid and msgstr
    ]


def catalog_pairs(
    language: str,
    *,
    package: str = "django",
    package_dir: str | None = None,
    min_words: int = 1,
) -> list[tuple[str, str]]:
    """All (english, translated) pairs of one language in a package's gettext catalogs.

    Args:
      language: locale folder name, e.g. "fr", "es", "de", "zh_Hans".
      package: installed package to read (Django's tree layout).
      package_dir: read this folder instead of the installed package (same layout).
      min_words: keep pairs whose English side has at least this many words.

    Returns:
      Sorted, deduplicated pairs with whitespace collapsed (module docstring).

    Raises:
      ModuleNotFoundError: the package is not installed (and no package_dir is given).
      ValueError: no catalogs for `language` (the message lists the available ones), or a
        .mo file that cannot be parsed.
    """
    root = package_dir if package_dir is not None else _package_dir(package)
    paths = catalog_files(language, root)
    if not paths:
        available = sorted(
            os.path.basename(os.path.dirname(p))
            for p in glob.glob(os.path.join(root, "conf", "locale", "*", "LC_MESSAGES"))
        )
        raise ValueError(
            f"no gettext catalogs for language {language!r} under {root}; "
            f"available: {', '.join(available) or 'none'}"
        )
    return normalized_pairs((pair for path in paths for pair in mo_file_pairs(path)), min_words)


def normalized_pairs(
    entries: Iterable[tuple[str, str]], min_words: int = 1
) -> list[tuple[str, str]]:
    """Sorted distinct (english, translated) pairs with whitespace collapsed, keeping those
    whose English side has at least `min_words` words and whose translation differs."""
    pairs = set()
    for msgid, msgstr in entries:
        english, translated = " ".join(msgid.split()), " ".join(msgstr.split())
        if english and translated and translated != english:
            if len(english.split()) >= min_words:
                pairs.add((english, translated))
    return sorted(pairs)
