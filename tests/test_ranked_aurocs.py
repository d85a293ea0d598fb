"""Per-family AUROCs from ranks sorted once equal the rank-sum AUROC of each subset exactly."""

import numpy as np
import pytest

from discovery.domain.lofo import LabelledDocs, domain_stats, fold_plan
from discovery.domain.ranked import RankedMatrix
from rosetta_filter.evaluation.metrics import auroc


def _dense_dprime(values: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """d' from the rows themselves: the definition the per-family sums must reproduce."""
    pos, neg = values[positive], values[~positive]
    spread = np.sqrt((pos.var(axis=0) + neg.var(axis=0)) / 2)
    diff = pos.mean(axis=0) - neg.mean(axis=0)
    return np.divide(diff, spread, out=np.zeros_like(diff), where=spread > 0)


def _tied_matrix(rng: np.random.Generator) -> np.ndarray:
    x = rng.integers(0, 5, size=(240, 40)).astype(np.float32)  # heavy ties
    x[:, :8] = rng.normal(size=(240, 8))
    x[:, 8] = 1.0  # a constant column
    return x


def test_every_family_auroc_equals_the_rank_sum_auroc_of_its_subset() -> None:
    rng = np.random.default_rng(0)
    x = _tied_matrix(rng)
    negative = rng.random(240) < 0.6
    positives = [~negative & (rng.random(240) < 0.4) for _ in range(3)] + [np.zeros(240, bool)]
    got = RankedMatrix.of(x, chunk_columns=7).aurocs(negative, positives)  # chunks split columns
    for k, positive in enumerate(positives):
        rows = negative | positive
        assert np.array_equal(got[k], auroc(x[rows], positive[rows]))
    assert np.all(got[3] == 0.5)  # an empty family: 0.5, as auroc() gives


def test_a_row_subset_needs_only_masks_and_no_negatives_gives_one_half() -> None:
    rng = np.random.default_rng(1)
    x = _tied_matrix(rng)
    ranked = RankedMatrix.of(x)
    rows = rng.random(240) < 0.5
    negative, positive = rng.random(240) < 0.5, rng.random(240) < 0.3
    positive &= ~negative
    keep = (negative | positive)[rows]
    got = ranked.aurocs(negative & rows, [positive & rows])[0]  # the whole matrix's ranks
    assert np.array_equal(got, auroc(x[rows][keep], positive[rows][keep]))
    assert np.all(ranked.aurocs(np.zeros(240, bool), [positive])[0] == 0.5)


def test_domain_statistics_with_shared_ranks_equal_fresh_ones() -> None:
    rng = np.random.default_rng(2)
    x = _tied_matrix(rng)
    labels = LabelledDocs(
        np.array(["a", "b", "c"] * 80),
        np.array([f"f{i % 4}" for i in range(240)]),
    )
    ranked = RankedMatrix.of(x)
    shared, fresh = domain_stats(x, labels, "a", ranked=ranked), domain_stats(x, labels, "a")
    assert shared.family_auroc.keys() == fresh.family_auroc.keys()
    assert all(
        np.array_equal(shared.family_auroc[f], fresh.family_auroc[f]) for f in fresh.family_auroc
    )
    plan = fold_plan(x, labels, "a", ranked)
    for mask, stats in zip(plan.held, plan.train_stats, strict=True):
        train = LabelledDocs(labels.domains[~mask], labels.families[~mask])
        alone = domain_stats(x[~mask], train, "a", min_families=1)
        assert np.array_equal(stats.worst, alone.worst)
        assert stats.family_auroc.keys() == alone.family_auroc.keys()
        # the fold's d' from per-family sums equals the rows' own (in float64), to rounding
        exact = _dense_dprime(x[~mask].astype(np.float64), train.domains == "a")
        np.testing.assert_allclose(stats.dprime, exact, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(alone.dprime, exact, rtol=1e-9, atol=1e-12)


def test_ranks_relative_to_a_universe_give_the_same_aurocs_to_the_bit() -> None:
    rng = np.random.default_rng(3)
    x = _tied_matrix(rng)
    universe = rng.random(240) < 0.3
    negative = ~universe & (rng.random(240) < 0.8)
    positives = [universe & (rng.random(240) < 0.5) for _ in range(3)]
    full = RankedMatrix.of(x, chunk_columns=7)
    relative = full.relative_to(universe)
    assert relative.levels == 2 * int(universe.sum()) + 1
    assert relative.ranks.dtype == np.int16 and relative.ranks.max() < relative.levels
    assert np.array_equal(relative.aurocs(negative, positives), full.aurocs(negative, positives))
    # negatives may be universe rows too (a fold's training part is any subset of rows)
    mixed = negative | (universe & ~positives[0])
    assert np.array_equal(relative.aurocs(mixed, positives[:1]), full.aurocs(mixed, positives[:1]))
    with pytest.raises(ValueError, match="outside the universe"):
        relative.aurocs(negative, [~universe & ~negative])
