"""What every command of ``rosetta-filter`` shares: the consoles, the config argument and
``--set`` option, logging set-up, the one error exit and the progress display. The packages built
on the core (``discovery``, ``service``) import their command helpers from here."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

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

from rosetta_filter.errors import RosettaError

console = Console(stderr=True)
out = Console()

ConfigArg = Annotated[Path, typer.Argument(help="YAML config file", exists=False)]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="override a config value: key.sub=value (repeatable)"),
]


def setup_logging(quiet: bool, json_log: bool) -> None:
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


def fail(exc: RosettaError) -> NoReturn:
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
        """Open a bar for ``stage``, closing the previous stage's first."""
        if not self.enabled:
            return
        self.finish()
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


@contextmanager
def command_progress(quiet: bool, json_log: bool = False) -> Iterator[RichRunProgress]:
    """Logging set up and a progress display for one command; a :class:`RosettaError` inside
    stops the display and ends the command with its one-line message (exit code 2). SIGTERM
    ends it as an exception (:func:`sigterm_as_exit`), so its clean-ups run."""
    setup_logging(quiet, json_log)
    progress = RichRunProgress(not quiet)
    with sigterm_as_exit():
        try:
            yield progress
        except RosettaError as exc:
            progress.finish()
            fail(exc)
    progress.finish()


@contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into ``SystemExit(143)`` while the block runs. Python's default for SIGTERM
    is to die at once, skipping every ``finally``: a killed ``domains`` fit left its workers'
    copy of the activation matrices (gigabytes) in a temporary folder. As an exception the
    signal unwinds the stack like Ctrl-C does: temporary folders are removed, half-written
    files dropped, worker pools stopped; a resumable command resumes as after any kill. Outside
    the main thread (where handlers cannot be set) the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _exit(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class ConfigKind:
    """A YAML config a command reads: its model and a one-line description of a loaded one."""

    def __init__(self, cls: type, describe: Any) -> None:
        self.cls = cls
        self.describe = describe


# kind -> ConfigKind; each package registers the kinds of its own commands (``validate`` reads it).
CONFIG_KINDS: dict[str, ConfigKind] = {}
