"""The streamed (radix) selection cut equals the in-memory one, bit for bit, whatever the ties,
the shard boundaries and the memory allowed; a streamed mixture equals the mixture by sorting."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rosetta_filter.config import REST_BUCKET, SelectionConfig
from rosetta_filter.filtering.selection import (
    BucketCut,
    MixtureRule,
    build_rule,
    claim_codes,
    rest_key,
)
from rosetta_filter.filtering.stream_select import (
    Columns,
    SetColumns,
    descending_key,
    streamed_mixture_rule,
    streamed_rule,
)


def _shards(scores, units, indexes, tokens, cuts) -> list[Columns]:
    bounds = [0, *cuts, len(scores)]
    return [
        Columns(scores[a:b], units[a:b], indexes[a:b], tokens[a:b])
        for a, b in itertools.pairwise(bounds)
    ]


def _corpus(seed: int, n: int, distinct: int | None):
    """Scores with heavy ties (``distinct`` values, incl. -0.0 and 0.0) or a continuous spread,
    in shuffled order over several units."""
    rng = np.random.default_rng(seed)
    if distinct is None:
        scores = rng.normal(size=n)
    else:
        values = np.concatenate([[0.0, -0.0, -1e-300, 1e300], rng.normal(size=distinct)])
        scores = rng.choice(values, size=n)
    units = rng.integers(0, 70_000, size=n)  # unit numbers above one 16-bit digit
    indexes = rng.integers(0, 1 << 40, size=n)
    pairs = np.unique(np.stack([units, indexes], 1), axis=0)  # (unit, index) is unique
    rng.shuffle(pairs)
    n = len(pairs)
    tokens = rng.integers(1, 500, size=n)
    return scores[:n], pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64), tokens


@pytest.mark.parametrize("distinct", [None, 3, 1])
@pytest.mark.parametrize("in_memory_rows", [0, 7, 1 << 20])
def test_the_streamed_cut_is_the_in_memory_cut(distinct, in_memory_rows):
    scores, units, indexes, tokens = _corpus(seed=len(str(distinct)), n=3000, distinct=distinct)
    shards = _shards(scores, units, indexes, tokens, cuts=[1, 500, 501, 2200])
    reads = []

    def read():
        reads.append(1)
        return shards

    for selection in (
        SelectionConfig(keep_fraction=0.3),
        SelectionConfig(keep_fraction=1.0),
        SelectionConfig(keep_fraction=1e-9),
        SelectionConfig(token_budget=int(tokens.sum() * 0.4)),
        SelectionConfig(token_budget=int(tokens.sum()) * 2),  # everything fits
        SelectionConfig(token_budget=1),  # nothing fits
    ):
        expected = build_rule(selection, scores, units, indexes, tokens)
        assert streamed_rule(selection, read, in_memory_rows) == expected, selection
    if in_memory_rows == 0:  # every digit was resolved by passes, none by a sort
        assert len(reads) > 6 * 4


def test_descending_keys_order_scores_from_high_to_low_and_zero_signs_alike():
    scores = np.array([np.inf, 3.5, 1e-300, 0.0, -0.0, -1e-300, -2.0, -np.inf])
    keys = descending_key(scores)
    assert list(np.argsort(keys, kind="stable")) == list(range(8))
    assert keys[3] == keys[4]


def test_nothing_scored_keeps_nothing():
    empty = Columns(*(np.zeros(0, dtype=t) for t in (np.float64, np.int64, np.int64, np.int64)))
    rule = streamed_rule(SelectionConfig(keep_fraction=0.5), lambda: [empty])
    assert rule.n_keep == 0 and rule.cut_score is None


def _mixture_by_sorting(cfg: SelectionConfig, sets, units, indexes, tokens) -> MixtureRule:
    """The mixture rule by its definition: claim each document with the per-record
    ``MixtureRule.claim``, sort each bucket, take the longest prefix within its share."""
    thresholds = {n: float(cfg.thresholds.get(n, 0.0)) for n in cfg.mixture if n != REST_BUCKET}
    rule = MixtureRule(thresholds, {}, cfg.seed)
    buckets = {}
    for name, share in cfg.mixture.items():
        rows = []
        for i in range(len(units)):
            if rule.claim({n: float(sets[n][i]) for n in thresholds}) != name:
                continue
            u, x = int(units[i]), int(indexes[i])
            key = rest_key(cfg.seed, u, x) if name == REST_BUCKET else -float(sets[name][i])
            rows.append((key + 0.0, u, x, int(tokens[i]), key))
        rows.sort(key=lambda r: r[:3])
        target, used, kept = int(share * cfg.token_budget), 0, 0
        while kept < len(rows) and used + rows[kept][3] <= target:
            used, kept = used + rows[kept][3], kept + 1
        last = rows[kept - 1] if kept else None
        buckets[name] = (
            BucketCut(target, used, kept, last[4], last[1], last[2]) if last else BucketCut(target)
        )
    return MixtureRule(thresholds, buckets, cfg.seed)


@pytest.mark.parametrize("in_memory_rows", [0, 5, 1 << 20])
def test_the_streamed_mixture_is_the_mixture_by_sorting(in_memory_rows):
    scores, units, indexes, tokens = _corpus(seed=4, n=1200, distinct=4)
    rng = np.random.default_rng(5)
    sets = {"ex": scores, "plain": rng.choice([0.0, 0.5, 1.0, np.nan], size=len(scores))}
    bounds = [0, 1, 300, 301, 900, len(scores)]
    shards = [
        SetColumns({n: v[a:b] for n, v in sets.items()}, units[a:b], indexes[a:b], tokens[a:b])
        for a, b in itertools.pairwise(bounds)
    ]
    total = int(tokens.sum())
    for cfg in (
        SelectionConfig(
            token_budget=total // 3,
            mixture={"ex": 0.5, "plain": 0.3, "rest": 0.2},
            thresholds={"ex": 0.0, "plain": 0.5},
        ),
        SelectionConfig(token_budget=total * 2, mixture={"plain": 0.6, "ex": 0.4}),
        SelectionConfig(token_budget=1, mixture={"ex": 0.5, "rest": 0.5}),
    ):
        expected = _mixture_by_sorting(cfg, sets, units, indexes, tokens)
        claimers = [n for n in cfg.mixture if n != "rest"]
        thresholds = {n: cfg.thresholds.get(n, 0.0) for n in claimers}  # logits: p = 0.5
        got = streamed_mixture_rule(cfg, thresholds, lambda: shards, in_memory_rows)
        assert got == expected, cfg
    assert sum(c.n_keep for c in got.buckets.values()) == 0  # a 1-token budget keeps nothing


def test_the_vectorised_claim_is_the_per_record_claim():
    rng = np.random.default_rng(6)
    sets = {n: rng.choice([-1.0, 0.0, 0.2, 0.7, np.nan], size=500) for n in ("a", "b", "c")}
    thresholds = {"a": 0.0, "b": 0.2, "c": -0.5}
    codes = claim_codes(sets, thresholds, 500)
    rule = MixtureRule(thresholds, {}, 0)
    names = list(thresholds)
    for i, code in enumerate(codes):
        claimed = rule.claim({n: float(sets[n][i]) for n in names})
        assert claimed == (REST_BUCKET if code == -1 else names[code])
    assert (codes == -1).any() and len(set(codes.tolist())) == 4
