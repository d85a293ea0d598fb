"""Which rule should pick a head's neuron pool and depth? Each candidate, judged on the families
it did not see.

A bank's depth tables hold, per domain, pool (Rosetta Neurons, consistent groups, all neurons)
and depth limit, the AUROC of every held-out family of the bank's cross-validation. A rule turns
those tables into a (pool, depth) pick. For each family in turn, this script runs the rule on
the other families' columns only, and charges the left-out family what the pick cost it against
its own AUROC under the all-neuron full-depth head (the most expressive head, the reference).
Only choose families are read: nothing here touches a held-out file, so the result may be used
to choose a rule.

Rules compared side by side:
- pool ``all`` / ``rosetta``: always that pool; ``best``: the pool whose pick validated best,
  then the one that stops earliest (the session-10 ``rosetta_only: auto``);
- depth statistic ``worst`` / ``mean`` / ``paired``
  (:func:`rosetta_filter.scoring.depth_rule.depth_quality`);
- guard ``none``, ``worst`` or ``mean``: the early exit only where the rule passed its own
  leave-one-family-out check, judged by every family's loss or by their mean
  (:func:`rosetta_filter.scoring.depth_rule.validated_depth`, ``max_layer: auto``).

    python -m bench.selection_rules configs/banks/offline-7 [out/banks/other ...]
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from rosetta_filter.scoring.bank import load_bank
from rosetta_filter.scoring.depth_rule import auto_depth, depth_quality, validated_depth

POOLS = ("rosetta", "consistent", "all")  # the session-10 order of preference on ties
Tables = dict[str, tuple[list[int], np.ndarray]]  # pool -> (depths, fold AUROC depths x folds)
Rule = Callable[[Tables, float], tuple[str, int]]


def domain_tables(heads: dict, domain: str) -> Tables:
    tables = {}
    for pool in POOLS:
        rows = sorted(heads["domains"][domain].get(pool, {}).get("depths", []),
                      key=lambda r: r["max_layer"])  # fmt: skip
        if rows:
            fold_auroc = np.asarray([r["fold_auroc"] for r in rows])
            tables[pool] = ([r["max_layer"] for r in rows], fold_auroc)
    return tables


def depth_pick(depths: list[int], fold_auroc: np.ndarray, statistic: str, guard: str, loss: float):
    """(depth, its quality) by one depth rule (``guard``: none, or a depth-rule guard)."""
    quality = depth_quality(fold_auroc, statistic)
    if guard != "none":
        families = [str(i) for i in range(fold_auroc.shape[1])]
        depth, _ = validated_depth(depths, fold_auroc, families, loss, statistic, guard)
    else:
        depth = auto_depth(list(zip(depths, quality, strict=True)), loss)
    return depth, float(quality[depths.index(depth)])


def make_rule(pool: str, statistic: str, guard: str) -> Rule:
    def rule(tables: Tables, loss: float) -> tuple[str, int]:
        if pool != "best":
            return pool, depth_pick(*tables[pool], statistic, guard, loss)[0]
        picks = {p: depth_pick(*t, statistic, guard, loss) for p, t in tables.items()}
        best = max(q for _, q in picks.values())
        near = [p for p in POOLS if p in picks and picks[p][1] >= best - loss]
        chosen = min(near, key=lambda p: picks[p][0])
        return chosen, picks[chosen][0]

    return rule


def left_out_losses(heads: dict, domain: str, rule: Rule, loss: float):
    """Per family: (what the rule picked without it cost it, the depth it picked)."""
    tables = domain_tables(heads, domain)
    reference = tables["all"][1][-1]
    out = []
    for i in range(len(reference)):
        others = {p: (d, np.delete(f, i, axis=1)) for p, (d, f) in tables.items()}
        pool, depth = rule(others, loss)
        depths, fold_auroc = tables[pool]
        out.append((float(reference[i] - fold_auroc[depths.index(depth), i]), depth))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("banks", nargs="+", type=Path)
    parser.add_argument("--loss", type=float, default=None, help="default: each bank's own")
    args = parser.parse_args()
    console = Console()
    for path in args.banks:
        heads = load_bank(path).heads or {}
        loss = args.loss if args.loss is not None else heads["max_quality_loss"]
        domains = sorted(heads["domains"])
        table = Table(
            "pool", "depth rule", "guard", "mean loss", "worst loss", "share > 0.01",
            "mean depth", *[f"{d} pick (mean loss)" for d in domains],
            title=f"{path}: a left-out family's AUROC loss vs all neurons at full depth "
            f"(max_quality_loss {loss})",
        )  # fmt: skip
        for pool, statistic, guard in itertools.product(
            ("all", "rosetta", "best"), ("worst", "mean", "paired"), ("none", "worst", "mean")
        ):
            rule = make_rule(pool, statistic, guard)
            by_domain = {d: left_out_losses(heads, d, rule, loss) for d in domains}
            rows = [x for d in domains for x in by_domain[d]]
            losses = np.asarray([r[0] for r in rows])
            picks = [
                f"{p} L{depth} ({np.mean([r[0] for r in by_domain[d]]):+.4f})"
                for d in domains
                for p, depth in [rule(domain_tables(heads, d), loss)]
            ]
            table.add_row(
                pool, statistic, guard, f"{losses.mean():+.4f}",
                f"{losses.max():+.3f}", f"{(losses > 0.01).mean():.0%}",
                f"{np.mean([r[1] for r in rows]):.1f}", *picks,
            )  # fmt: skip
        console.print(table)


if __name__ == "__main__":
    main()
