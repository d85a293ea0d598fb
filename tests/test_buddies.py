"""Best buddies (mutual top-k), Rosetta groups across partners, and their consistency."""

from __future__ import annotations

import numpy as np
import pytest

from discovery.correlate.buddies import (
    BuddyPairs,
    best_buddies,
    compare_pairs,
    groups_to_arrow,
    mark_consistency,
    rosetta_groups,
)
from discovery.correlate.correlation import CorrelationResult, TopK, array_source
from discovery.correlate.pruning import correlate_pruned
from discovery.datapass.layout import ColumnLayout
from discovery.errors import DiscoveryError

pytestmark = pytest.mark.usefixtures("one_thread")  # modest CPU on a shared machine


def _result(anchor_idx, anchor_val, partner_idx, partner_val):
    return CorrelationResult(
        anchor_top=TopK(np.array(anchor_val, np.float32), np.array(anchor_idx, np.int64)),
        partner_top=TopK(np.array(partner_val, np.float32), np.array(partner_idx, np.int64)),
        n_spans=100,
        method="exhaustive",
    )


def test_best_buddies_are_mutual_and_above_min_r():
    # anchor 0 <-> partner 1 mutual (0.9); anchor 1 -> partner 1 but partner 1 prefers anchor 0;
    # anchor 2 <-> partner 0 mutual but r = 0.2.
    result = _result(
        anchor_idx=[[1, 0], [1, 2], [0, 2]],
        anchor_val=[[0.9, 0.1], [0.5, 0.4], [0.2, 0.1]],
        partner_idx=[[2, 1], [0, 1], [1, 0]],
        partner_val=[[0.2, 0.1], [0.9, 0.5], [0.4, 0.0]],
    )
    pairs = best_buddies(result, "a", "b", min_r=0.0)
    assert pairs.as_set() == {(0, 1), (2, 0)}
    assert best_buddies(result, "a", "b", min_r=0.3).as_set() == {(0, 1)}
    # With k = 2, anchor 1 and partner 1 are in each other's top 2; so are 1 and 2.
    assert best_buddies(result, "a", "b", k=2).as_set() == {(0, 1), (1, 1), (1, 2), (2, 0)}
    with pytest.raises(DiscoveryError, match="re-run correlation with k=3"):
        best_buddies(result, "a", "b", k=3)


def test_compare_pairs_gives_recall_and_precision():
    ref = BuddyPairs("a", "b", np.array([0, 1, 2]), np.array([5, 6, 7]), np.ones(3, np.float32))
    got = BuddyPairs("a", "b", np.array([0, 1, 3]), np.array([5, 6, 9]), np.ones(3, np.float32))
    assert compare_pairs(ref, got) == pytest.approx((2 / 3, 2 / 3))


def _units_model(units, columns, noise, rng):
    """A model whose neuron j copies latent unit columns[j] (or is pure noise if -1)."""
    n = units.shape[0]
    out = noise * rng.standard_normal((n, len(columns)))
    for j, u in enumerate(columns):
        if u >= 0:
            out[:, j] += units[:, u]
    return out.astype(np.float32)


def test_rosetta_groups_need_a_buddy_in_every_partner_and_are_consistent():
    rng = np.random.default_rng(0)
    units = rng.gamma(0.3, 1.0, size=(3000, 12))  # sparse, skewed "features"
    anchor = _units_model(units, [0, 1, 2, 3, 4, -1, -1, 5], 0.3, rng)
    p1 = _units_model(units, [-1, 4, 3, 2, 1, 0, 9], 0.3, rng)  # lacks unit 5
    p2 = _units_model(units, [5, 0, 1, 2, 3, 11, -1, 4], 0.3, rng)
    corr = lambda x, y: correlate_pruned(array_source(x, y, 500), candidates=4)  # noqa: E731
    pairs = [
        best_buddies(corr(anchor, p1), "anc", "p1", min_r=0.5),
        best_buddies(corr(anchor, p2), "anc", "p2", min_r=0.5),
    ]
    groups = rosetta_groups("anc", pairs)
    assert [g.anchor_neuron for g in groups] == [0, 1, 2, 3, 4]  # unit 5 missing in p1
    assert groups[0].partners == {"p1": 5, "p2": 1}
    assert all(g.consistent is None and g.mean_r > 0.7 for g in groups)
    checked = mark_consistency(groups, [best_buddies(corr(p2, p1), "p2", "p1", min_r=0.5)])
    assert all(g.consistent for g in checked)
    layouts = {
        "anc": ColumnLayout.of([4, 4]),
        "p1": ColumnLayout.of([7]),
        "p2": ColumnLayout.of([2, 6]),
    }
    table = groups_to_arrow(checked, layouts)
    assert table.num_rows == 15
    first = table.slice(0, 3).to_pylist()
    assert [(row["model"], row["role"], row["neuron"]) for row in first] == [
        ("anc", "anchor", "L0.N0"),
        ("p1", "partner", "L0.N5"),
        ("p2", "partner", "L0.N1"),
    ]
    pair_table = pairs[1].to_arrow(layouts["anc"], layouts["p2"])
    assert pair_table.column("neuron_b").to_pylist()[:2] == ["L0.N1", "L1.N0"]


def test_group_whose_partners_disagree_is_inconsistent():
    one = np.ones(2, np.float32)
    pairs = [
        BuddyPairs("anc", "p1", np.array([0, 1]), np.array([10, 11]), one),
        BuddyPairs("anc", "p2", np.array([0, 1]), np.array([20, 21]), one),
    ]
    between = BuddyPairs("p1", "p2", np.array([10, 11]), np.array([20, 99]), one)
    groups = mark_consistency(rosetta_groups("anc", pairs), [between])
    assert [g.consistent for g in groups] == [True, False]


def test_rosetta_groups_reject_single_partner_and_missing_partner_pair():
    one = np.ones(1, np.float32)
    p1 = BuddyPairs("anc", "p1", np.array([0]), np.array([1]), one)
    p2 = BuddyPairs("anc", "p2", np.array([0]), np.array([1]), one)
    with pytest.raises(DiscoveryError, match=">= 2 distinct partner models"):
        rosetta_groups("anc", [p1])
    with pytest.raises(DiscoveryError, match="same anchor"):
        rosetta_groups("other", [p1, p2])
    with pytest.raises(DiscoveryError, match="correlate p1 \\(as anchor\\) with p2"):
        mark_consistency(rosetta_groups("anc", [p1, p2]), [])
