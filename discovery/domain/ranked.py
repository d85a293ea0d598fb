"""Per-family AUROC of every neuron against one shared set of negatives, from column ranks
computed once.

Leave-one-family-out statistics ask, for every neuron, the AUROC of each family of a domain
against all out-of-domain documents, and cross-validation asks it again on each fold's
training part. Ranking the rows of every (family, negatives) subset anew (what
:func:`rosetta_filter.evaluation.metrics.auroc` does for one subset) sorts the whole matrix once
per family and fold: hundreds of sorts of a 3,000 x 46,080 matrix. Here the matrix is sorted
once into dense per-column ranks; a subset's AUROC then needs only a histogram of its negatives'
ranks per column (the count of negatives below and tied with each positive), built in column
chunks so memory stays bounded. The counts are integers, so the result equals the rank-sum
formula's exactly, ties included. A subset of rows (a fold's training part) needs no ranks of
its own: its rows' ranks are still a valid order of each column, so its masks select them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


class RankedMatrix:
    """Dense ranks of each column of a ``(docs, columns)`` matrix (equal values, equal rank)."""

    def __init__(self, ranks: np.ndarray, levels: int, chunk_columns: int = 2048) -> None:
        self.ranks = ranks  # (docs, columns) int32
        self.levels = levels  # ranks lie in [0, levels)
        self.chunk_columns = chunk_columns

    @classmethod
    def of(cls, values: np.ndarray, chunk_columns: int = 2048) -> RankedMatrix:
        ranks = np.empty(values.shape, dtype=np.int32)
        for start in range(0, values.shape[1], chunk_columns):
            block = np.asarray(values[:, start : start + chunk_columns])
            order = np.argsort(block, axis=0, kind="stable")
            ordered = np.take_along_axis(block, order, axis=0)
            dense = np.zeros(ordered.shape, dtype=np.int32)
            dense[1:] = ordered[1:] != ordered[:-1]
            np.put_along_axis(ranks[:, start : start + block.shape[1]], order,
                              np.cumsum(dense, axis=0, dtype=np.int32), axis=0)  # fmt: skip
        return cls(ranks, max(values.shape[0], 1), chunk_columns)

    def aurocs(self, negative: np.ndarray, positives: Sequence[np.ndarray]) -> np.ndarray:
        """``(len(positives), columns)``: the AUROC of each boolean row mask in ``positives``
        against the rows of ``negative``; ties count half, 0.5 where a side is empty."""
        n_neg = int(negative.sum())
        sizes = [int(p.sum()) for p in positives]
        out = np.full((len(positives), self.ranks.shape[1]), 0.5)
        if n_neg == 0:
            return out
        neg_ranks = self.ranks[negative]
        pos_ranks = [self.ranks[p] for p in positives]
        for start in range(0, self.ranks.shape[1], self.chunk_columns):
            stop = min(start + self.chunk_columns, self.ranks.shape[1])
            width = stop - start
            offsets = np.arange(width, dtype=np.int64) * self.levels
            counts = np.bincount(
                (neg_ranks[:, start:stop] + offsets).ravel(), minlength=width * self.levels
            ).reshape(width, self.levels)
            # twice the Mann-Whitney count per (column, rank): 2 x negatives below + negatives tied
            twice = (2 * np.cumsum(counts, axis=1) - counts).ravel()
            for k, (ranks, size) in enumerate(zip(pos_ranks, sizes, strict=True)):
                if size:
                    u2 = twice[ranks[:, start:stop] + offsets].sum(axis=0)
                    out[k, start:stop] = (u2 / 2) / (size * n_neg)
        return out


def ranked_matrices(
    matrices: Mapping[str, np.ndarray],
) -> dict[str, tuple[np.ndarray, RankedMatrix]]:
    """Each matrix with its column ranks: a worker's ``prepare`` step
    (:func:`discovery.domain.workers.map_domains`), so a matrix is sorted once per worker and
    not once per domain it fits."""
    return {key: (values, RankedMatrix.of(values)) for key, values in matrices.items()}
