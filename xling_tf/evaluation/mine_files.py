"""`xling-tf mine`: bitext mining between two sentence files, streamed end to end.

1. Each file is embedded into `<work_dir>/{source,target}.npy` (`embedding.embed_file_to_npy`:
   read in windows, written to a memory-mapped array). A file whose `.npy` already holds one
   row per line is not embedded again, so an interrupted run resumes after its last finished
   file.
2. `mining.mine_bitext` scores candidates with the ratio margin over the memory-mapped arrays;
   with `search="faiss"` (or "auto" above `knn.AUTO_EXACT_MAX_ROWS` rows) the neighbours come
   from a FAISS index built batch by batch (`ann_index`), so memory is the index plus
   O((n + m) * k), not the two arrays (exact search loads both and is quadratic in time).
3. The kept pairs are written as `score \\t source line \\t target line`, best first; the
   lines are read back through a byte-offset table ([n] + [m] int64), not held in memory.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from xling_tf.data.pairs import atomic_output, count_lines
from xling_tf.evaluation import mining
from xling_tf.evaluation.embedding import EmbedFn, embed_file_to_npy

import numpy as np

if TYPE_CHECKING:
    from xling_tf.evaluation.ann_index import AnnConfig

__all__ = ["MineSummary", "embedded_npy", "line_offsets", "mine_files", "read_line"]


@dataclasses.dataclass(frozen=True)
class MineSummary:
    """What `mine_files` did: rows on each side and pairs written."""

    num_source: int
    num_target: int
    num_pairs: int
    output_path: str


def line_offsets(path: str | os.PathLike) -> np.ndarray:
    """int64 [lines]: the byte offset where each line of the file starts (one pass)."""
    offsets = []
    position = 0
    with open(path, "rb") as f:
        for line in f:
            offsets.append(position)
            position += len(line)
    return np.asarray(offsets, dtype=np.int64)


def read_line(f: BinaryIO, offset: int) -> str:
    """The line of binary file `f` that starts at byte `offset`, decoded, without its newline."""
    f.seek(offset)
    return f.readline().decode("utf-8", errors="replace").rstrip("\r\n")


def embedded_npy(
    embed_fn: EmbedFn, text_path: Path, npy_path: Path, batch_size: int, progress: bool
) -> np.ndarray:
    """Memory-mapped [lines, d] vectors of `text_path`, embedded now unless already saved."""
    if npy_path.exists():
        vectors = np.load(npy_path, mmap_mode="r")
        if vectors.shape[0] == count_lines(text_path):
            return vectors
    embed_file_to_npy(embed_fn, text_path, npy_path, batch_size=batch_size, progress=progress)
    return np.load(npy_path, mmap_mode="r")


def mine_files(
    embed_fn: EmbedFn,
    source_path: str | os.PathLike,
    target_path: str | os.PathLike,
    output_path: str | os.PathLike,
    work_dir: str | os.PathLike,
    *,
    k: int = 4,
    strategy: str = "intersection",
    threshold: float | None = None,
    search: str = "auto",
    ann: AnnConfig | None = None,
    batch_size: int = 256,
    progress: bool = True,
) -> MineSummary:
    """Mines translation pairs between two one-sentence-per-line files (see module docstring).

    Args:
      embed_fn: list[str] -> float32 [n, d] (`inference.load_encoder`).
      source_path, target_path: UTF-8 text files, one sentence per line.
      output_path: the TSV to write (`score \\t source \\t target`, highest score first).
      work_dir: where the `.npy` embeddings are kept (and reused by a rerun).
      k, strategy: margin neighbourhood and which candidates (`mining.STRATEGIES`).
      threshold: keep pairs whose margin is >= threshold (None: every candidate).
      search, ann: exact or FAISS neighbour search (`knn.cosine_knn_both_ways`).
      batch_size: sentences per model call.
      progress: show progress bars while embedding.
    """
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    source = embedded_npy(embed_fn, Path(source_path), work / "source.npy", batch_size, progress)
    target = embedded_npy(embed_fn, Path(target_path), work / "target.npy", batch_size, progress)
    mined = mining.mine_bitext(source, target, k=k, search=search, ann=ann)
    candidates = mined.candidates(strategy)
    if threshold is not None:
        candidates = candidates.select(candidates.scores >= threshold)
    order = np.argsort(-candidates.scores, kind="stable")
    source_offsets, target_offsets = line_offsets(source_path), line_offsets(target_path)
    with (
        open(source_path, "rb") as source_file,
        open(target_path, "rb") as target_file,
        atomic_output(str(output_path)) as out,
    ):
        for i in order:
            source_text = read_line(source_file, source_offsets[candidates.source_ids[i]])
            target_text = read_line(target_file, target_offsets[candidates.target_ids[i]])
            out.write(f"{candidates.scores[i]:.6f}\t{source_text}\t{target_text}\n")
    return MineSummary(len(source), len(target), len(order), str(output_path))
