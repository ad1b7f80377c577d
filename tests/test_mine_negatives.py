"""`xling-tf mine-negatives`: k hard-negative columns per pair, never the translation."""

from __future__ import annotations

import random

from xling_tf import cli

import pytest

pytest.importorskip("faiss")

ENCODER = "fake_teachers:hashed_trigrams"  # deterministic character-trigram vectors
K = 3


def _pairs(path) -> list[tuple[str, str]]:
    """Pairs whose targets come in near-duplicate families (close, wrong targets), one pair
    twice and one target shared by two sources (a duplicate translation)."""
    rng = random.Random(1)
    words = [f"w{i}" for i in range(60)]
    pairs = []
    for family in range(40):
        stem = " ".join(rng.sample(words, 4))
        for member in range(4):
            pairs.append((f"src {family} {member} {stem}", f"{stem} x{member}"))
    pairs.append(pairs[0])
    pairs.append(("another source", pairs[5][1]))
    path.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    return pairs


def _run(tmp_path, model=ENCODER, extra=()):
    args = ["mine-negatives", "--model", model, "--pairs", str(tmp_path / "train.tsv")]
    args += ["--out", str(tmp_path / "train_hn.tsv"), "--k", str(K), "--ann_index", "Flat"]
    return cli.main([*args, "--quiet", *extra])


def test_hard_negatives_are_close_wrong_targets_and_a_rerun_resumes(tmp_path):
    pairs = _pairs(tmp_path / "train.tsv")
    assert _run(tmp_path) == 0
    out = tmp_path / "train_hn.tsv"
    text = out.read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines()]
    assert [(r[0], r[1]) for r in rows] == pairs  # every row, in order
    targets = {t for _, t in pairs}
    for source, target, *negatives in rows:
        assert len(negatives) == K == len(set(negatives))
        assert target not in negatives and source not in negatives
        assert set(negatives) <= targets
    # The hard negatives of a family member are its siblings (same stem, another suffix).
    stem = pairs[0][1].rsplit(" ", 1)[0]
    assert all(n.startswith(stem) for n in rows[0][2:])

    # Resume: a run cut off after the first chunk (plus half-written bytes) is completed
    # from the saved embeddings, without calling the model again.
    first_chunk = "".join(line + "\n" for line in text.splitlines()[:50])
    (tmp_path / "train_hn.tsv.partial").write_text(first_chunk + "half a li", encoding="utf-8")
    work = tmp_path / "train_hn.tsv.work"
    (work / "progress").write_text(f"50 {len(first_chunk.encode('utf-8'))}")
    out.unlink()
    assert _run(tmp_path, model="fake_teachers:raises_on_call") == 0
    assert out.read_text(encoding="utf-8") == text
    assert not (work / "progress").exists()


def test_known_translations_of_the_source_are_never_negatives(tmp_path, capsys):
    """A corpus that crosses two wordings of each sentence on both sides (as the Bible
    corpora cross their translations) pairs every source with both target wordings: the
    other wording is the nearest target, and a translation, not a negative."""
    rng = random.Random(2)
    words = [f"w{i}" for i in range(60)]
    pairs = []
    for family in range(30):
        stem = " ".join(rng.sample(words, 4))
        for source_wording in ("A", "B"):
            for target_wording in range(2):
                pairs.append((f"src {family} {source_wording} {stem}", f"{stem} x{target_wording}"))
    (tmp_path / "train.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in pairs), "utf-8")
    assert _run(tmp_path) == 0
    translations: dict[str, set[str]] = {}
    for source, target in pairs:
        translations.setdefault(source, set()).add(target)
    rows = [
        line.split("\t") for line in (tmp_path / "train_hn.tsv").read_text("utf-8").splitlines()
    ]
    assert len(rows) == len(pairs)
    for source, _, *negatives in rows:
        assert len(negatives) == K
        assert not set(negatives) & translations[source], (source, negatives)
    # Each row's other target wording was the nearest neighbour the check skipped.
    skipped = int(capsys.readouterr().out.split("; ")[1].split()[0])
    assert skipped >= len(pairs)


def test_wordings_linked_to_the_source_through_other_rows_are_never_negatives(tmp_path, capsys):
    """A partly crossed corpus (A - x0, B - x0, B - x1 for each sentence) never pairs A with
    x1, but links them through B: x1 is another wording of A's translation, so it is not A's
    negative, unless its translation component is larger than --max_component_size."""
    rng = random.Random(3)
    words = [f"w{i}" for i in range(60)]
    pairs = []
    for family in range(30):
        stem = " ".join(rng.sample(words, 4))
        pairs += [
            (f"src {family} A {stem}", f"{stem} x0"),
            (f"src {family} B {stem}", f"{stem} x0"),
        ]
        pairs.append((f"src {family} B {stem}", f"{stem} x1"))
    (tmp_path / "train.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in pairs), "utf-8")
    other_wording = {s: f"{s.split(' ', 3)[3]} x1" for s, _ in pairs if " A " in s}

    def mine(max_component_size: int) -> tuple[int, int]:
        """(A rows whose negatives hold the other wording, neighbours skipped as linked)."""
        out = tmp_path / f"hn_{max_component_size}.tsv"
        args = ["mine-negatives", "--model", ENCODER, "--pairs", str(tmp_path / "train.tsv")]
        args += ["--out", str(out), "--k", str(K), "--ann_index", "Flat", "--quiet"]
        args += ["--work_dir", str(tmp_path / "work")]
        assert cli.main([*args, "--max_component_size", str(max_component_size)]) == 0
        linked = int(capsys.readouterr().out.split("; ")[2].split()[0])
        rows = [line.split("\t") for line in out.read_text("utf-8").splitlines()]
        assert len(rows) == len(pairs)
        held = sum(other_wording[s] in negatives for s, _, *negatives in rows if s in other_wording)
        return held, linked

    held, linked = mine(64)
    assert held == 0 and linked >= len(other_wording)
    # The check is what kept them out: without it, or when the components (4 sentences each)
    # are over the limit, the other wording is the nearest wrong target of most A rows.
    for off in (0, 3):
        held, linked = mine(off)
        assert held >= len(other_wording) // 2 and linked == 0
