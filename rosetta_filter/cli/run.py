"""The core's commands: ``run`` (filter a dataset), ``validate`` (check any config) and
``score`` (ad-hoc scores as JSON lines)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rosetta_filter.cli.common import (
    CONFIG_KINDS,
    ConfigArg,
    ConfigKind,
    QuietOpt,
    RichRunProgress,
    SetOpt,
    fail,
    out,
    setup_logging,
)
from rosetta_filter.config import RunConfig
from rosetta_filter.errors import ConfigError, RosettaError


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(validate)
    app.command()(score)
    CONFIG_KINDS["run"] = ConfigKind(RunConfig, _describe_run)


def _describe_run(cfg: RunConfig) -> str:
    return f"{cfg.selection.mode} selection, model {cfg.model.name}, output {cfg.output.dir}"


def run(
    config: ConfigArg,
    set_: SetOpt = None,
    overwrite: Annotated[bool, typer.Option(help="delete output.dir first")] = False,
    quiet: QuietOpt = False,
    json_log: Annotated[bool, typer.Option("--json-log", help="log JSON lines")] = False,
) -> None:
    """Score a dataset with the selected neurons and write filtered shards (resumable)."""
    from rosetta_filter.config import load_config
    from rosetta_filter.filtering.pipeline import run as run_pipeline

    setup_logging(quiet, json_log)
    try:
        cfg = load_config(config, set_)
        result = run_pipeline(
            cfg, progress=RichRunProgress(not quiet), overwrite=overwrite, inputs=[Path(config)]
        )
    except RosettaError as exc:
        fail(exc)
    summary = result.stats.summary()
    if json_log:
        print(json.dumps({"run_dir": str(result.run_dir), **summary}))
        return
    table = Table(title=f"rosetta-filter run: {result.run_dir}", show_header=False)
    for key in (
        "seen",
        "scored",
        "invalid_total",
        "kept",
        "dropped",
        "kept_fraction",
        "tokens_in",
        "tokens_kept",
        "docs_per_s",
        "tokens_per_s",
        "wall_seconds",
    ):
        table.add_row(key, str(summary[key]))
    if summary["invalid"]:
        table.add_row("invalid by reason", json.dumps(summary["invalid"]))
    table.add_row("shards", f"{len(result.shards)} in {result.run_dir}")
    out.print(table)


def _guess_kind(config: Path, kinds: dict[str, ConfigKind]) -> str:
    """The kind whose sections best cover the file's top-level keys (``run`` on a tie or when
    the file cannot be read: loading it then reports that error)."""
    import yaml

    try:
        keys = set(yaml.safe_load(config.read_text()) or {})
    except (OSError, yaml.YAMLError, TypeError, ValueError):
        return "run"

    def fit(cls: type) -> int:
        fields = set(cls.model_fields)
        return len(keys & fields) - len(keys - fields)

    return max(kinds, key=lambda kind: fit(kinds[kind].cls))


def validate(
    config: ConfigArg,
    set_: SetOpt = None,
    kind: Annotated[
        str | None,
        typer.Option(help="run, discover, serve or corpus (default: told by the sections)"),
    ] = None,
) -> None:
    """Check a config without running it: a run, discover, serve or corpus-build config."""
    from rosetta_filter.config import load_config

    kinds = CONFIG_KINDS
    if kind is not None and kind not in kinds:
        fail(ConfigError(f"--kind={kind!r}: expected one of {', '.join(kinds)}", field="kind"))
    kind = kind or _guess_kind(config, kinds)
    try:
        cfg = load_config(config, set_, cls=kinds[kind].cls)
    except RosettaError as exc:
        fail(ConfigError(f"{exc.message} (checked as a {kind} config; --kind chooses)"))
    out.print(f"[green]ok[/]: {config} is a valid {kind} config ({kinds[kind].describe(cfg)})")


def score(
    config: ConfigArg,
    files: Annotated[list[Path] | None, typer.Argument(help="text files (default: stdin)")] = None,
    set_: SetOpt = None,
    lines: Annotated[bool, typer.Option(help="one document per input line")] = False,
    neurons: Annotated[bool, typer.Option(help="include per-neuron values")] = False,
) -> None:
    """Score documents ad hoc: text from files or stdin, JSON lines out."""
    from rosetta_filter.config import load_config
    from rosetta_filter.scoring.scorer import Scorer

    setup_logging(True, False)
    try:
        cfg = load_config(config, set_)
        scorer = Scorer.from_config(cfg.model, cfg.neurons, cfg.scoring, cfg.runtime.batching)
    except RosettaError as exc:
        fail(exc)
    if files:
        names = [str(f) for f in files]
        texts = [f.read_text(errors="surrogateescape") for f in files]
    else:
        data = sys.stdin.read()
        texts = data.splitlines() if lines else [data]
        names = [f"stdin:{i}" for i in range(len(texts))]
    if lines and files:
        pairs = [
            (f"{n}:{i}", t)
            for n, text in zip(names, texts, strict=True)
            for i, t in enumerate(text.splitlines())
        ]
        names, texts = [p[0] for p in pairs], [p[1] for p in pairs]
    for name, doc in zip(names, scorer.score(texts, with_neurons=neurons), strict=True):
        record = {"id": name, "score": doc.score, "n_tokens": doc.n_tokens}
        if doc.skip_reason:
            record["skip_reason"] = doc.skip_reason
        if doc.scores:  # neurons.domains: one score per domain, same forward pass
            record["scores"] = doc.scores
        if neurons and doc.neuron_values is not None:
            record["neurons"] = dict(
                zip(
                    doc.neurons or map(str, scorer.selection.neurons),
                    doc.neuron_values,
                    strict=True,
                )
            )
        print(json.dumps(record))
