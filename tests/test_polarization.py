"""Polarization summaries: P(Rosetta > rest) and quantiles on planted populations."""

from __future__ import annotations

import numpy as np

from discovery.neuron_stats.polarization import polarization, prob_greater


def test_prob_greater_is_the_mann_whitney_auc():
    assert prob_greater(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert prob_greater(np.array([1.0]), np.array([1.0])) == 0.5
    assert prob_greater(np.array([1.0, 3.0]), np.array([2.0])) == 0.5
    assert prob_greater(np.array([]), np.array([1.0])) is None


def test_planted_selective_members_are_found_polarized():
    rng = np.random.default_rng(0)
    d = 1000
    members = np.arange(0, d, 10)
    kurtosis = rng.normal(0.0, 1.0, d)
    kurtosis[members] += 5.0  # Rosetta members heavy-tailed
    sparsity = rng.uniform(0.4, 0.6, d)
    sparsity[members] = rng.uniform(0.0, 0.1, members.size)  # and sparse
    columns = {
        "kurtosis": kurtosis,
        "sparsity": sparsity,
        "specialisation": rng.uniform(0, 1, d),  # no difference planted
    }
    out = polarization(columns, members)
    assert out["kurtosis"]["p_rosetta_greater"] > 0.99
    assert out["sparsity"]["p_rosetta_greater"] == 0.0
    assert 0.4 < out["specialisation"]["p_rosetta_greater"] < 0.6
    assert out["kurtosis"]["rosetta"]["n"] == 100 and out["kurtosis"]["rest"]["n"] == 900
    q = out["kurtosis"]["rosetta"]["quantiles"]
    assert q == sorted(q) and q[0] == kurtosis[members].min()
