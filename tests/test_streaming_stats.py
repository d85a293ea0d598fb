"""Streaming moments merge across batches to the dense two-pass result."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from discovery.correlate.streaming_stats import Moments
from discovery.errors import DiscoveryError


def _data() -> np.ndarray:
    rng = np.random.default_rng(0)
    # Skewed, heavy-tailed, offset columns (like post-activations) plus a constant column.
    x = np.concatenate(
        [
            rng.gamma(0.5, 2.0, size=(997, 3)) + 1000.0,
            rng.standard_t(5, size=(997, 2)),
            np.full((997, 1), 3.25),
        ],
        axis=1,
    )
    return x.astype(np.float32)


@pytest.mark.parametrize("splits", [[997], [1, 996], [100, 400, 497], [7] * 142 + [3]])
def test_merged_moments_equal_dense_numpy(splits):
    x = _data()
    pieces = np.split(x, np.cumsum(splits)[:-1])
    merged = Moments.empty(x.shape[1])
    for piece in pieces:
        merged = merged + Moments.from_batch(piece)
    dense = x.astype(np.float64)
    assert merged.count == 997
    np.testing.assert_allclose(merged.mean, dense.mean(0), rtol=1e-12)
    np.testing.assert_allclose(merged.var, dense.var(0), rtol=1e-9, atol=1e-12)
    live = slice(0, 5)
    np.testing.assert_allclose(merged.skew[live], stats.skew(dense[:, live]), rtol=1e-7)
    np.testing.assert_allclose(
        merged.kurtosis[live], stats.kurtosis(dense[:, live]), rtol=1e-7, atol=1e-9
    )
    assert merged.is_constant.tolist() == [False] * 5 + [True]
    assert merged.skew[5] == 0.0 and merged.kurtosis[5] == 0.0


def test_merge_is_order_free_and_accepts_torch():
    x = _data()
    a, b = Moments.from_batch(x[:300]), Moments.from_batch(torch.from_numpy(x[300:]))
    ab, ba = a + b, b + a
    np.testing.assert_allclose(ab.m4, ba.m4, rtol=1e-12)
    np.testing.assert_allclose(ab.mean, Moments.from_batch(x).mean, rtol=1e-12)


def test_merging_different_widths_fails():
    with pytest.raises(DiscoveryError, match="different neuron sets"):
        Moments.empty(3) + Moments.from_batch(np.ones((2, 4)))
