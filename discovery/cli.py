"""``discovery``'s commands, mounted on ``rosetta-filter`` by the ``rosetta_filter.commands``
entry point: ``discover`` (mine Rosetta Neurons, write a bank), ``report`` (scaling report) and
``corpus`` (build probe corpora)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from discovery.config import DiscoverConfig
from discovery.corpus import cli as cli_corpus
from discovery.corpus.build import CorpusConfig
from discovery.corpus.labelled import LabelledCorpusConfig, describe_labelled
from discovery.domain.job import DomainsConfig
from rosetta_filter.cli.common import (
    CONFIG_KINDS,
    ConfigArg,
    ConfigKind,
    QuietOpt,
    SetOpt,
    command_progress,
    fail,
    out,
    setup_logging,
)
from rosetta_filter.errors import RosettaError


def register(app: typer.Typer) -> None:
    app.command()(discover)
    app.command()(report)
    app.command()(domains)
    app.add_typer(cli_corpus.app, name="corpus")
    CONFIG_KINDS["discover"] = ConfigKind(
        DiscoverConfig,
        lambda cfg: (
            f"anchor {cfg.anchor_id}, partners {', '.join(cfg.partner_ids)}, bank {cfg.bank.dir}"
        ),
    )
    CONFIG_KINDS["domains"] = ConfigKind(
        DomainsConfig, lambda cfg: f"bank {cfg.bank} -> {cfg.out}, labels {cfg.labelled.path}"
    )
    CONFIG_KINDS["labelled-corpus"] = ConfigKind(LabelledCorpusConfig, describe_labelled)
    CONFIG_KINDS["corpus"] = ConfigKind(
        CorpusConfig, lambda cfg: f"domains {', '.join(cfg.domains)}"
    )


def discover(
    config: ConfigArg,
    set_: SetOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Mine Rosetta Neurons across models over a probe corpus and write a neuron bank."""
    from discovery.pipeline import discover as run_discovery
    from discovery.pipeline import load_docs
    from rosetta_filter.config import load_config

    with command_progress(quiet) as progress:
        cfg = load_config(config, set_, cls=DiscoverConfig)
        progress.start("data pass", len(load_docs(cfg)))
        result = run_discovery(cfg, advance=lambda n: progress.advance(n))
    _print_discovery_summary(result.summary, result.bank_dir)


def report(
    runs: Annotated[list[Path], typer.Argument(help="discovery runs (bank directories)")],
    out_dir: Annotated[Path, typer.Option("--out", help="where report.html goes")] = Path(
        "out/report"
    ),
) -> None:
    """Scaling report over discovery runs: Rosetta count and fraction vs size with a power-law
    fit, polarization, domain specialisation, and the top neurons per domain (one HTML file)."""
    from discovery.report.html import write_report

    setup_logging(False, False)
    try:
        page, table = write_report(runs, out_dir)
    except RosettaError as exc:
        fail(exc)
    out.print(f"wrote {page}, {table} and the figures in {page.parent / 'figures'}")


def _print_discovery_summary(summary: dict, bank_dir: Path) -> None:
    table = Table(title=f"Rosetta Neurons: bank {bank_dir}", show_header=False)
    for key in (
        "anchor",
        "anchor_neurons",
        "rosetta",
        "rosetta_fraction",
        "rosetta_null",
        "null",
        "consistent",
        "mean_r",
        "pairs",
        "pairs_null",
        "docs",
        "spans",
        "tokens",
        "seconds",
    ):
        table.add_row(key, json.dumps(summary.get(key)))
    out.print(table)
    for domain, best in summary["top_rosetta_per_domain"].items():
        out.print(f"[bold]{domain}[/]")
        for neuron in best:
            out.print(
                f"  {neuron['neuron']}  AUROC {neuron['auroc']:.3f}  "
                f"r {neuron['mean_r']:.3f}  partners {', '.join(neuron['partners'])}"
            )
            for snippet in summary["snippets"].get(neuron["neuron"], []):
                out.print(
                    f"      {snippet['activation']:8.3f}  {snippet['text']}",
                    markup=False,
                    highlight=False,
                )


def domains(
    config: ConfigArg,
    set_: SetOpt = None,
    quiet: QuietOpt = False,
    borders_only: Annotated[
        bool,
        typer.Option(
            "--borders-only",
            help="fit only heads.borders and add them to `bank`, a bank that has domain heads "
            "(written to `out`)",
        ),
    ] = False,
) -> None:
    """Add source-disjoint domain statistics and domain heads (with depth tables) to a bank."""
    from discovery.domain.job import add_borders, build_domain_bank
    from rosetta_filter.config import load_config

    with command_progress(quiet) as progress:
        cfg = load_config(config, set_, cls=DomainsConfig)
        if borders_only:
            bank_dir = add_borders(cfg, stage=progress.start, advance=progress.advance)
            summary = {}
        else:
            bank_dir, summary = build_domain_bank(
                cfg, stage=progress.start, advance=progress.advance
            )
    table = Table(
        "domain",
        "pool",
        "auto max_layer",
        "full-depth worst-family AUROC",
        "rule's loss on a left-out family: worst / mean",
        "early exit validated",
        "neurons",
    )
    for domain, by_pool in summary.items():
        for pool, row in by_pool.items():
            table.add_row(
                domain,
                pool,
                str(row["auto_max_layer"]),
                f"{row['full_depth_worst_auroc']:.3f}",
                "-"
                if row["rule_check_worst_loss"] is None
                else f"{row['rule_check_worst_loss']:+.3f} / {row['rule_check_mean_loss']:+.4f}",
                "yes" if row["rule_check_passed"] else "no: all layers",
                str(row["neurons"]),
            )
    if summary:
        out.print(table)
    _print_borders(bank_dir)
    out.print(f"[green]wrote[/] bank {bank_dir}")


def _print_borders(bank_dir: Path) -> None:
    """The bank's border heads (rule 20), if it has any: pair, neurons, validation."""
    from rosetta_filter.scoring.bank import load_bank

    borders = (load_bank(bank_dir).heads or {}).get("borders", [])
    if not borders:
        return
    table = Table("border (positive | negative)", "worst-family-fold AUROC", "mean", "neurons")
    for row in borders:
        table.add_row(
            f"{row['positive']} | {row['negative']}",
            f"{row['worst_fold_auroc']:.3f}",
            f"{row['mean_fold_auroc']:.3f}",
            str(len(row["neurons"])),
        )
    out.print(table)
