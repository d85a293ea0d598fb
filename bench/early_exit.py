"""What does ``neurons.max_quality_loss`` cost on families the depth rule never saw, and what does
it save? Measured on a cross-fitted run (``python -m bench.crossfit``), without refitting.

Each fold's bank holds a domain's whole depth table, and the fold's ``scores.parquet`` holds every
depth's out-of-fold score. For each loss, each fold's bank resolves ``max_layer: auto`` through
the scorer's own code (:meth:`NeuronSelection.from_config`, with the run config's neurons and
``max_quality_loss`` set to the loss); that depth's scores are compared with the fold's full-depth
head of the same pool, on pairs of documents of the same fold (one bank scored both), paired on
the same stratified resamples. The share of layers run is what the early exit saves: the forward
pass stops at the deepest layer read. An ordinary ``rosetta-filter evaluate`` output is read with
``--bank``, the one bank it scored with (:func:`evaluation_depths`: point estimates).

    python -m bench.early_exit out/crossfit/s20 configs/demo.yaml --losses 0.005 0.01 \\
        --set model.dtype=auto --out docs/quality/rule12-s21/early-exit.json \\
        --figure docs/quality/rule12-s21/early-exit.png
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.compare_evaluations import Comparison, Scores, draw_differences, paired
from rosetta_filter.config import RunConfig, load_config
from rosetta_filter.files import write_json_atomic
from rosetta_filter.scoring.bank import NeuronBank, load_bank
from rosetta_filter.scoring.depth_rule import DEPTH_STATISTICS
from rosetta_filter.scoring.heads import depth_rows, pool_name
from rosetta_filter.scoring.scorer import NeuronSelection


@dataclass(frozen=True)
class EarlyExit:
    """One domain at one loss: each fold's auto depth (the deepest layer its head reads), the
    share of the model's layers that runs (mean over folds), and the paired comparison with
    full depth (``a``: full depth, ``b``: auto)."""

    domain: str
    loss: float
    depths: list[int]
    layer_share: float
    comparison: Comparison


def fold_depth(
    bank: NeuronBank, run: RunConfig, domain: str, loss: float
) -> tuple[int, int, int, str]:
    """What ``max_layer: auto`` resolves to for ``domain`` at ``loss`` with this bank, as the
    scorer would load it: the head's depth limit (its row of the depth table), the deepest
    layer its neurons read (where the forward pass stops), the table's deepest limit (full
    depth) and the pool (``rosetta_only``) the table belongs to."""
    neurons = run.neurons.model_copy(update={"domain": domain, "max_quality_loss": loss})
    if neurons.max_layer != "auto":
        raise SystemExit(f"neurons.max_layer is {neurons.max_layer!r}: set it to auto (--set)")
    selection = NeuronSelection.from_config(neurons, run.scoring, run.model.name, bank)
    if selection.max_layer is None:
        raise SystemExit("the configured neurons are no domain head: set neurons.mode=head")
    pool = False if neurons.rosetta_only == "auto" else neurons.rosetta_only
    deepest_read = max(n.layer for n in selection.neurons)
    full = depth_rows(bank, neurons.bank_model or run.model.name, domain, pool)[-1]["max_layer"]
    return selection.max_layer, deepest_read, full, pool_name(pool)


def reranked(bank: NeuronBank, depth_statistic: str | None) -> NeuronBank:
    """``bank`` with its depth tables ranked by ``depth_statistic`` (``heads.depth_statistic``)
    instead of the one it was fitted with: the ranking reads only the recorded per-family
    AUROCs (:func:`discovery.domain.fit_domains.rank_depths`), so no refit is needed."""
    if depth_statistic is None:
        return bank
    if depth_statistic not in DEPTH_STATISTICS:
        raise SystemExit(f"--depth-statistic {depth_statistic}: use one of {DEPTH_STATISTICS}")
    assert bank.heads is not None, f"bank {bank.path} has no heads"
    return replace(bank, heads={**bank.heads, "quality_key": f"{depth_statistic}_fold_auroc"})


def early_exits(
    crossfit: Path, run: RunConfig, losses: list[float], depth_statistic: str | None = None
) -> list[EarlyExit]:
    """Every domain of the cross-fitted scores at every loss (see the module docstring), each
    fold's bank ranked by ``depth_statistic`` (None: the statistic it was fitted with)."""
    scores = Scores.read(crossfit)
    if scores.folds is None:
        raise SystemExit(f"{crossfit} holds no cross-fitted scores: for an evaluation, --bank")
    banks = {
        fold: reranked(load_bank(crossfit / f"fold-{fold}" / "bank"), depth_statistic)
        for fold in sorted(set(scores.folds.tolist()))
    }
    resamples = scores.resamples()
    found = []
    for domain in sorted({c.split("/", 1)[0] for c in scores.columns}):
        positive = scores.labels == domain
        for loss in losses:
            auto, full = np.empty(len(scores.ids)), np.empty(len(scores.ids))
            depths, shares = [], []
            for fold, bank in banks.items():
                limit, read, deepest, pool = fold_depth(bank, run, domain, loss)
                rows = scores.folds == fold
                auto[rows] = scores.columns[f"{domain}/head/{pool}/L{limit}"][rows]
                full[rows] = scores.columns[f"{domain}/head/{pool}/L{deepest}"][rows]
                depths.append(read)
                shares.append((read + 1) / (deepest + 1))
            comparison = paired(full, auto, positive, resamples, scores.folds)
            found.append(EarlyExit(domain, loss, depths, float(np.mean(shares)), comparison))
    return found


