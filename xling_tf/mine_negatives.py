"""`xling-tf mine-negatives`: the paper's hard negatives for translation-ranking training data.

For each `source \\t target` row of a pairs TSV, a first-pass model's k targets nearest to
the source that are not its translation become extra columns:
`source \\t target \\t negative_1 ... negative_k`, the layout the translation task reads with
`task.train_data.num_hard_negatives=k`.

Steps (all streamed):

1. The two columns are split into `<work_dir>/{source,target}.txt` and embedded into
   memory-mapped `.npy` files (`mine_files.embedded_npy`, reused by a rerun).
2. A FAISS index over the targets (`ann_index`; `AnnConfig(index="Flat")` is exact) is
   searched `chunk_rows` sources at a time for `k + extra` neighbours. A neighbour is dropped
   when its text equals the row's target (the translation, or a duplicate of it elsewhere in
   the corpus), equals the source (an untranslated copy), is paired with the row's source on
   any line of the file (a known translation: a corpus that crosses several wordings of one
   sentence, like the Bible's 3 x 3 translations of a verse, pairs the source with every
   wording, and those are a first-pass model's nearest "negatives"), is linked to the source
   through the file's pairs (same translation component, below) or repeats a kept negative.
   A row left with fewer than k negatives is dropped and counted (the task needs k columns).

   Translation components: the file's pairs are the edges of a graph over its distinct
   sentences, and a connected component holds every wording the file links, directly or
   through other rows (a source paired with two wordings of a verse links those wordings to
   each other and to every source paired with either). A neighbour in the source's component
   is a paraphrase of its translation, not a negative, as long as the component is small:
   a generic target ("Yes.", "OK") pairs with many unrelated sources and chains them into
   one large component, so components of more than `max_component_size` sentences are not
   used (0 turns the check off).
3. Rows are appended to `<output>.partial` chunk by chunk; after each chunk
   `<work_dir>/progress` records the source rows done and the bytes written, so a rerun cuts
   the partial file back to the last finished chunk and resumes after it; the finished file
   is renamed to `output`.

Memory: the index (targets x dim x 4 bytes with `Flat` cells), the [n] + [m] int64 line
offset tables, a sorted uint64 table of the file's distinct (source, target) pairs (8 bytes a
row: a 64-bit digest of each), the component of each distinct sentence (a sorted uint64
digest and an int32 label each; about 80 bytes a row while the components are computed), and
one chunk of rows; neither the corpus nor its vectors are loaded whole.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from array import array
from pathlib import Path

from xling_tf.data.pairs import atomic_output
from xling_tf.evaluation import ann_index
from xling_tf.evaluation.embedding import EmbedFn
from xling_tf.evaluation.mine_files import embedded_npy, line_offsets, read_line

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph
from tqdm import tqdm

__all__ = ["NegativesSummary", "mine_hard_negatives"]


@dataclasses.dataclass(frozen=True)
class NegativesSummary:
    """Rows written (this run and before it), rows dropped for too few negatives, the output,
    and the neighbours this run skipped for being known translations of their row's source
    (paired with it on some line) or in its translation component (linked through other
    rows)."""

    rows_written: int
    rows_resumed: int
    rows_dropped: int
    output_path: str
    known_translations_skipped: int = 0
    same_component_skipped: int = 0


def _split_columns(pairs_path: Path, work: Path) -> tuple[Path, Path]:
    """Writes the first two TSV columns to work/{source,target}.txt (once); returns them."""
    source_path, target_path = work / "source.txt", work / "target.txt"
    if source_path.exists() and target_path.exists():
        return source_path, target_path
    with (
        open(pairs_path, encoding="utf-8") as rows,
        atomic_output(str(source_path)) as sources,
        atomic_output(str(target_path)) as targets,
    ):
        for number, row in enumerate(rows, start=1):
            columns = row.rstrip("\r\n").split("\t")
            if len(columns) < 2:
                raise ValueError(f"{pairs_path}:{number}: expected source<TAB>target")
            sources.write(columns[0] + "\n")
            targets.write(columns[1] + "\n")
    return source_path, target_path


def _digest(text: str) -> int:
    """A 64-bit digest of a string (with n strings in a table, one not in it matches one of
    theirs with probability about n / 2^64)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def _pair_digest(source: str, target: str) -> int:
    """The digest of one (source, target) pair."""
    return _digest(f"{source}\t{target}")


def _decoded(line: bytes) -> str:
    """A split-column line decoded as `read_line` decodes the candidates."""
    return line.decode("utf-8", errors="replace").rstrip("\r\n")


