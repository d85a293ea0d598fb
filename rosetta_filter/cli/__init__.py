"""The ``rosetta-filter`` command: the core's commands, plus those of every installed package
built on it (``discovery``: discover, report, corpus; ``service``: serve), found through the
``rosetta_filter.commands`` entry point group so that the core never imports them."""

from __future__ import annotations

from importlib.metadata import entry_points

import typer

from rosetta_filter.cli import evaluate, models, run

app = typer.Typer(
    help="Filter pretraining data with Rosetta Neurons: neurons shared across model families.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
run.register(app)
evaluate.register(app)
app.add_typer(models.app, name="models")
for _entry in sorted(entry_points(group="rosetta_filter.commands"), key=lambda e: e.name):
    _entry.load()(app)
