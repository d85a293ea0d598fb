"""bench/compare_evaluations.py: two evaluations of the same documents, paired per document;
planted scores whose differences are known."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.compare_evaluations import Scores, compare, main
from rosetta_filter.evaluation.metrics import auroc


def _evaluation(folder: Path, ids, labels, families, scores: dict) -> Path:
    folder.mkdir()
    columns = {"id": ids, "label": labels, "family": families, **scores}
    pq.write_table(pa.table(columns), folder / "scores.parquet")
    return folder


@pytest.fixture
def two(tmp_path):
    rng = np.random.default_rng(0)
    labels = ["math"] * 60 + ["code"] * 60
    families = ["sage"] * 30 + ["gap"] * 30 + ["fricas"] * 30 + ["lisp"] * 30
    ids = [f"d{i:03d}" for i in range(120)]
    is_math = np.array(labels) == "math"
    noisy = is_math + rng.normal(0, 0.5, 120)  # A: a fair math filter (AUROC ~0.92)
    # B: sage above everything, gap above fricas, and every lisp document between them
    clean = np.repeat([3.0, 1.0, 0.0, 2.0], 30)
    a = _evaluation(tmp_path / "a", ids, labels, families, {"math/configured": noisy})
    order = np.arange(120)[::-1]  # B's file lists the documents in another order
    b = _evaluation(
        tmp_path / "b",
        [ids[i] for i in order],
        [labels[i] for i in order],
        [families[i] for i in order],
        {"math/configured": clean[order]},
    )
    return Scores.read(a), Scores.read(b), noisy, is_math


def test_the_paired_difference_and_the_family_sides_are_the_planted_ones(two):
    a, b, noisy, is_math = two
    result = compare(a, b, families=("sage", "lisp"))["math"]
    assert result["all"].a == pytest.approx(float(auroc(noisy, is_math)[0]))
    assert result["all"].b == 0.75  # sage beats all 60 code documents, gap only fricas's 30
    assert result["all"].ci[0] <= result["all"].difference <= result["all"].ci[1] < 0
    assert result["family:sage"].b == 1.0 and result["family:sage"].ci[0] > 0
    # B ranks every lisp document above gap's: against that family it is worse than A
    assert result["against:lisp"].b == 0.5 and result["against:lisp"].ci[1] < 0


def test_two_variants_of_one_evaluation_are_compared_with_variant_b(two):
    """A head alone against the configured score of the same evaluation: B's column is the
    other variant, the documents and resamples are A's."""
    a, b, noisy, is_math = two
    both = Scores(
        a.ids, a.labels, a.families, {**a.columns, "math/head": b.columns["math/configured"]}
    )
    result = compare(both, both, variant_b="head")["math"]["all"]
    assert result.a == pytest.approx(float(auroc(noisy, is_math)[0]))
    assert result.b == 0.75
    assert compare(both, both, variant_b="absent") == {}


def test_different_documents_are_refused(two):
    a, *_ = two
    shorter = Scores(a.ids[:-1], a.labels[:-1], a.families[:-1], {})
    with pytest.raises(SystemExit, match="different documents"):
        compare(a, shorter)


def test_cross_fitted_scores_are_compared_on_pairs_within_a_fold(two, tmp_path):
    """Two folds' banks rank perfectly, on scales ten apart: pooled, the low fold's math sits
    below the high fold's code; within a fold, every pair is right. A is measured on the same
    within-fold pairs."""
    a, _, noisy, is_math = two
    fold = np.isin(a.families, ["gap", "lisp"]).astype(np.int64)  # fold 1: gap and lisp
    scores = np.select(
        [a.families == "sage", a.families == "fricas", a.families == "gap"], [11.0, 10.0, 1.0], 0.0
    )
    b = Scores(a.ids, a.labels, a.families, {"math/configured": scores}, fold)
    within = compare(a, b)["math"]["all"]
    assert within.b == 1.0
    per_fold = [(noisy[fold == k], is_math[fold == k]) for k in (0, 1)]
    assert within.a == pytest.approx(np.mean([auroc(s, p)[0] for s, p in per_fold]))
    assert compare(a, b, within_folds=False)["math"]["all"].b == 0.75


def test_the_command_writes_the_comparison_and_its_figure(two, tmp_path, monkeypatch):
    out, figure = tmp_path / "compare.json", tmp_path / "figures" / "compare.png"
    argv = [str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out), "--figure", str(figure)]
    monkeypatch.setattr(sys, "argv", ["compare_evaluations", *argv, "--margin", "0.005"])
    main()
    written = json.loads(out.read_text())
    assert written["pairs"] == "all" and written["math"]["all"]["b"] == 0.75
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(figure.parent.glob("*.tmp*"))
