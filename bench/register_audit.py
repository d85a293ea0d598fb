"""How much of a domain's held-out AUROC is its labels? Source labels against register labels.

The labelled corpus labels a document by its source family: every section of a math system's
manual is "math", its FTP functions and credits included. A register audit labels a sample of
a domain's documents by what they are about (``docs/quality/math-register-s19/labels.json``:
``math`` / ``not_math`` / ``borderline``, read blind to scores). This script scores that sample
against every document of the other domains, per evaluation and score column (the configured
filter and the TF-IDF baseline):

- ``source``: every audited document as a positive (what ``evaluate`` measures);
- ``register``: only the documents the audit calls the domain's (borderline ones left out);
- ``not_<domain>``: only those it says are not; near 0.5 means the filter ranks them like the
  other domains' documents, which is what a register filter should do.

    python -m bench.register_audit docs/quality/math-register-s19/labels.json \\
        out/evaluation/s19-heldout-offline-7 --domain math
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.compare_evaluations import Scores
from rosetta_filter.evaluation.metrics import auroc
from rosetta_filter.evaluation.uncertainty import grouped_auroc
from rosetta_filter.files import write_json_atomic


def audit(
    labels: dict[str, str], scores: Scores, domain: str, variants: tuple[str, ...] = ()
) -> dict[str, dict[str, float]]:
    """Per score column of ``domain`` (those named in ``variants``, or all): AUROC of each
    audited group against the other domains; for cross-fitted scores (``bench.crossfit``), over
    pairs of documents of the same fold only (one bank scored both)."""
    negative = scores.labels != domain
    audited = np.asarray([labels.get(i) for i in scores.ids], dtype=object)
    missing = set(labels) - set(scores.ids)
    if missing:
        raise SystemExit(
            f"{len(missing)} audited documents are not in this evaluation "
            f"(e.g. {sorted(missing)[0]}): audit and evaluation must share a labelled file"
        )
    groups = {
        "source": np.asarray([label is not None for label in audited]),
        "register": audited == domain,
        f"not_{domain}": audited == f"not_{domain}",
    }

    def measure(values: np.ndarray, keep: np.ndarray) -> float:
        rows = keep | negative
        if scores.folds is None:
            return float(auroc(values[rows], keep[rows])[0])
        return grouped_auroc(values[rows], keep[rows], scores.folds[rows])

    result = {}
    for column, values in scores.columns.items():
        domain_of, variant = column.split("/", 1)
        if domain_of != domain or (variants and variant not in variants):
            continue
        result[variant] = {name: measure(values, keep) for name, keep in groups.items()} | {
            f"n_{name}": int(keep.sum()) for name, keep in groups.items()
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("labels", type=Path)
    parser.add_argument("evaluations", type=Path, nargs="+")
    parser.add_argument("--domain", default="math")
    parser.add_argument(
        "--variant", action="append", default=[], help="only this score column (repeatable)"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    labels = json.loads(args.labels.read_text())["labels"]
    report = {
        str(e): audit(labels, Scores.read(e), args.domain, tuple(args.variant))
        for e in args.evaluations
    }
    table = Table(title=f"{args.domain}: the audited sample against every other domain's documents")
    for header in ("evaluation", "scores", "source", "register", f"not_{args.domain}"):
        table.add_column(header)
    for evaluation, columns in report.items():
        for column, row in columns.items():
            table.add_row(
                Path(evaluation).name,
                column,
                *[f"{row[g]:.4f} ({row['n_' + g]})" for g in ("source", "register")],
                f"{row[f'not_{args.domain}']:.4f} ({row[f'n_not_{args.domain}']})",
            )
    Console().print(table)
    if args.out:
        write_json_atomic(args.out, report)


if __name__ == "__main__":
    main()
