"""The ``hf`` backend: transformers in this process, with forward pre-hooks on the tapped MLP
projections (:mod:`~rosetta_filter.activations.taps`) that stop the pass after the deepest tapped
layer, so no later layer, final norm or LM head runs.

Where no per-token value is asked for (no ``keep_tokens``, documents of one window), the batch
is pooled where it was computed, in one masked call per method, and only ``(documents,
methods, neurons)`` leaves the device. On a GPU the per-document pooling on the host cost about
as much as the forward pass itself (BENCHMARKS.md, "The activation engine on a GPU")."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch

from rosetta_filter.activations.forward import ForwardSettings, PoolingParams
from rosetta_filter.activations.models import LoadedModel
from rosetta_filter.activations.pooling import pool
from rosetta_filter.activations.taps import StopForward, TapPlan, capture
from rosetta_filter.activations.tokenize import Window


class HfForward:
    """One packed batch per call, right-padded (real tokens never attend to pads).

    ``pool_on_device``: pool in the forward wherever the engine asks for pooled values only
    (default); False always returns per-token values for the engine to pool (the benchmark's
    side-by-side)."""

    packs_batches = True

    def __init__(
        self,
        model: LoadedModel,
        plan: TapPlan,
        settings: ForwardSettings,
        pool_on_device: bool = True,
    ) -> None:
        self.model, self.plan, self.pad_id = model, plan, settings.pad_id
        self.pools = pool_on_device and not settings.per_token
        self.pooling = settings.pooling or PoolingParams()

    @torch.inference_mode()
    def __call__(self, batch: Sequence[Window]) -> list[torch.Tensor]:
        longest = max(len(w.ids) for w in batch)
        ids = torch.full((len(batch), longest), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), longest), dtype=torch.long)
        for row, window in enumerate(batch):
            ids[row, : len(window.ids)] = torch.tensor(window.ids)
            mask[row, : len(window.ids)] = 1
        device = self.model.device
        with capture(self.model.arch, self.plan) as captured, contextlib.suppress(StopForward):
            self.model.model(
                input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False
            )
        acts = self.plan.assemble(captured, *ids.shape).float()  # (batch, tokens, neurons)
        if self.pools:
            return list(self._pooled(acts, batch).cpu())
        acts = acts.cpu()
        return [
            acts[row, w.content_start : w.content_start + w.n_content]
            for row, w in enumerate(batch)
        ]

    def _pooled(self, acts: torch.Tensor, batch: Sequence[Window]) -> torch.Tensor:
        """``(batch, len(methods), neurons)``: each window's content tokens pooled by each of
        the asked methods, as the engine pools one document's (pads and special tokens masked
        out, and zeroed so a pad's value can never reach a sum)."""
        content = torch.zeros(acts.shape[:2], dtype=torch.bool)
        for row, window in enumerate(batch):
            content[row, window.content_start : window.content_start + window.n_content] = True
        content = content.to(acts.device)
        acts = acts.masked_fill(~content[..., None], 0.0)
        params = self.pooling
        return torch.stack(
            [
                pool(acts, content, m, top_k=params.top_k, threshold=params.threshold)
                for m in params.methods
            ],
            dim=1,
        )

    def close(self) -> None:
        """Nothing to release: the weights belong to the loaded model."""
