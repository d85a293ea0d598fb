"""Top-K correlation results and their block-by-block accumulation.

The full r matrix between two models' neurons is never held: each block of it (a range of anchor
columns x the partner columns they are compared with) is folded into running top-K both ways
and dropped. :class:`DepthWindow` decides which partner columns each anchor layer sees.

Public API::

    result.anchor_top.values / .indices    # TopK (d_a, k): r and partner columns, best first
    result.partner_top.values / .indices   # TopK (d_b, k): r and anchor columns, best first
    DepthWindow(anchor_layout, partner_layout, width=0.2)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from discovery.datapass.layout import ColumnLayout
from discovery.errors import DiscoveryError

Block = tuple[int, int, slice]  # anchor columns [a0, a1), partner columns


@dataclass(frozen=True)
class TopK:
    """Per neuron its k best neurons of the other model, best first."""

    values: np.ndarray  # (n, k) float32 Pearson r; -inf where fewer than k were compared
    indices: np.ndarray  # (n, k) int64 column in the other model; -1 where none


@dataclass(frozen=True)
class CorrelationResult:
    anchor_top: TopK  # (d_a, k): per anchor neuron, its best partner neurons
    partner_top: TopK  # (d_b, k): per partner neuron, its best anchor neurons
    n_spans: int
    method: str  # "exhaustive" or "pruned"
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    matmul_flops: float = 0.0  # flops of the dense X^T Y products
    matmul_seconds: float = 0.0  # time spent in them

    @property
    def matmul_gflops(self) -> float:
        return self.matmul_flops / max(self.matmul_seconds, 1e-12) / 1e9


@dataclass(frozen=True)
class DepthWindow:
    """Layer-neighbourhood limit: compare anchor layer la only with partner layers lb where
    |depth(la) - depth(lb)| <= width, depth = layer / (n_layers - 1) in [0, 1]."""

    anchor: ColumnLayout
    partner: ColumnLayout
    width: float


class RunningTopK:
    """Top-k per row, merged block by block; -inf / -1 until something is seen."""

    def __init__(self, n_rows: int, k: int) -> None:
        self.k = k
        self.values = torch.full((n_rows, k), float("-inf"))
        self.indices = torch.full((n_rows, k), -1, dtype=torch.int64)

    def merge(self, rows: slice, values: torch.Tensor, indices: torch.Tensor) -> None:
        both_v = torch.cat([self.values[rows], values.to(torch.float32)], dim=1)
        both_i = torch.cat([self.indices[rows], indices], dim=1)
        top, pos = both_v.topk(self.k, dim=1)
        self.values[rows] = top
        self.indices[rows] = both_i.gather(1, pos)

    def result(self) -> TopK:
        return TopK(self.values.numpy(), self.indices.numpy())


def merge_block(
    anchor: RunningTopK, partner: RunningTopK, r: torch.Tensor, a0: int, b: slice
) -> None:
    """Fold one (anchor block, partner columns) block of r into both running top-k."""
    ka, kb = min(anchor.k, r.shape[1]), min(partner.k, r.shape[0])
    top, pos = r.topk(ka, dim=1)  # (block, ka)
    anchor.merge(slice(a0, a0 + r.shape[0]), top, pos + b.start)
    # Column top-k as row top-k of a transposed copy: topk along the strided dim is ~4x slower
    # (measured), and transposing the whole block at once is faster than by column chunks.
    top, pos = r.T.contiguous().topk(kb, dim=1)  # (partner width, kb)
    partner.merge(b, top, pos + a0)


def column_blocks(d_a: int, d_b: int, budget: int, window: DepthWindow | None) -> list[Block]:
    """Anchor column blocks with their partner columns, each block's r within ``budget``."""
    if window is None:
        step = max(1, budget // d_b)
        return [(a0, min(a0 + step, d_a), slice(0, d_b)) for a0 in range(0, d_a, step)]
    if window.anchor.n_columns != d_a or window.partner.n_columns != d_b:
        raise DiscoveryError(
            f"depth window layouts have {window.anchor.n_columns} x {window.partner.n_columns} "
            f"columns but the activations have {d_a} x {d_b}: pass the models' own layouts",
            field="window",
        )
    blocks = []
    for layer in range(window.anchor.n_layers):
        cols = window.anchor.layer_columns(layer)
        b = window.partner.neighbour_columns(window.anchor.relative_depth(layer), window.width)
        if b.stop > b.start:
            step = max(1, budget // (b.stop - b.start))
            blocks += [
                (a0, min(a0 + step, cols.stop), b) for a0 in range(cols.start, cols.stop, step)
            ]
    return blocks
