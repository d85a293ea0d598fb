"""``rosetta-filter evaluate CONFIG --labels FILE``: per-domain AUROC and precision/recall of a
filter on labelled documents, beside a TF-IDF baseline and the ablations
(:mod:`rosetta_filter.evaluation`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rosetta_filter.cli.common import ConfigArg, QuietOpt, SetOpt, command_progress, out


def register(app: typer.Typer) -> None:
    app.command()(evaluate)


def evaluate(
    config: ConfigArg,
    labels: Annotated[Path, typer.Option(help="labelled file(s): text + domain (+ family)")],
    label_field: Annotated[str, typer.Option(help="field holding the domain")] = "domain",
    family_field: Annotated[str, typer.Option(help="field holding the source family")] = "family",
    family: Annotated[
        list[str] | None,
        typer.Option(
            help="score only these families of the labelled file (repeatable): a sealed "
            "subset, its other families' documents left out"
        ),
    ] = None,
    train: Annotated[
        Path | None,
        typer.Option(
            help="baseline training file (default: the labelled corpus the bank's heads were "
            "fit on, else its probe corpus)"
        ),
    ] = None,
    no_baseline: Annotated[bool, typer.Option("--no-baseline", help="skip TF-IDF")] = False,
    cache: Annotated[
        Path | None,
        typer.Option(
            "--cache",
            help="read each document's pooled activations from this cache, adding the missing "
            "ones (the domains pass's cache_dir, e.g. out/cache/domains): re-evaluating a "
            "held-out file after a bank change then takes seconds",
        ),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="where results go")] = Path(
        "out/evaluation"
    ),
    set_: SetOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Score a labelled set: AUROC per domain and variant, TF-IDF + LR beside it, figures."""
    from rosetta_filter.config import load_config
    from rosetta_filter.evaluation.evaluate import evaluate as run_evaluation
    from rosetta_filter.evaluation.labelled import read_labelled
    from rosetta_filter.evaluation.report import family_rows, summary_rows, write_evaluation

    with command_progress(quiet) as progress:
        cfg = load_config(config, set_)
        data = read_labelled(
            labels, label_field=label_field, family_field=family_field, only_families=family
        )
        train_paths = (
            None if no_baseline else [train] if train else _default_train(cfg.neurons.bank)
        )
        train_set = read_labelled(train_paths, label_field=label_field) if train_paths else None
        progress.start("evaluate", len(data))
        results = run_evaluation(
            cfg, data, train_set, advance=lambda n: progress.advance(n), cache_dir=cache
        )
        progress.finish()
        meta = {
            "labels": str(labels),
            "families": sorted(family) if family else None,
            "docs": len(data),
            "docs_per_domain": data.counts(),
            "baseline_train": [str(p) for p in train_paths] if train_paths else None,
            "activations": f"pooled cache {cache}" if cache else "scorer",
            "config_summary": cfg.neurons.model_dump(mode="json"),
        }
        written = write_evaluation(results, data, out_dir, meta)
    table = Table(
        "domain", "variant", "AUROC", "95% CI", "worst family", "precision", "recall", "depth"
    )
    for row in summary_rows(results):
        table.add_row(
            row["domain"],
            row["variant"],
            _fmt(row["auroc"]),
            "-".join(_fmt(v) for v in row["auroc_ci"]) if row["auroc_ci"] else "",
            *(_fmt(row[k]) for k in ("worst_family_auroc", "precision", "recall")),
            _depth(row),
        )
    out.print(table)
    families = Table(
        "domain",
        "family",
        "side",
        "configured AUROC",
        "TF-IDF AUROC",
        caption="side domain: the domain's family against every other document; other: the "
        "domain's documents against that family (a low AUROC: the filter takes it for the domain)",
    )
    for row in family_rows({d: r.metrics for d, r in results.items()}):
        families.add_row(
            row["domain"],
            row["family"],
            row["side"],
            _fmt(row["configured"]),
            _fmt(row["tfidf_lr"]),
        )
    if families.row_count:
        out.print(families)
    out.print(f"wrote {written}, {written.parent / 'evaluation.html'}, scores.parquet and figures/")


def _default_train(bank_dir: str | None) -> list[Path] | None:
    """The documents the bank's choice was made on: the heads' labelled corpus (one file or
    several), else the probe corpus (the baseline then learns from exactly what the filter
    learnt from)."""
    from rosetta_filter.scoring.bank import load_bank

    if bank_dir is None:
        return None
    bank = load_bank(bank_dir)
    if bank.heads is not None:
        path = bank.heads["labelled_corpus"]["path"]
        return [Path(p) for p in ([path] if isinstance(path, str) else path)]
    path = bank.meta.get("probe_corpus", {}).get("path")
    return [Path(path)] if path else None


def _fmt(value) -> str:
    return "" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _depth(row: dict) -> str:
    """The depth column: the head's deepest layer, or a cascade's two with the share of
    documents its full-depth head scored and the share of layers it ran."""
    cascade = row.get("cascade")
    if not cascade:
        return _fmt(row["max_layer"])
    return (
        f"{cascade['shallow_layer']}/{row['max_layer']}: {cascade['deferred']:.0%} deep, "
        f"{cascade['layer_share']:.0%} of layers"
    )
