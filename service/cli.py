"""``service``'s command, mounted on ``rosetta-filter`` by the ``rosetta_filter.commands`` entry
point: ``serve`` (the HTTP API under uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from rosetta_filter.cli.common import (
    CONFIG_KINDS,
    ConfigArg,
    ConfigKind,
    SetOpt,
    fail,
    setup_logging,
)
from rosetta_filter.errors import RosettaError
from service.config import ServeConfig


def register(app: typer.Typer) -> None:
    app.command()(serve)
    CONFIG_KINDS["serve"] = ConfigKind(
        ServeConfig, lambda cfg: f"model {cfg.model.name}, {1 + len(cfg.neuron_sets)} neuron set(s)"
    )


def serve(
    config: ConfigArg,
    set_: SetOpt = None,
    host: Annotated[str | None, typer.Option(help="default: server.host")] = None,
    port: Annotated[int | None, typer.Option(help="default: server.port")] = None,
    workers: Annotated[int | None, typer.Option(help="default: server.workers")] = None,
    json_log: Annotated[bool, typer.Option("--json-log", help="log JSON lines")] = False,
) -> None:
    """Serve scoring and filtering over HTTP (FastAPI; see /docs for the OpenAPI schema)."""
    from rosetta_filter.config import load_config
    from service.server import serve as run_server

    setup_logging(False, json_log)
    try:
        cfg = load_config(config, set_, cls=ServeConfig)
        run_server(cfg, host=host, port=port, workers=workers)
    except RosettaError as exc:
        fail(exc)
