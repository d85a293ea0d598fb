"""Is filter B better than filter A on the same labelled documents? Two ``rosetta-filter
evaluate`` outputs, compared document for document.

Each evaluation's ``scores.parquet`` holds every document's score per domain; this script
joins the two on document id (the same documents must have been scored), and prints per domain
AUROC of A and B and the paired difference B - A with its 95% bootstrap interval (resamples
stratified by label and family, the same resamples for both filters:
:mod:`rosetta_filter.evaluation.uncertainty`). ``--family`` adds, for a named family, both
sides the evaluation reports: the family's own documents against every document of other
domains (``family``) and each other domain's documents against it (``against``: does a filter
for that domain take the family for its own?). Either side may be cross-fitted scores
(``python -m bench.crossfit``: one bank per fold): both are then compared on pairs of documents
of the same fold only, where one bank scored both (``--all-pairs`` counts every pair).
``--figure`` draws each domain's B - A with its interval (``--margin`` marks a
non-inferiority margin), for a reader who would rather look than read the table.

    python -m bench.compare_evaluations out/evaluation/heldout-a out/evaluation/heldout-b \\
        --family fricas-algebra --out docs/quality/compare.json
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from rosetta_filter.evaluation.metrics import auroc
from rosetta_filter.evaluation.uncertainty import (
    Resamples,
    grouped_auroc,
    paired_difference,
    resampled_aurocs,
)
from rosetta_filter.files import atomic_path, write_json_atomic


@dataclass(frozen=True)
class Scores:
    """One evaluation's documents (id order) and its per-domain score columns."""

    ids: np.ndarray
    labels: np.ndarray
    families: np.ndarray
    columns: dict[str, np.ndarray]  # "{domain}/{variant}" -> scores
    folds: np.ndarray | None = None  # cross-fitted scores (bench.crossfit): each one's fold

    @classmethod
    def read(cls, evaluation: Path) -> Scores:
        table = pq.read_table(evaluation / "scores.parquet").to_pydict()
        order = np.argsort(np.asarray(table["id"], dtype=object), kind="stable")
        columns = {
            name: np.asarray(values, dtype=np.float64)[order]
            for name, values in table.items()
            if "/" in name
        }
        pick = lambda name: np.asarray(table[name], dtype=object)[order]  # noqa: E731
        folds = np.asarray(table["fold"])[order] if "fold" in table else None
        return cls(pick("id"), pick("label"), pick("family"), columns, folds)

    def resamples(self) -> Resamples:
        """Bootstrap resamples stratified by label and family, shared by every filter compared
        on these documents."""
        return Resamples(
            np.char.add(np.char.add(self.labels.astype(str), "\t"), self.families.astype(str))
        )


@dataclass(frozen=True)
class Comparison:
    """AUROC of ``a`` and ``b`` for one positive set, and the paired difference ``b - a``."""

    a: float
    b: float
    difference: float
    ci: list[float]
    share_not_worse: float


def paired(
    a: np.ndarray,
    b: np.ndarray,
    positive: np.ndarray,
    resamples: Resamples,
    folds: np.ndarray | None = None,
) -> Comparison:
    """Both filters' AUROCs and the paired difference; with ``folds``, over pairs of documents
    of the same fold only, for both (:func:`grouped_auroc`)."""
    boot_a = resampled_aurocs(a, positive, resamples, folds)
    boot_b = resampled_aurocs(b, positive, resamples, folds)
    if folds is None:
        auroc_a, auroc_b = float(auroc(a, positive)[0]), float(auroc(b, positive)[0])
    else:
        auroc_a, auroc_b = grouped_auroc(a, positive, folds), grouped_auroc(b, positive, folds)
    return Comparison(auroc_a, auroc_b, auroc_b - auroc_a, **paired_difference(boot_b, boot_a))


