"""The data pass of discovery: run every model over the probe corpus with taps on all of its
MLP neurons, align the models' tokens on canonical byte spans, and write per model

* span activations (sampled spans) to an fp16 activation cache on disk (bounded memory),
* streaming moments and active counts of the span activations (selectivity),
* document-pooled activations: the mean-pooled matrix (docs x neurons, for AUROC) and
  streaming moments of every pooling method (the scorer's normalisation statistics).

Documents are processed a few at a time: each is tokenised by every model first (the same
:class:`TextTokenizer` the engine uses, so token order matches), aligned, then each model's
activations are pooled into the shared spans before the next document.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np

from discovery.activation_cache import ActivationCache, ActivationCacheWriter
from discovery.config import DiscoverConfig
from discovery.corpus import ProbeDoc
from discovery.layout import ColumnLayout
from discovery.spans import align_spans, pool_tokens_to_spans
from discovery.streaming_stats import Moments
from rosetta_filter.engine import ActivationEngine
from rosetta_filter.errors import DiscoveryError
from rosetta_filter.models import LoadedModel
from rosetta_filter.pooling import POOLING_METHODS
from rosetta_filter.taps import TapPlan

log = logging.getLogger(__name__)

_DOCS_PER_STEP = 4


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
    engines = {
        mid: ActivationEngine(
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
    rng = np.random.default_rng(cfg.spans.seed)
    n_spans = n_total = 0
    doc_iter = iter(enumerate(docs))
    while step := list(islice(doc_iter, _DOCS_PER_STEP)):
        texts = [d.text for _, d in step]
        tokenized = {mid: e.tokenizer.encode(texts) for mid, e in engines.items()}
        keep_rows: list[np.ndarray] = []
        alignments = []
        for j, (_, doc) in enumerate(step):
            offsets = {
                mid: [o for w in tokenized[mid][j].windows for o in w.offsets] for mid in engines
            }
            alignment = align_spans(doc.text, offsets, doc_id=doc.id)
            alignments.append(alignment)
            n_total += alignment.n_spans
            keep = np.flatnonzero(rng.random(alignment.n_spans) < cfg.spans.fraction)
            if cfg.spans.max_spans is not None:
                keep = keep[: max(cfg.spans.max_spans - n_spans, 0)]
            keep_rows.append(keep)
            n_spans += len(keep)
        for mid, engine in engines.items():
            collected = out[mid]
            for j, result in enumerate(engine.run(texts)):
                doc_index = step[j][0]
                if result.skip_reason is not None:
                    raise DiscoveryError(
                        f"probe document {step[j][1].id!r} cannot be scored "
                        f"({result.skip_reason}): clean the probe corpus",
                        field="corpus",
                    )
                collected.tokens += result.n_tokens
                ids = alignments[j].token_spans[mid]
                spans = pool_tokens_to_spans(result.tokens, ids, alignments[j].n_spans)
                rows = spans[keep_rows[j]].numpy()  # (kept spans, d)
                if len(rows):
                    writers[mid].append(rows)
                    collected.span_moments = collected.span_moments.update(rows)
                    collected.span_active += (rows > cfg.active_threshold).sum(axis=0)
                collected.doc_mean[doc_index] = result.pooled["mean"].numpy()
                for method, moments in collected.doc_moments.items():
                    collected.doc_moments[method] = moments.update(
                        result.pooled[method].numpy()[None]
                    )
        advance(len(step))
        if cfg.spans.max_spans is not None and n_spans >= cfg.spans.max_spans:
            log.info("span cap %d reached after %d documents", cfg.spans.max_spans, step[-1][0] + 1)
    for writer in writers.values():
        writer.close()
    if n_spans == 0:
        raise DiscoveryError(
            "no spans were collected: check the corpus and spans.fraction", field="spans"
        )
    return Collection(out, len(docs), n_spans, n_total)
