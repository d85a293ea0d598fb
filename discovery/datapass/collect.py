"""The data pass of discovery: run every model over the probe corpus with taps on all of its
MLP neurons, align the models' tokens on canonical byte spans, and write per model

* span activations (sampled spans) to an fp16 activation cache on disk (bounded memory),
* streaming moments and active counts of the span activations (selectivity),
* document-pooled activations: the mean-pooled matrix (docs x neurons, for AUROC) and
  streaming moments of every pooling method (the scorer's normalisation statistics).

Documents are processed a few at a time in the seeded walk of
:mod:`discovery.datapass.span_sampling` (tokenised by every model, aligned, spans sampled), then
each model's activations are pooled into the shared spans before the next step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from discovery.config import DiscoverConfig
from discovery.corpus.build import ProbeDoc
from discovery.correlate.streaming_stats import Moments
from discovery.datapass.activation_cache import ActivationCache, ActivationCacheWriter
from discovery.datapass.layout import ColumnLayout
from discovery.datapass.span_sampling import sampled_steps
from discovery.datapass.spans import pool_tokens_to_spans
from discovery.errors import DiscoveryError
from rosetta_filter.activations.backends import build_engine
from rosetta_filter.activations.models import LoadedModel
from rosetta_filter.activations.pooling import POOLING_METHODS
from rosetta_filter.activations.taps import TapPlan

log = logging.getLogger(__name__)


@dataclass
class ModelCollection:
    """What the data pass learned about one model."""

    id: str
    layout: ColumnLayout
    cache_path: Path
    span_moments: Moments
    span_active: np.ndarray  # (d,) spans above the active threshold
    doc_mean: np.ndarray  # (n_docs, d) float32 mean-pooled activation per document
    doc_moments: dict[str, Moments] = field(default_factory=dict)  # pooling -> moments
    tokens: int = 0

    def cache(self) -> ActivationCache:
        return ActivationCache.open(self.cache_path)


@dataclass
class Collection:
    models: dict[str, ModelCollection]
    n_docs: int
    n_spans: int
    n_spans_total: int  # before sampling


def collect(
    cfg: DiscoverConfig,
    docs: Sequence[ProbeDoc],
    models: dict[str, LoadedModel],
    work_dir: Path,
    advance: Callable[[int], None] = lambda n: None,
) -> Collection:
    backends = {m.id: m.model.backend for m in cfg.models}
    engines = {
        mid: build_engine(
            backends[mid],
            loaded,
            TapPlan.whole_layers(range(loaded.arch.n_layers), loaded.arch),
            tokens=cfg.tokens,
            batching=cfg.batching,
            keep_tokens=True,
        )
        for mid, loaded in models.items()
    }
    layouts = {
        mid: ColumnLayout.uniform(m.arch.n_layers, m.arch.d_mlp) for mid, m in models.items()
    }
    writers = {
        mid: ActivationCacheWriter(work_dir / f"{mid}.spans", layouts[mid], model=mid)
        for mid in models
    }
    out = {
        mid: ModelCollection(
            mid,
            layouts[mid],
            work_dir / f"{mid}.spans",
            Moments.empty(layouts[mid].n_columns),
            np.zeros(layouts[mid].n_columns, np.int64),
            np.zeros((len(docs), layouts[mid].n_columns), np.float32),
            {p: Moments.empty(layouts[mid].n_columns) for p in POOLING_METHODS},
        )
        for mid in models
    }
    n_spans = n_total = 0
    walk = sampled_steps(cfg.spans, docs, {mid: e.tokenizer for mid, e in engines.items()})
    for step in walk:
        texts = [s.doc.text for s in step]
        n_total += sum(s.alignment.n_spans for s in step)
        n_spans += sum(len(s.keep) for s in step)
        for mid, engine in engines.items():
            collected = out[mid]
            for sampled, result in zip(step, engine.run(texts), strict=True):
                if result.skip_reason is not None:
                    raise DiscoveryError(
                        f"probe document {sampled.doc.id!r} cannot be scored "
                        f"({result.skip_reason}): clean the probe corpus",
                        field="corpus",
                    )
                collected.tokens += result.n_tokens
                ids = sampled.alignment.token_spans[mid]
                spans = pool_tokens_to_spans(result.tokens, ids, sampled.alignment.n_spans)
                rows = spans[sampled.keep].numpy()  # (kept spans, d)
                if len(rows):
                    writers[mid].append(rows)
                    collected.span_moments = collected.span_moments.update(rows)
                    collected.span_active += (rows > cfg.active_threshold).sum(axis=0)
                collected.doc_mean[sampled.index] = result.pooled["mean"].numpy()
                for method, moments in collected.doc_moments.items():
                    collected.doc_moments[method] = moments.update(
                        result.pooled[method].numpy()[None]
                    )
        advance(len(step))
        if cfg.spans.max_spans is not None and n_spans >= cfg.spans.max_spans:
            log.info(
                "span cap %d reached after %d documents", cfg.spans.max_spans, step[-1].index + 1
            )
    for writer in writers.values():
        writer.close()
    if n_spans == 0:
        raise DiscoveryError(
            "no spans were collected: check the corpus and spans.fraction", field="spans"
        )
    return Collection(out, len(docs), n_spans, n_total)
