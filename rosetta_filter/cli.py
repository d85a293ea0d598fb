"""The ``rosetta-filter`` command line: thin commands that load a config, call one library
function and print a summary. Progress is drawn with rich; the library only reports it."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from rosetta_filter.errors import ConfigError, RosettaError

app = typer.Typer(
    help="Filter pretraining data with Rosetta Neurons: neurons shared across model families.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(
    help="The offline model registry and model inspection.", no_args_is_help=True
)
app.add_typer(models_app, name="models")

console = Console(stderr=True)
out = Console()

ConfigArg = Annotated[Path, typer.Argument(help="YAML config file", exists=False)]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="override a config value: key.sub=value (repeatable)"),
]


def _setup_logging(quiet: bool, json_log: bool) -> None:
    level = logging.WARNING if quiet else logging.INFO
    if json_log:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_JsonFormatter())
    else:
        handler = RichHandler(console=console, show_path=False, show_time=False)
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in ("datasets", "transformers", "urllib3", "filelock", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" bars would tear our progress display
    hf_logging.set_verbosity_error()  # e.g. the unused lm_head of a backbone-only load


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": round(record.created, 3),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
        )


def _fail(exc: RosettaError) -> None:
    console.print(f"[bold red]error[/]: {exc.message}")
    raise typer.Exit(code=2)


class RichRunProgress:
    """Draws the pipeline's progress: docs/s, tokens/s, kept share and ETA when known."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Progress | None = None
        self.task = None
        self.docs = self.tokens = self.kept = 0
        self.started = 0.0

    def start(self, stage: str, total: int | None, done: int = 0) -> None:
        if not self.enabled:
            return
        self.docs = self.tokens = self.kept = 0
        self.started = time.perf_counter()
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.bar.start()
        self.task = self.bar.add_task(stage, total=total, completed=done, rate="")

    def advance(self, docs: int, tokens: int = 0, kept: int = 0) -> None:
        if self.bar is None:
            return
        self.docs += docs
        self.tokens += tokens
        self.kept += kept
        secs = max(time.perf_counter() - self.started, 1e-9)
        rate = f"{self.docs / secs:.1f} docs/s {self.tokens / secs:.0f} tok/s"
        if self.kept:
            rate += f" kept {100 * self.kept / max(self.docs, 1):.1f}%"
        self.bar.update(self.task, advance=docs, rate=rate)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


