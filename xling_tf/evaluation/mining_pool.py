"""BUCC-style bitext-mining pools made from aligned text with chapter structure (pure Python).

BUCC hides a few thousand translation pairs among many sentences that have no translation on
the other side; a miner must find the pairs and leave the rest alone. `build_mining_pool` does
the same with held-out Bible verses: `num_gold` verse pairs, plus `num_extra` source-only verses
and `num_extra` target-only verses. The three groups come from disjoint sets of whole chapters
(so an extra sentence is never the neighbouring verse of a gold one), and a verse is left out
when its text would create an unlabelled translation pair, e.g. a repeated verse ("He that hath
ears to hear, let him hear.") whose twin is already in the pool.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence

VerseKey = tuple[int, int, int]


@dataclasses.dataclass
class MiningPool:
    """Two unaligned sentence lists and the gold alignment between them.

    Attributes:
      source_texts: num_gold + num_extra source sentences, shuffled.
      target_texts: num_gold + num_extra target sentences, shuffled.
      gold: (source row, target row) of every true translation pair; exactly num_gold pairs,
        each source and target row in at most one pair.
    """

    source_texts: list[str]
    target_texts: list[str]
    gold: set[tuple[int, int]]


def _chapters_in_random_order(refs: Sequence[VerseKey], seed: int) -> list[list[int]]:
    """Row indices grouped by (book, chapter), chapters shuffled, verses in order inside."""
    chapters: dict[tuple[int, int], list[int]] = {}
    for row, (book, chapter, _) in enumerate(refs):
        chapters.setdefault((book, chapter), []).append(row)
    order = sorted(chapters)
    random.Random(seed).shuffle(order)
    return [chapters[key] for key in order]


def build_mining_pool(
    refs: Sequence[VerseKey],
    aligned: Sequence[tuple[str, str]],
    num_gold: int,
    num_extra: int,
    seed: int = 0,
) -> MiningPool:
    """Picks gold pairs and non-parallel extras from `aligned` (row i is verse `refs[i]`).

    Chapters are visited in a seeded random order and filled into the gold group first, then
    the source-only group, then the target-only group. A verse is skipped when:
      * gold: its source or target text is already a gold source / target;
      * source-only: its source text is already on the source side, or its translation is
        already on the target side (then it would be an unlabelled true pair);
      * target-only: its target text is already on the target side, or its source text (the
        sentence it translates) is already on the source side.

    Args:
      refs: (book, chapter, verse) per row; rows of one chapter need not be adjacent.
      aligned: (source, target) text per row.
      num_gold: translation pairs to hide in the pool (>= 1).
      num_extra: sentences without a translation added to each side (>= 0).
      seed: seeds the chapter order and the final shuffle of each side.

    Raises:
      ValueError: on mismatched inputs or when the text has too few usable verses.
    """
    if len(refs) != len(aligned):
        raise ValueError(f"{len(refs)} refs for {len(aligned)} aligned pairs")
    if num_gold < 1 or num_extra < 0:
        raise ValueError(f"need num_gold >= 1 and num_extra >= 0, got {num_gold}, {num_extra}")
    gold_rows: list[int] = []
    source_only: list[int] = []
    target_only: list[int] = []
    source_side: set[str] = set()  # texts already on the source side of the pool
    target_side: set[str] = set()
    for chapter in _chapters_in_random_order(refs, seed):
        # Whole chapters go to one group: the group that is still short when it starts.
        if len(gold_rows) < num_gold:
            group = gold_rows
        elif len(source_only) < num_extra:
            group = source_only
        elif len(target_only) < num_extra:
            group = target_only
        else:
            break
        wanted = num_gold if group is gold_rows else num_extra
        for row in chapter:
            if len(group) == wanted:
                break
            source, target = aligned[row]
            if source in source_side or target in target_side:
                continue
            if group is gold_rows:
                source_side.add(source)
                target_side.add(target)
            elif group is source_only:
                source_side.add(source)
                # Its translation must never show up on the target side later.
                target_side.add(target)
            else:
                target_side.add(target)
                source_side.add(source)
            group.append(row)
    if len(gold_rows) < num_gold or len(target_only) < num_extra:
        raise ValueError(
            f"only {len(gold_rows)} gold, {len(source_only)} source-only and {len(target_only)} "
            f"target-only verses available; asked for {num_gold} gold and {num_extra} per side"
        )
    rng = random.Random(seed)
    source_rows = gold_rows + source_only
    target_rows = gold_rows + target_only
    source_order = rng.sample(range(len(source_rows)), len(source_rows))
    target_order = rng.sample(range(len(target_rows)), len(target_rows))
    # position_of_x[k] = where item k of the unshuffled list lands after shuffling.
    source_position = {k: i for i, k in enumerate(source_order)}
    target_position = {k: i for i, k in enumerate(target_order)}
    return MiningPool(
        source_texts=[aligned[source_rows[k]][0] for k in source_order],
        target_texts=[aligned[target_rows[k]][1] for k in target_order],
        gold={(source_position[k], target_position[k]) for k in range(len(gold_rows))},
    )
