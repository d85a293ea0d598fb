"""Fitting every domain's statistics and depth tables, one domain per worker process
(:mod:`discovery.domain.workers`): a domain's leave-one-family-out statistics, its fold plan,
then a depth table of heads per neuron pool."""

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
    LabelledDocs,
    domain_stats,
    fold_plan,
)
from discovery.domain.ranked import RankedMatrix, ranked_matrices
from discovery.domain.workers import map_domains
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


def fit_domain(
    values: np.ndarray, job: DomainJob, domain: str, ranked: RankedMatrix | None = None
) -> tuple[DomainStats, dict]:
    """One domain's statistics and, per pool, its depth table, auto depth and rule check.
    ``ranked``: the matrix's column ranks, if already sorted (once for every domain a worker
    fits, and for the domain's statistics and every fold)."""
    ranked = RankedMatrix.of(values) if ranked is None else ranked
    moments = FamilyMoments.of(values, job.labels)  # the domain's statistics and every fold's
    stats = domain_stats(values, job.labels, domain, ranked=ranked, moments=moments)
    plan = fold_plan(values, job.labels, domain, ranked, moments=moments)
    heads = {}
    for name, pool in job.pools.items():
        table = depth_table(
            values, job.labels, domain, stats, pool, job.layers, job.depths, job.settings, plan
        )
        rows = [job.row(depth, head) for depth, head in table]
        heads[name] = rank_depths(
            rows,
            job.labels.families_of(domain),
            job.max_quality_loss,
            job.depth_statistic,
            job.depth_guard,
        )
        log.info("%s/%s: auto max_layer %s", domain, name, heads[name]["auto_max_layer"])
    return stats, heads


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
    """:func:`fit_domain` for every domain, in ``workers`` processes
    (:func:`discovery.domain.workers.map_domains`: 0, one per CPU core; 1, in this process)."""
    task = partial(_fit_task, job=job)
    return map_domains(
        {"values": values}, ranked_matrices, task, domains, workers, done, scratch_dir
    )


def _fit_task(
    ranked: dict[str, tuple[np.ndarray, RankedMatrix]], domain: str, job: DomainJob
) -> tuple[DomainStats, dict]:
    values, ranks = ranked["values"]
    return fit_domain(values, job, domain, ranks)
