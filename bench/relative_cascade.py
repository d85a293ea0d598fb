"""What a cascade of the relative score (``neurons.cascade`` with ``neurons.relative``) costs and
saves on families no choice saw, on a cross-fitted run (``python -m bench.crossfit``) without
refitting (rule 17, docs/quality/rule17-s23/RULE.md).

The full stage is rule 16's relative score: each domain's configured out-of-fold logit as a
log-softmax over every domain's. The shallow stage at a common depth limit d is every domain's
depth-table head at d (its out-of-fold column ``{domain}/head/{pool}/L{d}``), log-softmaxed the
same way. Variant ``any`` (rule 17's candidate) defers a document when any domain's shallow logit
is in that head's band; variant ``own`` (the product's since rule 17) only when the target
domain's is; variant ``negatives`` (rule 19) whenever the target domain's is at or above its band's
low edge (only confident negatives exit early). The depth is chosen by
the product's rule (:func:`rosetta_filter.scoring.cascade.choose_cascade`) with the bands either

- ``recorded``: each fold bank's own (what the product reads from a bank), applied to that
  fold's documents, the expected share deferred the sum of the heads' recorded shares; or
- ``nested``: from the out-of-fold scores of the *other* folds' documents, the expected share
  deferred the one measured there.

Each is compared with the full-stage relative score on pairs of documents of the same fold, on
shared stratified resamples; a deferred document pays for the full pass again. ``top overlap``
is what a ranking selection sees: the share of the full stage's top ``--top`` of each fold's
documents that the cascade also ranks there.

    python -m bench.relative_cascade out/crossfit/s22 --errors 0.01 0.005 0.002 \\
        --out docs/quality/rule17-s23/relative_cascade.json
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.cascade import cascade_arguments
from bench.compare_evaluations import Comparison, Scores, draw_differences, paired
from rosetta_filter.evaluation.uncertainty import grouped_auroc
from rosetta_filter.files import write_json_atomic
from rosetta_filter.scoring.bank import NeuronBank, load_bank
from rosetta_filter.scoring.cascade import (
    Band,
    band,
    cascade_scores,
    choose_cascade,
    error_key,
    joint_defer_rate,
)
from rosetta_filter.scoring.heads import deepest_read, depth_rows
from rosetta_filter.scoring.relative import relative_scores

VARIANTS = ("any", "own", "negatives")
BANDS = ("recorded", "nested")


@dataclass(frozen=True)
class RelativeCascade:
    """One domain's cascade of the relative score at one error, variant and way of setting the
    bands: per fold the shallow depth limit (None: no cascade) and share deferred, overall the
    share of layers run and the comparison with the full stage (``a``) of the cascade (``b``)."""

    domain: str
    error: float
    variant: str
    bands: str
    shallow_per_fold: list[int | None]
    deferred_per_fold: list[float]
    layer_share: float
    comparison: Comparison
    top_overlap: float
    tfidf: float | None


@dataclass(frozen=True)
class FoldHeads:
    """One fold bank's depth tables (every domain, one pool) and the configured rows."""

    tables: dict[str, dict[int, dict]]  # domain -> max_layer -> row
    full_layer: int  # the deepest layer any configured head reads
    n_layers: int

    @classmethod
    def of(cls, bank: NeuronBank, pool: bool, configured: dict[str, int]) -> FoldHeads:
        model = bank.heads["model"]
        tables = {
            d: {r["max_layer"]: r for r in depth_rows(bank, model, d, pool)} for d in configured
        }
        full = max(deepest_read(tables[d][depth]) for d, depth in configured.items())
        return cls(tables, full, int(bank.model_meta(model)["layers"]))

    @property
    def depths(self) -> list[int]:
        """The depth limits every domain's table has a row at."""
        return sorted(set.intersection(*(set(t) for t in self.tables.values())))

    def read(self, depth: int) -> int:
        return max(deepest_read(t[depth]) for t in self.tables.values())


def _logits(scores: Scores, domains: list[str], variant: str) -> np.ndarray:
    return np.stack([scores.columns[f"{d}/{variant}"] for d in domains], axis=1)


def _deferred(logits: np.ndarray, bands: list[Band], target: int, variant: str) -> np.ndarray:
    """Variant ``any``: some head's logit is inside its band; ``own``: the target's is;
    ``negatives``: the target's is at or above its band's low edge."""
    if variant == "any":
        return np.any([b.deferred(logits[:, i]) for i, b in enumerate(bands)], axis=0)
    if variant == "negatives":
        return bands[target].rejecting().deferred(logits[:, target])
    return bands[target].deferred(logits[:, target])


def top_overlap(full: np.ndarray, cascade: np.ndarray, folds: np.ndarray, top: float) -> float:
    """The share of the ``top`` fraction of each fold's documents by ``full`` that ``cascade``
    also ranks in its top ``top`` (ties by document order), pooled over folds."""
    kept = found = 0
    for fold in np.unique(folds):
        here = np.flatnonzero(folds == fold)
        n = max(1, round(top * len(here)))
        best_full = set(here[np.argsort(-full[here], kind="stable")[:n]].tolist())
        best_cascade = set(here[np.argsort(-cascade[here], kind="stable")[:n]].tolist())
        kept, found = kept + n, found + len(best_full & best_cascade)
    return found / kept


