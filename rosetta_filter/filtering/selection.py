"""Selection: which scored documents are kept.

``threshold`` keeps ``score >= t``. ``keep_fraction`` and ``token_budget`` are exact over the
whole corpus: after the score pass, all scores are ranked by ``(score desc, unit, index)`` (ties
broken by input position, so the result is deterministic) and the kept set is a prefix of that
order. Either way the outcome is a :class:`SelectionRule` that the write pass applies record by
record without holding the corpus in memory.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rosetta_filter.config import REST_BUCKET, SelectionConfig
from rosetta_filter.filtering.score_pass import SET_SCORE_PREFIX


@dataclass(frozen=True, slots=True)
class SelectionRule:
    """Keep a document when its key ranks at or before ``cut`` (or ``score >= threshold``)."""

    mode: str
    threshold: float | None = None
    cut_score: float | None = None  # the last kept document's score ...
    cut_unit: int | None = None  # ... its unit ...
    cut_index: int | None = None  # ... and its index; None with n_keep == 0
    n_keep: int | None = None

    def keeps(self, score: float | None, unit: int, index: int) -> bool:
        if score is None:
            return False
        if self.mode == "threshold":
            return score >= self.threshold
        if self.cut_score is None:
            return False
        # Ranked by score descending, then (unit, index) ascending.
        return (-score, unit, index) <= (-self.cut_score, self.cut_unit, self.cut_index)

    def decide(self, row: dict[str, Any], unit: int) -> tuple[bool, str | None]:
        """(kept, bucket) of an attribute row; single-criterion rules have no buckets."""
        return self.keeps(row["score"], unit, row["index"]), None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class BucketCut:
    """A mixture bucket's kept prefix: documents at or before ``(key, unit, index)`` in the
    bucket's order (key = -score of its domain; for ``rest`` a seeded uniform number)."""

    target_tokens: int
    tokens: int = 0
    n_keep: int = 0
    cut_key: float | None = None
    cut_unit: int | None = None
    cut_index: int | None = None

    def keeps(self, key: float, unit: int, index: int) -> bool:
        if self.cut_key is None:
            return False
        return (key, unit, index) <= (self.cut_key, self.cut_unit, self.cut_index)


@dataclass(frozen=True)
class MixtureRule:
    """``selection.mixture``: every document goes to at most one bucket, the tagged domain
    whose score clears its threshold by the largest margin (else ``rest``), and each bucket
    keeps the longest prefix of its order that fits its share of the token budget."""

    thresholds: dict[str, float]  # the claiming domains, in config order
    buckets: dict[str, BucketCut]
    seed: int
    mode: str = "mixture"

    def claim(self, scores: dict[str, float | None]) -> str:
        """The bucket a document belongs to (its scores by domain)."""
        best, margin = REST_BUCKET, -math.inf
        for name, threshold in self.thresholds.items():
            score = scores.get(name)
            if score is not None and score - threshold >= 0 and score - threshold > margin:
                best, margin = name, score - threshold
        return best

    def decide(self, row: dict[str, Any], unit: int) -> tuple[bool, str | None]:
        if row["score"] is None:
            return False, None
        bucket = self.claim({n: row[SET_SCORE_PREFIX + n] for n in self.thresholds})
        cut = self.buckets.get(bucket)
        if cut is None:
            return False, None
        if bucket == REST_BUCKET:
            key = rest_key(self.seed, unit, row["index"])
        else:
            key = -row[SET_SCORE_PREFIX + bucket]
        kept = cut.keeps(key, unit, row["index"])
        return kept, bucket if kept else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "thresholds": self.thresholds,
            "seed": self.seed,
            "buckets": {name: asdict(cut) for name, cut in self.buckets.items()},
        }


def rest_key(seed: int, unit: int, index: int) -> float:
    """A uniform number in [0, 1) per document: the seeded order of the ``rest`` bucket."""
    digest = hashlib.sha256(f"{seed}:{unit}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def claim_codes(
    set_scores: dict[str, np.ndarray], thresholds: dict[str, float], count: int
) -> np.ndarray:
    """:meth:`MixtureRule.claim` for ``count`` documents at once: per document the position of
    the claiming domain in ``thresholds`` (config order), or -1 for ``rest``. The largest margin
    wins and a tie goes to the earlier domain, as in the per-record claim."""
    if not thresholds:
        return np.full(count, -1, dtype=np.int64)
    margins = np.stack([set_scores[n] - t for n, t in thresholds.items()], axis=1)
    margins = np.where(margins >= 0, margins, -np.inf)  # NaN (unscored) and below: no claim
    return np.where(margins.max(axis=1) > -np.inf, np.argmax(margins, axis=1), -1)


def build_rule(
    cfg: SelectionConfig,
    scores: np.ndarray,
    units: np.ndarray,
    indexes: np.ndarray,
    tokens: np.ndarray,
) -> SelectionRule:
    """The rule for the scored documents described by parallel arrays (skipped ones excluded).

    ``keep_fraction`` keeps ``floor(f * n + 0.5)`` documents (at least one when f > 0 and any
    were scored); ``token_budget`` keeps the longest prefix of the ranking whose tokens fit.
    """
    if cfg.mode == "threshold":
        return SelectionRule("threshold", threshold=cfg.threshold)
    order = np.lexsort((indexes, units, -scores))  # last key is primary
    if cfg.mode == "keep_fraction":
        n_keep = min(len(order), max(1, math.floor(cfg.keep_fraction * len(order) + 0.5)))
    else:
        cumulative = np.cumsum(tokens[order])
        n_keep = int(np.searchsorted(cumulative, cfg.token_budget, side="right"))
    n_keep = n_keep if len(order) else 0
    if n_keep == 0:
        return SelectionRule(cfg.mode, n_keep=0)
    last = order[n_keep - 1]
    return SelectionRule(
        cfg.mode,
        cut_score=float(scores[last]),
        cut_unit=int(units[last]),
        cut_index=int(indexes[last]),
        n_keep=n_keep,
    )
