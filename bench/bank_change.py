"""Is bank B no worse than bank A? The two banks' choose corpora, compared on paired folds over
several dealings, with an interval over held-out families (:mod:`discovery.domain.bank_change`).

Each config is a ``rosetta-filter domains`` config; only the labelled (choose) corpus, the model
and the head settings are read, and the pooled activations come from the configs' caches (the
pooled pass runs for documents not cached yet). Nothing held out is read, so the result may
decide a change. The two configs may name different anchor models (``model.name``): each head
reads its own model's neurons, scored on the same families' folds.

    python -m bench.bank_change configs/domains.yaml out/configs/domains-b.yaml \\
        --seeds 8 --margin 0.01 --out docs/quality/bank-change.json

A domain passes when the lower end of its 95% interval of B - A is at least ``-margin``
(non-inferiority); ``assignment sd`` is how far one dealing's mean fold AUROC moves by which
negative families share a fold: a threshold below it cannot be tested by a single dealing.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import yaml
from rich.console import Console
from rich.table import Table

from discovery.domain.bank_change import DomainChange, compare_banks
from discovery.domain.job import DomainsConfig, choose_matrix, head_settings


def _load(path: Path) -> DomainsConfig:
    return DomainsConfig.model_validate(yaml.safe_load(path.read_text()))


def report(changes: dict[str, DomainChange], margin: float, title: str) -> Table:
    table = Table(
        "domain", "families", "A", "B", "B - A (95%, families)", "worst family",
        "assignment sd (A)", f"non-inferior at {margin}", title=title,
    )  # fmt: skip
    for domain, c in changes.items():
        worst = min(c.by_family, key=c.by_family.get)
        table.add_row(
            domain, str(len(c.families)), f"{c.mean_a:.4f}", f"{c.mean_b:.4f}",
            f"{c.difference:+.4f} ({c.low:+.4f}, {c.high:+.4f})",
            f"{worst} {c.by_family[worst]:+.4f}", f"{c.assignment_sd_a:.4f}",
            "yes" if c.non_inferior(margin) else "NO",
        )  # fmt: skip
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config_a", type=Path, help="the current bank's domains config")
    parser.add_argument("config_b", type=Path, help="the changed bank's domains config")
    parser.add_argument("--seeds", type=int, default=8, help="dealings of the families")
    parser.add_argument("--margin", type=float, default=0.01, help="non-inferiority margin")
    parser.add_argument("--domain", action="append", help="only these domains (repeatable)")
    parser.add_argument("--workers", type=int, default=0, help="processes (0: one per core)")
    parser.add_argument("--out", type=Path, help="write the comparison as JSON")
    args = parser.parse_args()
    console = Console()
    cfg_a, cfg_b = _load(args.config_a), _load(args.config_b)
    if cfg_a.heads.model_dump(exclude={"workers"}) != cfg_b.heads.model_dump(exclude={"workers"}):
        parser.error("the configs' heads settings differ: compare one change at a time")
    started = time.perf_counter()
    a, b = choose_matrix(cfg_a), choose_matrix(cfg_b)
    console.print(f"A: {a.values.shape[0]} docs, B: {b.values.shape[0]} docs")
    changes = compare_banks(
        (a.values, a.labels),
        (b.values, b.labels),
        head_settings(cfg_a.heads),
        seeds=list(range(args.seeds)),
        domains=args.domain,
        layers=(np.arange(a.values.shape[1]) // a.d_mlp, np.arange(b.values.shape[1]) // b.d_mlp),
        workers=args.workers,
        done=lambda d: console.print(f"{d}: done ({time.perf_counter() - started:.0f} s)"),
    )
    title = (
        f"{args.config_b} against {args.config_a}: full-depth all-neuron heads, "
        f"{args.seeds} dealings, paired folds"
    )
    console.print(report(changes, args.margin, title))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps(
                {
                    "config_a": str(args.config_a),
                    "config_b": str(args.config_b),
                    "seeds": args.seeds,
                    "margin": args.margin,
                    "seconds": round(time.perf_counter() - started, 1),
                    "domains": {
                        d: asdict(c) | {"non_inferior": c.non_inferior(args.margin)}
                        for d, c in changes.items()
                    },
                },
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
