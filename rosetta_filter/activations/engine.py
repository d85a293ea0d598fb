"""The activation engine: text in, activations of the requested neurons out, fast.

Documents are read ahead in chunks, validated and tokenised on a background thread while the
previous chunk runs, sorted by length and packed under a token budget; each batch runs layers
0..L only (L = deepest requested layer: the taps stop the pass, so no later layer, final norm
or LM head runs). Results come back per document, in input order, with padding and special
tokens excluded, as per-token activations (on request) and pooled values. The forward pass
itself is the backend's (:mod:`~rosetta_filter.activations.forward`): ``hf`` by default.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import torch

from rosetta_filter.activations.batching import pack
from rosetta_filter.activations.forward import (
    Forward,
    ForwardFactory,
    ForwardSettings,
    PoolingParams,
)
from rosetta_filter.activations.models import LoadedModel
from rosetta_filter.activations.pooling import pool
from rosetta_filter.activations.taps import TapPlan
from rosetta_filter.activations.tokenize import TextTokenizer, TokenizedDoc, text_problem
from rosetta_filter.config import BatchingConfig, TokensConfig
from rosetta_filter.neuron import Neuron


@dataclass(slots=True)
class DocActivations:
    """One input record's result. ``skip_reason`` set means it was not scored."""

    index: int  # position in the input stream
    skip_reason: str | None = None
    n_tokens: int = 0  # content tokens scored (special tokens and padding excluded)
    total_tokens: int = 0  # content tokens of the whole text (> n_tokens when truncated)
    truncated: bool = False
    pooled: dict[str, torch.Tensor] = field(default_factory=dict)  # method -> (n_neurons,)
    tokens: torch.Tensor | None = None  # (n_tokens, n_neurons) float32, when keep_tokens
    offsets: list[tuple[int, int]] | None = None  # char span of each token, when keep_tokens


@dataclass(slots=True)
class _Chunk:
    start: int
    problems: list[str | None]  # per record: skip reason or None
    tokenized: dict[int, TokenizedDoc]  # record offset within chunk -> tokens


