"""``rosetta-filter models ...``: the offline model registry and model inspection."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from rosetta_filter.cli.common import console, fail, out, setup_logging
from rosetta_filter.errors import RosettaError

app = typer.Typer(help="The offline model registry and model inspection.", no_args_is_help=True)


@app.command("list")
def models_list() -> None:
    """The models of the offline registry and whether they are pulled."""
    from rosetta_filter.registry import catalog as registry

    table = Table("name", "family", "layers x d_mlp", "params", "pulled")
    for entry in registry.list_entries():
        table.add_row(
            entry.name,
            entry.family,
            f"{entry.layers} x {entry.d_mlp}",
            f"{entry.params / 1e6:.0f}M",
            "yes" if registry.cached_path(entry.name) else "no",
        )
    out.print(table)
    out.print(f"cache: {registry.rosetta_home()}")


@app.command("pull")
def models_pull(
    name: Annotated[str, typer.Argument(help="registry name, e.g. smollm2-135m")],
    force: Annotated[bool, typer.Option(help="pull again even when cached")] = False,
) -> None:
    """Fetch, assemble, verify (sha256) and convert a registry model into the cache."""
    from rosetta_filter.registry import catalog as registry

    setup_logging(False, False)
    try:
        with console.status(f"pulling {name}") as status:
            path = registry.pull(name, force=force, progress=lambda msg: status.update(msg))
    except RosettaError as exc:
        fail(exc)
    out.print(f"[green]ready[/]: {name} at {path}")


@app.command("info")
def models_info(
    name: Annotated[str, typer.Argument(help="registry name, local path or hub id")],
) -> None:
    """Family, layers, d_mlp, tap module of each layer, source and sha256 of a model."""
    from rosetta_filter.activations.models import load_model
    from rosetta_filter.config import ModelConfig

    setup_logging(True, False)
    try:
        loaded = load_model(ModelConfig(name=name))
    except RosettaError as exc:
        fail(exc)
    arch = loaded.arch
    info = {
        "name": name,
        "family": arch.family,
        "layers": arch.n_layers,
        "d_mlp": arch.d_mlp,
        "source": loaded.source,
        "path": str(loaded.path) if loaded.path else None,
        "sha256": loaded.sha256,
        "taps": [arch.tap_name(layer) for layer in range(arch.n_layers)],
    }
    out.print_json(json.dumps(info))
