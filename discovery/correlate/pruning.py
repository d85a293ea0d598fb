"""Candidate pruning: the top-K correlations of :mod:`discovery.correlate.correlation`, found much
faster.

Exhaustive correlation spends 2·d_a·d_b·N flops, yet best-buddy matching only looks at each
neuron's few best partners. :func:`correlate_pruned` finds them in three steps:

1. **Compress the span axis** to ``sketch_size`` rows (m). "sketch" deals every span at random
   into one of m balanced groups and sums each group; centred on the neurons' means and scaled
   to unit norm, the group sums give r estimates as cosines. Every span contributes, so the
   estimate's noise stays ~1/sqrt(m) even for sparse, heavy-tailed neurons that fire on a few
   spans (the selective ones discovery is after), which a subsample would mostly miss. The sums
   are of raw activations, so they share pass 1 with the moments when no moments are passed
   in. "subsample" takes m random spans instead (a separate pass; noise grows with kurtosis).
2. **Search candidates**: r estimates for all pairs on the m rows, block by block (bfloat16 where
   the CPU multiplies it faster, e.g. AMX), keeping each neuron's top ``candidates`` both ways.
3. **Exact r for the candidates**: one pass over all spans computing exact Pearson r of only the
   union of candidate pairs (a sampled dense-dense product, ``torch.sparse.sampled_addmm``).
   Each neuron's final top-K comes from the exact r of every pair it is in: its own
   candidates plus those the other side nominated it for.

A true top-K partner is missed only when the estimate's noise pushes it out of the candidates, i.e.
for near-ties (partners whose r differ by less than ~2/sqrt(m)); ``bench/discovery.py`` measures the
best-buddy recall against :func:`~discovery.correlate.correlation.correlate_exhaustive`.

Public API::

    result = correlate_pruned(source, k=1, candidates=16, sketch_size=4096)  # CorrelationResult
    result.timings  # {"moments", "sketch", "candidates", "exact", "total"} seconds
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import Literal

import numpy as np
import torch

from discovery.correlate.arrays import as_tensor
from discovery.correlate.streaming_stats import Moments
from discovery.correlate.topk import (
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
    check_count,
    check_pair,
    span_moments,
    take_rows,
)
from discovery.errors import DiscoveryError
from rosetta_filter.activations.precision import fastest_cpu_matmul_dtype

log = logging.getLogger(__name__)

CandidateSearch = Literal["sketch", "subsample"]
SketchDtype = Literal["auto", "float32", "bfloat16"]


def correlate_pruned(
    source: SpanSource,
    *,
    k: int = 1,
    candidates: int = 16,
    search: CandidateSearch = "sketch",
    sketch_size: int = 4096,
    sketch_dtype: SketchDtype = "auto",
    seed: int = 0,
    moments: tuple[Moments, Moments] | None = None,
    window: DepthWindow | None = None,
    accumulator_mb: float = 1024.0,
) -> CorrelationResult:
    """Top-k both ways with exact r, searched among ``candidates`` (>= k) per neuron.

    ``search``/``sketch_size``: how the span axis is compressed (module docstring); with
    ``sketch_size >= N`` every span is kept apart and the search is exhaustive (in
    ``sketch_dtype``). ``sketch_dtype``
    "auto" picks bfloat16 where this CPU multiplies it faster than float32. ``seed`` fixes the
    span groups or subsample. ``accumulator_mb`` bounds each block of r estimates.
    """
    if candidates < k:
        raise DiscoveryError(
            f"candidates={candidates} must be >= k={k}", field="candidates", value=candidates
        )
    if search not in ("sketch", "subsample"):
        raise DiscoveryError(
            f"search={search!r} is not a candidate search: use 'sketch' or 'subsample'",
            field="search",
            value=search,
        )
    t_start = time.perf_counter()
    rng = np.random.default_rng(seed)
    sketch = _GroupSketch(sketch_size, rng) if search == "sketch" else None
    timings = {}
    if moments is None:  # the group sums of raw activations can share pass 1
        mx, my = span_moments(source, observer=sketch.add if sketch else None)
        timings["moments"] = time.perf_counter() - t_start
    else:
        mx, my = moments
        timings["moments"] = 0.0
        if sketch is not None:
            for x, y in source():
                check_pair(x, y)
                sketch.add(x, y)
    n = mx.count
    t = time.perf_counter()
    if sketch is not None:
        check_count(sketch.seen, n)
        rows_x, rows_y, counts = sketch.sums_x, sketch.sums_y, sketch.counts
        del sketch  # from here on only rows_x / rows_y hold the sums, freed one by one below
    else:
        picked = np.sort(rng.choice(n, min(sketch_size, n), replace=False))
        rows_x, rows_y = _subsample(source, picked, n)
        counts = torch.ones(len(picked))
    dtype = fastest_cpu_matmul_dtype() if sketch_dtype == "auto" else getattr(torch, sketch_dtype)
    # Cast before transposing: the transposed copy is then in the (smaller) matmul dtype.
    xt_est = _unit_columns(rows_x, counts, mx).to(dtype).T.contiguous()  # (d_a, m)
    del rows_x
    ys_est = _unit_columns(rows_y, counts, my).to(dtype)  # (m, d_b)
    del rows_y
    timings["sketch"] = time.perf_counter() - t

    t = time.perf_counter()
    d_a, d_b = mx.mean.size, my.mean.size
    cand_a, cand_b = RunningTopK(d_a, candidates), RunningTopK(d_b, candidates)
    budget = max(1, int(accumulator_mb * 2**20 / 4))
    flops = mm_seconds = 0.0
    for a0, a1, b in column_blocks(d_a, d_b, budget, window):
        t_mm = time.perf_counter()
        r_est = xt_est[a0:a1] @ ys_est[:, b]  # (a1 - a0, partner width)
        mm_seconds += time.perf_counter() - t_mm
        flops += 2.0 * ys_est.shape[0] * r_est.numel()
        merge_block(cand_a, cand_b, r_est, a0, b)
    del xt_est, ys_est
    timings["candidates"] = time.perf_counter() - t

    t = time.perf_counter()
    pairs = _PairSet(cand_a.indices, cand_b.indices, d_b)
    r = pairs.exact_r(source, Standardiser(mx), Standardiser(my), n)
    timings["exact"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_start
    log.info(
        "pruned correlation: %d spans, %s to %d rows, %d candidate pairs, %.1f s",
        n,
        search,
        len(counts),
        pairs.n_pairs,
        timings["total"],
    )
    return CorrelationResult(
        anchor_top=_grouped_top_k(pairs.rows, pairs.cols, r, d_a, k),
        partner_top=_grouped_top_k(pairs.cols, pairs.rows, r, d_b, k),
        n_spans=n,
        method="pruned",
        timings=timings,
        matmul_flops=flops,
        matmul_seconds=mm_seconds,
    )


class _GroupSketch:
    """Sums of raw activations over random span groups, built batch by batch.

    Spans are dealt in rounds of ``size``: within each round of consecutive spans, a fresh
    seeded permutation gives every group exactly one span. Groups stay balanced, mix spans from
    far-apart documents, need no span count in advance (so the sketch can ride along pass 1),
    and with N <= size every span is its own group: the search is then exact."""

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.size, self.rng, self.seen = size, rng, 0
        self.sums_x = self.sums_y = torch.empty(0)
        self.counts = torch.zeros(size)
        self._round, self._perm = -1, np.empty(0, dtype=np.int64)

    def _groups(self, n: int) -> torch.Tensor:
        spans = np.arange(self.seen, self.seen + n)
        groups = np.empty(n, dtype=np.int64)
        for round_ in range(spans[0] // self.size, spans[-1] // self.size + 1):
            if round_ != self._round:  # rounds only move forward: one permutation each
                self._round, self._perm = round_, self.rng.permutation(self.size)
            inside = spans // self.size == round_
            groups[inside] = self._perm[spans[inside] % self.size]
        return torch.from_numpy(groups)

    def add(self, x: Batch, y: Batch) -> None:
        if x.shape[0] == 0:
            return
        if self.seen == 0:
            self.sums_x = torch.zeros(self.size, x.shape[1])  # (m, d_a)
            self.sums_y = torch.zeros(self.size, y.shape[1])  # (m, d_b)
        group = self._groups(x.shape[0])  # (n_batch,)
        self.sums_x.index_add_(0, group, as_tensor(x).to(torch.float32))
        self.sums_y.index_add_(0, group, as_tensor(y).to(torch.float32))
        self.counts += torch.bincount(group, minlength=self.size)
        self.seen += x.shape[0]


def _unit_columns(sums: torch.Tensor, counts: torch.Tensor, moments: Moments) -> torch.Tensor:
    """Centre group sums on the global means (a group of c spans holds c means) and scale each
    column to unit norm, in place: then a dot product of two columns estimates r. Constant
    neurons become zero columns (r = 0), as in the exact computation."""
    sums.addr_(counts, torch.from_numpy(moments.mean.astype(np.float32)), alpha=-1.0)
    # Sum of squares by row chunks: vector_norm along dim 0 measured 5x slower, and a chunk
    # bounds the squared temporary.
    norms = torch.zeros(sums.shape[1])  # (d,)
    for r0 in range(0, sums.shape[0], 256):
        norms += sums[r0 : r0 + 256].square().sum(dim=0)
    norms.sqrt_()
    live = torch.from_numpy(~moments.is_constant) & (norms > 0)
    sums *= torch.where(live, 1.0 / norms.clamp_min(1e-30), 0.0)
    return sums


def _subsample(source: SpanSource, rows: np.ndarray, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw float32 activations of the given spans (sorted ids): (m, d_a) and (m, d_b)."""
    picked_x: list[torch.Tensor] = []
    picked_y: list[torch.Tensor] = []
    seen = 0
    for x, y in source():
        check_pair(x, y)
        lo, hi = np.searchsorted(rows, [seen, seen + x.shape[0]])
        if hi > lo:
            local = rows[lo:hi] - seen
            picked_x.append(as_tensor(take_rows(x, local)).to(torch.float32, copy=True))
            picked_y.append(as_tensor(take_rows(y, local)).to(torch.float32, copy=True))
        seen += x.shape[0]
    check_count(seen, n)
    return torch.cat(picked_x), torch.cat(picked_y)