def evaluation_depths(
    evaluation: Path,
    bank_dir: Path,
    run: RunConfig,
    losses: list[float],
    depth_statistic: str | None = None,
) -> list[dict]:
    """The same question for one ``rosetta-filter evaluate`` output and the bank it scored
    with: per domain with documents there and per loss, the depth ``auto`` resolves to and the
    AUROCs of that depth's head and of the full-depth head, read from ``evaluation.json`` (its
    depth ablation scores every depth; point estimates only, as it keeps no per-depth scores)."""
    report = json.loads((evaluation / "evaluation.json").read_text())["domains"]
    bank = reranked(load_bank(bank_dir), depth_statistic)
    found = []
    for domain, variants in sorted(report.items()):
        for loss in losses:
            limit, read, deepest, pool = fold_depth(bank, run, domain, loss)
            auto = variants[f"head/{pool}/L{limit}"]["auroc"]
            full = variants[f"head/{pool}/L{deepest}"]["auroc"]
            found.append(
                {"domain": domain, "loss": loss, "depth": read, "auto": auto, "full": full}
            )
    return found


def exit_table(found: list[EarlyExit]) -> Table:
    table = Table(
        "domain", "max_quality_loss", "depth per fold", "layers run", "full depth", "auto",
        "auto - full (95%)",
        title="max_layer: auto against full depth (cross-fitted scores: pairs within a fold)",
    )  # fmt: skip
    for e in found:
        c = e.comparison
        table.add_row(
            e.domain, f"{e.loss:g}", " ".join(f"L{d}" for d in e.depths), f"{e.layer_share:.0%}",
            f"{c.a:.4f}", f"{c.b:.4f}", f"{c.difference:+.4f} ({c.ci[0]:+.4f}, {c.ci[1]:+.4f})",
        )  # fmt: skip
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "scored", type=Path, help="a bench.crossfit output, or an evaluation with --bank"
    )
    parser.add_argument("run_config", type=Path, help="run config whose neurons resolve depth")
    parser.add_argument("--bank", type=Path, help="the bank an evaluation (not cross-fitted) used")
    parser.add_argument("--losses", type=float, nargs="+", default=[0.005, 0.01])
    parser.add_argument(
        "--depth-statistic",
        choices=DEPTH_STATISTICS,
        help="re-rank every fold's depth tables by this statistic (default: the bank's own)",
    )
    parser.add_argument("--set", action="append", default=[], help="run config override")
    parser.add_argument("--out", type=Path, help="write the table as JSON")
    parser.add_argument("--figure", type=Path, help="draw each auto - full interval (PNG)")
    args = parser.parse_args()
    run = load_config(args.run_config, args.set)
    meta = {"scored": str(args.scored), "depth_statistic": args.depth_statistic}
    if args.bank is not None:
        rows = evaluation_depths(args.scored, args.bank, run, args.losses, args.depth_statistic)
        table = Table("domain", "max_quality_loss", "depth", "auto", "full depth", "auto - full")
        for r in rows:
            table.add_row(
                r["domain"], f"{r['loss']:g}", f"L{r['depth']}", f"{r['auto']:.4f}",
                f"{r['full']:.4f}", f"{r['auto'] - r['full']:+.4f}",
            )  # fmt: skip
        Console().print(table)
        if args.out:
            write_json_atomic(args.out, meta | {"bank": str(args.bank), "rows": rows})
        return
    found = early_exits(args.scored, run, args.losses, args.depth_statistic)
    Console().print(exit_table(found))
    if args.out:
        write_json_atomic(args.out, meta | {"rows": [asdict(e) for e in found]})
    if args.figure:
        rows = {
            f"{e.domain}, loss {e.loss:g}, {e.layer_share:.0%} of layers": {"all": e.comparison}
            for e in found
        }
        statistic = args.depth_statistic or "the banks' own"
        title = (
            f"max_layer: auto - full depth (cross-fitted: pairs within a fold)\n{args.scored}, "
            f"depth statistic: {statistic}"
        )
        draw_differences(rows, args.figure, title, margin=max(args.losses))


if __name__ == "__main__":
    main()