@dataclasses.dataclass(frozen=True)
class _CorpusLinks:
    """What the pairs file says about which sentences translate which (module docstring).

    Attributes:
      pairs: sorted uint64 digests of the distinct (source, target) pairs.
      sentences: sorted uint64 digests of the distinct sentences of both columns.
      component: int32 [len(sentences)], the translation component of each sentence.
      component_size: int64 [components], distinct sentences per component.
      max_component_size: components larger than this are not used (0: none are).
    """

    pairs: np.ndarray
    sentences: np.ndarray
    component: np.ndarray
    component_size: np.ndarray
    max_component_size: int

    @classmethod
    def read(cls, source_path: Path, target_path: Path, max_component_size: int) -> _CorpusLinks:
        # One streamed pass: the corpus is never held whole, only its 8-byte digests.
        pair_digests, ends = array("Q"), array("Q")  # ends: source, target of each row
        with open(source_path, "rb") as sources, open(target_path, "rb") as targets:
            for source_line, target_line in zip(sources, targets, strict=True):
                source, target = _decoded(source_line), _decoded(target_line)
                pair_digests.append(_pair_digest(source, target))
                ends.extend((_digest(source), _digest(target)))
        sentences, node = np.unique(np.frombuffer(ends, dtype=np.uint64), return_inverse=True)
        # One edge per row, source -> target; components ignore the direction.
        edges = scipy.sparse.coo_matrix(
            (np.ones(len(pair_digests), dtype=np.int8), (node[0::2], node[1::2])),
            shape=(len(sentences), len(sentences)),
        )
        _, component = scipy.sparse.csgraph.connected_components(edges, directed=False)
        return cls(
            np.unique(np.frombuffer(pair_digests, dtype=np.uint64)),
            sentences,
            component.astype(np.int32),
            np.bincount(component),
            max_component_size,
        )

    def is_known_pair(self, source: str, target: str) -> bool:
        """`source` and `target` are paired on some line of the file."""
        return _position(self.pairs, _pair_digest(source, target)) is not None

    def small_component(self, text: str) -> int | None:
        """The translation component of `text` when it is a sentence of the file in a
        component of at most `max_component_size` sentences, else None. Two sentences with
        the same label are linked through the file's pairs."""
        if not self.max_component_size:
            return None
        at = _position(self.sentences, _digest(text))
        if at is None:
            return None  # not a sentence of the file
        label = int(self.component[at])
        return label if self.component_size[label] <= self.max_component_size else None


def _position(table: np.ndarray, digest: int) -> int | None:
    """Where `digest` is in the sorted uint64 `table`, or None when it is not there."""
    value = np.uint64(digest)
    at = int(np.searchsorted(table, value))
    return at if at < len(table) and table[at] == value else None


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, "rb") as f:
        return sum(1 for line in f if line.endswith(b"\n"))


def mine_hard_negatives(
    embed_fn: EmbedFn,
    pairs_path: str | os.PathLike,
    output_path: str | os.PathLike,
    work_dir: str | os.PathLike,
    *,
    k: int = 5,
    extra: int = 10,
    ann: ann_index.AnnConfig | None = None,
    chunk_rows: int = 8192,
    batch_size: int = 256,
    progress: bool = True,
    max_component_size: int = 64,
) -> NegativesSummary:
    """Writes `pairs_path`'s rows with k hard-negative target columns (see module docstring).

    Args:
      embed_fn: the first-pass model, list[str] -> float32 [n, d].
      pairs_path: TSV, `source \\t target` per line (further columns are ignored).
      output_path: the TSV to write.
      work_dir: split columns, embeddings and nothing else; reused by a rerun.
      k: hard negatives per row.
      extra: neighbours searched beyond k, to replace the dropped ones.
      ann: the FAISS index (default IVF; `AnnConfig(index="Flat")` for exact search).
      chunk_rows: sources searched and written at a time (the resume granularity).
      batch_size: sentences per model call.
      progress: progress bars.
      max_component_size: the largest translation component (distinct sentences) whose
        sentences are never each other's negatives (module docstring); 0: off.
    """
    if max_component_size < 0:
        raise ValueError(f"max_component_size must be >= 0, got {max_component_size}")
    ann = ann or ann_index.AnnConfig()
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    source_path, target_path = _split_columns(Path(pairs_path), work)
    sources = embedded_npy(embed_fn, source_path, work / "source.npy", batch_size, progress)
    targets = embedded_npy(embed_fn, target_path, work / "target.npy", batch_size, progress)
    wanted = min(k + extra + 1, len(targets))
    if wanted < k + 1:
        raise ValueError(f"{len(targets)} targets are too few for {k} negatives per row")
    index = ann_index.build_index(targets, ann)
    source_offsets, target_offsets = line_offsets(source_path), line_offsets(target_path)
    partial = Path(f"{output_path}.partial")
    state = work / "progress"
    first_row, written_bytes = 0, 0
    if partial.exists() and state.exists():
        first_row, written_bytes = map(int, state.read_text().split())
    links = _CorpusLinks.read(source_path, target_path, max_component_size)
    dropped = skipped_known = skipped_component = 0
    with (
        open(source_path, "rb") as source_file,
        open(target_path, "rb") as target_file,
        open(partial, "ab" if first_row else "wb") as out,
        tqdm(total=len(sources), initial=first_row, disable=not progress, desc="negatives") as bar,
    ):
        out.truncate(written_bytes)  # drop a chunk that was cut off mid-write
        for start in range(first_row, len(sources), chunk_rows):
            stop = min(len(sources), start + chunk_rows)
            neighbors = ann_index.search_index(index, sources[start:stop], wanted, ann.batch_size)
            lines = []
            for row, candidates in zip(range(start, stop), neighbors.indices, strict=True):
                source = read_line(source_file, source_offsets[row])
                source_component = links.small_component(source)
                target = read_line(target_file, target_offsets[row])
                negatives: list[str] = []
                for candidate in candidates:
                    if candidate < 0 or candidate == row:
                        continue
                    text = read_line(target_file, target_offsets[candidate])
                    if text in (target, source) or text in negatives:
                        continue
                    if links.is_known_pair(source, text):
                        skipped_known += 1
                        continue
                    if source_component is not None and (
                        links.small_component(text) == source_component
                    ):
                        skipped_component += 1
                        continue
                    negatives.append(text)
                    if len(negatives) == k:
                        break
                if len(negatives) < k:
                    dropped += 1
                    continue
                lines.append("\t".join([source, target, *negatives]) + "\n")
            out.write("".join(lines).encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
            state.write_text(f"{stop} {out.tell()}")
            bar.update(stop - start)
    os.replace(partial, output_path)
    state.unlink(missing_ok=True)
    return NegativesSummary(
        _count_lines(Path(output_path)),
        first_row,
        dropped,
        str(output_path),
        skipped_known,
        skipped_component,
    )
