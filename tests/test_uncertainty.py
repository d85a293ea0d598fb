"""Bootstrap intervals of AUROC: the vectorised resampled AUROC equals the reference one on every
resample, strata keep their sizes, and the intervals say what they should on planted scorers (a
perfect one, a noisy one, two identical ones, more documents)."""

from __future__ import annotations

import numpy as np

from rosetta_filter.evaluation import uncertainty
from rosetta_filter.evaluation.metrics import auroc
from rosetta_filter.evaluation.uncertainty import (
    Resamples,
    interval,
    paired_difference,
    resampled_aurocs,
)


def _planted(n: int, seed: int = 0, separation: float = 1.0):
    rng = np.random.default_rng(seed)
    positive = np.arange(n) % 3 == 0
    scores = rng.normal(size=n) + separation * positive
    strata = np.where(positive, "pos", np.where(np.arange(n) % 2 == 0, "neg/a", "neg/b"))
    return scores, positive, strata


def test_resampled_auroc_equals_the_reference_on_every_resample_with_ties(monkeypatch):
    scores, positive, strata = _planted(60)
    scores = np.round(scores, 1)  # ties
    monkeypatch.setattr(uncertainty, "_CHUNK_CELLS", 60 * 7)  # 7 resamples per chunk: 4 chunks
    resamples = Resamples(strata, n=25, seed=3)
    rows = np.concatenate(list(resamples.chunks()))
    assert rows.shape == (25, 60)
    np.testing.assert_array_equal(rows, np.concatenate(list(resamples.chunks())))  # the same
    expected = [auroc(scores[r], positive[r])[0] for r in rows]
    np.testing.assert_allclose(resampled_aurocs(scores, positive, resamples), expected)


def test_every_resample_keeps_each_stratums_size():
    _, _, strata = _planted(61)
    for row in np.concatenate(list(Resamples(strata, n=10, seed=1).chunks())):
        drawn = {s: int((strata[row] == s).sum()) for s in set(strata)}
        assert drawn == {s: int((strata == s).sum()) for s in set(strata)}


def test_intervals_on_planted_scorers():
    scores, positive, strata = _planted(300)
    rows = Resamples(strata, n=400)
    perfect = positive.astype(float)
    assert interval(resampled_aurocs(perfect, positive, rows)) == [1.0, 1.0]
    noisy = resampled_aurocs(scores, positive, rows)
    low, high = interval(noisy)
    assert low < auroc(scores, positive)[0] < high and high - low > 0.02
    lead = paired_difference(resampled_aurocs(perfect, positive, rows), noisy)
    assert lead["ci"][0] > 0 and lead["share_not_worse"] == 1.0
    same = paired_difference(noisy, noisy)
    assert same == {"ci": [0.0, 0.0], "share_not_worse": 1.0}


def test_more_documents_give_a_narrower_interval():
    widths = []
    for n in (150, 1500):
        scores, positive, strata = _planted(n, seed=2)
        low, high = interval(resampled_aurocs(scores, positive, Resamples(strata)))
        widths.append(high - low)
    assert widths[1] < widths[0] / 2
