"""Direct tests of the pure modules (no model): pooling, packing and selection.

End-to-end tests cover them too; these pin the contracts the rest builds on, each against a
reference written the slow, obvious way.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rosetta_filter.activations.batching import pack
from rosetta_filter.activations.pooling import POOLING_METHODS, pool
from rosetta_filter.activations.tokenize import Window
from rosetta_filter.config import BatchingConfig, SelectionConfig
from rosetta_filter.filtering.selection import build_rule


@pytest.mark.parametrize("method", POOLING_METHODS)
def test_pooling_ignores_padding_and_matches_a_loop(method):
    gen = torch.Generator().manual_seed(0)
    acts = torch.randn(3, 7, 4, generator=gen)
    lengths = [7, 3, 0]
    mask = torch.arange(7)[None, :] < torch.tensor(lengths)[:, None]
    pooled = pool(acts, mask, method, top_k=2, threshold=0.1)
    noisy = acts.masked_fill(~mask.unsqueeze(-1), 1e6)  # padding must never leak in
    assert torch.allclose(pool(noisy, mask, method, top_k=2, threshold=0.1), pooled)
    for row, n in enumerate(lengths):
        x = acts[row, :n]
        if n == 0:
            expected = torch.zeros(4)
        elif method == "mean":
            expected = x.mean(0)
        elif method == "max":
            expected = x.amax(0)
        elif method == "frac_active":
            expected = (x > 0.1).float().mean(0)
        else:
            expected = x.topk(min(2, n), dim=0).values.mean(0)
        assert torch.allclose(pooled[row], expected, atol=1e-6), (method, row)


def test_packing_respects_the_budget_and_loses_no_window():
    windows = [
        Window(i, 0, list(range(n)), [(0, 1)] * n, 0) for i, n in enumerate([5, 30, 9, 9, 2])
    ]
    cfg = BatchingConfig(batch_tokens=32, max_batch_docs=3)
    batches = list(pack(windows, cfg))
    assert sorted(w.doc for b in batches for w in b) == [0, 1, 2, 3, 4]
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or len(batch) * max(len(w.ids) for w in batch) <= 32
    assert len(batches[0][0].ids) == 30  # longest first


@pytest.mark.parametrize("fraction", [0.1, 0.5, 1.0])
def test_keep_fraction_rule_keeps_the_exact_top_with_ties_by_position(fraction):
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, 40).astype(np.float64)  # many ties
    ranks, indexes = np.zeros(40, np.int64), np.arange(40)
    rule = build_rule(SelectionConfig(keep_fraction=fraction), scores, ranks, indexes, indexes)
    kept = [i for i in range(40) if rule.keeps(scores[i], 0, i)]
    expected = sorted(range(40), key=lambda i: (-scores[i], i))[: int(fraction * 40 + 0.5)]
    assert kept == sorted(expected)


def test_token_budget_rule_keeps_the_longest_prefix_that_fits():
    scores = np.array([3.0, 2.0, 1.0, 0.0])
    tokens = np.array([10, 10, 5, 1])
    idx = np.arange(4)
    rule = build_rule(SelectionConfig(token_budget=24), scores, idx * 0, idx, tokens)
    assert [rule.keeps(s, 0, i) for i, s in enumerate(scores)] == [True, True, False, False]
    empty = build_rule(SelectionConfig(token_budget=5), scores, idx * 0, idx, tokens)
    assert empty.n_keep == 0 and not empty.keeps(3.0, 0, 0)


def test_sub_configs_are_held_and_their_keys_may_be_written_flat():
    from rosetta_filter.config import RuntimeConfig, ScoringConfig, validate_config
    from rosetta_filter.errors import ConfigError

    flat = ScoringConfig.model_validate({"max_tokens": 64, "pooling": "max"})
    nested = ScoringConfig.model_validate({"tokens": {"max_tokens": 64}, "pooling": "max"})
    assert flat == nested and flat.tokens.max_tokens == 64
    assert RuntimeConfig(batch_tokens=256).batching.batch_tokens == 256
    with pytest.raises(ConfigError, match="given both flat and under tokens"):
        validate_config({"tokens": {"max_tokens": 8}, "max_tokens": 9}, ScoringConfig)
    with pytest.raises(ConfigError, match="max_tokens"):
        validate_config({"max_tokens": 1}, ScoringConfig)  # the sub-config's own checks apply
