"""Neuron polarization: are Rosetta Neurons more selective than the rest of their model?

Dravid et al. (2026) report that with scale Rosetta Neurons become sparser, heavier-tailed and
more domain-specialised while the other neurons stay unselective. For one model this module
compares the two populations on three per-neuron statistics of the data pass:

* ``kurtosis`` (excess, over spans): heavy tails = fires rarely but strongly,
* ``sparsity`` (fraction of spans above the active threshold): lower = more selective,
* ``specialisation`` (2 * AUROC of the preferred domain - 1, over documents).

Each comparison is summarised by quantiles of both populations (for the report's distribution
plots, so a bank stays small without every neuron's row) and by the common-language effect
size P(Rosetta > rest) (the Mann-Whitney AUC, ties half): 0.5 means no polarization.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

POLARIZATION_METRICS = ("kurtosis", "sparsity", "specialisation")
QUANTILES = np.linspace(0.0, 1.0, 21)


def _summary(values: np.ndarray) -> dict:
    if values.size == 0:
        return {"n": 0, "mean": None, "median": None, "quantiles": []}
    return {
        "n": int(values.size),
        "mean": float(values.mean()),
        "median": float(np.median(values)),
        "quantiles": [float(q) for q in np.quantile(values, QUANTILES)],
    }


def prob_greater(a: np.ndarray, b: np.ndarray) -> float | None:
    """P(a random element of ``a`` > a random element of ``b``), ties counting half."""
    if a.size == 0 or b.size == 0:
        return None
    ranks = rankdata(np.concatenate([a, b]))
    u = ranks[: a.size].sum() - a.size * (a.size + 1) / 2
    return float(u / (a.size * b.size))


def polarization(columns: dict, members: np.ndarray) -> dict:
    """Per metric: quantile summaries of Rosetta members and the rest, and P(Rosetta > rest)."""
    out: dict = {}
    for metric in POLARIZATION_METRICS:
        values = np.nan_to_num(np.asarray(columns[metric], dtype=np.float64))
        is_member = np.zeros(values.size, dtype=bool)
        is_member[members] = True
        rosetta, rest = values[is_member], values[~is_member]
        out[metric] = {
            "rosetta": _summary(rosetta),
            "rest": _summary(rest),
            "p_rosetta_greater": prob_greater(rosetta, rest),
        }
    return out
