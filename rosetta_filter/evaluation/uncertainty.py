"""Bootstrap intervals for AUROC claims: how much of a number measured on a few hundred held-out
documents is sampling noise.

A filter "beats" a baseline only if the difference survives resampling the evaluated documents.
Resamples are stratified by (label, family): every resample keeps each family's share of the
set, so the interval is the noise of *which documents* of those families were drawn, not of
*which families* were held out (with two to six held-out families per domain, a family-level
bootstrap would be too coarse to mean anything). Differences are paired: both scorers are
measured on the same resample, so noise shared by the two cancels.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

RESAMPLES = 1000
LEVEL = 0.95


def stratified_resamples(strata: np.ndarray, n: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """``(n, docs)`` row indices: each row draws, with replacement, as many documents from each
    stratum as it has (so class and family sizes are the same in every resample)."""
    rng = np.random.default_rng(seed)
    _, codes = np.unique(strata, return_inverse=True)
    rows = np.empty((n, len(strata)), dtype=np.int64)
    start = 0
    for code in range(codes.max() + 1 if len(codes) else 0):
        members = np.flatnonzero(codes == code)
        picks = rng.integers(0, len(members), size=(n, len(members)))
        rows[:, start : start + len(members)] = members[picks]
        start += len(members)
    return rows


def resampled_aurocs(scores: np.ndarray, positive: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """AUROC of ``scores`` for ``positive`` on every resample (one per row of ``rows``); ties
    count half, as in :func:`rosetta_filter.evaluation.metrics.auroc`."""
    pos = positive[rows]
    n_pos = pos.sum(axis=1)
    n_neg = rows.shape[1] - n_pos
    ranks = rankdata(scores[rows], axis=1)
    rank_sum = np.where(pos, ranks, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.where((n_pos == 0) | (n_neg == 0), 0.5, values)


def interval(values: np.ndarray, level: float = LEVEL) -> list[float]:
    """The central ``level`` percentile interval of bootstrap ``values``."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return [float(low), float(high)]


def paired_difference(a: np.ndarray, b: np.ndarray) -> dict[str, list[float] | float]:
    """From two scorers' AUROCs on the same resamples (:func:`resampled_aurocs` with the same
    rows): the interval of AUROC(a) - AUROC(b) and the share of resamples in which ``a`` ranks
    at least as well as ``b``."""
    diff = a - b
    return {"ci": interval(diff), "share_not_worse": float((diff >= 0).mean())}
