"""Which spans of which probe documents the data pass keeps, and where they sit in the text.

One seeded walk over the corpus decides it: each document is tokenised by every model (the
engine's own :class:`TextTokenizer`, so token order matches the forward pass), aligned on
canonical byte spans, and a seeded share of its spans is kept, up to ``spans.max_spans``.
The data pass fills the activation caches in this order; snippets replay the walk
(tokenisation and alignment only, no forward pass) to map a cache row back to its bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice

import numpy as np

from discovery.config import SpanSampling
from discovery.corpus.build import ProbeDoc
from discovery.datapass.spans import SpanAlignment, align_spans
from rosetta_filter.activations.models import LoadedModel
from rosetta_filter.activations.tokenize import TextTokenizer
from rosetta_filter.config import TokensConfig

DOCS_PER_STEP = 4


@dataclass(frozen=True)
class SampledDoc:
    index: int  # position in the probe corpus
    doc: ProbeDoc
    alignment: SpanAlignment
    keep: np.ndarray  # (kept,) span ids of ``alignment`` whose rows go to the caches


def tokenizers(tokens: TokensConfig, models: Mapping[str, LoadedModel]) -> dict[str, TextTokenizer]:
    """The data pass's tokenisers, one per model, in the models' order."""
    return {
        mid: TextTokenizer(m.tokenizer, max_tokens=tokens.max_tokens, long_docs=tokens.long_docs)
        for mid, m in models.items()
    }


def sampled_steps(
    spans: SpanSampling, docs: Sequence[ProbeDoc], tokenizers: Mapping[str, TextTokenizer]
) -> Iterator[list[SampledDoc]]:
    """The walk, ``DOCS_PER_STEP`` documents at a time (the data pass runs the models per step)."""
    rng = np.random.default_rng(spans.seed)
    n_kept = 0
    doc_iter = iter(enumerate(docs))
    while step := list(islice(doc_iter, DOCS_PER_STEP)):
        texts = [d.text for _, d in step]
        tokenized = {mid: t.encode(texts) for mid, t in tokenizers.items()}
        sampled = []
        for j, (index, doc) in enumerate(step):
            offsets = {
                mid: [o for w in tokenized[mid][j].windows for o in w.offsets] for mid in tokenizers
            }
            alignment = align_spans(doc.text, offsets, doc_id=doc.id)
            keep = np.flatnonzero(rng.random(alignment.n_spans) < spans.fraction)
            if spans.max_spans is not None:
                keep = keep[: max(spans.max_spans - n_kept, 0)]
            n_kept += len(keep)
            sampled.append(SampledDoc(index, doc, alignment, keep))
        yield sampled


@dataclass(frozen=True)
class CacheRows:
    """Where every cache row comes from: document index and UTF-8 byte range of its span."""

    doc: np.ndarray  # (rows,) int64
    start: np.ndarray  # (rows,) int64
    end: np.ndarray  # (rows,) int64


def cache_rows(
    spans: SpanSampling, docs: Sequence[ProbeDoc], tokenizers: Mapping[str, TextTokenizer]
) -> CacheRows:
    """Replay the walk and list the cache rows' origins, in cache order."""
    parts = [
        (np.full(len(s.keep), s.index, dtype=np.int64), s.alignment.spans[s.keep])
        for step in sampled_steps(spans, docs, tokenizers)
        for s in step
    ]
    doc = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    spans = np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, 2), np.int64)
    return CacheRows(doc, spans[:, 0].astype(np.int64), spans[:, 1].astype(np.int64))
