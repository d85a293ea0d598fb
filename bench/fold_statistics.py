"""Leave-one-family-out statistics: column ranks sorted once vs a rank-sum AUROC per subset,
and per-family sums vs a copy of each fold's rows.

``rosetta-filter domains`` asks every neuron's AUROC for each family of a domain against the
out-of-domain documents, on the whole choose corpus and again on every fold's training part.
This times :func:`discovery.domain.lofo.fold_plan` (ranks sorted once,
:class:`discovery.domain.ranked.RankedMatrix`) against the same statistics computed the naive
way, one :func:`rosetta_filter.evaluation.metrics.auroc` (a full rank of the subset) per family
and fold, on a planted matrix shaped like the real one, alternating the order over rounds; it
checks that both give identical numbers and prints the median ratio. A third contender is
session 24's fold plan: the same ranks, but each fold's rows copied (values and ranks) and its
d' computed from the copy; the plan now reads masks of the shared ranks and each fold's d' from
per-family sums (:class:`discovery.domain.lofo.FamilyMoments`). A fourth is session 28's:
the shared ranks at the whole corpus' levels in chunks of 2,048 columns; the plan now makes
them relative to the domain's rows once (:meth:`~discovery.domain.ranked.RankedMatrix.relative_to`)
and histograms 256 columns at a time.

    python -m bench.fold_statistics --docs 2900 --columns 8192 --families 8 --rounds 2
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from bench.common import median, rotated, timed
from bench.domain_heads import planted
from discovery.domain.lofo import (
    DomainStats,
    FamilyMoments,
    LabelledDocs,
    _stats_of_rows,
    family_folds,
    fold_plan,
)
from discovery.domain.ranked import RankedMatrix
from rosetta_filter.evaluation.metrics import auroc


def naive_fold_worst(values: np.ndarray, labels: LabelledDocs, domain: str) -> list[np.ndarray]:
    """Each fold's worst-family AUROC per neuron, one full rank per (fold, family) subset."""
    worst = []
    for held in family_folds(labels, domain):
        x, domains, families = values[~held], labels.domains[~held], labels.families[~held]
        negative = domains != domain
        per_family = []
        for family in sorted(set(families[~negative].tolist())):
            rows = negative | (families == family)
            per_family.append(auroc(x[rows], ~negative[rows]))
        worst.append(np.min(per_family, axis=0))
    return worst


def copied_fold_plan(values: np.ndarray, labels: LabelledDocs, domain: str) -> list[DomainStats]:
    """Session 24's fold plan: ranks sorted once, but every fold's rows copied (the activation
    matrix and its ranks) and its d' computed from the copy in the matrix's dtype."""
    ranked = RankedMatrix.of(values)
    stats = []
    for held in family_folds(labels, domain):
        x, domains, families = values[~held], labels.domains[~held], labels.families[~held]
        sub = RankedMatrix(ranked.ranks[~held], ranked.levels, ranked.chunk_columns)
        negative = domains != domain
        names = sorted(set(families[~negative].tolist()))
        stacked = sub.aurocs(negative, [~negative & (families == f) for f in names])
        pos, neg = x[~negative], x[negative]
        spread = np.sqrt((pos.var(axis=0) + neg.var(axis=0)) / 2)
        diff = pos.mean(axis=0) - neg.mean(axis=0)
        effect = np.divide(diff, spread, out=np.zeros_like(diff, np.float64), where=spread > 0)
        stats.append(
            DomainStats(
                dict(zip(names, stacked, strict=True)), stacked.min(0), stacked.mean(0), effect
            )
        )
    return stats


def whole_levels_fold_plan(
    values: np.ndarray, labels: LabelledDocs, domain: str
) -> list[DomainStats]:
    """Session 28's fold plan: the shared ranks at every level of the corpus, 2,048 columns per
    histogram."""
    ranked, moments = RankedMatrix.of(values, chunk_columns=2048), FamilyMoments.of(values, labels)
    return [
        _stats_of_rows(ranked, labels, domain, ~held, moments, 1)
        for held in family_folds(labels, domain)
    ]


def identical(a: list[DomainStats], b: list[DomainStats], dprime: bool = True) -> bool:
    """Every fold's family AUROCs (and d') equal to the bit."""
    return all(
        x.family_auroc.keys() == y.family_auroc.keys()
        and all(np.array_equal(x.family_auroc[f], y.family_auroc[f]) for f in x.family_auroc)
        and (not dprime or np.array_equal(x.dprime, y.dprime))
        for x, y in zip(a, b, strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2900)
    parser.add_argument("--columns", type=int, default=8192)
    parser.add_argument("--domains", type=int, default=5)
    parser.add_argument("--families", type=int, default=8, help="families per domain")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-naive", action="store_true", help="skip the rank-per-subset way")
    parser.add_argument("--no-copy", action="store_true", help="skip session 24's copies")
    args = parser.parse_args()
    values, labels = planted(args.docs, args.columns, args.domains, args.families)
    domain = sorted(set(labels.domains.tolist()))[0]
    contenders = {
        "ranked once": lambda: fold_plan(values, labels, domain).train_stats,
        "whole levels": lambda: whole_levels_fold_plan(values, labels, domain),
        "copy per fold": lambda: copied_fold_plan(values, labels, domain),
    }
    if args.no_copy:
        del contenders["copy per fold"]
    if not args.no_naive:
        contenders["rank per subset"] = lambda: naive_fold_worst(values, labels, domain)
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    results = {}
    for round_no in range(args.rounds):
        for name in rotated(list(contenders), round_no):
            results[name], timing = timed(contenders[name])
            seconds[name].append(timing.wall_s)
    ours = results["ranked once"]
    report = {
        "docs": args.docs,
        "columns": args.columns,
        "folds": len(ours),
        "median_seconds": {name: median(s) for name, s in seconds.items()},
        "speedup_vs_whole_levels": median(seconds["whole levels"]) / median(seconds["ranked once"]),
        "identical_to_whole_levels": identical(ours, results["whole levels"]),
    }
    if "copy per fold" in results:
        copied = results["copy per fold"]
        report["speedup_vs_copy_per_fold"] = median(seconds["copy per fold"]) / median(
            seconds["ranked once"]
        )
        report["aurocs_identical_to_copy_per_fold"] = identical(ours, copied, dprime=False)
        # session 24's d' was computed in the matrix's float32, the sums' in float64
        report["dprime_max_abs_difference"] = max(
            float(np.max(np.abs(a.dprime - b.dprime))) for a, b in zip(ours, copied, strict=True)
        )
    if "rank per subset" in results:
        report["speedup_vs_rank_per_subset"] = median(seconds["rank per subset"]) / median(
            seconds["ranked once"]
        )
        report["identical_to_rank_per_subset"] = all(
            np.array_equal(a.worst, b)
            for a, b in zip(ours, results["rank per subset"], strict=True)
        )
    print(json.dumps(report, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
