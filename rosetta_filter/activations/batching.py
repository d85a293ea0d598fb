"""Packing windows into forward passes under a padded-token budget, sorted by length so rows of
one batch have nearly equal lengths and padding stays minimal (NeMo Curator and TEI do the same).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from rosetta_filter.activations.tokenize import Window
from rosetta_filter.config import BatchingConfig


def pack(windows: Sequence[Window], cfg: BatchingConfig) -> Iterator[list[Window]]:
    """Yield batches with ``rows * longest <= batch_tokens`` and ``rows <= max_batch_docs``.

    Longest first, so a budget overrun shows on the first batch, not after an hour. A single
    window longer than the budget still gets a batch of its own.
    """
    ordered = sorted(windows, key=lambda w: len(w.ids), reverse=True)
    batch: list[Window] = []
    for window in ordered:
        longest = len(batch[0].ids) if batch else len(window.ids)
        if batch and (
            (len(batch) + 1) * longest > cfg.batch_tokens or len(batch) >= cfg.max_batch_docs
        ):
            yield batch
            batch = []
        batch.append(window)
    if batch:
        yield batch
