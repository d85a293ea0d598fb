"""Selection: which scored documents are kept.

``threshold`` keeps ``score >= t``. ``keep_fraction`` and ``token_budget`` are exact over the
whole corpus: after the score pass, all scores are ranked by ``(score desc, rank, index)`` (ties
broken by input position, so the result is deterministic) and the kept set is a prefix of that
order. Either way the outcome is a :class:`SelectionRule` that the write pass applies record by
record without holding the corpus in memory.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rosetta_filter.config import SelectionConfig


@dataclass(frozen=True, slots=True)
class SelectionRule:
    """Keep a document when its key ranks at or before ``cut`` (or ``score >= threshold``)."""

    mode: str
    threshold: float | None = None
    cut_score: float | None = None  # the last kept document's score ...
    cut_rank: int | None = None  # ... its rank ...
    cut_index: int | None = None  # ... and its index; None with n_keep == 0
    n_keep: int | None = None

    def keeps(self, score: float | None, rank: int, index: int) -> bool:
        if score is None:
            return False
        if self.mode == "threshold":
            return score >= self.threshold
        if self.cut_score is None:
            return False
        # Ranked by score descending, then (rank, index) ascending.
        return (-score, rank, index) <= (-self.cut_score, self.cut_rank, self.cut_index)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_rule(
    cfg: SelectionConfig,
    scores: np.ndarray,
    ranks: np.ndarray,
    indexes: np.ndarray,
    tokens: np.ndarray,
) -> SelectionRule:
    """The rule for the scored documents described by parallel arrays (skipped ones excluded).

    ``keep_fraction`` keeps ``floor(f * n + 0.5)`` documents (at least one when f > 0 and any
    were scored); ``token_budget`` keeps the longest prefix of the ranking whose tokens fit.
    """
    if cfg.mode == "threshold":
        return SelectionRule("threshold", threshold=cfg.threshold)
    order = np.lexsort((indexes, ranks, -scores))  # last key is primary
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
        cut_rank=int(ranks[last]),
        cut_index=int(indexes[last]),
        n_keep=n_keep,
    )
