"""The one interface between the activation engine and a backend: a forward pass over windows.

The engine owns everything around it (reading ahead, validation, tokenisation, windows, packing,
putting windows back into documents, pooling); a backend only turns windows into the selected
neurons' activations. ``hf`` runs transformers in this process with taps that stop the pass at
the deepest tapped layer (:mod:`~rosetta_filter.activations.backends.hf`); ``vllm`` runs the tap
model plugin in a vLLM engine (:mod:`~rosetta_filter.activations.backends.vllm`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from rosetta_filter.activations.models import LoadedModel
from rosetta_filter.activations.pooling_methods import POOLING_METHODS, PoolingMethod
from rosetta_filter.activations.taps import TapPlan
from rosetta_filter.activations.tokenize import Window
from rosetta_filter.config import BatchingConfig, TokensConfig


@dataclass(frozen=True, slots=True)
class PoolingParams:
    """How the engine pools a document: ``top_k`` and ``threshold`` say how ``topk_mean`` and
    ``frac_active`` pool (they change a method's values); ``methods`` which methods are
    computed at all (it changes none). Each method is a pass over the batch's activations, all
    30 layers' neurons for a whole-model pass, where ``topk_mean`` sorts: pooling every method
    cost as much as the forward pass of SmolLM2-135M on a CPU (BENCHMARKS.md, "The pooled
    pass"), so a caller that reads one method asks for that one."""

    top_k: int = 8
    threshold: float = 0.0
    methods: tuple[PoolingMethod, ...] = POOLING_METHODS


@dataclass(frozen=True, slots=True)
class ForwardSettings:
    """What a backend may need to know of the engine it serves."""

    tokens: TokensConfig
    batching: BatchingConfig
    keep_tokens: bool
    pooling: PoolingParams | None
    pad_id: int

    @property
    def per_token(self) -> bool:
        """Whether the engine needs each token's values back (to keep them, to pool a document
        of several windows, or when it pools nothing); else a backend may pool a window itself."""
        return self.keep_tokens or self.pooling is None or self.tokens.long_docs == "windows"


class Forward(Protocol):
    """Windows in, per window the content tokens' activations ``(n_content, n_neurons)``, or,
    when ``pools``, the pooled values ``(len(pooling.methods), n_neurons)`` in that order (only
    ever asked for documents of one window)."""

    packs_batches: bool  # True: call me per packed batch; False: per read-ahead chunk
    pools: bool

    def __call__(self, windows: Sequence[Window]) -> list[torch.Tensor]: ...

    def close(self) -> None:
        """Release what the backend holds (a vLLM engine process); idempotent."""


ForwardFactory = Callable[[LoadedModel, TapPlan, ForwardSettings], Forward]
