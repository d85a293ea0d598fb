"""Top-activating snippets: for a few neurons, the probe text around where each fires most.

Two sources. :func:`cache_snippets` reads the data pass's span cache: no forward pass at all,
over the sampled spans (a span's value is the mean of its tokens'); it is the default because a
second pass of a 1.5B anchor costs as much as the data pass itself on a CPU.
:func:`top_snippets` runs the anchor again (only up to the neurons' deepest layer) for the exact
token-level maximum over every token."""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

from discovery.corpus.build import ProbeDoc
from discovery.datapass.activation_cache import ActivationCache
from discovery.datapass.layout import ColumnLayout
from discovery.datapass.span_sampling import CacheRows
from discovery.datapass.spans import utf8_offsets
from rosetta_filter.activations.backends import Backend, build_engine
from rosetta_filter.activations.models import LoadedModel
from rosetta_filter.neuron import Neuron

_CONTEXT_CHARS = 40
_ROWS_PER_READ = 4096


def cache_snippets(
    cache: ActivationCache,
    layout: ColumnLayout,
    rows: CacheRows,
    neurons: Sequence[Neuron],
    docs: Sequence[ProbeDoc],
    per_neuron: int,
) -> dict[Neuron, list[dict]]:
    """Per neuron the ``per_neuron`` highest cached span activations, one per document, as
    dicts with the document id, the activation and the text around the span (marked ⟦ ⟧)."""
    if not neurons or per_neuron == 0:
        return {}
    columns = [layout.column(n.layer, n.index) for n in neurons]
    values = np.concatenate(  # (rows, neurons): only the pages holding these columns are read
        [
            np.asarray(cache.array[i : i + _ROWS_PER_READ][:, columns], dtype=np.float32)
            for i in range(0, cache.n_rows, _ROWS_PER_READ)
        ]
    )
    out = {}
    for j, neuron in enumerate(neurons):
        order = np.argsort(-values[:, j], kind="stable")
        _, first = np.unique(rows.doc[order], return_index=True)  # best row of each document
        best = order[np.sort(first)][:per_neuron]
        out[neuron] = [
            {
                "doc": docs[int(rows.doc[r])].id,
                "activation": round(float(values[r, j]), 4),
                "text": _byte_context(docs[int(rows.doc[r])].text, rows.start[r], rows.end[r]),
            }
            for r in best
        ]
    return out


def _byte_context(text: str, start: int, end: int) -> str:
    chars = np.searchsorted(utf8_offsets(text), [start, end])
    return _context(text, int(chars[0]), int(chars[1]))


def top_snippets(
    model: LoadedModel,
    neurons: Sequence[Neuron],
    docs: Sequence[ProbeDoc],
    per_neuron: int,
    backend: Backend = "hf",
    **engine_kwargs,
) -> dict[Neuron, list[dict]]:
    """Per neuron the ``per_neuron`` highest token activations (one per document), as dicts
    with the document id, the activation and the text around the token (token marked ⟦ ⟧).
    Runs the anchor over every probe document up to the neurons' deepest layer."""
    if not neurons or per_neuron == 0:
        return {}
    engine = build_engine(backend, model, list(neurons), keep_tokens=True, **engine_kwargs)
    heaps: dict[int, list] = {j: [] for j in range(len(neurons))}
    for doc, result in zip(docs, engine.run([d.text for d in docs]), strict=True):
        if result.tokens is None or result.n_tokens == 0:
            continue
        values, positions = result.tokens.max(dim=0)  # best token of this doc, per neuron
        for j in range(len(neurons)):
            start, end = result.offsets[int(positions[j])]
            item = (float(values[j]), doc.id, start, end, doc.text)
            if len(heaps[j]) < per_neuron:
                heapq.heappush(heaps[j], item)
            else:
                heapq.heappushpop(heaps[j], item)
    out = {}
    for j, neuron in enumerate(neurons):
        out[neuron] = [
            {"doc": doc_id, "activation": round(value, 4), "text": _context(text, start, end)}
            for value, doc_id, start, end, text in sorted(heaps[j], reverse=True)
        ]
    return out


def _context(text: str, start: int, end: int) -> str:
    left = text[max(0, start - _CONTEXT_CHARS) : start]
    right = text[end : end + _CONTEXT_CHARS]
    return " ".join(f"{left}⟦{text[start:end]}⟧{right}".split())
