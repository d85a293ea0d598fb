"""The cascade (``neurons.cascade``): a shallow head decides the documents it is sure of, the
full-depth head the rest.

A depth rule (:mod:`rosetta_filter.scoring.depth_rule`) picks one depth per domain for every
document, so one family near a border that needs the deep layers keeps the whole domain deep.
Most documents do not need them: a shallow head is right about everything far from its decision
boundary. The cascade scores each document with a shallow head and *defers* it to the full-depth
head only when its shallow score lies in a band where the shallow head is unreliable.

The band is set from the shallow head's out-of-fold scores (every labelled document scored by
the fold model that never trained on its source family, recorded by the bank fit): above
``high``, the ``1 - error`` quantile of the negatives' scores, a document is a confident
positive; below ``low``, the ``error`` quantile of the positives', a confident negative. So on
families the head did not see, about ``error`` of each class is decided by the shallow head on
the wrong side. The shallow depth is the one that minimises the expected share of layers run,
with a deferred document paying for the full pass again (:func:`expected_layer_share`).

With the relative score (``neurons.relative``) the shallow stage is every domain's head at one
common depth limit, scoring the log-softmax of their logits; a document is deferred when the
target domain's shallow logit is inside its band (rule 17, docs/quality/rule17-s23: deferring
where *any* head is unsure sent 44-100% of documents to the full pass).

A ranking selection keeps the surest documents, which a two-sided cascade ranks with its shallow
heads (whose relative score saturates among them). With ``neurons.cascade_exits: negatives`` only
the confident negatives exit early (:meth:`Band.rejecting`): everything at or above ``low`` is
scored at full depth (rule 19, docs/quality/rule19-s24).

The bank fit (:func:`cascade_bands`) and the scorer (:func:`choose_cascade`) both call this
module; ``bench/cascade.py`` measures the rule on cross-fitted scores.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

CascadeExits = Literal["both", "negatives"]  # which documents the shallow stage decides
CASCADE_ERRORS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05)  # the bands a bank records per head


@dataclass(frozen=True)
class Band:
    """Scores in ``[low, high]`` are deferred to full depth; ``defer_rate`` is the share of the
    out-of-fold scores the band held."""

    low: float
    high: float
    defer_rate: float

    def defers(self, score: float) -> bool:
        return self.low <= score <= self.high

    def deferred(self, scores: np.ndarray) -> np.ndarray:
        return (scores >= self.low) & (scores <= self.high)

    def rejecting(self) -> Band:
        """The band of a shallow stage that only rejects: everything at or above ``low`` is
        deferred. ``defer_rate`` stays the two-sided band's: the bank records no share above
        ``low`` (it adds about the domain's share of the pool, which no bank can know)."""
        return Band(self.low, math.inf, self.defer_rate)


def band(scores: np.ndarray, positive: np.ndarray, error: float) -> Band:
    """The band of out-of-fold ``scores`` (``positive``: the domain's documents) at ``error``
    (see the module docstring); when the classes separate by more than the band (``low >
    high``) both bounds meet at their midpoint and nothing is deferred."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    if not positive.any() or positive.all():
        raise ValueError("a cascade band needs out-of-fold scores of both classes")
    low = float(np.quantile(scores[positive], error))
    high = float(np.quantile(scores[~positive], 1.0 - error))
    if low > high:
        low = high = (low + high) / 2.0
        return Band(low, high, 0.0)
    return Band(low, high, float(((scores >= low) & (scores <= high)).mean()))


def cascade_bands(scores: np.ndarray, positive: np.ndarray) -> dict[str, dict[str, float]]:
    """The bands a bank records for one head: one per :data:`CASCADE_ERRORS`, keyed by the
    error's text (``"0.01"``)."""
    return {f"{error:g}": vars(band(scores, positive, error)) for error in CASCADE_ERRORS}


def expected_layer_share(shallow_layer: int, defer_rate: float, full_layer: int, n: int) -> float:
    """The share of ``n`` layers the cascade runs per document: every document runs to the
    shallow head's deepest layer, a deferred one runs the full head's pass again from layer 0."""
    return (shallow_layer + 1) / n + defer_rate * (full_layer + 1) / n


@dataclass(frozen=True)
class CascadeChoice:
    """The shallow stage (its index in the candidates) the cascade runs with."""

    index: int
    layer_share: float


def choose_cascade(
    candidates: Sequence[tuple[int, float]], full_layer: int, n_layers: int
) -> CascadeChoice | None:
    """Of ``candidates`` (each shallow stage's deepest layer and share deferred), the one with
    the lowest :func:`expected_layer_share`; None where none runs fewer layers than the full
    stage alone (then the cascade would only cost)."""
    best = None
    alone = (full_layer + 1) / n_layers
    for i, (layer, defer_rate) in enumerate(candidates):
        if layer >= full_layer:
            continue
        share = expected_layer_share(layer, defer_rate, full_layer, n_layers)
        if share < alone and (best is None or share < best.layer_share):
            best = CascadeChoice(i, share)
    return best


def joint_defer_rate(rates: Iterable[float]) -> float:
    """The share deferred when any of several heads' bands defers a document, as a bank can
    expect it: at most the sum of each band's own share (their out-of-fold scores come from
    different fold plans, one per domain, so the overlap is not recorded)."""
    return min(1.0, sum(rates))


def cascade_scores(shallow: np.ndarray, full: np.ndarray, deferred: np.ndarray) -> np.ndarray:
    """Each document's cascade score: the shallow stage's, or the full stage's where deferred."""
    return np.where(deferred, full, shallow)


def error_key(error: float) -> str:
    """The key a bank records ``error``'s band under; an error off the grid is refused."""
    if not any(np.isclose(error, e) for e in CASCADE_ERRORS):
        raise ValueError(f"cascade error {error} is not one of {CASCADE_ERRORS}")
    return f"{min(CASCADE_ERRORS, key=lambda e: abs(e - error)):g}"
