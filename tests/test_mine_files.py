"""`xling-tf mine`: two sentence files in, mined pairs out, embeddings reused on a rerun."""

from __future__ import annotations

import random

from xling_tf import cli

import numpy as np
import pytest

pytest.importorskip("faiss")

ENCODER = "fake_teachers:hashed_trigrams"  # deterministic character-trigram vectors


def _files(tmp_path, pairs: int = 300, extra: int = 200):
    """Source and target files: `pairs` near-identical lines in shuffled order, plus extras."""
    rng = random.Random(0)
    words = [f"w{i}" for i in range(400)]
    gold = [" ".join(rng.sample(words, 6)) for _ in range(pairs)]
    sources = gold + [" ".join(rng.sample(words, 6)) for _ in range(extra)]
    targets = [f"{line} ." for line in gold] + [
        " ".join(rng.sample(words, 6)) for _ in range(extra)
    ]
    rng.shuffle(sources)
    rng.shuffle(targets)
    (tmp_path / "src.txt").write_text("\n".join(sources) + "\n", encoding="utf-8")
    (tmp_path / "tgt.txt").write_text("\n".join(targets) + "\n", encoding="utf-8")
    return set(gold)


@pytest.mark.parametrize("search", ["exact", "faiss"])
def test_mine_writes_the_translations_best_first(tmp_path, capsys, search):
    gold = _files(tmp_path)
    out = tmp_path / "mined.tsv"
    args = ["mine", "--model", ENCODER, "--source", str(tmp_path / "src.txt")]
    args += ["--target", str(tmp_path / "tgt.txt"), "--output", str(out), "--quiet"]
    assert cli.main([*args, "--search", search, "--threshold", "1.05"]) == 0
    rows = [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines()]
    scores = [float(score) for score, _, _ in rows]
    assert scores == sorted(scores, reverse=True) and min(scores) >= 1.05
    correct = sum(source in gold and target == f"{source} ." for _, source, target in rows)
    assert correct >= 0.95 * len(gold) and correct >= 0.95 * len(rows), (correct, len(rows))
    assert "mined" in capsys.readouterr().out

    # A rerun reuses the saved embeddings (the model is not called: a broken one would fail).
    work = tmp_path / "mined.tsv.work"
    saved = np.load(work / "source.npy")
    broken = [*args, "--search", search]
    broken[2] = "fake_teachers:raises_on_call"
    assert cli.main(broken) == 0
    np.testing.assert_array_equal(np.load(work / "source.npy"), saved)
    assert len(out.read_text(encoding="utf-8").splitlines()) >= len(rows)


def test_mine_reports_a_missing_file(tmp_path, capsys):
    args = ["mine", "--model", ENCODER, "--source", str(tmp_path / "nope.txt")]
    args += ["--target", str(tmp_path / "nope.txt"), "--output", str(tmp_path / "o.tsv")]
    assert cli.main(args) == cli.USER_ERROR_EXIT_CODE
    assert "is not a file" in capsys.readouterr().err