def relative_cascades(
    crossfit: Path, errors: list[float], pool: str = "all", top: float = 0.04
) -> list[RelativeCascade]:
    """Every domain, error, variant and way of setting the bands (see the module docstring)."""
    scores = Scores.read(crossfit)
    if scores.folds is None:
        raise SystemExit(f"{crossfit} holds no cross-fitted scores (python -m bench.crossfit)")
    record = json.loads((crossfit / "crossfit.json").read_text())
    domains = sorted(record["configured_depths"])
    folds = sorted(set(scores.folds.tolist()))
    heads = {
        fold: FoldHeads.of(
            load_bank(crossfit / f"fold-{fold}" / "bank"),
            pool == "rosetta",
            {d: record["configured_depths"][d][i] for d in domains},
        )
        for i, fold in enumerate(folds)
    }
    full = relative_scores(_logits(scores, domains, "configured"))
    resamples = scores.resamples()
    found = []
    for target, domain in enumerate(domains):
        tfidf = scores.columns.get(f"{domain}/tfidf_lr")
        positive = scores.labels == domain
        for error, variant, how in (
            (e, v, b) for e in errors for v in VARIANTS for b in BANDS
        ):  # fmt: skip
            cascade, layers_run = full[:, target].copy(), np.zeros(len(scores.ids))
            shallow_per_fold, deferred_per_fold = [], []
            for fold, fold_heads in heads.items():
                here, others = scores.folds == fold, scores.folds != fold
                stages = []
                for depth in fold_heads.depths:
                    logits = _logits(scores, domains, f"head/{pool}/L{depth}")
                    if how == "recorded":
                        rows = [fold_heads.tables[d][depth] for d in domains]
                        bands = [Band(**r["bands"][error_key(error)]) for r in rows]
                        rates = [b.defer_rate for b in bands]
                        # negatives: the two-sided band's share, all a bank records (rule 19)
                        rate = joint_defer_rate(rates) if variant == "any" else rates[target]
                    else:
                        bands = [
                            band(logits[others, i], scores.labels[others] == d, error)
                            for i, d in enumerate(domains)
                        ]
                        rate = float(_deferred(logits[others], bands, target, variant).mean())
                    stages.append((depth, logits, bands, rate))
                candidates = [(fold_heads.read(s[0]), s[3]) for s in stages]
                choice = choose_cascade(candidates, fold_heads.full_layer, fold_heads.n_layers)
                if choice is None:
                    layers_run[here] = fold_heads.full_layer + 1
                    shallow_per_fold.append(None)
                    deferred_per_fold.append(1.0)
                    continue
                depth, logits, bands, _ = stages[choice.index]
                deferred = _deferred(logits[here], bands, target, variant)
                shallow = relative_scores(logits[here])[:, target]
                cascade[here] = cascade_scores(shallow, full[here, target], deferred)
                layers_run[here] = (
                    fold_heads.read(depth) + 1 + deferred * (fold_heads.full_layer + 1)
                )
                shallow_per_fold.append(depth)
                deferred_per_fold.append(float(deferred.mean()))
            n_layers = next(iter(heads.values())).n_layers
            found.append(
                RelativeCascade(
                    domain, error, variant, how, shallow_per_fold, deferred_per_fold,
                    float(layers_run.mean() / n_layers),
                    paired(full[:, target], cascade, positive, resamples, scores.folds),
                    top_overlap(full[:, target], cascade, scores.folds, top),
                    None if tfidf is None else grouped_auroc(tfidf, positive, scores.folds),
                )
            )  # fmt: skip
    return found


def relative_cascade_table(found: list[RelativeCascade]) -> Table:
    table = Table(
        "domain", "error", "variant", "bands", "shallow per fold", "deferred per fold",
        "layers run", "full (relative)", "cascade", "cascade - full (95%)", "top overlap",
        "TF-IDF",
        title="cascade of the relative score against the full stage (pairs within a fold)",
    )  # fmt: skip
    for r in found:
        c = r.comparison
        table.add_row(
            r.domain, f"{r.error:g}", r.variant, r.bands,
            " ".join("-" if d is None else f"L{d}" for d in r.shallow_per_fold),
            " ".join(f"{d:.0%}" for d in r.deferred_per_fold), f"{r.layer_share:.0%}",
            f"{c.a:.4f}", f"{c.b:.4f}", f"{c.difference:+.4f} ({c.ci[0]:+.4f}, {c.ci[1]:+.4f})",
            f"{r.top_overlap:.1%}", "-" if r.tfidf is None else f"{r.tfidf:.4f}",
        )  # fmt: skip
    return table


def main() -> None:
    parser = cascade_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--pool", default="all", choices=["all", "rosetta"])
    parser.add_argument(
        "--top", type=float, default=0.04, help="ranked share whose overlap is reported"
    )
    args = parser.parse_args()
    found = relative_cascades(args.crossfit, args.errors, args.pool, args.top)
    Console(width=200).print(relative_cascade_table(found))
    if args.out:
        write_json_atomic(
            args.out, {"crossfit": str(args.crossfit), "rows": [asdict(r) for r in found]}
        )
    if args.figure:
        rows = {
            f"{r.domain}, {r.error:g}, {r.variant}, {r.bands}, {r.layer_share:.0%}": {
                "all": r.comparison
            }
            for r in found
            if r.variant == "any"
        }
        title = f"relative cascade - full relative (pairs within a fold)\n{args.crossfit}"
        draw_differences(rows, args.figure, title, margin=0.005)


if __name__ == "__main__":
    main()