class _PairSet:
    """The union of anchor-side and partner-side candidate pairs (``rows``: anchor, ``cols``:
    partner) as one CSR mask over the (d_a, d_b) r matrix: each pair's exact r is computed once
    however many sides nominated it."""

    def __init__(self, anchor_cands: torch.Tensor, partner_cands: torch.Tensor, d_b: int):
        d_a = anchor_cands.shape[0]
        a_keys = torch.arange(d_a).unsqueeze(1) * d_b + anchor_cands  # (d_a, C): a * d_b + b
        b_keys = partner_cands * d_b + torch.arange(partner_cands.shape[0]).unsqueeze(1)
        keys = torch.unique(torch.cat([a_keys[anchor_cands >= 0], b_keys[partner_cands >= 0]]))
        self.n_pairs = int(keys.numel())
        self.rows, self.cols = keys // d_b, keys % d_b  # (n_pairs,) sorted by anchor, CSR order
        crow = torch.zeros(d_a + 1, dtype=torch.int64)
        crow[1:] = torch.cumsum(torch.bincount(self.rows, minlength=d_a), 0)
        with warnings.catch_warnings():  # "sparse CSR support is in beta": used as documented
            warnings.simplefilter("ignore", UserWarning)
            self.mask = torch.sparse_csr_tensor(
                crow, self.cols, torch.zeros(self.n_pairs), size=(d_a, d_b), check_invariants=False
            )

    def exact_r(
        self, source: SpanSource, sx: Standardiser, sy: Standardiser, n: int
    ) -> torch.Tensor:
        """(n_pairs,) float32 exact r of every pair, one pass over all spans."""
        sums = torch.zeros(self.n_pairs, dtype=torch.float64)
        seen = 0
        for x, y in source():
            check_pair(x, y)
            # (neurons, spans) operands make each pair's dot product contiguous: ~3x faster.
            xt, yt = sx.transposed(x), sy.transposed(y)  # (d_a, n_batch), (d_b, n_batch)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                batch = torch.sparse.sampled_addmm(self.mask, xt, yt.T, beta=0.0)
            sums += batch.values().to(torch.float64)
            seen += xt.shape[1]
        check_count(seen, n)
        return (sums / n).to(torch.float32)


def _grouped_top_k(
    group: torch.Tensor, other: torch.Tensor, r: torch.Tensor, n_groups: int, k: int
) -> TopK:
    """Per group (anchor or partner neuron), the top-k of its exact r over *every* computed
    pair it belongs to: its own candidates plus the pairs other neurons nominated it for, so a
    true best partner missed by one side's search is still found through the other's."""
    order = torch.argsort(r, descending=True, stable=True)
    order = order[torch.argsort(group[order], stable=True)]  # by group, then r descending
    g = group[order]
    starts = torch.searchsorted(g, torch.arange(n_groups))  # (n_groups,) first pair of group
    rank = torch.arange(len(order)) - starts[g]  # position within the group
    keep = rank < k
    values = torch.full((n_groups, k), float("-inf"))
    indices = torch.full((n_groups, k), -1, dtype=torch.int64)
    values[g[keep], rank[keep]] = r[order[keep]]
    indices[g[keep], rank[keep]] = other[order[keep]]
    return TopK(values.numpy(), indices.numpy())