class ActivationEngine:
    """Runs one model with taps on the requested neurons; reusable across calls."""

    def __init__(
        self,
        model: LoadedModel,
        neurons: Sequence[Neuron] | TapPlan,
        *,
        tokens: TokensConfig | None = None,
        batching: BatchingConfig | None = None,
        keep_tokens: bool = False,
        pooling: PoolingParams | None = PoolingParams(),
        forward: ForwardFactory | None = None,
    ) -> None:
        """``forward`` builds the backend's forward pass (default: ``hf`` in this process)."""
        self.model = model
        self.plan = neurons if isinstance(neurons, TapPlan) else TapPlan.build(neurons, model.arch)
        self.tokens_cfg = tokens or TokensConfig()
        self.batching = batching or BatchingConfig()
        self.keep_tokens = keep_tokens
        self.pooling = pooling
        self.tokenizer = TextTokenizer(
            model.tokenizer,
            max_tokens=self.tokens_cfg.max_tokens,
            long_docs=self.tokens_cfg.long_docs,
        )
        settings = ForwardSettings(
            self.tokens_cfg, self.batching, keep_tokens, pooling, self.tokenizer.pad_id
        )
        if forward is None:
            from rosetta_filter.activations.backends.hf import HfForward

            forward = HfForward
        self.forward: Forward = forward(model, self.plan, settings)

    @property
    def neurons(self) -> tuple[Neuron, ...]:
        return self.plan.neurons

    def run(self, records: Iterable[Any]) -> Iterator[DocActivations]:
        """One result per record, in order. Non-text records come back with a skip reason."""
        chunks: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()
        producer = threading.Thread(
            target=self._produce, args=(iter(records), chunks, stop), daemon=True
        )
        producer.start()
        try:
            while (item := chunks.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield from self._run_chunk(item)
        finally:
            stop.set()
            while producer.is_alive():  # unblock a producer waiting on a full queue
                try:
                    chunks.get_nowait()
                except queue.Empty:
                    producer.join(timeout=0.05)

    def _produce(self, records: Iterator[Any], out: queue.Queue, stop: threading.Event) -> None:
        """Read and tokenise chunks ahead of the forward pass (the tokenizer releases the GIL)."""
        start = 0
        try:
            while not stop.is_set():
                batch = list(islice(records, self.batching.lookahead_docs))
                if not batch:
                    break
                problems = [text_problem(r) for r in batch]
                valid = [i for i, p in enumerate(problems) if p is None]
                encoded = self.tokenizer.encode([batch[i] for i in valid], valid)
                out.put(_Chunk(start, problems, dict(zip(valid, encoded, strict=True))))
                start += len(batch)
            out.put(None)
        except BaseException as exc:  # surfaced in the consumer
            out.put(exc)

    def _run_chunk(self, chunk: _Chunk) -> Iterator[DocActivations]:
        """Forward every window of a chunk, in length-packed batches, and yield its documents
        in input order. A document is pooled as soon as its last window is computed, so the
        per-token outputs held at once are one batch's, not the chunk's (whole-layer taps over
        256 documents of 512 tokens would be ~24 GB)."""
        windows = [w for doc in chunk.tokenized.values() for w in doc.windows]
        batches = pack(windows, self.batching) if self.forward.packs_batches else [windows]
        outputs: dict[tuple[int, int], torch.Tensor] = {}  # (doc, part) -> forward output
        remaining = {offset: len(doc.windows) for offset, doc in chunk.tokenized.items()}
        done: dict[int, DocActivations] = {}
        for batch in batches:
            if batch:
                for window, out in zip(batch, self.forward(batch), strict=True):
                    outputs[window.doc, window.part] = out
                    remaining[window.doc] -= 1
                    if remaining[window.doc] == 0:
                        done[window.doc] = self._document(chunk, window.doc, outputs)
        for offset, problem in enumerate(chunk.problems):
            if problem is not None:
                yield DocActivations(chunk.start + offset, skip_reason=problem)
            else:
                yield done.pop(offset)

    def _document(
        self, chunk: _Chunk, offset: int, outputs: dict[tuple[int, int], torch.Tensor]
    ) -> DocActivations:
        """The result of a document whose windows are all in ``outputs`` (taken out of it)."""
        index, doc = chunk.start + offset, chunk.tokenized[offset]
        parts = [outputs.pop((offset, w.part)) for w in doc.windows]
        if self.forward.pools:  # pooled by the backend: a document is one window then
            return DocActivations(
                index,
                n_tokens=doc.n_tokens,
                total_tokens=doc.total_tokens,
                truncated=doc.truncated,
                pooled=dict(zip(self.pooling.methods, parts[0], strict=True)),
            )
        acts = torch.cat(parts)  # (n_tokens, n_neurons)
        return self._result(index, doc, acts, [o for w in doc.windows for o in w.offsets])

    def _result(
        self, index: int, doc: TokenizedDoc, acts: torch.Tensor, offsets: list
    ) -> DocActivations:
        pooled = {}
        if self.pooling is not None:
            mask = torch.ones(1, acts.shape[0], dtype=torch.bool)
            for method in self.pooling.methods:
                pooled[method] = pool(
                    acts[None],
                    mask,
                    method,
                    top_k=self.pooling.top_k,
                    threshold=self.pooling.threshold,
                )[0]
        return DocActivations(
            index,
            n_tokens=acts.shape[0],
            total_tokens=doc.total_tokens,
            truncated=doc.truncated,
            pooled=pooled,
            tokens=acts if self.keep_tokens else None,
            offsets=offsets if self.keep_tokens else None,
        )

    def close(self) -> None:
        """Release the backend (stops a vLLM engine now rather than at exit)."""
        self.forward.close()
