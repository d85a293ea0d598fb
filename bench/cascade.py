"""What the cascade (``neurons.cascade``) costs and saves on families no choice saw, measured on a
cross-fitted run (``python -m bench.crossfit``) without refitting.

Nested: for each fold, the cascade's shallow depth and band are chosen by the product's rule
(:mod:`rosetta_filter.scoring.cascade`) from the out-of-fold scores of the *other* folds'
documents (each scored by its own fold bank, which never saw their families), then applied to
this fold's documents, whose scores come from this fold's bank. The cascade's score (shallow
where the band is sure, full depth where it defers) is compared with the full-depth head's on
pairs of documents of the same fold, on shared stratified resamples; the layer share counts a
deferred document's second pass from layer 0. The configured filter and TF-IDF are reported
beside.

    python -m bench.cascade out/crossfit/s20 --errors 0.01 0.005 \\
        --out docs/quality/rule15-s22/cascade.json
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.compare_evaluations import Comparison, Scores, draw_differences, paired
from rosetta_filter.config import load_config
from rosetta_filter.evaluation.uncertainty import grouped_auroc
from rosetta_filter.files import write_json_atomic
from rosetta_filter.scoring.bank import load_bank
from rosetta_filter.scoring.cascade import band, cascade_scores, choose_cascade
from rosetta_filter.scoring.heads import deepest_read, depth_rows, pool_name


@dataclass(frozen=True)
class FoldCascade:
    """One fold's cascade for a domain: the shallow head's depth limit and deepest layer, its
    band, the share deferred (expected from the other folds, found on this one) and the share of
    layers run on this fold."""

    fold: int
    shallow_limit: int | None
    shallow_layer: int | None
    low: float | None
    high: float | None
    expected_defer: float
    defer: float
    layer_share: float


@dataclass(frozen=True)
class CascadeResult:
    domain: str
    error: float
    folds: list[FoldCascade]
    layer_share: float  # over documents
    comparison: Comparison  # a: full depth, b: cascade
    configured: float
    tfidf: float | None


def _column(scores: Scores, prefix: str, row: dict) -> np.ndarray:
    return scores.columns[f"{prefix}/L{row['max_layer']}"]


def nested_cascades(
    crossfit: Path, errors: list[float], rosetta_only: bool | str = False
) -> list[CascadeResult]:
    """Every domain of the cross-fitted scores at every error (see the module docstring)."""
    scores = Scores.read(crossfit)
    if scores.folds is None:
        raise SystemExit(f"{crossfit} holds no cross-fitted scores (python -m bench.crossfit)")
    folds = sorted(set(scores.folds.tolist()))
    banks = {fold: load_bank(crossfit / f"fold-{fold}" / "bank") for fold in folds}
    pool = pool_name(rosetta_only)
    resamples = scores.resamples()
    found = []
    for domain in sorted({c.split("/", 1)[0] for c in scores.columns}):
        positive = scores.labels == domain
        for error in errors:
            cascade = np.empty(len(scores.ids))
            full = np.empty(len(scores.ids))
            layers_run = np.empty(len(scores.ids))
            per_fold = []
            for fold, bank in banks.items():
                model = bank.heads["model"]
                n_layers = int(bank.model_meta(model)["layers"])
                rows = depth_rows(bank, model, domain, rosetta_only)
                read = [deepest_read(r) for r in rows]
                here, others = scores.folds == fold, scores.folds != fold
                column = partial(_column, scores, f"{domain}/head/{pool}")
                bands = [band(column(r)[others], positive[others], error) for r in rows]
                rates = [b.defer_rate for b in bands]
                choice = choose_cascade(list(zip(read, rates, strict=True)), read[-1], n_layers)
                full[here] = column(rows[-1])[here]
                if choice is None:
                    cascade[here], deferred = full[here], np.ones(here.sum(), dtype=bool)
                    layers_run[here] = read[-1] + 1
                    per_fold.append(FoldCascade(fold, None, None, None, None, 1.0, 1.0, 1.0))
                    continue
                shallow, chosen = rows[choice.index], bands[choice.index]
                deferred = chosen.deferred(column(shallow)[here])
                cascade[here] = cascade_scores(column(shallow)[here], full[here], deferred)
                layers_run[here] = read[choice.index] + 1 + deferred * (read[-1] + 1)
                per_fold.append(
                    FoldCascade(
                        fold, shallow["max_layer"], read[choice.index], chosen.low,
                        chosen.high, chosen.defer_rate, float(deferred.mean()),
                        float(layers_run[here].mean() / n_layers),
                    )
                )  # fmt: skip
            comparison = paired(full, cascade, positive, resamples, scores.folds)
            tfidf = scores.columns.get(f"{domain}/tfidf_lr")
            found.append(
                CascadeResult(
                    domain, error, per_fold, float(layers_run.mean() / n_layers), comparison,
                    grouped_auroc(scores.columns[f"{domain}/configured"], positive, scores.folds),
                    None if tfidf is None else grouped_auroc(tfidf, positive, scores.folds),
                )
            )  # fmt: skip
    return found


def recorded_cascades(crossfit: Path, pool: str = "all") -> list[CascadeResult]:
    """The cascade as the product runs it: each fold bank's own recorded bands (its fit's
    out-of-fold scores), read off the run's ``head/{pool}/cascade`` scores and each fold's
    evaluation (its shallow head, share deferred, share of layers run), against the head
    ``max_layer`` picks (``configured``, which the cascade stands in front of)."""
    scores = Scores.read(crossfit)
    if scores.folds is None:
        raise SystemExit(f"{crossfit} holds no cross-fitted scores (python -m bench.crossfit)")
    folds = sorted(set(scores.folds.tolist()))
    reports = {
        fold: json.loads((crossfit / f"fold-{fold}" / "evaluation" / "evaluation.json").read_text())
        for fold in folds
    }
    record = json.loads((crossfit / "crossfit.json").read_text())  # written when it finished
    error = load_config(Path(record["run_config"]), record["overrides"]).neurons.cascade_error
    resamples = scores.resamples()
    found = []
    for domain in sorted({c.split("/", 1)[0] for c in scores.columns}):
        positive = scores.labels == domain
        column = f"{domain}/head/{pool}/cascade"
        if column not in scores.columns:
            raise SystemExit(f"{crossfit} has no {column} scores: cross-fit again with this code")
        per_fold, shares, sizes = [], [], []
        for fold in folds:
            ran = reports[fold]["domains"][domain][f"head/{pool}/cascade"].get("cascade")
            if ran is None:  # no shallower head saved layers in this fold
                ran = {"shallow_layer": None, "band": [None, None], "deferred": 1.0,
                       "expected_layer_share": 1.0, "layer_share": 1.0}  # fmt: skip
            per_fold.append(
                FoldCascade(
                    fold, ran["shallow_layer"], ran["shallow_layer"], *ran["band"],
                    ran["expected_layer_share"], ran["deferred"], ran["layer_share"],
                )
            )  # fmt: skip
            shares.append(ran["layer_share"])
            sizes.append(int((scores.folds == fold).sum()))
        configured = scores.columns[f"{domain}/configured"]
        comparison = paired(configured, scores.columns[column], positive, resamples, scores.folds)
        tfidf = scores.columns.get(f"{domain}/tfidf_lr")
        found.append(
            CascadeResult(
                domain, error, per_fold, float(np.average(shares, weights=sizes)),
                comparison, grouped_auroc(configured, positive, scores.folds),
                None if tfidf is None else grouped_auroc(tfidf, positive, scores.folds),
            )
        )  # fmt: skip
    return found


def cascade_table(found: list[CascadeResult], how: str) -> Table:
    table = Table(
        "domain", "error", "shallow per fold", "deferred per fold", "layers run", "full depth",
        "cascade", "cascade - full (95%)", "configured", "TF-IDF",
        title=f"cascade against the head it stands in front of ({how}: pairs within a fold)",
    )  # fmt: skip
    for r in found:
        c = r.comparison
        table.add_row(
            r.domain, f"{r.error:g}",
            " ".join("-" if f.shallow_layer is None else f"L{f.shallow_layer}" for f in r.folds),
            " ".join(f"{f.defer:.0%}" for f in r.folds), f"{r.layer_share:.0%}",
            f"{c.a:.4f}", f"{c.b:.4f}", f"{c.difference:+.4f} ({c.ci[0]:+.4f}, {c.ci[1]:+.4f})",
            f"{r.configured:.4f}", "-" if r.tfidf is None else f"{r.tfidf:.4f}",
        )  # fmt: skip
    return table


def cascade_arguments(description: str) -> argparse.ArgumentParser:
    """The arguments both cascade benches take: a cross-fit, the errors, where to write."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("crossfit", type=Path, help="a bench.crossfit output")
    parser.add_argument("--errors", type=float, nargs="+", default=[0.01])
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    parser.add_argument("--figure", type=Path, help="draw each cascade - full interval (PNG)")
    return parser


def main() -> None:
    parser = cascade_arguments(__doc__.split("\n\n")[0])
    parser.add_argument(
        "--recorded",
        action="store_true",
        help="the cascade as the product ran it in the cross-fit (each fold bank's own bands, "
        "neurons.cascade_error of the run config), not chosen on the other folds",
    )
    args = parser.parse_args()
    if args.recorded:
        found = recorded_cascades(args.crossfit)
    else:
        found = nested_cascades(args.crossfit, args.errors)
    how = "each fold bank's own bands" if args.recorded else "nested cross-fitting"
    Console().print(cascade_table(found, how))
    if args.out:
        write_json_atomic(
            args.out, {"crossfit": str(args.crossfit), "rows": [asdict(r) for r in found]}
        )
    if args.figure:
        rows = {
            f"{r.domain}, error {r.error:g}, {r.layer_share:.0%} of layers": {"all": r.comparison}
            for r in found
        }
        title = f"cascade - full depth ({how}: pairs within a fold)\n{args.crossfit}"
        draw_differences(rows, args.figure, title, margin=0.005)


if __name__ == "__main__":
    main()
