"""Which neurons a head may choose from: the best anywhere, or round-robin over layers."""

from __future__ import annotations

import numpy as np
import pytest

from discovery.domain.heads import HeadSettings, candidate_columns, fit_head
from discovery.domain.lofo import DomainStats, LabelledDocs, domain_stats, fold_plan
from discovery.errors import DiscoveryError


def _stats(worst: list[float]) -> DomainStats:
    w = np.asarray(worst)
    return DomainStats({}, w, w, np.zeros_like(w))


def test_per_layer_takes_every_layers_best_before_any_layers_second_best() -> None:
    # columns 0-3 at layer 0, 4-7 at layer 1; layer 1 holds the four best
    stats = _stats([0.5, 0.6, 0.7, 0.55, 0.9, 0.95, 0.8, 0.85])
    layers = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    pool = np.arange(8)
    best = candidate_columns(stats, pool, layers, HeadSettings(candidates=4))
    assert best.tolist() == [5, 4, 7, 6]
    spread = HeadSettings(candidates=4, candidate_order="per_layer")
    assert candidate_columns(stats, pool, layers, spread).tolist() == [2, 5, 1, 4]
    with pytest.raises(DiscoveryError, match="layer"):
        candidate_columns(stats, pool, None, spread)
    with pytest.raises(DiscoveryError, match="candidate order"):
        candidate_columns(stats, pool, layers, HeadSettings(candidate_order="deepest"))


def test_per_layer_candidates_let_the_head_reach_a_shallow_complementary_neuron() -> None:
    """Layer 1 holds four near-copies of one signal that is strong on three code families and
    weaker on f0; layer 0 holds one neuron that is moderate on every family (a little worse
    than the copies by worst-family AUROC). The two best candidates overall are two copies,
    which add nothing to each other; one candidate per layer offers the shallow neuron, and the
    head with it holds better on the family the copies are weak on."""
    rng = np.random.default_rng(3)
    sizes = {("code", f"f{i}"): 60 for i in range(4)} | {("prose", f"g{i}"): 60 for i in range(3)}
    domains = np.array([d for (d, _), n in sizes.items() for _ in range(n)])
    families = np.array([f for (_, f), n in sizes.items() for _ in range(n)])
    labels = LabelledDocs(domains, families)
    code = domains == "code"
    moderate = np.where(code, 1.0, 0.0) + rng.normal(0, 0.7, len(code))  # layer 0
    strong = np.where(code, np.where(families == "f0", 0.8, 2.0), 0.0) + rng.normal(
        0, 0.5, len(code)
    )
    copies = [strong + rng.normal(0, 0.01, len(code)) for _ in range(4)]  # layer 1
    values = np.stack([moderate, *copies], axis=1)
    layers = np.array([0, 1, 1, 1, 1])
    stats = domain_stats(values, labels, "code")
    assert stats.worst[0] < stats.worst[1:].min()  # the copies rank first overall
    plan = fold_plan(values, labels, "code")
    pool = np.arange(5)
    best = fit_head(values, labels, "code", stats, pool, HeadSettings(candidates=2), plan, layers)
    spread = HeadSettings(candidates=2, candidate_order="per_layer")
    per_layer = fit_head(values, labels, "code", stats, pool, spread, plan, layers)
    assert 0 not in best.columns and 0 in per_layer.columns
    assert per_layer.worst > best.worst + 0.02