@app.command()
def run(
    config: ConfigArg,
    set_: SetOpt = None,
    overwrite: Annotated[bool, typer.Option(help="delete output.dir first")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
    json_log: Annotated[bool, typer.Option("--json-log", help="log JSON lines")] = False,
) -> None:
    """Score a dataset with the selected neurons and write filtered shards (resumable)."""
    from rosetta_filter.config import load_config
    from rosetta_filter.pipeline import run as run_pipeline

    _setup_logging(quiet, json_log)
    try:
        cfg = load_config(config, set_)
        result = run_pipeline(
            cfg, progress=RichRunProgress(not quiet), overwrite=overwrite, inputs=[Path(config)]
        )
    except RosettaError as exc:
        _fail(exc)
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


def _config_kinds() -> dict[str, type]:
    """Every YAML config the CLI reads, by the command that reads it."""
    from discovery.config import DiscoverConfig
    from discovery.corpus import CorpusConfig
    from rosetta_filter.config import RunConfig
    from service.config import ServeConfig

    return {
        "run": RunConfig,
        "discover": DiscoverConfig,
        "serve": ServeConfig,
        "corpus": CorpusConfig,
    }


def _guess_kind(config: Path, kinds: dict[str, type]) -> str:
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

    return max(kinds, key=lambda kind: fit(kinds[kind]))


@app.command()
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

    kinds = _config_kinds()
    if kind is not None and kind not in kinds:
        _fail(ConfigError(f"--kind={kind!r}: expected one of {', '.join(kinds)}", field="kind"))
    kind = kind or _guess_kind(config, kinds)
    try:
        cfg = load_config(config, set_, cls=kinds[kind])
    except RosettaError as exc:
        _fail(ConfigError(f"{exc.message} (checked as a {kind} config; --kind chooses)"))
    out.print(f"[green]ok[/]: {config} is a valid {kind} config ({_describe(kind, cfg)})")


def _describe(kind: str, cfg: Any) -> str:
    if kind == "run":
        return f"{cfg.selection.mode} selection, model {cfg.model.name}, output {cfg.output.dir}"
    if kind == "discover":
        return f"anchor {cfg.anchor_id}, partners {', '.join(cfg.partner_ids)}, bank {cfg.bank.dir}"
    if kind == "serve":
        return f"model {cfg.model.name}, {1 + len(cfg.neuron_sets)} neuron set(s)"
    return f"domains {', '.join(cfg.domains)}"


@app.command()
def score(
    config: ConfigArg,
    files: Annotated[list[Path] | None, typer.Argument(help="text files (default: stdin)")] = None,
    set_: SetOpt = None,
    lines: Annotated[bool, typer.Option(help="one document per input line")] = False,
    neurons: Annotated[bool, typer.Option(help="include per-neuron values")] = False,
) -> None:
    """Score documents ad hoc: text from files or stdin, JSON lines out."""
    from rosetta_filter.config import load_config
    from rosetta_filter.scoring import Scorer

    _setup_logging(True, False)
    try:
        cfg = load_config(config, set_)
        scorer = Scorer.from_config(cfg.model, cfg.neurons, cfg.scoring, cfg.runtime)
    except RosettaError as exc:
        _fail(exc)
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
        if neurons and doc.neuron_values is not None:
            record["neurons"] = dict(
                zip(map(str, scorer.selection.neurons), doc.neuron_values, strict=True)
            )
        print(json.dumps(record))


@models_app.command("list")
def models_list() -> None:
    """The models of the offline registry and whether they are pulled."""
    from rosetta_filter import registry

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


@models_app.command("pull")
def models_pull(
    name: Annotated[str, typer.Argument(help="registry name, e.g. smollm2-135m")],
    force: Annotated[bool, typer.Option(help="pull again even when cached")] = False,
) -> None:
    """Fetch, assemble, verify (sha256) and convert a registry model into the cache."""
    from rosetta_filter import registry

    _setup_logging(False, False)
    try:
        with console.status(f"pulling {name}") as status:
            path = registry.pull(name, force=force, progress=lambda msg: status.update(msg))
    except RosettaError as exc:
        _fail(exc)
    out.print(f"[green]ready[/]: {name} at {path}")


@models_app.command("info")
def models_info(
    name: Annotated[str, typer.Argument(help="registry name, local path or hub id")],
) -> None:
    """Family, layers, d_mlp, tap module of each layer, source and sha256 of a model."""
    from rosetta_filter.config import ModelConfig
    from rosetta_filter.models import load_model

    _setup_logging(True, False)
    try:
        loaded = load_model(ModelConfig(name=name))
    except RosettaError as exc:
        _fail(exc)
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


@app.command()
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
    from service.config import ServeConfig
    from service.server import serve as run_server

    _setup_logging(False, json_log)
    try:
        cfg = load_config(config, set_, cls=ServeConfig)
        run_server(cfg, host=host, port=port, workers=workers)
    except RosettaError as exc:
        _fail(exc)


@app.command()
def discover(
    config: ConfigArg,
    set_: SetOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
) -> None:
    """Mine Rosetta Neurons across models over a probe corpus and write a neuron bank."""
    from discovery.config import DiscoverConfig
    from discovery.pipeline import discover as run_discovery
    from discovery.pipeline import load_docs
    from rosetta_filter.config import load_config

    _setup_logging(quiet, False)
    progress = RichRunProgress(not quiet)
    try:
        cfg = load_config(config, set_, cls=DiscoverConfig)
        progress.start("data pass", len(load_docs(cfg)))
        result = run_discovery(cfg, advance=lambda n: progress.advance(n))
    except RosettaError as exc:
        progress.finish()
        _fail(exc)
    progress.finish()
    _print_discovery_summary(result.summary, result.bank_dir)


@app.command()
def report(
    runs: Annotated[list[Path], typer.Argument(help="discovery runs (bank directories)")],
    out_dir: Annotated[Path, typer.Option("--out", help="where report.html goes")] = Path(
        "out/report"
    ),
) -> None:
    """Scaling report over discovery runs: Rosetta count and fraction vs size with a power-law
    fit, polarization, domain specialisation, and the top neurons per domain (one HTML file)."""
    from discovery.report_html import write_report

    _setup_logging(False, False)
    try:
        page, table = write_report(runs, out_dir)
    except RosettaError as exc:
        _fail(exc)
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


def _mount_discovery() -> None:
    """The CLI (only it) reaches into ``discovery``; the library never does."""
    from discovery import cli_corpus

    app.add_typer(cli_corpus.app, name="corpus")


_mount_discovery()
