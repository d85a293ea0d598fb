"""Does scoring a domain against the other domains' heads (``neurons.relative``) help on families
no bank saw? Read off a cross-fitted run (``python -m bench.crossfit``) without refitting.

Each domain's relative score is the log-softmax of its configured out-of-fold logit over every
domain's configured logit (:func:`rosetta_filter.scoring.relative.relative_scores`), compared
with the configured score alone on pairs of documents of the same fold, on shared stratified
resamples: over all documents (``all``), for named families (``--fresh``) both ways: the
domain's named families against every document of the other domains (``fresh``), and all of a
domain's documents against the other domains' named families (``against_fresh``). TF-IDF is
reported beside.

    python -m bench.relative_score out/crossfit/s22 --fresh singular-libraries yacas-scripts \\
        --out docs/quality/rule16-s22/relative.json --figure docs/quality/rule16-s22/relative.png
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.compare_evaluations import Comparison, Scores, draw_differences, paired
from rosetta_filter.evaluation.uncertainty import Resamples, grouped_auroc
from rosetta_filter.files import write_json_atomic
from rosetta_filter.scoring.relative import relative_scores

CONFIGURED = "configured"


def relative_comparisons(
    scores: Scores, fresh: tuple[str, ...] = ()
) -> dict[str, dict[str, Comparison]]:
    """Per domain: ``all``, and with ``fresh`` families ``fresh`` (where the domain has some)
    and ``against_fresh`` (where other domains have some); ``a`` configured, ``b`` relative."""
    if scores.folds is None:
        raise SystemExit("these scores are not cross-fitted (python -m bench.crossfit)")
    domains = sorted(c.split("/", 1)[0] for c in scores.columns if c.endswith(f"/{CONFIGURED}"))
    logits = np.stack([scores.columns[f"{d}/{CONFIGURED}"] for d in domains], axis=1)
    relative = relative_scores(logits)
    missing = sorted(set(fresh) - set(scores.families.tolist()))
    if missing:
        raise SystemExit(f"--fresh families not in the scores: {missing}")
    is_fresh = np.isin(scores.families, list(fresh))
    strata = scores.resamples().strata
    out: dict[str, dict[str, Comparison]] = {}
    for i, domain in enumerate(domains):
        positive = scores.labels == domain
        configured = logits[:, i]
        sides = {"all": np.ones(len(positive), dtype=bool)}
        if (positive & is_fresh).any():
            sides["fresh"] = ~positive | is_fresh  # its fresh families vs the other domains
        if (~positive & is_fresh).any():
            sides["against_fresh"] = positive | is_fresh  # it vs others' fresh families
        out[domain] = {
            name: paired(
                configured[rows],
                relative[rows, i],
                positive[rows],
                Resamples(strata[rows]),
                scores.folds[rows],
            )
            for name, rows in sides.items()
        }
    return out


def per_family(scores: Scores, fresh: tuple[str, ...]) -> list[dict]:
    """Each named family's AUROC against every document of other domains (pairs within a fold),
    configured and relative."""
    domains = sorted(c.split("/", 1)[0] for c in scores.columns if c.endswith(f"/{CONFIGURED}"))
    logits = np.stack([scores.columns[f"{d}/{CONFIGURED}"] for d in domains], axis=1)
    relative = relative_scores(logits)
    rows = []
    for family in fresh:
        members = scores.families == family
        domain = str(scores.labels[members][0])
        i = domains.index(domain)
        keep = members | (scores.labels != domain)
        positive = (scores.labels == domain)[keep]
        folds = scores.folds[keep]
        rows.append(
            {
                "family": family,
                "domain": domain,
                "configured": grouped_auroc(logits[keep, i], positive, folds),
                "relative": grouped_auroc(relative[keep, i], positive, folds),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("crossfit", type=Path, help="a bench.crossfit output")
    parser.add_argument("--fresh", nargs="*", default=[], help="families to report both ways")
    parser.add_argument("--out", type=Path, help="write the comparisons as JSON")
    parser.add_argument("--figure", type=Path, help="draw each domain's relative - configured")
    args = parser.parse_args()
    scores = Scores.read(args.crossfit)
    found = relative_comparisons(scores, tuple(args.fresh))
    tfidf = {
        d: grouped_auroc(scores.columns[f"{d}/tfidf_lr"], scores.labels == d, scores.folds)
        for d in found
        if f"{d}/tfidf_lr" in scores.columns
    }
    table = Table(
        "domain", "documents", "configured", "relative", "relative - configured (95%)", "TF-IDF",
        title=f"relative score against each domain's own: {args.crossfit} (pairs within a fold)",
    )  # fmt: skip
    for domain, sides in found.items():
        for name, c in sides.items():
            table.add_row(
                domain, name, f"{c.a:.4f}", f"{c.b:.4f}",
                f"{c.difference:+.4f} ({c.ci[0]:+.4f}, {c.ci[1]:+.4f})",
                f"{tfidf[domain]:.4f}" if name == "all" and domain in tfidf else "",
            )  # fmt: skip
    Console().print(table)
    families = per_family(scores, tuple(args.fresh))
    for row in families:
        Console().print(
            f"{row['family']} ({row['domain']}): configured {row['configured']:.4f}, "
            f"relative {row['relative']:.4f}"
        )
    if args.out:
        payload = {d: {k: asdict(c) for k, c in sides.items()} for d, sides in found.items()}
        write_json_atomic(
            args.out,
            {"crossfit": str(args.crossfit), "tfidf": tfidf, "families": families, **payload},
        )
    if args.figure:
        rows = {
            f"{d}, {name}": {"all": c} for d, sides in found.items() for name, c in sides.items()
        }
        title = f"relative - configured (cross-fitted: pairs within a fold)\n{args.crossfit}"
        draw_differences(rows, args.figure, title, margin=0.005)


if __name__ == "__main__":
    main()
