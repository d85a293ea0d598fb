"""How well does a bank fitted on every labelled family do on families it never saw? Cross-fitted
over the held-out families (:mod:`discovery.domain.crossfit`): each fold's bank is fitted with
the ``domains`` config on the choose families plus the other folds' families, and scores its
fold's families; the out-of-fold scores are pooled.

    python -m bench.crossfit configs/domains.yaml configs/demo.yaml \\
        --heldout out/labelled/heldout.jsonl --folds 4 --cache out/cache/domains \\
        --set model.dtype=auto --out out/crossfit/s20

Prints per domain the pooled AUROC of the configured filter (its auto depth per fold), of the
full-depth head of the same pool and of TF-IDF + LR trained on each fold's corpus; writes
``scores.parquet`` (every variant's out-of-fold score: ``python -m bench.compare_evaluations
A OUT`` compares it with an evaluation of the same held-out file) and ``crossfit.json``.
A killed run resumes at its fold.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pyarrow as pa
from rich.console import Console
from rich.table import Table

from discovery.domain.crossfit import Crossfit, pooled_aurocs, run_crossfit
from discovery.domain.job import DomainsConfig
from rosetta_filter.cli.common import command_progress
from rosetta_filter.config import load_config
from rosetta_filter.evaluation.evaluate import BASELINE, CONFIGURED
from rosetta_filter.files import write_json_atomic


def fold_depths(out: Path, folds: int) -> dict[str, list[int]]:
    """Each domain's configured depth (deepest layer read) in each fold's evaluation."""
    depths: dict[str, list[int]] = {}
    for fold in range(folds):
        evaluation = json.loads(
            (out / f"fold-{fold}" / "evaluation" / "evaluation.json").read_text()
        )
        for domain, metrics in evaluation["domains"].items():
            depths.setdefault(domain, []).append(metrics[CONFIGURED]["max_layer"])
    return depths


def full_depth_variant(columns: list[str]) -> str:
    """The deepest all-neuron head every fold scored (``head/all/L{n}``), read off the pooled
    columns, so a run resumed from its folds' scores alone needs no bank."""
    depths = {
        int(name.rsplit("/L", 1)[1])
        for name in columns
        if name.split("/", 1)[-1].startswith("head/all/L")
    }
    return f"head/all/L{max(depths)}"


def summarise(pooled: pa.Table, out: Path, folds: int) -> dict:
    """Per domain the configured filter, the full-depth all-neuron head and TF-IDF + LR, each
    ``within_fold`` and ``pooled`` (:func:`pooled_aurocs`), and the configured depth per fold."""
    full = full_depth_variant(pooled.column_names)
    return {
        "docs": pooled.num_rows,
        "auroc": pooled_aurocs(pooled, (CONFIGURED, full, BASELINE)),
        "configured_depths": fold_depths(out, folds),
        "full_depth_variant": full,
    }


def summary_table(summary: dict, folds: int) -> Table:
    full = summary["full_depth_variant"]
    table = Table(
        "domain", "configured", "depth per fold", f"full depth ({full})", "TF-IDF + LR",
        title=f"out-of-fold AUROC over {summary['docs']} held-out documents, {folds} folds: "
        "pairs within a fold / every pair",
    )  # fmt: skip
    cell = lambda v: f"{v['within_fold']:.4f} / {v['pooled']:.4f}" if v else "-"  # noqa: E731
    for domain, row in summary["auroc"].items():
        depths = " ".join(f"L{d}" for d in summary["configured_depths"][domain])
        table.add_row(
            domain, cell(row.get(CONFIGURED)), depths, cell(row.get(full)), cell(row.get(BASELINE))
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("domains_config", type=Path, help="the bank's domains config")
    parser.add_argument("run_config", type=Path, help="run config whose neurons are scored")
    parser.add_argument("--heldout", type=Path, required=True, help="held-out labelled file")
    parser.add_argument("--folds", type=int, default=4, help="folds of held-out families")
    parser.add_argument("--cache", type=Path, help="pooled-activation cache (domains cache_dir)")
    parser.add_argument("--set", action="append", default=[], help="run config override")
    parser.add_argument(
        "--domains-set",
        action="append",
        default=[],
        help="domains config override, e.g. heads.max_neurons=16 (a rule's candidate fit)",
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    args = parser.parse_args()
    console = Console()
    started = time.perf_counter()
    plan = Crossfit(
        domains=load_config(args.domains_config, args.domains_set, cls=DomainsConfig),
        run=load_config(args.run_config, args.set),
        heldout=args.heldout,
        out=args.out,
        folds=args.folds,
        cache_dir=args.cache,
    )
    with command_progress(quiet=False) as progress:

        def done(fold: int, step: str) -> None:
            progress.finish()
            console.print(f"fold {fold}: {step} ({time.perf_counter() - started:.0f} s)")

        pooled = run_crossfit(plan, done=done, stage=progress.start, advance=progress.advance)
    summary = summarise(pooled, args.out, args.folds)
    console.print(summary_table(summary, args.folds))
    write_json_atomic(
        args.out / "crossfit.json",
        {
            "domains_config": str(args.domains_config),
            "run_config": str(args.run_config),
            "overrides": args.set,
            "domains_overrides": args.domains_set,
            "heldout": str(args.heldout),
            "folds": args.folds,
            "seconds": round(time.perf_counter() - started, 1),
            **summary,
        },
    )


if __name__ == "__main__":
    main()
