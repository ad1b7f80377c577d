"""Reader for the BUCC 2017/2018 bitext-mining shared-task files (pure Python).

A BUCC language pair comes as three UTF-8 files, e.g. for de-en:

* `de-en.training.de`: `de-000000001<TAB>sentence`, one sentence per line;
* `de-en.training.en`: `en-000000001<TAB>sentence`;
* `de-en.training.gold`: `de-000000081<TAB>en-000000017`, one true translation pair per line.

Most sentences have no translation on the other side. Malformed lines raise
`pairs.MalformedRowError` (`path:line: reason`).
"""

from __future__ import annotations

import dataclasses

from xling_tf.data import pairs


@dataclasses.dataclass
class BuccCorpus:
    """One BUCC language pair as row-indexed lists.

    Attributes:
      source_ids, source_texts: sentence ids and texts of the first language, file order.
      target_ids, target_texts: the same for the second language.
      gold: (source row, target row) of every gold pair.
    """

    source_ids: list[str]
    source_texts: list[str]
    target_ids: list[str]
    target_texts: list[str]
    gold: set[tuple[int, int]]


def _read_sentences(path: str) -> tuple[list[str], list[str], dict[str, int]]:
    ids: list[str] = []
    texts: list[str] = []
    rows: dict[str, int] = {}
    for line_number, (sentence_id, text) in enumerate(
        pairs.iter_rows(path, min_columns=2, max_columns=2), start=1
    ):
        if sentence_id in rows:
            raise pairs.MalformedRowError(path, line_number, f"duplicate id {sentence_id!r}")
        rows[sentence_id] = len(ids)
        ids.append(sentence_id)
        texts.append(text)
    return ids, texts, rows


def read_bucc(source_path: str, target_path: str, gold_path: str) -> BuccCorpus:
    """Reads a BUCC pair: two `id<TAB>sentence` files and the `source_id<TAB>target_id` gold.

    Raises:
      FileNotFoundError: a file is missing.
      MalformedRowError: a line without exactly two non-blank tab-separated fields, a repeated
        id, or a gold line naming an id its sentence file does not have.
    """
    source_ids, source_texts, source_rows = _read_sentences(source_path)
    target_ids, target_texts, target_rows = _read_sentences(target_path)
    gold = set()
    for line_number, (source_id, target_id) in enumerate(
        pairs.iter_rows(gold_path, min_columns=2, max_columns=2), start=1
    ):
        for sentence_id, rows, path in (
            (source_id, source_rows, source_path),
            (target_id, target_rows, target_path),
        ):
            if sentence_id not in rows:
                raise pairs.MalformedRowError(
                    gold_path, line_number, f"id {sentence_id!r} is not in {path}"
                )
        gold.add((source_rows[source_id], target_rows[target_id]))
    return BuccCorpus(source_ids, source_texts, target_ids, target_texts, gold)
