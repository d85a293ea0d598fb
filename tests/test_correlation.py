"""Streamed correlation equals dense numpy; pruning finds the planted best buddies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from discovery.correlate.buddies import best_buddies, compare_pairs
from discovery.correlate.correlation import (
    DepthWindow,
    array_source,
    correlate_exhaustive,
    span_moments,
)
from discovery.correlate.pruning import correlate_pruned
from discovery.datapass.layout import ColumnLayout
from discovery.errors import DiscoveryError

pytestmark = pytest.mark.usefixtures("one_thread")  # modest CPU on a shared machine


def planted(n=1500, d_a=96, d_b=80, n_planted=30, rank=6, seed=0):
    """Low-rank shared background (many moderate r) plus planted twins (r ~ 0.75)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, rank))
    x = z @ rng.standard_normal((rank, d_a)) * 0.25 + rng.standard_normal((n, d_a)) + 2.0
    y = z @ rng.standard_normal((rank, d_b)) * 0.25 + rng.standard_normal((n, d_b)) - 1.0
    a_idx = rng.choice(d_a, n_planted, replace=False)
    b_idx = rng.choice(d_b, n_planted, replace=False)
    shared = rng.standard_normal((n, n_planted))
    x[:, a_idx] += 2.5 * shared
    y[:, b_idx] += 2.5 * shared
    twins = {int(a): int(b) for a, b in zip(a_idx, b_idx, strict=True)}
    return x.astype(np.float32), y.astype(np.float32), twins


def dense_r(x, y):
    d_a = x.shape[1]
    return np.corrcoef(x.astype(np.float64).T, y.astype(np.float64).T)[:d_a, d_a:]


def assert_top_k_matches(result, r, k):
    top_b = np.argsort(-r, axis=1, kind="stable")[:, :k]
    top_a = np.argsort(-r.T, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(result.anchor_top.indices, top_b)
    np.testing.assert_array_equal(result.partner_top.indices, top_a)
    np.testing.assert_allclose(result.anchor_top.values, np.take_along_axis(r, top_b, 1), atol=1e-4)
    np.testing.assert_allclose(
        result.partner_top.values, np.take_along_axis(r.T, top_a, 1), atol=1e-4
    )


@pytest.mark.parametrize("accumulator_mb", [0.002, 0.01, 64.0])
@pytest.mark.parametrize("batch_size", [7, 256, 5000])
def test_exhaustive_top_k_equals_dense_corrcoef(accumulator_mb, batch_size):
    x, y, _ = planted()
    result = correlate_exhaustive(
        array_source(x, y, batch_size), k=3, accumulator_mb=accumulator_mb
    )
    assert result.n_spans == 1500 and result.method == "exhaustive"
    assert_top_k_matches(result, dense_r(x, y), k=3)
    assert result.matmul_flops == pytest.approx(2.0 * 1500 * 96 * 80)


def test_float16_and_torch_batches_correlate_like_their_values():
    x, y, _ = planted(seed=1)
    x16 = x.astype(np.float16)
    result = correlate_exhaustive(array_source(x16, torch.from_numpy(y), 300), k=2)
    assert_top_k_matches(result, dense_r(x16, y), k=2)


def test_constant_neuron_has_zero_correlation():
    x, y, _ = planted(d_a=10, d_b=8, n_planted=4)
    x[:, 3] = 0.7
    result = correlate_exhaustive(array_source(x, y, 100), k=8)
    np.testing.assert_allclose(result.anchor_top.values[3], 0.0)
    assert 3 not in result.partner_top.indices[:, 0]


def test_depth_window_limits_partner_layers():
    x, y, _ = planted(d_a=96, d_b=80)
    anchor, partner = ColumnLayout.uniform(4, 24), ColumnLayout.uniform(5, 16)
    window = DepthWindow(anchor, partner, width=0.25)
    r = dense_r(x, y)
    mask = np.zeros_like(r, dtype=bool)
    for la in range(4):
        for lb in range(5):
            if abs(la / 3 - lb / 4) <= 0.25:
                mask[anchor.layer_columns(la), partner.layer_columns(lb)] = True
    masked = np.where(mask, r, -np.inf)
    for mb in (0.003, 64.0):
        result = correlate_exhaustive(
            array_source(x, y, 400), k=2, window=window, accumulator_mb=mb
        )
        assert_top_k_matches(result, masked, k=2)
    pruned = correlate_pruned(
        array_source(x, y, 400),
        k=2,
        candidates=16,
        search="subsample",
        sketch_size=1500,
        window=window,
    )
    assert_top_k_matches(pruned, masked, k=2)


@pytest.mark.parametrize("search", ["sketch", "subsample"])
def test_pruned_finds_every_planted_best_buddy_with_exact_r(search):
    x, y, twins = planted(n=4000, d_a=300, d_b=240, n_planted=60, seed=2)
    source = array_source(x, y, 512)
    moments = span_moments(source)
    exhaustive = correlate_exhaustive(source, k=1, moments=moments)
    pruned = correlate_pruned(
        source,
        k=1,
        candidates=8,
        search=search,
        sketch_size=500,
        moments=moments,
        sketch_dtype="bfloat16",
    )
    assert pruned.method == "pruned"
    reference = best_buddies(exhaustive, "a", "b", min_r=0.5)
    found = best_buddies(pruned, "a", "b", min_r=0.5)
    assert reference.as_set() == set(twins.items())
    assert compare_pairs(reference, found) == (1.0, 1.0)
    np.testing.assert_allclose(found.r, reference.r, atol=1e-5)
    # Exact values for every candidate kept, not subsample estimates.
    r = dense_r(x, y)
    rows = np.arange(300)
    np.testing.assert_allclose(
        pruned.anchor_top.values[:, 0], r[rows, pruned.anchor_top.indices[:, 0]], atol=1e-4
    )


@pytest.mark.parametrize("search", ["sketch", "subsample"])
def test_pruned_with_sketch_as_large_as_the_spans_equals_exhaustive(search):
    x, y, _ = planted(seed=3)
    source = array_source(x, y, 256)
    pruned = correlate_pruned(
        source, k=2, candidates=6, search=search, sketch_size=1500, sketch_dtype="float32"
    )
    assert_top_k_matches(pruned, dense_r(x, y), k=2)


def test_bad_pruning_settings_are_rejected():
    x, y, _ = planted()
    with pytest.raises(DiscoveryError, match="candidates=1 must be >= k=2"):
        correlate_pruned(array_source(x, y), k=2, candidates=1)
    with pytest.raises(DiscoveryError, match="use 'sketch' or 'subsample'"):
        correlate_pruned(array_source(x, y), search="random")  # type: ignore[arg-type]


def test_source_that_changes_between_passes_is_rejected():
    x, y, _ = planted()
    calls = []

    def shrinking():
        calls.append(1)
        rows = 1500 if len(calls) == 1 else 1000
        yield x[:rows], y[:rows]

    with pytest.raises(DiscoveryError, match="same spans in the same order"):
        correlate_exhaustive(shrinking)


def test_mismatched_batches_and_empty_source_are_rejected():
    x, y, _ = planted()
    with pytest.raises(DiscoveryError, match="same spans"):
        span_moments(lambda: iter([(x[:10], y[:9])]))
    with pytest.raises(DiscoveryError, match="no spans"):
        span_moments(lambda: iter([]))
    bad = x.copy()
    bad[5, 2] = np.inf
    with pytest.raises(DiscoveryError, match="non-finite"):
        span_moments(array_source(bad, y))
