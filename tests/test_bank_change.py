"""Comparing two banks on paired, repeatedly dealt folds: planted ground truth, no model."""

from __future__ import annotations

import numpy as np
import pytest

from discovery.domain.bank_change import compare_banks, compare_domain, dealt_aurocs
from discovery.domain.heads import HeadSettings
from discovery.domain.lofo import LabelledDocs, family_folds
from discovery.errors import DiscoveryError

SETTINGS = HeadSettings(max_neurons=4, candidates=8, strengths=(0.1, 1.0))


def _labels(per_family: dict[tuple[str, str], int]) -> LabelledDocs:
    domains = [d for (d, _), n in per_family.items() for _ in range(n)]
    families = [f for (_, f), n in per_family.items() for _ in range(n)]
    return LabelledDocs(np.asarray(domains), np.asarray(families))


def _held(labels: LabelledDocs, folds: list[np.ndarray], domain: str) -> list[set[str]]:
    return [set(labels.families[m & (labels.domains == domain)].tolist()) for m in folds]


SIZES = {("a", f"a{k}"): 4 for k in range(1, 5)} | {("b", f"b{k}"): 3 for k in range(1, 8)}


def test_a_seeded_dealing_is_a_fixed_permutation_that_still_holds_out_every_family():
    labels = _labels(SIZES)
    name_order = family_folds(labels, "a")
    dealt = [family_folds(labels, "a", shuffle_seed=s) for s in range(6)]
    for folds in dealt:
        assert sorted(f for held in _held(labels, folds, "a") for f in held) == [
            "a1",
            "a2",
            "a3",
            "a4",
        ]
        assert set().union(*_held(labels, folds, "b")) == {f"b{k}" for k in range(1, 8)}
    again = family_folds(labels, "a", shuffle_seed=3)
    assert all((x == y).all() for x, y in zip(again, dealt[3], strict=True))
    groupings = {tuple(sorted(map(frozenset, _held(labels, f, "b")))) for f in dealt}
    assert len(groupings) > 1  # the dealings differ in which negatives share a fold
    assert _held(labels, name_order, "b") == [{"b1", "b5"}, {"b2", "b6"}, {"b3", "b7"}, {"b4"}]


def test_a_train_only_family_is_never_held_out_and_the_other_folds_do_not_move():
    """Bank B has one more family of b than bank A: with it train-only, every fold of every
    dealing holds out the same documents of the common families in both banks."""
    labels_a = _labels(SIZES)
    labels_b = _labels(SIZES | {("b", "b8"): 3})
    for seed in (None, 0, 1):
        fa = family_folds(labels_a, "a", shuffle_seed=seed, train_only={"b8"})
        fb = family_folds(labels_b, "a", shuffle_seed=seed, train_only={"b8"})
        common = labels_b.families != "b8"
        assert not any(m[~common].any() for m in fb)
        assert all((x == y[common]).all() for x, y in zip(fa, fb, strict=True))
    assert len(family_folds(_labels(SIZES | {("a", "a5"): 4}), "a", train_only={"a5"})) == 4


def _planted(rng: np.random.Generator, labels: LabelledDocs, poisoned: str | None = None):
    """Column 0 knows domain a (a general detector); columns 1-7 are noise. A ``poisoned``
    family is labelled a but looks like b: a head fitted with it learns a weaker detector."""
    signal = (labels.domains == "a") & (labels.families != poisoned)
    general = np.where(signal, 1.0, 0.0) + rng.normal(0, 0.6, len(signal))
    return np.column_stack([general, rng.normal(size=(len(signal), 7))])


def test_the_same_bank_against_itself_differs_by_exactly_nothing():
    labels = _labels({k: 3 * v for k, v in SIZES.items()})
    values = _planted(np.random.default_rng(0), labels)
    per_layer = HeadSettings(max_neurons=4, candidates=4, candidate_order="per_layer")
    layers = np.arange(values.shape[1]) // 2
    change = compare_banks(
        (values, labels), (values, labels), per_layer, seeds=[0, 1, 2], layers=layers
    )["a"]
    assert change.difference == change.low == change.high == 0.0
    assert change.families == ["a1", "a2", "a3", "a4"]
    assert change.assignment_sd_a == change.assignment_sd_b >= 0.0


def test_a_harmful_family_is_caught_and_a_harmless_one_passes():
    """B adds a family labelled a that reads as b (mislabelled data): scored on the same folds,
    its head separates a from b worse; C adds a clean family of a and is no worse."""
    rng = np.random.default_rng(4)
    sizes = {k: 8 * v for k, v in SIZES.items()}
    labels_a = _labels(sizes)
    values_a = _planted(rng, labels_a)
    labels_b = _labels(sizes | {("a", "bad"): 600})
    values_b = np.vstack([values_a, _planted(rng, _labels({("a", "bad"): 600}), "bad")])
    labels_c = _labels(sizes | {("a", "good"): 60})
    values_c = np.vstack([values_a, _planted(rng, _labels({("a", "good"): 60}))])
    seeds = [0, 1]
    harmful = compare_banks((values_a, labels_a), (values_b, labels_b), SETTINGS, seeds, workers=2)[
        "a"
    ]
    harmless = compare_banks((values_a, labels_a), (values_c, labels_c), SETTINGS, seeds)["a"]
    assert harmful.families == harmless.families == ["a1", "a2", "a3", "a4"]
    assert harmful.high < -0.01 and not harmful.non_inferior(0.01)
    assert harmless.non_inferior(0.01)
    assert harmful.low <= harmful.difference <= harmful.high


def test_unpaired_folds_are_refused():
    labels = _labels({k: 3 * v for k, v in SIZES.items()})
    values = _planted(np.random.default_rng(1), labels)
    one = dealt_aurocs(values, labels, "a", SETTINGS, seeds=[0])
    other = dealt_aurocs(values, labels, "a", SETTINGS, seeds=[1])
    with pytest.raises(DiscoveryError, match="train_only"):
        compare_domain(one, other)


def test_another_anchor_is_compared_on_the_same_folds():
    """B reads another model: more columns, another layer layout, the domain's detector at
    another column and sharper. Its own layers are used (per_layer candidates need them), the
    folds stay paired by family, and the sharper detector is found better."""
    rng = np.random.default_rng(7)
    labels = _labels({k: 4 * v for k, v in SIZES.items()})
    values_a = _planted(rng, labels)
    sharp = np.where(labels.domains == "a", 1.0, 0.0) + rng.normal(0, 0.15, len(labels.domains))
    values_b = np.column_stack(
        [rng.normal(size=(len(sharp), 9)), sharp, rng.normal(size=(len(sharp), 2))]
    )
    per_layer = HeadSettings(max_neurons=4, candidates=4, candidate_order="per_layer")
    layers = (np.arange(values_a.shape[1]) // 2, np.arange(values_b.shape[1]) // 3)
    change = compare_banks(
        (values_a, labels), (values_b, labels), per_layer, seeds=[0, 1], layers=layers
    )["a"]
    assert change.families == ["a1", "a2", "a3", "a4"]
    assert change.mean_b > change.mean_a and change.low > 0
