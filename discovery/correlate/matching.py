"""Correlate the anchor with every partner (and partners pairwise), find best buddies, Rosetta
groups and the null baseline, all from the activation caches of the data pass."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field

import numpy as np

from discovery.config import CorrelationConfig
from discovery.correlate.baselines import rotated_source, shuffled_source
from discovery.correlate.buddies import BuddyPairs, RosettaGroup, best_buddies, mark_consistency
from discovery.correlate.buddies import rosetta_groups as _rosetta_groups
from discovery.correlate.correlation import (
    CorrelationResult,
    DepthWindow,
    SpanSource,
    correlate_exhaustive,
    correlate_pruned,
)
from discovery.correlate.streaming_stats import Moments
from discovery.datapass.activation_cache import ActivationCache, paired_source
from discovery.datapass.collect import Collection
from discovery.datapass.layout import ColumnLayout

log = logging.getLogger(__name__)


@dataclass
class Matching:
    anchor: str
    partners: list[str]
    pairs: dict[str, BuddyPairs]  # partner -> anchor/partner best buddies
    null_pairs: dict[str, BuddyPairs]
    partner_pairs: list[BuddyPairs]  # partner/partner best buddies (consistency)
    groups: list[RosettaGroup]
    null_groups: list[RosettaGroup]
    timings: dict[str, float] = field(default_factory=dict)
    gflops: dict[str, float] = field(default_factory=dict)


def correlate(
    source: SpanSource,
    cfg: CorrelationConfig,
    moments: tuple[Moments, Moments] | None,
    window: DepthWindow | None,
) -> CorrelationResult:
    if cfg.method == "exhaustive":
        return correlate_exhaustive(source, k=cfg.k, moments=moments, window=window)
    return correlate_pruned(
        source,
        k=cfg.k,
        candidates=max(cfg.candidates, cfg.k),
        search=cfg.search,
        sketch_size=cfg.sketch_size,
        seed=cfg.null_seed,
        moments=moments,
        window=window,
    )


def rosetta_groups(anchor: str, buddies: list[BuddyPairs]) -> list[RosettaGroup]:
    """Rosetta groups; with a single partner every best-buddy pair is a group of two."""
    if len(buddies) >= 2:
        return _rosetta_groups(anchor, buddies)
    (pairs,) = buddies
    return [
        RosettaGroup(i, anchor, int(a), {pairs.model_b: int(b)}, {pairs.model_b: float(r)})
        for i, (a, b, r) in enumerate(zip(pairs.neuron_a, pairs.neuron_b, pairs.r, strict=True))
    ]


def _rotation_cost(layout: ColumnLayout) -> int:
    return sum(d * d for d in layout.layer_sizes)


def match(
    collection: Collection,
    anchor: str,
    cfg: CorrelationConfig,
    partners: list[str] | None = None,
) -> Matching:
    """Match ``anchor`` against ``partners`` (default: every other model of the collection)."""
    models = collection.models
    partners = partners if partners is not None else [m for m in models if m != anchor]
    caches: dict[str, ActivationCache] = {m: models[m].cache() for m in [anchor, *partners]}
    out = Matching(anchor, partners, {}, {}, [], [], [])

    def run(a: str, b: str, null: bool = False) -> BuddyPairs:
        label = f"{a}~{b}" + (" (null)" if null else "")
        # The rotation null rotates the model whose per-layer rotations cost less (sum of
        # d_l^2 per span): destroying either basis destroys the alignment, and best buddies
        # are symmetric, so the pairs are read back in (a, b) order.
        rotate = null and cfg.null_baseline == "rotation"
        swap = rotate and _rotation_cost(models[a].layout) < _rotation_cost(models[b].layout)
        x, y = (b, a) if swap else (a, b)
        window = (
            DepthWindow(models[x].layout, models[y].layout, cfg.depth_window)
            if cfg.depth_window is not None
            else None
        )
        source = paired_source(caches[x], caches[y], batch_size=cfg.batch_spans)
        moments = (models[x].span_moments, models[y].span_moments)
        if rotate:
            source, moments = rotated_source(source, models[y].layout, seed=cfg.null_seed), None
        elif null:
            source = shuffled_source(caches[x], caches[y], cfg.batch_spans, seed=cfg.null_seed)
        log.info("correlating %s", label)
        result = correlate(source, cfg, moments, window)
        out.timings[label] = result.timings.get("total", 0.0)
        out.gflops[label] = result.matmul_gflops
        pairs = best_buddies(result, x, y, k=cfg.k, min_r=cfg.min_r)
        if swap:  # back to (a, b), sorted by a's column like every BuddyPairs
            order = np.argsort(pairs.neuron_b, kind="stable")
            pairs = BuddyPairs(a, b, pairs.neuron_b[order], pairs.neuron_a[order], pairs.r[order])
        return pairs

    for partner in partners:
        out.pairs[partner] = run(anchor, partner)
        if cfg.null_baseline != "none":
            out.null_pairs[partner] = run(anchor, partner, null=True)
    out.groups = rosetta_groups(anchor, list(out.pairs.values()))
    if out.null_pairs:
        out.null_groups = rosetta_groups(anchor, list(out.null_pairs.values()))
    if cfg.consistency and len(partners) >= 2:
        out.partner_pairs = [run(p, q) for p, q in itertools.combinations(partners, 2)]
        out.groups = mark_consistency(out.groups, out.partner_pairs)
    return out
