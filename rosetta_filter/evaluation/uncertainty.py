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


def resampled_aurocs(scores: np.ndarray, positive: np.ndarray, resamples: Resamples) -> np.ndarray:
    """AUROC of ``scores`` for ``positive`` on every resample; ties count half, as in
    :func:`rosetta_filter.evaluation.metrics.auroc`."""
    return np.concatenate([_aurocs(scores, positive, rows) for rows in resamples.chunks()])


def _aurocs(scores: np.ndarray, positive: np.ndarray, rows: np.ndarray) -> np.ndarray:
    pos = positive[rows]
    n_pos = pos.sum(axis=1)
    n_neg = rows.shape[1] - n_pos
    rank_sum = np.where(pos, rankdata(scores[rows], axis=1), 0.0).sum(axis=1)
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
    :class:`Resamples`): the interval of AUROC(a) - AUROC(b) and the share of resamples in
    which ``a`` ranks at least as well as ``b``."""
    diff = a - b
    return {"ci": interval(diff), "share_not_worse": float((diff >= 0).mean())}
