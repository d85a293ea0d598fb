"""``python -m cpt``: run the study, draw its report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cpt.config import CptConfig
from cpt.report import write_report
from cpt.study import run_study
from rosetta_filter.cli.common import QuietOpt, command_progress, console
from rosetta_filter.config import load_config

app = typer.Typer(help="The continued-pretraining study (docs/CPT.md).", no_args_is_help=True)


@app.command("run")
def run(
    config: Annotated[Path, typer.Argument(help="study config, e.g. configs/cpt.yaml")],
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="override a setting: key.sub=value")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Run (or resume) the whole study; then write the report next to results.json."""
    with command_progress(quiet) as progress:
        cfg = load_config(config, set_, CptConfig)
        results = run_study(cfg, say=console.print, progress=progress)
        for path in write_report(results, cfg.out_dir):
            console.print(f"wrote {path}")


@app.command("report")
def report(
    results: Annotated[Path, typer.Argument(help="results.json of a study")],
    out: Annotated[Path, typer.Option(help="directory for report.md and curves.png")],
) -> None:
    """Draw the table and figures of a (possibly unfinished) study."""
    for path in write_report(json.loads(results.read_text()), out):
        typer.echo(f"wrote {path}")
