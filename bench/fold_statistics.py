"""Leave-one-family-out statistics: column ranks sorted once vs a rank-sum AUROC per subset.

``rosetta-filter domains`` asks every neuron's AUROC for each family of a domain against the
out-of-domain documents, on the whole choose corpus and again on every fold's training part.
This times :func:`discovery.domain.lofo.fold_plan` (ranks sorted once,
:class:`discovery.domain.ranked.RankedMatrix`) against the same statistics computed the naive
way, one :func:`rosetta_filter.evaluation.metrics.auroc` (a full rank of the subset) per family
and fold, on a planted matrix shaped like the real one, alternating the order over rounds; it
checks that both give identical numbers and prints the median ratio.

    python -m bench.fold_statistics --docs 2900 --columns 8192 --families 8 --rounds 2
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from bench.common import median, rotated, timed
from bench.domain_heads import planted
from discovery.domain.lofo import LabelledDocs, family_folds, fold_plan
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2900)
    parser.add_argument("--columns", type=int, default=8192)
    parser.add_argument("--domains", type=int, default=5)
    parser.add_argument("--families", type=int, default=8, help="families per domain")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    values, labels = planted(args.docs, args.columns, args.domains, args.families)
    domain = sorted(set(labels.domains.tolist()))[0]
    contenders = {
        "ranked once": lambda: [s.worst for s in fold_plan(values, labels, domain).train_stats],
        "rank per subset": lambda: naive_fold_worst(values, labels, domain),
    }
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    results = {}
    for round_no in range(args.rounds):
        for name in rotated(list(contenders), round_no):
            results[name], timing = timed(contenders[name])
            seconds[name].append(timing.wall_s)
    ours, naive = results["ranked once"], results["rank per subset"]
    print(json.dumps({
        "docs": args.docs,
        "columns": args.columns,
        "folds": len(ours),
        "median_seconds": {name: median(s) for name, s in seconds.items()},
        "speedup": median(seconds["rank per subset"]) / median(seconds["ranked once"]),
        "identical": all(np.array_equal(a, b) for a, b in zip(ours, naive, strict=True)),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
