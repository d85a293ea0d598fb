"""Ranking metrics shared by evaluation and discovery's neuron choice: AUROC (Mann-Whitney with
average ranks, column-wise) and precision/recall of a kept set."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def auroc(values: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """AUROC of every column of ``values`` (docs, k) for ``positive`` vs the other rows; ties
    count half. 0.5 for every column when one class is missing."""
    values = values.reshape(len(positive), -1)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return np.full(values.shape[1], 0.5)
    rank_sum = rankdata(values, axis=0)[positive].sum(axis=0)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def precision_recall(kept: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """Precision and recall of the boolean ``kept`` set (precision 0 when nothing is kept)."""
    hits = int((kept & positive).sum())
    return hits / max(int(kept.sum()), 1), hits / max(int(positive.sum()), 1)
