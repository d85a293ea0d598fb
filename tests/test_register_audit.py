"""bench/register_audit.py: a domain's audited documents scored under source and register
labels; planted scores whose AUROCs are known."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.compare_evaluations import Scores
from bench.register_audit import audit


@pytest.fixture
def scores(tmp_path) -> Scores:
    """Ten math documents and ten code documents. The filter puts the six true math documents
    (m0-m5) above everything, the four audited as not math (m6-m9) in the middle of the code
    documents, and the document nobody audited (m-x) at the top."""
    ids = [f"m{i}" for i in range(10)] + ["m-x"] + [f"c{i}" for i in range(10)]
    labels = ["math"] * 11 + ["code"] * 10
    values = [10.0 + i for i in range(6)] + [4.5, 4.5, 4.5, 4.5] + [99.0] + list(range(10))
    table = {"id": ids, "label": labels, "family": labels, "math/configured": values}
    pq.write_table(pa.table(table), tmp_path / "scores.parquet")
    return Scores.read(tmp_path)


def test_source_register_and_not_domain_aurocs_are_the_planted_ones(scores):
    labels = {f"m{i}": "math" for i in range(6)} | {f"m{i}": "not_math" for i in range(6, 10)}
    labels["m0"] = "borderline"  # left out of the register group, kept in the source group
    row = audit(labels, scores, "math")["configured"]
    assert row["n_source"] == 10 and row["n_register"] == 5 and row["n_not_math"] == 4
    assert row["register"] == 1.0  # every true math document above every code document
    assert row["not_math"] == 0.5  # 4.5 sits above c0-c4 and below c5-c9
    assert row["source"] == pytest.approx((6 * 10 + 4 * 5) / (10 * 10))  # m-x is not audited


def test_an_audit_of_another_file_is_refused(scores):
    with pytest.raises(SystemExit, match="not in this evaluation"):
        audit({"elsewhere": "math"}, scores, "math")


def test_cross_fitted_scores_compare_pairs_within_a_fold_and_variants_filter(tmp_path):
    """Two folds whose banks score on different scales: fold 1's every score is 100 higher, so
    pairs across folds would put its code document above fold 0's math ones."""
    table = {
        "id": ["m0", "m1", "c0", "m2", "c1"],
        "label": ["math", "math", "code", "math", "code"],
        "family": ["fa", "fa", "ca", "fb", "cb"],
        "fold": [0, 0, 0, 1, 1],
        "math/configured": [2.0, 3.0, 1.0, 102.0, 101.0],
        "math/tfidf_lr": [0.0, 0.0, 1.0, 0.0, 1.0],
    }
    pq.write_table(pa.table(table), tmp_path / "scores.parquet")
    labels = {"m0": "math", "m1": "math", "m2": "math"}
    result = audit(labels, Scores.read(tmp_path), "math", ("configured",))
    assert list(result) == ["configured"]
    assert result["configured"]["register"] == 1.0  # all-pairs would count c1 above m0 and m1
