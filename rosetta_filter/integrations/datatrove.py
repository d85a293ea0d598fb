"""A datatrove pipeline step: :class:`RosettaFilter` scores documents in batches, writes the
scores to ``doc.metadata`` and, with a ``threshold``, drops documents below it.

The scorer is built once per worker, on the first batch (the step itself is pickled to the
workers without it), so a ``LocalPipelineExecutor`` with many tasks loads the model once per
process. Without a threshold it only tags: every document passes with its scores, and
unscorable ones pass with a None score. Example pipeline: README, "datatrove".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from rosetta_filter.integrations import load_scorer
from rosetta_filter.scoring.scorer import Scorer


class RosettaFilter(BaseFilter):
    """Tag (and optionally filter) documents with a rosetta-filter scorer config."""

    name = "🌹 Rosetta Neurons"

    def __init__(
        self,
        config: str | Path | dict[str, Any],
        *,
        threshold: float | None = None,
        metadata_key: str = "rosetta_score",
        batch_size: int = 64,
        exclusion_writer: Any = None,
    ) -> None:
        super().__init__(exclusion_writer, batch_size)
        self.config = str(config) if isinstance(config, Path) else config
        self.threshold = threshold
        self.metadata_key = metadata_key
        self._scorer: Scorer | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_scorer"] = None  # a model is never pickled to a worker: it loads its own
        return state

    @property
    def scorer(self) -> Scorer:
        if self._scorer is None:
            self._scorer = load_scorer(self.config)
        return self._scorer

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        results: list[bool | tuple[bool, str]] = []
        for doc, scored in zip(batch, self.scorer.score([d.text for d in batch]), strict=True):
            doc.metadata[self.metadata_key] = scored.score
            for name, value in (scored.scores or {}).items():
                doc.metadata[f"{self.metadata_key}__{name}"] = value
            if self.threshold is None:
                results.append(True)
            elif scored.score is None:
                results.append((False, scored.skip_reason or "unscorable"))
            else:
                results.append(scored.score >= self.threshold or (False, "below_threshold"))
        return results
