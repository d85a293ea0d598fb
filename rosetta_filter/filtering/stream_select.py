"""Exact top-k and token-budget cuts over scores that do not fit in memory: a radix select.

``build_rule`` ranks every score in one array: ~28 bytes per scored document in the driver,
28 GB for a billion documents. This finds the same cut with passes over the attribute shards
instead, holding only histograms: each pass reads the columns (score, unit, index, tokens) of one
shard at a time and counts the documents (and tokens) of the current candidate group per value
of the next 16 bits of the sort key ``(-score, unit, index)``; the digit where the cut falls
becomes the next group. Once a group has at most ``in_memory_rows`` documents it is gathered and
finished with a sort. A spread of scores needs one or two passes; ties (equal scores) are
resolved by the unit and index digits, so even a constant score costs a bounded number of passes
(at most 12), never memory. The result is bit-for-bit the rule ``build_rule`` computes.

A mixture is the same cut per bucket: each bucket reads only the documents it claims, ordered by
its domain's score (``rest`` by its seeded key), and keeps the longest prefix within its share of
the token budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from rosetta_filter.config import REST_BUCKET, SelectionConfig
from rosetta_filter.filtering.selection import (
    BucketCut,
    MixtureRule,
    SelectionRule,
    claim_codes,
    rest_key,
)

DIGIT_BITS = 16
_DIGITS_PER_WORD = 64 // DIGIT_BITS
LEVELS = 3 * _DIGITS_PER_WORD  # (score key, unit, index): three 64-bit words
_SIGN = np.uint64(1 << 63)


@dataclass(frozen=True, slots=True)
class Columns:
    """One shard's scored documents (no NaN scores), parallel arrays."""

    scores: np.ndarray  # float64
    units: np.ndarray  # int64 >= 0
    indexes: np.ndarray  # int64 >= 0
    tokens: np.ndarray  # int64


@dataclass(frozen=True, slots=True)
class SetColumns:
    """One shard's scored documents with each tagged domain's score, parallel arrays."""

    set_scores: dict[str, np.ndarray]  # domain -> float64 (NaN: not scored for it)
    units: np.ndarray
    indexes: np.ndarray
    tokens: np.ndarray


Reader = Callable[[], Iterable[Columns]]  # a fresh pass over every shard
SetReader = Callable[[], Iterable[SetColumns]]


def descending_key(scores: np.ndarray) -> np.ndarray:
    """uint64 keys whose ascending order is descending score (``-0.0`` counts as ``0.0``)."""
    bits = (scores.astype(np.float64) + 0.0).view(np.uint64)
    ascending = np.where(bits & _SIGN, ~bits, bits | _SIGN)
    return ~ascending


