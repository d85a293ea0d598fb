"""What the filtering pipeline needs from a scorer, without torch: :class:`ScoredDoc` and the
:class:`DocumentScorer` protocol. Rank processes and actors of a model-free scorer (a baseline,
the benchmarks' stub) import only this; the neuron scorer in ``scorer.py`` implements it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(slots=True)
class ScoredDoc:
    index: int
    score: float | None  # None when skipped
    n_tokens: int = 0  # tokens scored
    total_tokens: int = 0  # tokens of the whole document
    truncated: bool = False
    skip_reason: str | None = None
    neuron_values: list[float] | None = None  # pooled, normalised, per selected neuron
    neurons: list[str] | None = None  # whose values those are, where it varies (a cascade)
    deferred: bool = False  # a cascade's full-depth head scored it (neurons.cascade)
    scores: dict[str, float] | None = None  # per named set, when the scorer tags several


class DocumentScorer(Protocol):
    """What the filtering pipeline needs from a scorer."""

    def score(self, records: Iterable) -> Iterator[ScoredDoc]:
        """One :class:`ScoredDoc` per record (a text, or None for an unscorable record), in
        order; ``total_tokens`` is what ``selection.token_budget`` counts."""
        ...

    def describe(self) -> dict[str, Any]:
        """The manifest's ``model`` and ``neurons`` blocks: a plain, JSON-ready dict, so an
        executor whose model lives elsewhere (a Ray actor) can send it to the driver."""
        ...
