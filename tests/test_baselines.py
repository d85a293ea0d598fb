"""Null baselines: a planted neuron permutation is found; rotated or shuffled nulls are not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from discovery.correlate.baselines import random_rotation, rotated_source, shuffled_source
from discovery.correlate.buddies import best_buddies
from discovery.correlate.correlation import array_source, correlate_exhaustive
from discovery.correlate.pruning import correlate_pruned
from discovery.datapass.activation_cache import ActivationCache, ActivationCacheWriter
from discovery.datapass.layout import ColumnLayout

pytestmark = pytest.mark.usefixtures("one_thread")  # modest CPU on a shared machine


def _permuted_twin(n=3000, layers=3, d=48, seed=0):
    """Partner = anchor's neurons permuted across all layers, plus small noise."""
    rng = np.random.default_rng(seed)
    x = rng.gamma(0.5, 1.0, size=(n, layers * d)).astype(np.float32)  # skewed, non-negative
    perm = rng.permutation(layers * d)  # partner column j copies anchor column perm[j]
    y = x[:, perm] + 0.05 * rng.standard_normal((n, layers * d)).astype(np.float32)
    return x, y, perm, ColumnLayout.uniform(layers, d)


def test_planted_permutation_is_found_and_the_rotation_null_is_not():
    x, y, perm, layout = _permuted_twin()
    source = array_source(x, y, 700)
    pairs = best_buddies(correlate_pruned(source, candidates=8), "a", "b", min_r=0.5)
    assert pairs.as_set() == {(int(a), b) for b, a in enumerate(perm)}
    assert pairs.r.min() > 0.95
    null = rotated_source(source, layout, seed=1)
    null_pairs = best_buddies(correlate_exhaustive(null), "a", "b-rotated", min_r=0.5)
    assert len(null_pairs) <= len(pairs) // 20


def test_shuffled_span_null_finds_nothing(tmp_path):
    x, y, _, layout = _permuted_twin(seed=2)
    caches = []
    for name, rows in (("x", x), ("y", y)):
        with ActivationCacheWriter(tmp_path / name, layout) as writer:
            writer.append(rows)
        caches.append(ActivationCache.open(tmp_path / name))
    null = shuffled_source(caches[0], caches[1], batch_size=500, seed=0)
    assert len(best_buddies(correlate_pruned(null), "a", "b", min_r=0.2)) == 0


def test_rotation_is_orthogonal_seeded_and_the_same_on_every_pass():
    q = random_rotation(16, torch.Generator().manual_seed(0))
    torch.testing.assert_close(q @ q.T, torch.eye(16), atol=1e-5, rtol=0)
    x, y, _, layout = _permuted_twin(n=50)
    source = rotated_source(array_source(x, y, 20), layout, seed=3)
    first = torch.cat([b for _, b in source()])
    again = torch.cat([b for _, b in source()])
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    # Rotation stays within layers: per-layer energy is preserved, across layers nothing mixes.
    energy = lambda t: t.reshape(50, 3, 48).pow(2).sum(dim=2)  # noqa: E731
    torch.testing.assert_close(energy(first), energy(torch.from_numpy(y)), rtol=1e-4, atol=1e-3)