def _words(c: Columns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return descending_key(c.scores), c.units.astype(np.uint64), c.indexes.astype(np.uint64)


def _digit(words: tuple[np.ndarray, ...], level: int) -> np.ndarray:
    word = words[level // _DIGITS_PER_WORD]
    shift = np.uint64(64 - DIGIT_BITS * (level % _DIGITS_PER_WORD + 1))
    return ((word >> shift) & np.uint64((1 << DIGIT_BITS) - 1)).astype(np.int64)


def _in_group(words: tuple[np.ndarray, ...], prefix: list[int]) -> np.ndarray:
    mask = np.ones(len(words[0]), dtype=bool)
    for level, value in enumerate(prefix):
        mask &= _digit(words, level) == value
    return mask


def _groups(read: Reader, prefix: list[int]) -> Iterator[tuple[tuple[np.ndarray, ...], Columns]]:
    """Each shard's documents inside the group ``prefix`` (their key words and columns)."""
    for c in read():
        words = _words(c)
        mask = _in_group(words, prefix)
        if mask.any():
            picked = Columns(c.scores[mask], c.units[mask], c.indexes[mask], c.tokens[mask])
            yield tuple(w[mask] for w in words), picked


def _histogram(read: Reader, prefix: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Documents and tokens of the group per value of its next digit."""
    counts = np.zeros(1 << DIGIT_BITS, dtype=np.int64)
    tokens = np.zeros(1 << DIGIT_BITS, dtype=np.int64)
    for words, c in _groups(read, prefix):
        digits = _digit(words, len(prefix))
        counts += np.bincount(digits, minlength=1 << DIGIT_BITS)
        weights = c.tokens.astype(np.float64)  # exact: a digit's tokens stay far below 2**53
        tokens += np.rint(np.bincount(digits, weights, minlength=1 << DIGIT_BITS)).astype(np.int64)
    return counts, tokens


def _gather(read: Reader, prefix: list[int]) -> Columns:
    parts = [c for _, c in _groups(read, prefix)]
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Columns(np.zeros(0), empty, empty, empty)
    fields = [_fields(p) for p in parts]
    return Columns(*(np.concatenate([f[i] for f in fields]) for i in range(4)))


def _fields(c: Columns) -> tuple[np.ndarray, ...]:
    return c.scores, c.units, c.indexes, c.tokens


def _sorted(c: Columns) -> np.ndarray:
    return np.lexsort((c.indexes, c.units, -(c.scores + 0.0)))


def kept_by_budget(read: Reader, budget: int, in_memory_rows: int) -> int:
    """How many documents the longest prefix of the ranking within ``budget`` tokens holds."""
    prefix: list[int] = []
    kept = 0
    while True:
        counts, tokens = _histogram(read, prefix) if len(prefix) < LEVELS else (None, None)
        if counts is None or int(counts.sum()) <= in_memory_rows:
            c = _gather(read, prefix)
            cumulative = np.cumsum(c.tokens[_sorted(c)])
            return kept + int(np.searchsorted(cumulative, budget, side="right"))
        before = np.cumsum(tokens) - tokens  # tokens of the digits before each digit
        crossing = np.flatnonzero(before + tokens > budget)
        if len(crossing) == 0:  # the whole group fits
            return kept + int(counts.sum())
        digit = int(crossing[0])
        kept += int(counts[:digit].sum())
        budget -= int(before[digit])
        prefix.append(digit)


def nth(read: Reader, n: int, in_memory_rows: int) -> tuple[float, int, int]:
    """(score, unit, index) of the ``n``-th document (1-based) in ranking order."""
    prefix: list[int] = []
    while True:
        counts = _histogram(read, prefix)[0] if len(prefix) < LEVELS else None
        if counts is None or int(counts.sum()) <= in_memory_rows:
            c = _gather(read, prefix)
            last = _sorted(c)[n - 1]
            return float(c.scores[last]), int(c.units[last]), int(c.indexes[last])
        cumulative = np.cumsum(counts)
        digit = int(np.searchsorted(cumulative, n, side="left"))
        n -= int(cumulative[digit] - counts[digit])
        prefix.append(digit)


def streamed_rule(
    cfg: SelectionConfig, read: Reader, in_memory_rows: int = 1 << 20
) -> SelectionRule:
    """The :class:`SelectionRule` of ``build_rule`` for ``keep_fraction`` / ``token_budget``,
    computed in passes over ``read()`` with memory bounded by ``in_memory_rows`` documents."""
    if cfg.mode == "threshold":
        return SelectionRule("threshold", threshold=cfg.threshold)
    scored = sum(len(c.scores) for c in read())
    if cfg.mode == "keep_fraction":
        n_keep = min(scored, max(1, math.floor(cfg.keep_fraction * scored + 0.5)))
    else:
        n_keep = kept_by_budget(read, cfg.token_budget, in_memory_rows)
    if scored == 0 or n_keep == 0:
        return SelectionRule(cfg.mode, n_keep=0)
    score, unit, index = nth(read, n_keep, in_memory_rows)
    return SelectionRule(cfg.mode, cut_score=score, cut_unit=unit, cut_index=index, n_keep=n_keep)


def _at_or_before(c: Columns, score: float, unit: int, index: int) -> np.ndarray:
    """Rows of ``c`` ranked at or before the document ``(score, unit, index)``."""
    key, cut = descending_key(c.scores), descending_key(np.asarray([score]))[0]
    return (key < cut) | (
        (key == cut) & ((c.units < unit) | ((c.units == unit) & (c.indexes <= index)))
    )


def _bucket_cut(read: Reader, target: int, in_memory_rows: int) -> BucketCut:
    """The longest prefix of ``read``'s ranking within ``target`` tokens, as a bucket cut."""
    n_keep = kept_by_budget(read, target, in_memory_rows)
    if n_keep == 0:
        return BucketCut(target)
    score, unit, index = nth(read, n_keep, in_memory_rows)
    tokens = sum(int(c.tokens[_at_or_before(c, score, unit, index)].sum()) for c in read())
    return BucketCut(target, tokens, n_keep, -score, unit, index)


def _bucket_reader(read: SetReader, name: str, code: int, rule: MixtureRule) -> Reader:
    """The documents ``name`` claims, as :class:`Columns` whose descending score is the bucket's
    order: its domain's score, or for ``rest`` the negated seeded key (ascending key)."""

    def bucket() -> Iterator[Columns]:
        for c in read():
            member = claim_codes(c.set_scores, rule.thresholds, len(c.units)) == code
            units, indexes = c.units[member], c.indexes[member]
            if name == REST_BUCKET:
                pairs = zip(units.tolist(), indexes.tolist(), strict=True)
                order = -np.asarray([rest_key(rule.seed, u, i) for u, i in pairs], np.float64)
            else:
                order = c.set_scores[name][member]
            yield Columns(order, units, indexes, c.tokens[member])

    return bucket


def streamed_mixture_rule(
    cfg: SelectionConfig,
    thresholds: dict[str, float],
    read: SetReader,
    in_memory_rows: int = 1 << 20,
) -> MixtureRule:
    """The :class:`MixtureRule` of ``cfg.mixture`` in passes over ``read()``: every bucket's cut
    with memory bounded by ``in_memory_rows`` documents (see the module docstring);
    ``thresholds``: each claiming domain's (:meth:`RunConfig.mixture_thresholds`)."""
    assert cfg.mixture is not None and cfg.token_budget is not None
    claimers = [name for name in cfg.mixture if name != REST_BUCKET]
    rule = MixtureRule({n: float(thresholds[n]) for n in claimers}, {}, cfg.seed)
    buckets = {}
    for name, share in cfg.mixture.items():
        code = -1 if name == REST_BUCKET else claimers.index(name)
        reader = _bucket_reader(read, name, code, rule)
        buckets[name] = _bucket_cut(reader, math.floor(share * cfg.token_budget), in_memory_rows)
    return MixtureRule(rule.thresholds, buckets, cfg.seed)
