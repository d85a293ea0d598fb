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

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

CHUNK_COLUMNS = 256  # a chunk's histogram stays near the cache (bench/fold_statistics.py)


class RankedMatrix:
    """Dense ranks of each column of a ``(docs, columns)`` matrix (equal values, equal rank)."""

    def __init__(
        self,
        ranks: np.ndarray,
        levels: int,
        chunk_columns: int = CHUNK_COLUMNS,
        universe: np.ndarray | None = None,
    ) -> None:
        self.ranks = ranks  # (docs, columns) int32 (int16 relative to a small universe)
        self.levels = levels  # ranks lie in [0, levels)
        self.chunk_columns = chunk_columns
        self.universe = universe  # the rows a positive may come from (None: any row)

    @classmethod
    def of(cls, values: np.ndarray, chunk_columns: int = CHUNK_COLUMNS) -> RankedMatrix:
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
        against the rows of ``negative``; ties count half, 0.5 where a side is empty. Ranks
        made :meth:`relative_to` a universe take positives from that universe only."""
        if self.universe is not None and any(np.any(p & ~self.universe) for p in positives):
            raise ValueError("positive rows outside the universe these ranks are relative to")
        n_neg = int(negative.sum())
        sizes = [int(p.sum()) for p in positives]
        out = np.full((len(positives), self.ranks.shape[1]), 0.5)
        if n_neg == 0:
            return out
        neg_ranks = self.ranks[negative]
        pos_ranks = [self.ranks[p] for p in positives]
        for start, stop, offsets in self._chunks():
            below, tied = self._below_and_tied(neg_ranks[:, start:stop] + offsets, stop - start)
            twice = 2 * below + tied  # twice the Mann-Whitney count at each (column, level)
            for k, (ranks, size) in enumerate(zip(pos_ranks, sizes, strict=True)):
                if size:
                    u2 = twice[ranks[:, start:stop] + offsets].sum(axis=0)
                    out[k, start:stop] = (u2 / 2) / (size * n_neg)
        return out

    def relative_to(self, universe: np.ndarray) -> RankedMatrix:
        """Ranks that keep only each row's order against the rows in ``universe`` (a boolean
        row mask): key(r) = (universe rows ranked below r) + (universe rows ranked at or below
        r), in ``2 |universe| + 1`` levels. For a universe row p and any row n, key(n) is
        below, equal to or above key(p) exactly when r(n) is below, equal to or above r(p), so
        every AUROC whose positives lie in the universe is unchanged to the bit.

        Why: a domain's fold plan asks each family's AUROC in every fold, and each fold's
        histogram spans every level of every column; relative to the domain's rows (a fifth of
        the corpus) the levels shrink as many times, and the keys are made once per domain."""
        count = int(universe.sum())
        levels = 2 * count + 1
        dtype = np.int16 if levels <= np.iinfo(np.int16).max else np.int32
        keys = np.empty(self.ranks.shape, dtype)
        inside = self.ranks[universe]
        for start, stop, offsets in self._chunks():
            below, tied = self._below_and_tied(inside[:, start:stop] + offsets, stop - start)
            keys[:, start:stop] = (2 * below + tied)[self.ranks[:, start:stop] + offsets]
        return RankedMatrix(keys, levels, self.chunk_columns, universe.copy())

    def _chunks(self) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(start, stop, offsets)`` per chunk of columns; ``offsets`` lift each column's ranks
        into a range of levels of its own, so one histogram counts every column of a chunk."""
        for start in range(0, self.ranks.shape[1], self.chunk_columns):
            stop = min(start + self.chunk_columns, self.ranks.shape[1])
            yield start, stop, np.arange(stop - start, dtype=np.int64) * self.levels

    def _below_and_tied(self, lifted: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Per (column, level), flat: how many of ``lifted``'s rows lie below that level in
        their column, and how many at it (``lifted``: ranks plus each column's offset)."""
        tied = np.bincount(lifted.ravel(), minlength=width * self.levels).reshape(width, -1)
        below = np.cumsum(tied, axis=1)
        below -= tied
        return below.ravel(), tied.ravel()


def ranked_matrices(
    matrices: Mapping[str, np.ndarray],
) -> dict[str, tuple[np.ndarray, RankedMatrix]]:
    """Each matrix with its column ranks: a worker's ``prepare`` step
    (:func:`discovery.domain.workers.map_domains`), so a matrix is sorted once per worker and
    not once per domain it fits."""
    return {key: (values, RankedMatrix.of(values)) for key, values in matrices.items()}