def compare(
    a: Scores,
    b: Scores,
    variant: str = "configured",
    families: tuple[str, ...] = (),
    within_folds: bool = True,
    variant_b: str | None = None,
) -> dict[str, dict[str, Comparison]]:
    """Per domain scored in both: ``all`` (domain vs rest over every document), and for each
    named family ``family:NAME`` (its documents vs other domains', when it is the domain's)
    or ``against:NAME`` (the domain's documents vs the family's, when it is another's). When
    either side is cross-fitted and ``within_folds``, both count only pairs of the same fold.
    ``variant_b``: B's score column where it differs from A's (two variants of one evaluation,
    e.g. a head alone against the configured relative score: pass the same directory twice)."""
    if not np.array_equal(a.ids, b.ids):
        raise SystemExit(
            "the two evaluations scored different documents: evaluate both on the same "
            "--labels file (and --family selection)"
        )
    folds = (a.folds if a.folds is not None else b.folds) if within_folds else None
    both = folds is not None and a.folds is not None and b.folds is not None
    if both and not np.array_equal(a.folds, b.folds):
        raise SystemExit("the two cross-fitted evaluations dealt different folds")
    resamples = a.resamples()
    out: dict[str, dict[str, Comparison]] = {}
    for column in sorted(a.columns):
        domain, name = column.split("/", 1)
        other = f"{domain}/{variant_b or variant}"
        if name != variant or other not in b.columns:
            continue
        positive = a.labels == domain
        found = {"all": paired(a.columns[column], b.columns[other], positive, resamples, folds)}
        for family in families:
            members = a.families == family
            if not members.any():
                raise SystemExit(f"no document of family {family!r} in {variant} scores")
            side = "family" if (positive & members).any() else "against"
            rows = (~positive | members) if side == "family" else (positive | members)
            found[f"{side}:{family}"] = paired(
                a.columns[column][rows],
                b.columns[other][rows],
                positive[rows],
                Resamples(resamples.strata[rows]),
                None if folds is None else folds[rows],
            )
        out[domain] = found
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path, help="evaluation directory of filter A (the reference)")
    parser.add_argument("b", type=Path, help="evaluation directory of filter B")
    parser.add_argument("--variant", default="configured", help="score column (or tfidf_lr)")
    parser.add_argument(
        "--variant-b", help="B's score column, where it differs from --variant (e.g. head/all/auto)"
    )
    parser.add_argument("--family", action="append", default=[], help="also compare on it")
    parser.add_argument(
        "--all-pairs",
        action="store_true",
        help="with cross-fitted scores, count pairs across folds too (default: within a fold)",
    )
    parser.add_argument("--out", type=Path, help="write the comparison as JSON")
    parser.add_argument("--figure", type=Path, help="draw each domain's B - A interval (PNG)")
    parser.add_argument(
        "--margin", type=float, help="with --figure: mark a non-inferiority margin at -MARGIN"
    )
    args = parser.parse_args()
    a, b = Scores.read(args.a), Scores.read(args.b)
    result = compare(a, b, args.variant, tuple(args.family), not args.all_pairs, args.variant_b)
    crossfitted = a.folds is not None or b.folds is not None
    table = Table(
        "domain", "documents", "A", "B", "B - A (95%)", "share B >= A",
        title=f"{args.variant}: A = {args.a}, B = {args.b}"
        + (f" ({args.variant_b})" if args.variant_b else "")
        + (", pairs within a fold" if crossfitted and not args.all_pairs else ""),
    )  # fmt: skip
    for domain, rows in result.items():
        for name, c in rows.items():
            table.add_row(
                domain, name, f"{c.a:.4f}", f"{c.b:.4f}",
                f"{c.difference:+.4f} ({c.ci[0]:+.4f}, {c.ci[1]:+.4f})", f"{c.share_not_worse:.2f}",
            )  # fmt: skip
    Console().print(table)
    pairs = "within_fold" if crossfitted and not args.all_pairs else "all"
    if args.out:
        payload = {d: {k: asdict(c) for k, c in rows.items()} for d, rows in result.items()}
        write_json_atomic(args.out, {"a": str(args.a), "b": str(args.b), "pairs": pairs, **payload})
    if args.figure:
        scope = pairs.replace("_", " ")
        title = f"{args.variant}, B - A ({scope} pairs)\nA = {args.a}\nB = {args.b}"
        draw_differences(result, args.figure, title, args.margin)


def draw_differences(
    result: dict[str, dict[str, Comparison]], path: Path, title: str, margin: float | None
) -> None:
    """One row per domain: B - A over every document of the domain, its 95% interval, zero and
    (given) the margin a non-inferiority rule allows. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    domains = list(result)
    rows = [result[d]["all"] for d in domains]
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.45 * len(domains)))
    y = np.arange(len(domains))[::-1]
    centre = np.array([c.difference for c in rows])
    low, high = centre - [c.ci[0] for c in rows], [c.ci[1] for c in rows] - centre
    ax.errorbar(centre, y, xerr=[low, high], fmt="o", color="tab:blue", capsize=4)
    ax.axvline(0.0, color="black", linewidth=0.8)
    if margin is not None:
        ax.axvline(-margin, color="tab:red", linestyle="--", linewidth=0.8, label=f"-{margin}")
        ax.legend(loc="best", fontsize=8)
    ax.xaxis.set_major_locator(plt.MaxNLocator(nbins=5))
    ax.set_yticks(y, [f"{d}  {c.a:.3f} -> {c.b:.3f}" for d, c in zip(domains, rows, strict=True)])
    ax.set_xlabel("AUROC difference B - A (95% interval)")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


if __name__ == "__main__":
    main()
