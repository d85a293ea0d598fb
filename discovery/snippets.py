"""Top-activating snippets: for a few neurons, the probe text around the tokens where each
fires most. A second, cheap pass: the engine runs only up to the neurons' deepest layer."""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from discovery.corpus import ProbeDoc
from rosetta_filter.engine import ActivationEngine
from rosetta_filter.models import LoadedModel
from rosetta_filter.neuron import Neuron

_CONTEXT_CHARS = 40


def top_snippets(
    model: LoadedModel,
    neurons: Sequence[Neuron],
    docs: Sequence[ProbeDoc],
    per_neuron: int,
    **engine_kwargs,
) -> dict[Neuron, list[dict]]:
    """Per neuron the ``per_neuron`` highest token activations (one per document), as dicts
    with the document id, the activation and the text around the token (token marked ⟦ ⟧)."""
    if not neurons or per_neuron == 0:
        return {}
    engine = ActivationEngine(model, list(neurons), keep_tokens=True, **engine_kwargs)
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
