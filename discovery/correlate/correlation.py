"""Streamed Pearson correlation between two models' neurons over spans, kept as top-K both ways.

The full r matrix (46k anchor x 37k partner neurons = 6.8 GB in fp32) is never materialised: best-
buddy matching only needs each neuron's K best partners both ways (:mod:`discovery.correlate.topk`).
Activations come from a span source (:mod:`discovery.datapass.span_source`).

* :func:`correlate_exhaustive`, the exact reference: pass 1 per-neuron moments, then, per group of
  anchor columns whose fp32 accumulators fit ``accumulator_mb``, one pass over the spans
  accumulating standardised ``X_blockᵀ Y``. Costs 2·d_a·d_b·N flops.
* :func:`~discovery.correlate.pruning.correlate_pruned`, same result type, much faster: candidates
  from a sketch of the span axis, exact r for those only (see :mod:`discovery.correlate.pruning`).

A :class:`DepthWindow` limits anchor layer l to partner layers whose relative depth is within
``width`` of l's: pairs outside are never computed and appear in no top-K. Ranking is by signed
r. Neurons constant over the spans have r = 0 with everything. This module re-exports the names
a caller needs, so ``from discovery.correlate.correlation import ...`` is the one import.

Public API::

    source = array_source(x, y, batch_size=1024)           # or activation_cache.paired_source
    mx, my = span_moments(source)                          # pass 1, reusable
    result = correlate_exhaustive(source, k=1, moments=(mx, my), window=None)
    result = correlate_pruned(source, k=1, candidates=16, sketch_size=4096, moments=(mx, my))
    result.anchor_top.values, result.anchor_top.indices    # (d_a, k) r, partner columns
    result.partner_top.values, result.partner_top.indices  # (d_b, k) r, anchor columns
    result.timings, result.matmul_flops, result.matmul_seconds, result.matmul_gflops
"""

from __future__ import annotations

import logging
import time

import torch

from discovery.correlate.pruning import correlate_pruned
from discovery.correlate.streaming_stats import Moments
from discovery.correlate.topk import (
    Block,
    CorrelationResult,
    DepthWindow,
    RunningTopK,
    TopK,
    column_blocks,
    merge_block,
)
from discovery.datapass.span_source import (
    Batch,
    SpanSource,
    Standardiser,
    array_source,
    check_count,
    check_pair,
    span_moments,
)

__all__ = [
    "Batch",
    "CorrelationResult",
    "DepthWindow",
    "SpanSource",
    "TopK",
    "array_source",
    "correlate_exhaustive",
    "correlate_pruned",
    "span_moments",
]

log = logging.getLogger(__name__)


def correlate_exhaustive(
    source: SpanSource,
    *,
    k: int = 1,
    moments: tuple[Moments, Moments] | None = None,
    window: DepthWindow | None = None,
    accumulator_mb: float = 1024.0,
) -> CorrelationResult:
    """Exact top-k both ways from streamed standardised ``X^T Y``.

    ``accumulator_mb`` bounds the fp32 accumulators held during one pass over the spans; the
    anchor columns are split into as many passes as needed (fewer passes = less re-reading).
    Top-k extraction adds one transposed copy of one block at a time.
    """
    t_start = time.perf_counter()
    mx, my = moments if moments is not None else span_moments(source)
    t_moments = time.perf_counter() - t_start
    d_a, d_b, n = mx.mean.size, my.mean.size, mx.count
    sx, sy = Standardiser(mx), Standardiser(my)
    anchor, partner = RunningTopK(d_a, k), RunningTopK(d_b, k)
    budget = max(1, int(accumulator_mb * 2**20 / 4))  # fp32 elements
    flops = mm_seconds = 0.0
    passes = _group_passes(column_blocks(d_a, d_b, budget, window), budget)
    for i, group in enumerate(passes):
        log.info("exhaustive correlation: pass %d/%d", i + 1, len(passes))
        a_lo, a_hi = group[0][0], group[-1][1]
        b_lo = min(b.start for _, _, b in group)
        b_hi = max(b.stop for _, _, b in group)
        accs = [torch.zeros(a1 - a0, b.stop - b.start) for a0, a1, b in group]
        seen = 0
        for x, y in source():
            check_pair(x, y)
            xs = sx(x, slice(a_lo, a_hi))  # (n_batch, a_hi - a_lo)
            ys = sy(y, slice(b_lo, b_hi))  # (n_batch, b_hi - b_lo)
            t = time.perf_counter()
            for acc, (a0, a1, b) in zip(accs, group, strict=True):
                acc.addmm_(xs[:, a0 - a_lo : a1 - a_lo].T, ys[:, b.start - b_lo : b.stop - b_lo])
                flops += 2.0 * xs.shape[0] * acc.numel()
            mm_seconds += time.perf_counter() - t
            seen += xs.shape[0]
        check_count(seen, n)
        for acc, (a0, _, b) in zip(accs, group, strict=True):
            acc /= n  # (block, partner width): r
            merge_block(anchor, partner, acc, a0, b)
    return CorrelationResult(
        anchor_top=anchor.result(),
        partner_top=partner.result(),
        n_spans=n,
        method="exhaustive",
        timings={"moments": t_moments, "total": time.perf_counter() - t_start},
        matmul_flops=flops,
        matmul_seconds=mm_seconds,
    )


def _group_passes(blocks: list[Block], budget: int) -> list[list[Block]]:
    """Consecutive blocks whose accumulators fit the budget together share one data pass."""
    passes: list[list[Block]] = []
    used = budget
    for block in blocks:
        size = (block[1] - block[0]) * (block[2].stop - block[2].start)
        if used + size > budget:
            passes.append([])
            used = 0
        passes[-1].append(block)
        used += size
    return passes
