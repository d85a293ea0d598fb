"""The ``hf`` backend: transformers in this process, with forward pre-hooks on the tapped MLP
projections (:mod:`~rosetta_filter.activations.taps`) that stop the pass after the deepest tapped
layer, so no later layer, final norm or LM head runs."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch

from rosetta_filter.activations.forward import ForwardSettings
from rosetta_filter.activations.models import LoadedModel
from rosetta_filter.activations.taps import StopForward, TapPlan, capture
from rosetta_filter.activations.tokenize import Window


class HfForward:
    """One packed batch per call, right-padded (real tokens never attend to pads)."""

    packs_batches = True
    pools = False

    def __init__(self, model: LoadedModel, plan: TapPlan, settings: ForwardSettings) -> None:
        self.model, self.plan, self.pad_id = model, plan, settings.pad_id

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
        acts = self.plan.assemble(captured, *ids.shape).float().cpu()  # (batch, tokens, neurons)
        return [
            acts[row, w.content_start : w.content_start + w.n_content]
            for row, w in enumerate(batch)
        ]

    def close(self) -> None:
        """Nothing to release: the weights belong to the loaded model."""
