"""Fitting every domain's statistics and depth tables on worker processes
(:mod:`discovery.domain.workers`): a domain's leave-one-family-out statistics and fold plan
(one task), then a depth table of heads per neuron pool (one task each)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from discovery.domain.heads import HeadSettings, depth_table
from discovery.domain.lofo import (
    DomainStats,
    FamilyMoments,
    FoldPlan,
    LabelledDocs,
    domain_stats,
    fold_plan,
)
from discovery.domain.ranked import RankedMatrix, ranked_matrices
from discovery.domain.workers import map_domain_parts
from rosetta_filter.scoring.depth_rule import depth_quality, validated_depth

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DomainJob:
    """What every domain's fit shares (the activation matrix itself travels separately)."""

    labels: LabelledDocs
    pools: Mapping[str, np.ndarray]  # pool name -> activation columns
    layers: np.ndarray  # layer of each column
    depths: Sequence[int]
    settings: HeadSettings
    max_quality_loss: float
    depth_statistic: str
    depth_guard: str
    row: Callable[[int, object], dict]  # (depth, head) -> the bank's row of that head


def domain_setup(
    values: np.ndarray, job: DomainJob, domain: str, ranked: RankedMatrix | None = None
) -> tuple[DomainStats, FoldPlan]:
    """A domain's statistics and fold plan, the plan's statistics cut to what the head fits
    rank candidates by (:meth:`FoldPlan.for_ranking`). ``ranked``: the matrix's column ranks,
    if already sorted (once for every domain a worker fits)."""
    ranked = RankedMatrix.of(values) if ranked is None else ranked
    moments = FamilyMoments.of(values, job.labels)  # the domain's statistics and every fold's
    stats = domain_stats(values, job.labels, domain, ranked=ranked, moments=moments)
    plan = fold_plan(values, job.labels, domain, ranked, moments=moments)
    return stats, plan.for_ranking()


def pool_heads(
    values: np.ndarray,
    job: DomainJob,
    domain: str,
    pool: str,
    stats: DomainStats,
    plan: FoldPlan,
) -> dict:
    """One neuron pool's depth table of ``domain``, its auto depth and rule check."""
    columns = job.pools[pool]
    table = depth_table(
        values, job.labels, domain, stats, columns, job.layers, job.depths, job.settings, plan
    )
    heads = rank_depths(
        [job.row(depth, head) for depth, head in table],
        job.labels.families_of(domain),
        job.max_quality_loss,
        job.depth_statistic,
        job.depth_guard,
    )
    log.info("%s/%s: auto max_layer %s", domain, pool, heads["auto_max_layer"])
    return heads


def rank_depths(
    rows: list[dict],
    families: Sequence[str],
    max_quality_loss: float,
    statistic: str,
    guard: str = "worst",
) -> dict:
    """A pool's depth table (rows shallowest first, each with its ``fold_auroc``) with every
    row's ``paired_fold_auroc``, the validated ``auto`` depth by ``statistic`` and the rule's
    check under ``guard`` (:func:`rosetta_filter.scoring.depth_rule.validated_depth`). Depends
    only on the fits' fold AUROCs, so a bank can be re-ranked without refitting."""
    fold_auroc = np.asarray([r["fold_auroc"] for r in rows])
    for row, paired in zip(rows, depth_quality(fold_auroc, "paired"), strict=True):
        row["paired_fold_auroc"] = float(paired)
    depth, check = validated_depth(
        [r["max_layer"] for r in rows], fold_auroc, families, max_quality_loss, statistic, guard
    )
    return {"depths": rows, "auto_max_layer": depth, "rule_check": check}


def fit_domains(
    values: np.ndarray,
    job: DomainJob,
    domains: Sequence[str],
    workers: int = 0,
    done: Callable[[str], None] = lambda domain: None,
    scratch_dir: Path | None = None,
) -> dict[str, tuple[DomainStats, dict]]:
    """Every domain's statistics and, per pool, its depth table, auto depth and rule check, in
    ``workers`` processes (:func:`discovery.domain.workers.map_domain_parts`: 0, one per CPU
    core; 1, in this process): a domain's setup, then its pools as separate tasks."""
    fitted = map_domain_parts(
        {"values": values},
        ranked_matrices,
        partial(_setup_task, job=job),
        partial(_pool_task, job=job),
        domains,
        list(job.pools),
        workers,
        done,
        scratch_dir,
    )
    return {domain: (shared[0], heads) for domain, (shared, heads) in fitted.items()}


Ranked = dict[str, tuple[np.ndarray, RankedMatrix]]


def _setup_task(ranked: Ranked, domain: str, job: DomainJob) -> tuple[DomainStats, FoldPlan]:
    values, ranks = ranked["values"]
    return domain_setup(values, job, domain, ranks)


def _pool_task(
    ranked: Ranked, domain: str, pool: str, shared: tuple[DomainStats, FoldPlan], job: DomainJob
) -> dict:
    values, _ = ranked["values"]
    return pool_heads(values, job, domain, pool, *shared)
