"""Source-disjoint neuron choice and domain heads: planted ground truth, no model."""

from __future__ import annotations

import numpy as np
import pytest

from discovery.domain.heads import HeadSettings, fit_head
from discovery.domain.lofo import (
    LabelledDocs,
    domain_stats,
    family_folds,
    fold_plan,
    rank_neurons,
)
from discovery.errors import DiscoveryError
from rosetta_filter.evaluation.metrics import auroc


def _labels(per_family: dict[tuple[str, str], int]) -> LabelledDocs:
    domains = [d for (d, _), n in per_family.items() for _ in range(n)]
    families = [f for (_, f), n in per_family.items() for _ in range(n)]
    return LabelledDocs(np.asarray(domains), np.asarray(families))


def test_auroc_matches_the_pairwise_definition():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 4, size=(30, 3)).astype(float)  # ties on purpose
    positive = rng.random(30) < 0.4
    pos, neg = values[positive], values[~positive]
    expected = [
        np.mean([(p > n) + 0.5 * (p == n) for p in pos[:, j] for n in neg[:, j]]) for j in range(3)
    ]
    assert np.allclose(auroc(values, positive), expected)


def test_a_source_specific_neuron_loses_to_a_domain_general_one():
    """Neuron 0 knows family f1 only (perfect on it); neuron 1 knows the domain (slightly
    noisy everywhere). Ranked on f1 alone, 0 wins; source-disjoint, 1 must win, and 1 is also
    the better neuron on a family that neither ranking saw (f4)."""
    rng = np.random.default_rng(1)
    sizes = {("code", "f1"): 40, ("code", "f2"): 40, ("code", "f3"): 40, ("prose", "g1"): 60}
    sizes |= {("prose", "g2"): 60, ("code", "f4"): 40}
    labels = _labels(sizes)
    code = labels.domains == "code"
    f1 = labels.families == "f1"
    specific = np.where(f1, 5.0, 0.0) + rng.normal(0, 0.3, len(code))
    general = np.where(code, 1.0, 0.0) + rng.normal(0, 0.45, len(code))
    values = np.stack([specific, general], axis=1)

    probe = f1 | ~code  # what the old ranking saw: one family
    assert auroc(values[probe], code[probe])[0] == 1.0 > auroc(values[probe], code[probe])[1]

    choose = labels.families != "f4"
    chosen = LabelledDocs(labels.domains[choose], labels.families[choose])
    stats = domain_stats(values[choose], chosen, "code")
    assert stats.worst[0] < 0.7 < 0.9 < stats.worst[1]
    assert rank_neurons(stats, [0, 1]).tolist() == [1, 0]

    unseen = (labels.families == "f4") | ~code
    on_unseen = auroc(values[unseen], code[unseen])
    assert on_unseen[1] > 0.9 > 0.7 > on_unseen[0]


def test_family_folds_hold_out_one_family_of_every_domain():
    labels = _labels(
        {("a", "a1"): 3, ("a", "a2"): 3, ("a", "a3"): 3, ("b", "b1"): 2, ("b", "b2"): 2}
    )
    folds = family_folds(labels, "a")
    assert len(folds) == 3
    for i, held in enumerate(folds):
        assert set(labels.families[held & (labels.domains == "a")]) == {f"a{i + 1}"}
        assert set(labels.families[held & (labels.domains == "b")]) == {f"b{i % 2 + 1}"}


def test_every_negative_family_is_held_out_in_some_fold():
    """Legal has 2 families and prose 5: the three prose families past the second (the hard
    negatives, in sorted order) must each be unseen in a fold, once."""
    labels = _labels(
        {("legal", "l1"): 2, ("legal", "l2"): 2, **{("prose", f"p{k}"): 2 for k in range(1, 6)}}
    )
    folds = family_folds(labels, "legal")
    prose = [set(labels.families[held & (labels.domains == "prose")]) for held in folds]
    assert prose == [{"p1", "p3", "p5"}, {"p2", "p4"}]


