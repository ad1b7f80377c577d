r"""Peak memory of training (`demo`, a few hundred steps) and of embedding, one child each.

  flock /tmp/xling_heavy.lock .venv/bin/python benchmarks/peak_memory.py \
      --model /tmp/democlone/exports/demo-en-fr [--train_steps 200] [--embed_sentences 10000]

Training: `python -m xling_tf.train --experiment=demo --mode=train` on the Bible en-fr
training pairs (`build_translation_corpus(data_dir, "en", "fr").train_path`), with the
SentencePiece model inside `--model` (so no vocabulary is trained) and `trainer.train_steps`
set to `--train_steps`, in a fresh child process and a temporary model_dir. Embedding:
`xling-tf embed --model M` on `--embed_sentences` King James verses to a .npy. For each
child it reports the kernel's ru_maxrss of exactly that process (os.wait4), the peaks of
RssAnon (heap, tensors) and RssFile (mapped files and shared libraries) polled from
/proc/<pid>/status, and the wall time (see benchmarks/embed_memory.py, which this reuses).
It prints the ratio peak(train) / peak(embed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any

import bench_common
import embed_memory


def train_command(model_dir: str, train_path: str, sentencepiece_model: str, steps: int):
    """The `demo` training command for `steps` steps with a fixed vocabulary."""
    overrides = ",".join(
        [
            f"task.train_data.input_path={train_path}",
            f"task.model.tokenizer.sentencepiece_model_file={sentencepiece_model}",
            f"trainer.train_steps={steps}",
            f"trainer.checkpoint_interval={steps}",
            "trainer.steps_per_loop=50",
            "trainer.summary_interval=50",
        ]
    )
    return [
        sys.executable,
        "-m",
        "xling_tf.train",
        "--experiment=demo",
        "--mode=train",
        f"--model_dir={model_dir}",
        f"--params_override={overrides}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=bench_common.DEFAULT_MODEL, help="an xling export")
    parser.add_argument("--data_dir", default=bench_common.DEFAULT_DATA_DIR)
    parser.add_argument("--train_steps", type=int, default=200)
    parser.add_argument("--embed_sentences", type=int, default=10_000)
    parser.add_argument("--batch_size", type=int, default=256, help="embedding batch")
    parser.add_argument("--output_name", default="peak_memory", help="results/<name>.md")
    args = parser.parse_args(argv)
    model = os.path.abspath(args.model)
    sentencepiece_model = os.path.join(model, "assets", "sentencepiece.model")
    if not os.path.exists(sentencepiece_model):
        parser.error(f"{sentencepiece_model} not found: --model must be a SentencePiece export")
    train_path = os.path.join(bench_common.bible_pair_dir(args.data_dir, "en", "fr"), "train.tsv")

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="peak_memory-") as tmp:
        command = train_command(
            os.path.join(tmp, "run"), train_path, sentencepiece_model, args.train_steps
        )
        stats = embed_memory.measure_child(command)
        rows.append({"job": f"train demo, {args.train_steps} steps (batch 128)", **stats})
        print(rows[-1], file=sys.stderr, flush=True)

        text_path = os.path.join(tmp, "sentences.txt")
        embed_memory.write_sentences(text_path, args.embed_sentences)
        stats = embed_memory.measure_embed(
            model, text_path, os.path.join(tmp, "vectors.npy"), args.batch_size
        )
        rows.append({"job": f"embed {args.embed_sentences:,} sentences", **stats})
        print(rows[-1], file=sys.stderr, flush=True)

    from xling_tf.evaluation.retrieval import format_table

    columns = ["peak_rss_mib", "peak_anon_mib", "peak_file_mib", "wall_s"]
    table = format_table(
        [{"job": row["job"], **{c: f"{row[c]:.0f}" for c in columns if c in row}} for row in rows],
        ["job", *columns],
    )
    ratio = rows[0]["peak_rss_mib"] / rows[1]["peak_rss_mib"]
    summary = f"peak RSS train / embed: {ratio:.2f}x"
    body = f"Model: `{model}`; data {train_path}.\n\n{table}\n\n{summary}"
    print(body)
    notes = (
        "MiB. peak_rss = ru_maxrss of the child (os.wait4); peak_anon / peak_file = peaks of "
        "RssAnon / RssFile polled every 50 ms from /proc/<pid>/status."
    )
    path = bench_common.write_result(
        args.output_name, "Peak memory: training and embedding", body, notes
    )
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
