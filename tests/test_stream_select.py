"""The streamed (radix) selection cut equals the in-memory one, bit for bit, whatever the ties,
the shard boundaries and the memory allowed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rosetta_filter.config import SelectionConfig
from rosetta_filter.filtering.selection import build_rule
from rosetta_filter.filtering.stream_select import Columns, descending_key, streamed_rule


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
