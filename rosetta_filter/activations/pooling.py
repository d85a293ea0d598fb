"""Pooling token activations into one value per neuron and document.

Every function takes activations ``(batch, tokens, k)`` and a boolean ``mask (batch, tokens)``
that is False on padding and special tokens, so padding can never change a document's value.
"""

from __future__ import annotations

import torch

from rosetta_filter.activations.pooling_methods import POOLING_METHODS, PoolingMethod

__all__ = ["POOLING_METHODS", "PoolingMethod", "pool"]


def pool(
    acts: torch.Tensor,
    mask: torch.Tensor,
    method: PoolingMethod,
    *,
    top_k: int = 8,
    threshold: float = 0.0,
) -> torch.Tensor:
    """(batch, tokens, k) x (batch, tokens) -> (batch, k). A document with no token gives 0."""
    m = mask.unsqueeze(-1)  # (batch, tokens, 1)
    counts = m.sum(dim=1).clamp(min=1)  # (batch, 1)
    if method == "mean":
        return (acts * m).sum(dim=1) / counts
    if method == "frac_active":
        return ((acts > threshold) & m).sum(dim=1) / counts
    if method == "max":
        out = acts.masked_fill(~m, float("-inf")).amax(dim=1)
        return out.masked_fill(~m.any(dim=1), 0.0)
    if method == "topk_mean":
        k = min(top_k, acts.shape[1])
        top = acts.masked_fill(~m, float("-inf")).topk(k, dim=1).values  # (batch, k_top, k)
        valid = torch.isfinite(top)
        n = valid.sum(dim=1).clamp(min=1)
        return top.masked_fill(~valid, 0.0).sum(dim=1) / n
    raise ValueError(f"unknown pooling {method!r}; choose one of {POOLING_METHODS}")
