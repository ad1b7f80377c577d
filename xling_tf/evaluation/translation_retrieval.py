"""Translation retrieval on held-out aligned text: embed both sides, then rank.

Takes aligned pairs (`xling_tf.data.pairs.read_aligned_pairs` reads a two-column TSV or two
Tatoeba-style text files), embeds each side in batches with any `EmbedFn`, and reports the
paper's P@1 with 999 random distractors plus full-pool P@1 / P@5 / MRR, both directions.
"""

from __future__ import annotations

import time
from typing import Any

from xling_tf.evaluation import retrieval
from xling_tf.evaluation.embedding import EmbedFn, embed_texts


def evaluate_retrieval(
    embed_fn: EmbedFn,
    aligned: list[tuple[str, str]],
    pool_size: int = 1000,
    batch_size: int = 256,
    progress: bool = True,
) -> dict[str, Any]:
    """Embeds both sides of `aligned` and returns the retrieval metrics.

    Returns:
      {"num_pairs", "pool_size", "distractors": distractor_pool_metrics(...) or None when
       there are fewer than `pool_size` pairs, "full_pool": full_pool_metrics(...),
       "sentences_per_second"}.
    """
    if not aligned:
        raise ValueError("no aligned pairs to evaluate")
    sources = [s for s, _ in aligned]
    targets = [t for _, t in aligned]
    started = time.time()
    source_vectors = embed_texts(
        embed_fn, sources, batch_size=batch_size, progress=progress, desc="embed source"
    )
    target_vectors = embed_texts(
        embed_fn, targets, batch_size=batch_size, progress=progress, desc="embed target"
    )
    elapsed = time.time() - started
    return {
        "num_pairs": len(aligned),
        "pool_size": pool_size,
        "distractors": (
            retrieval.distractor_pool_metrics(source_vectors, target_vectors, pool_size=pool_size)
            if len(aligned) >= pool_size
            else None
        ),
        "full_pool": retrieval.full_pool_metrics(source_vectors, target_vectors, ks=(1, 5)),
        "sentences_per_second": 2 * len(aligned) / max(elapsed, 1e-9),
    }


def distractor_column(pool_size: int = 1000) -> str:
    """The table column of P@1 in pools of `pool_size`: "P@1 (999 distractors)" by default."""
    return f"P@1 ({pool_size - 1} distractors)"


def summary_row(name: str, result: dict[str, Any]) -> dict[str, Any]:
    """Flattens `evaluate_retrieval` output into one table row (columns: `table_columns`)."""
    distractors = result["distractors"]
    return {
        "model": name,
        "pairs": result["num_pairs"],
        distractor_column(result.get("pool_size", 1000)): (
            distractors["mean"]["p@1"] if distractors else float("nan")
        ),
        "P@1 full pool": result["full_pool"]["mean"]["p@1"],
        "P@5 full pool": result["full_pool"]["mean"]["p@5"],
        "MRR full pool": result["full_pool"]["mean"]["mrr"],
        "sentences/s": result["sentences_per_second"],
    }


def table_columns(pool_size: int = 1000) -> list[str]:
    """The columns of `summary_row` for results evaluated with `pool_size`."""
    return [
        "model",
        "pairs",
        distractor_column(pool_size),
        "P@1 full pool",
        "P@5 full pool",
        "MRR full pool",
        "sentences/s",
    ]
