"""Fitting domain heads: N worker processes vs one process for all (``heads.workers``).

``rosetta-filter domains`` spends most of its time after the pooled pass fitting, per domain,
leave-one-family-out statistics and a depth table of L1 heads per neuron pool; liblinear uses
one core. This times :func:`discovery.domain.fit_domains.fit_domains` on a planted activation
matrix (each domain's families shift their own random subset of neurons; ``--pools`` pools of
columns, as the real fit has three) with 1 worker and with N, alternating the order over
rounds, checks that both give the same heads, and prints the median ratio.

    python -m bench.domain_heads --docs 1200 --layers 6 --neurons 256 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
from functools import partial

import numpy as np

from bench.common import median, rotated, timed
from discovery.domain.fit_domains import DomainJob, fit_domains
from discovery.domain.heads import HeadSettings
from discovery.domain.job import head_row
from discovery.domain.lofo import LabelledDocs


def planted(docs: int, columns: int, domains: int, families: int, seed: int = 0):
    """Activations where every (domain, family) moves its own neurons: domain-general ones that
    all of a domain's families share, and family-specific ones."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(docs, columns)).astype(np.float32)
    domain_of = rng.integers(domains, size=docs)
    family_of = rng.integers(families, size=docs)
    for d in range(domains):
        general = rng.choice(columns, 8, replace=False)
        rows = domain_of == d
        values[np.ix_(rows, general)] += 0.8
        for f in range(families):
            specific = rng.choice(columns, 8, replace=False)
            values[np.ix_(rows & (family_of == f), specific)] += 1.5
    labels = LabelledDocs(
        np.array([f"d{d}" for d in domain_of]),
        np.array([f"d{d}-f{f}" for d, f in zip(domain_of, family_of, strict=True)]),
    )
    return values, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1200)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--neurons", type=int, default=256, help="neurons per layer")
    parser.add_argument("--domains", type=int, default=5)
    parser.add_argument("--families", type=int, default=5, help="families per domain")
    parser.add_argument("--pools", type=int, default=3, help="pool k: every (k+1)th column")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    columns = args.layers * args.neurons
    values, labels = planted(args.docs, columns, args.domains, args.families)
    job = DomainJob(
        labels=labels,
        pools={f"pool-{k}": np.arange(0, columns, k + 1) for k in range(args.pools)},
        layers=np.arange(columns) // args.neurons,
        depths=list(range(args.layers)),
        settings=HeadSettings(max_neurons=16, candidates=64),
        max_quality_loss=0.005,
        depth_statistic="worst",
        depth_guard="worst",
        row=partial(head_row, d_mlp=args.neurons),
    )
    domains = sorted(set(labels.domains.tolist()))
    variants = {"1 worker": 1, f"{args.workers} workers": args.workers}
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    heads = {}
    for round_no in range(args.rounds):
        for name in rotated(list(variants), round_no):
            fitted, timing = timed(lambda w=variants[name]: fit_domains(values, job, domains, w))
            seconds[name].append(timing.wall_s)
            heads[name] = {d: fitted[d][1] for d in domains}
    first, *rest = heads.values()
    result = {
        "docs": args.docs,
        "columns": columns,
        "domains": args.domains,
        "pools": args.pools,
        "depths": args.layers,
        "median_seconds": {name: median(s) for name, s in seconds.items()},
        "speedup": median(seconds["1 worker"]) / median(seconds[f"{args.workers} workers"]),
        "same_heads": all(h == first for h in rest),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
