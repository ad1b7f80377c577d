"""Training rows for distillation: `english \\t translation` pairs from installable text.

Sources (see the README's data table for licenses and sizes):

* Bible verse pairs, Old Testament only (`xling_tf.data.bible`: every public-domain English
  translation crossed with every one of the target language; the New Testament and the
  development chapters are never included).
* User-interface strings: the gettext catalogs inside the wheels of Wagtail, Sphinx,
  django-allauth and the JupyterLab language packs, which `make setup` downloads (with
  `pip download`, not installed) into `<sys.prefix>/share/xling_tf/` (`CATALOG_WHEELS`).
  Django's own catalogs are an evaluation set: any pair whose English or translated side is
  also in Django's catalogs is dropped.

Everything is read from installed or downloaded packages at build time; nothing is fetched.
"""

from __future__ import annotations

import glob
import os
import random
import re
import zipfile

from xling_tf.data import bible, gettext_catalogs, pairs

from absl import logging

# Wheels whose gettext catalogs are training text: requirement -> license.
CATALOG_WHEELS: dict[str, str] = {
    "wagtail==8.0.1": "BSD-3-Clause",
    "sphinx==9.0.4": "BSD-2-Clause",
    "django-allauth==65.22.1": "MIT",
    "jupyterlab-language-pack-fr-FR==4.5.post3": "BSD-3-Clause",
    "jupyterlab-language-pack-es-ES==4.5.post3": "BSD-3-Clause",
    "jupyterlab-language-pack-de-DE==4.5.post3": "BSD-3-Clause",
}
MIN_CATALOG_WORDS = 2


def catalog_wheels(search_dirs: list[str] | None = None) -> list[str]:
    """Paths of the downloaded `CATALOG_WHEELS` found in `search_dirs` (default: where
    `make setup` puts them); a missing wheel is logged, not fatal (it only adds text)."""
    from xling_tf.evaluation.sources import sdist_search_dirs

    folders = search_dirs if search_dirs is not None else sdist_search_dirs()
    found = []
    for requirement in CATALOG_WHEELS:
        name, _, version = requirement.partition("==")
        stem = re.sub(r"[-.]+", "_", name).lower() + "-" + version
        matches = [
            path
            for folder in folders
            for path in sorted(glob.glob(os.path.join(folder, "*.whl")))
            if os.path.basename(path).lower().startswith(stem.lower() + "-")
        ]
        if matches:
            found.append(matches[0])
        else:
            logging.warning("catalog wheel %s not found in %s (make setup)", requirement, folders)
    return found


def wheel_catalog_pairs(wheel: str, language: str) -> list[tuple[str, str]]:
    """(english, translated) pairs of every `<language>[_REGION]` .mo file inside `wheel`."""
    member = re.compile(rf"/locale/{language}(_[A-Za-z]+)?/LC_MESSAGES/[^/]+\.mo$")
    found = []
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            if member.search(name):
                found.extend(gettext_catalogs.mo_bytes_pairs(archive.read(name), f"{wheel}:{name}"))
    return found


def ui_string_pairs(language: str, wheels: list[str]) -> list[tuple[str, str]]:
    """Sorted distinct UI-string pairs of `language` from `wheels`, minus Django's strings."""
    try:
        held_out = gettext_catalogs.catalog_pairs(language)
    except (ModuleNotFoundError, ValueError):
        held_out = []
    held_out_text = {text for pair in held_out for text in pair}
    entries = (pair for wheel in wheels for pair in wheel_catalog_pairs(wheel, language))
    return [
        (english, translated)
        for english, translated in gettext_catalogs.normalized_pairs(entries, MIN_CATALOG_WORDS)
        if english not in held_out_text and translated not in held_out_text
    ]


def build_distillation_corpus(out_dir: str, source: str, target: str) -> str:
    """Writes `out_dir/distill-<source>-<target>/train.tsv` (shuffled, deterministic): the
    Bible training pairs plus the UI-string pairs; returns its path."""
    corpus = bible.build_translation_corpus(out_dir, source, target)
    rows = list(pairs.iter_rows(corpus.train_path, min_columns=2, max_columns=2))
    ui_rows = ui_string_pairs(target, catalog_wheels()) if source == "en" else []
    rows.extend(ui_rows)
    random.Random(bible.SHUFFLE_SEED).shuffle(rows)
    path = os.path.join(out_dir, f"distill-{source}-{target}", "train.tsv")
    pairs.write_rows(path, rows)
    logging.info(
        "distillation %s-%s: %d Bible + %d UI-string pairs -> %s",
        source,
        target,
        corpus.train_pairs,
        len(ui_rows),
        path,
    )
    return path
