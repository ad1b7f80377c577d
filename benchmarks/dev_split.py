r"""Development-split scores for tuning: Old Testament dev chapters and SICK TRAIN relatedness.

  python benchmarks/dev_split.py --data_dir WORKDIR/data/bible \
      (--model_dir RUN [--checkpoint RUN/ckpt-N] | --model EXPORT_OR_ENTRY_POINT) \
      --sick ../shared/data/sick-train-trial.tsv

Prints one JSON line: P@1 with 999 distractors on each `<data_dir>/en-xx/dev.tsv` (1,083
pairs of whole Old Testament chapters that no corpus trains on) and the Spearman correlation
of cosine similarity on SICK's TRAIN rows. Hyperparameters are chosen on these, never on the
New Testament, Django's catalogs or SICK TRIAL, which the evaluation reports.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

PAIRS = ("en-fr", "en-es", "en-de")


def checkpoint_encoder(model_dir: str, checkpoint: str | None = None):
    """(embed_fn, checkpoint path) of a training run's checkpoint (default: the newest)."""
    from xling_tf.export.export_hub import restore

    import tensorflow as tf

    restored = restore(model_dir, checkpoint)

    def embed(texts):
        return restored.model.embed(restored.tokenizer(tf.constant(texts))).numpy()

    return embed, restored.checkpoint_path


def dev_scores(embed, data_dir: str, sick: str | None) -> dict[str, float]:
    """P@1 (999 distractors) on every `<data_dir>/en-xx/dev.tsv` (and full-pool P@1 in each
    direction), Spearman on SICK TRAIN."""
    from xling_tf.data.pairs import read_aligned_pairs
    from xling_tf.data.sts import read_sts
    from xling_tf.evaluation import sts, translation_retrieval
    from xling_tf.evaluation.embedding import embed_texts

    scores: dict[str, float] = {}
    for pair in PAIRS:
        aligned = read_aligned_pairs(os.path.join(data_dir, pair, "dev.tsv"))
        result = translation_retrieval.evaluate_retrieval(embed, aligned, progress=False)
        scores[f"dev P@1 {pair}"] = round(result["distractors"]["mean"]["p@1"], 4)
        # Full pool (all 1,083 candidates) by direction: where a recipe wins or loses.
        full_pool = result["full_pool"]
        scores[f"dev full {pair} en->x"] = round(full_pool["src2tgt"]["p@1"], 4)
        scores[f"dev full {pair} x->en"] = round(full_pool["tgt2src"]["p@1"], 4)
    if sick:
        rows = read_sts(sick, "TRAIN")
        left = embed_texts(embed, [a for a, _, _ in rows], batch_size=256, progress=False)
        right = embed_texts(embed, [b for _, b, _ in rows], batch_size=256, progress=False)
        gold = np.array([score for _, _, score in rows])
        scores["SICK TRAIN Spearman"] = round(
            sts.similarity_correlations(left, right, gold)["spearman"], 4
        )
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", required=True, help="the main job's data/bible folder")
    parser.add_argument("--model_dir", default=None, help="a training run (restores a checkpoint)")
    parser.add_argument("--checkpoint", default=None, help="default: the newest")
    parser.add_argument("--model", default=None, help="an export or a module.function encoder")
    parser.add_argument("--sick", default=None, help="SICK file (its TRAIN rows are used)")
    args = parser.parse_args(argv)
    if bool(args.model_dir) == bool(args.model):
        parser.error("give exactly one of --model_dir and --model")

    import xling_tf  # noqa: F401

    if args.model_dir:
        embed, name = checkpoint_encoder(args.model_dir, args.checkpoint)
    else:
        from xling_tf.inference import load_encoder

        embed, name = load_encoder(args.model), args.model
    print(json.dumps({"model": name, **dev_scores(embed, args.data_dir, args.sick)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
