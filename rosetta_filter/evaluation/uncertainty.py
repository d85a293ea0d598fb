"""Bootstrap intervals for AUROC claims: how much of a number measured on a few hundred held-out
documents is sampling noise.

A filter "beats" a baseline only if the difference survives resampling the evaluated documents.
Resamples are stratified by (label, family): every resample keeps each family's share of the
set, so the interval is the noise of *which documents* of those families were drawn, not of
*which families* were held out (with two to six held-out families per domain, a family-level
bootstrap would be too coarse to mean anything). Differences are paired: both scorers are
measured on the same resamples, so noise shared by the two cancels. Resamples are drawn in
seeded chunks, the same rows on every pass, so memory stays bounded at any corpus size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

RESAMPLES = 1000
LEVEL = 0.95
_CHUNK_CELLS = 1 << 22  # resampled rows x documents held at once (~32 MiB per float64 array)


@dataclass(frozen=True)
class Resamples:
    """``n`` stratified bootstrap resamples of a set's documents: each draws, with replacement,
    as many documents from each stratum as it has (so class and family sizes never change)."""

    strata: np.ndarray  # (docs,) stratum label of each document
    n: int = RESAMPLES
    seed: int = 0

    def chunks(self) -> Iterator[np.ndarray]:
        """Row-index blocks ``(rows, docs)`` covering the ``n`` resamples, identical on every
        call (chunk ``i`` is drawn from the seed ``(seed, i)``)."""
        _, codes = np.unique(self.strata, return_inverse=True)
        members = [np.flatnonzero(codes == code) for code in range(codes.max(initial=-1) + 1)]
        step = max(1, _CHUNK_CELLS // max(len(codes), 1))
        for i, start in enumerate(range(0, self.n, step)):
            rng = np.random.default_rng([self.seed, i])
            size = min(step, self.n - start)
            yield np.concatenate(
                [group[rng.integers(0, len(group), size=(size, len(group)))] for group in members],
                axis=1,
            )


def resampled_aurocs(
    scores: np.ndarray,
    positive: np.ndarray,
    resamples: Resamples,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """AUROC of ``scores`` for ``positive`` on every resample; ties count half, as in
    :func:`rosetta_filter.evaluation.metrics.auroc`. With ``groups`` (each document's group,
    constant within a stratum), only pairs of documents of the same group count
    (:func:`grouped_auroc`)."""
    return np.concatenate([_aurocs(scores, positive, rows, groups) for rows in resamples.chunks()])


def grouped_auroc(scores: np.ndarray, positive: np.ndarray, groups: np.ndarray) -> float:
    """AUROC over the pairs (positive, negative) of the same group only: the pooled
    Mann-Whitney count of every group over its pairs. Cross-fitted scores come from one bank per
    fold, on scales that need not agree, so only pairs scored by the same bank are compared."""
    return float(_aurocs(scores, positive, np.arange(len(scores))[None, :], groups)[0])


def _aurocs(
    scores: np.ndarray, positive: np.ndarray, rows: np.ndarray, groups: np.ndarray | None = None
) -> np.ndarray:
    if groups is None:
        blocks = [rows]
    else:  # a column of ``rows`` always draws from one stratum, so from one group
        column_groups = groups[rows[0]]
        blocks = [rows[:, column_groups == g] for g in np.unique(column_groups)]
    wins = np.zeros(rows.shape[0])
    pairs = np.zeros(rows.shape[0])
    for block in blocks:
        pos = positive[block]
        n_pos = pos.sum(axis=1)
        n_neg = block.shape[1] - n_pos
        rank_sum = np.where(pos, rankdata(scores[block], axis=1), 0.0).sum(axis=1)
        wins += rank_sum - n_pos * (n_pos + 1) / 2
        pairs += n_pos * n_neg
    with np.errstate(invalid="ignore", divide="ignore"):
        values = wins / pairs
    return np.where(pairs == 0, 0.5, values)


def interval(values: np.ndarray, level: float = LEVEL) -> list[float]:
    """The central ``level`` percentile interval of bootstrap ``values``."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return [float(low), float(high)]


def paired_difference(a: np.ndarray, b: np.ndarray) -> dict[str, list[float] | float]:
    """From two scorers' AUROCs on the same resamples (:func:`resampled_aurocs` with the same
    :class:`Resamples`): the interval of AUROC(a) - AUROC(b) and the share of resamples in
    which ``a`` ranks at least as well as ``b``."""
    diff = a - b
    return {"ci": interval(diff), "share_not_worse": float((diff >= 0).mean())}
