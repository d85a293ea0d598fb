"""How the Rosetta population scales with model size: a power-law fit ``count = a * size^b``
with a bootstrap confidence interval for the exponent.

Dravid et al. (2026) report a sublinear law (0 < b < 1: more Rosetta Neurons in bigger models,
a shrinking fraction of them). With two to four model sizes a least-squares line through
log-log points has no residual spread to resample, so the interval comes from the counts
themselves: each size's count is a binomial draw over its anchor neurons (each neuron is or is
not a Rosetta Neuron), resampled ``n_boot`` times and refitted. The interval therefore says how
much the exponent moves with sampling noise in the counts, not whether a power law is the
right model; docs/SCALING.md reads it that way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from discovery.errors import DiscoveryError


@dataclass(frozen=True, slots=True)
class PowerLawFit:
    exponent: float  # b in count = a * size^b
    prefactor: float  # a
    ci_low: float  # bootstrap percentile interval of b
    ci_high: float
    confidence: float
    n_boot: int

    def predict(self, size: float) -> float:
        return self.prefactor * size**self.exponent


def _fit_loglog(sizes: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """Least squares of log(count) on log(size): (exponent, prefactor)."""
    slope, intercept = np.polyfit(np.log(sizes), np.log(counts), 1)
    return float(slope), float(np.exp(intercept))


def fit_power_law(
    sizes: Sequence[float],
    counts: Sequence[int],
    totals: Sequence[int],
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PowerLawFit:
    """Fit ``counts ~ a * sizes^b``; ``totals`` are each model's anchor neuron counts (the
    binomial's n for the bootstrap)."""
    sizes_a = np.asarray(sizes, dtype=np.float64)
    counts_a = np.asarray(counts, dtype=np.float64)
    totals_a = np.asarray(totals, dtype=np.int64)
    if not (len(sizes_a) == len(counts_a) == len(totals_a)) or len(sizes_a) < 2:
        raise DiscoveryError(
            "a power-law fit needs at least two model sizes, with a count and a neuron total "
            f"for each (got {len(sizes_a)} sizes, {len(counts_a)} counts, {len(totals_a)} totals)",
            field="runs",
        )
    if len(np.unique(sizes_a)) < 2 or (sizes_a <= 0).any():
        raise DiscoveryError("model sizes must be positive and not all equal", field="sizes")
    if (counts_a <= 0).any() or (counts_a > totals_a).any():
        raise DiscoveryError(
            "every count must be in [1, total neurons] to fit on a log scale", field="counts"
        )
    exponent, prefactor = _fit_loglog(sizes_a, counts_a)
    rng = np.random.default_rng(seed)
    draws = rng.binomial(totals_a, counts_a / totals_a, size=(n_boot, len(totals_a)))
    draws = np.maximum(draws, 1)  # a zero draw has no logarithm; it is the rarest tail
    slopes = np.array([_fit_loglog(sizes_a, row)[0] for row in draws])
    tail = (1 - confidence) / 2
    low, high = np.quantile(slopes, [tail, 1 - tail])
    return PowerLawFit(exponent, prefactor, float(low), float(high), confidence, n_boot)
