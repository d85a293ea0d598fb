"""Executors decide where work units run; ``pipeline.py`` chains the same stages for every
executor: score pass over all units -> selection in the driver (scores only) -> write pass over
all units -> manifest.

Both passes run per work unit (``units.py``) with the same functions
(:func:`~rosetta_filter.filtering.score_pass.score_unit`,
:func:`~rosetta_filter.filtering.write_pass.write_unit`), so every executor writes the same
attribute shards, output shards, checkpoints and scores; they differ only in where a unit runs:
- ``local`` with ``runtime.ranks: 1``: in this process;
- ``local`` with ``runtime.ranks: N``: N spawned processes, each taking the next unfinished
  unit (``executors/local.py``);
- ``ray``: a pool of ``runtime.ray_actors`` Ray actors, each reading its own units from the
  storage they share with the driver (``executors/ray.py``).
The driver only ever holds unit states (shard lists and counts), never records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rosetta_filter.config import RunConfig
from rosetta_filter.filtering.checkpoint import StageState, load_state
from rosetta_filter.filtering.progress import Progress
from rosetta_filter.filtering.run_dir import STATE_DIR
from rosetta_filter.filtering.selection import MixtureRule, SelectionRule
from rosetta_filter.filtering.units import WorkUnit
from rosetta_filter.scoring.document import DocumentScorer

Rule = SelectionRule | MixtureRule


@dataclass
class ScorePassResult:
    states: dict[int, StageState]  # per unit: attribute shards and stats
    described: dict[str, Any] | None  # the scorer's describe()


class Executor(Protocol):
    """Runs each pass over all units; a context manager that owns its workers."""

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def score(self, units: list[WorkUnit]) -> ScorePassResult: ...

    def write(
        self, units: list[WorkUnit], rule: Rule, attributes: dict[int, StageState]
    ) -> dict[int, StageState]: ...


def description_path(run_dir: Path) -> Path:
    """Where the score pass keeps the scorer's ``describe()``, so that a run whose
    score pass finished earlier, on either executor, still writes a complete manifest."""
    return run_dir / STATE_DIR / "scorer.json"


def pending_units(run_dir: Path, stage: str, units: list[WorkUnit]) -> list[WorkUnit]:
    """Units whose ``stage`` has not completed (a resumed run does only these)."""
    return [u for u in units if not load_state(run_dir, stage, u.id).complete]


def start_stage(
    progress: Progress, stage: str, run_dir: Path, units: list[WorkUnit], total: int | None
) -> None:
    """One bar per pass over all units, counting the records finished units already hold."""
    done = 0
    for unit in units:
        done += load_state(run_dir, stage, unit.id).records_done
    progress.start(stage, total, done)


def make_executor(
    cfg: RunConfig, run_dir: Path, progress: Progress, scorer: DocumentScorer | None
) -> Executor:
    """The executor ``cfg.runtime`` asks for. ``scorer`` (default: the model the config names,
    loaded where the units run) is shipped to worker processes or actors by pickling."""
    factory: Callable[..., Executor]
    if cfg.runtime.executor == "ray":
        from rosetta_filter.filtering.executors.ray import RayExecutor  # ray: optional extra

        factory = RayExecutor
    else:
        from rosetta_filter.filtering.executors.local import LocalExecutor

        factory = LocalExecutor
    return factory(cfg, run_dir, progress, scorer)