def test_cross_validation_ranks_each_folds_candidates_without_its_held_out_family():
    """Neuron 0 is perfect on family f1 and noise on f2; neuron 1 is a noisy general detector.
    Ranked on every family, neuron 1 wins (worst family); a fold that holds out f2 has only f1
    to rank on, picks neuron 0 and must report the failure on f2, which a ranking that had
    seen f2 would hide."""
    rng = np.random.default_rng(3)
    labels = _labels(
        {("code", "f1"): 60, ("code", "f2"): 60, ("prose", "g1"): 40, ("prose", "g2"): 40}
    )
    code, f1 = labels.domains == "code", labels.families == "f1"
    specific = np.where(f1, 4.0, 0.0) + rng.normal(0, 0.3, len(code))
    general = np.where(code, 1.0, 0.0) + rng.normal(0, 0.5, len(code))
    values = np.stack([specific, general], axis=1)
    stats = domain_stats(values, labels, "code")
    assert rank_neurons(stats, [0, 1]).tolist() == [1, 0]
    plan = fold_plan(values, labels, "code")
    held_f2 = [i for i, m in enumerate(plan.held) if set(labels.families[m & code]) == {"f2"}]
    assert rank_neurons(plan.train_stats[held_f2[0]], [0, 1]).tolist() == [0, 1]
    head = fit_head(values, labels, "code", stats, np.arange(2), HeadSettings(candidates=1))
    assert head.columns == [1]  # the final head ranks on every family
    assert head.fold_auroc[held_f2[0]] < 0.75 < 0.85 < head.fold_auroc[1 - held_f2[0]]


def test_one_family_is_refused():
    labels = _labels({("a", "a1"): 3, ("b", "b1"): 3})
    with pytest.raises(DiscoveryError, match="at least 2"):
        domain_stats(np.zeros((6, 2)), labels, "a")


def test_the_strength_is_the_best_left_out_family_among_those_under_the_cap():
    """A strength whose fit on every document keeps more than ``max_neurons`` is never chosen;
    among the others the best worst fold wins, and the head is the same as one fit with that
    strength alone (the final fit is the chosen strength's, on every document)."""
    rng = np.random.default_rng(3)
    n, d = 600, 30
    x = rng.normal(size=(n, d))
    y = rng.random(n) < 1 / (1 + np.exp(-(x[:, :12] @ rng.uniform(0.3, 1.0, 12))))
    families = np.asarray([f"{'p' if t else 'n'}{i % 3}" for i, t in enumerate(y)])
    labels = LabelledDocs(np.where(y, "dom", "rest"), families)
    stats, pool = domain_stats(x, labels, "dom"), np.arange(d)

    def fit(strengths: tuple[float, ...], cap: int = 8):
        settings = HeadSettings(max_neurons=cap, candidates=d, strengths=strengths)
        return fit_head(x, labels, "dom", stats, pool, settings)

    weak, strong = fit((1.0,), cap=d), fit((0.003,), cap=d)
    assert len(strong.columns) <= 8 < len(weak.columns)  # 1.0 keeps too many for a cap of 8
    both = fit((0.003, 1.0))
    assert both.strength == 0.003 and both == strong
    # every strength over the cap: the strongest is cross-validated, its 8 largest weights kept
    capped = fit((0.3, 1.0))
    assert capped.strength == 0.3 and len(capped.columns) == 8


def test_the_head_recovers_planted_weights():
    rng = np.random.default_rng(0)
    n, d = 900, 40
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, d) + rng.uniform(-2, 2, d)
    z = (x - x.mean(0)) / x.std(0)
    logit = 2.0 * z[:, 3] - 1.5 * z[:, 7] + 1.0 * z[:, 12]
    y = rng.random(n) < 1 / (1 + np.exp(-3 * logit))
    families = np.asarray([f"{'p' if t else 'n'}{i % 3}" for i, t in enumerate(y)])
    labels = LabelledDocs(np.where(y, "dom", "rest"), families)
    stats = domain_stats(x, labels, "dom")
    head = fit_head(x, labels, "dom", stats, np.arange(d), HeadSettings(max_neurons=8))
    weights = dict(zip(head.columns, head.weights, strict=True))
    top3 = sorted(weights, key=lambda c: -abs(weights[c]))[:3]
    assert sorted(top3) == [3, 7, 12]
    assert weights[3] > 0 > weights[7] and weights[12] > 0
    assert abs(weights[3] / weights[7]) == pytest.approx(2 / 1.5, rel=0.35)
    assert len(head.columns) <= 8 and head.worst > 0.9
    # the head's own normalisation reproduces its training-time scores
    raw = x[:, head.columns]
    score = head.intercept + ((raw - head.norm_mean) / head.norm_std) @ np.asarray(head.weights)
    assert auroc(score[:, None], y)[0] > 0.9
