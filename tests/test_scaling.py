"""The scaling fit recovers a planted exponent, and its interval covers it."""

from __future__ import annotations

import numpy as np
import pytest

from discovery.errors import DiscoveryError
from discovery.report.scaling import fit_power_law


@pytest.mark.parametrize("exponent", [0.6, 0.85])
def test_fit_recovers_a_known_sublinear_exponent(exponent):
    sizes = np.array([135e6, 270e6, 494e6, 1.54e9])
    totals = np.array([46_080, 36_864, 116_736, 250_880])
    expected = 0.02 * (sizes / sizes[0]) ** exponent * totals[0]
    rng = np.random.default_rng(1)
    counts = rng.binomial(totals, expected / totals)  # counts with real sampling noise
    fit = fit_power_law(sizes, counts, totals, n_boot=1000, seed=2)
    assert fit.ci_low <= exponent <= fit.ci_high
    assert abs(fit.exponent - exponent) < 0.05
    assert fit.ci_high - fit.ci_low < 0.1
    assert fit.predict(sizes[0]) == pytest.approx(counts[0], rel=0.1)


def test_fit_refuses_what_cannot_be_fitted():
    with pytest.raises(DiscoveryError, match="at least two model sizes"):
        fit_power_law([1e8], [10], [100])
    with pytest.raises(DiscoveryError, match="not all equal"):
        fit_power_law([1e8, 1e8], [10, 20], [100, 100])
    with pytest.raises(DiscoveryError, match=r"\[1, total neurons\]"):
        fit_power_law([1e8, 2e8], [0, 20], [100, 100])
