"""Scores as new columns of a Hugging Face ``datasets`` dataset: ``add_scores(dataset, config)``.

A batched ``map``, so it works on a ``Dataset`` (cached like any map: the fingerprint is derived
from the dataset's and the scorer's description, not by hashing the model) and on a streaming
``IterableDataset`` (scored lazily as it is iterated). Columns: ``score`` and, for a config
with ``neurons.domains``, ``score__{domain}`` per domain, all from one forward pass; a text the
scorer cannot score gets None.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from rosetta_filter.integrations import ScorerSource, load_scorer


def add_scores(
    dataset: Any,
    config: ScorerSource,
    *,
    text_column: str = "text",
    column: str = "score",
    batch_size: int = 64,
) -> Any:
    """``dataset`` with score columns added (see the module docstring)."""
    from datasets import Dataset

    scorer = load_scorer(config)

    def score_batch(batch: dict[str, list]) -> dict[str, list]:
        docs = list(scorer.score(batch[text_column]))
        columns = {column: [d.score for d in docs]}
        for name in scorer.sets:
            columns[f"{column}__{name}"] = [(d.scores or {}).get(name) for d in docs]
        return columns

    if isinstance(dataset, Dataset):
        described = json.dumps([dataset._fingerprint, scorer.describe(), column], sort_keys=True)
        fingerprint = hashlib.sha256(described.encode()).hexdigest()[:32]
        return dataset.map(
            score_batch, batched=True, batch_size=batch_size, new_fingerprint=fingerprint
        )
    return dataset.map(score_batch, batched=True, batch_size=batch_size)
