"""Selectivity of every neuron over the probe spans: mean, std, skew, kurtosis and sparsity.

Gurnee et al. (2024) read monosemantic units off high kurtosis and sparse activation; Dravid
et al. (2026) report Rosetta Neurons growing more selective with scale ("Neuron
Polarization"). These statistics come from the streaming moments of the data pass, so they
cover every span without holding them in memory.
"""

from __future__ import annotations

import numpy as np

from discovery.correlate.streaming_stats import Moments


def selectivity_columns(moments: Moments, active: np.ndarray) -> dict[str, np.ndarray]:
    """Per-neuron columns; ``sparsity`` is the fraction of spans above the active threshold."""
    n = max(moments.count, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "span_mean": moments.mean.astype(np.float32),
            "span_std": moments.std.astype(np.float32),
            "skew": np.nan_to_num(moments.skew).astype(np.float32),
            "kurtosis": np.nan_to_num(moments.kurtosis).astype(np.float32),
            "sparsity": (active / n).astype(np.float32),
        }
