"""Executors decide where the score pass runs; ``pipeline.py`` chains the same stages around it
for every executor (selection, write pass and manifest run in the calling process).

The score pass is the only stage that runs the model, so it is the only one worth spreading over
machines. ``local`` scores in this process; ``ray`` streams the same records through a Ray Data pool
of scorer actors. Both call :func:`rosetta_filter.filtering.score_pass.score_records` per batch and
:func:`rosetta_filter.filtering.score_pass.write_attributes` to checkpoint, so they write the same
attribute shards, the same ``.state/`` checkpoints and the same scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rosetta_filter.config import RunConfig
from rosetta_filter.errors import ConfigError
from rosetta_filter.filtering.checkpoint import StageState
from rosetta_filter.filtering.progress import Progress
from rosetta_filter.filtering.run_dir import STATE_DIR
from rosetta_filter.scoring.scorer import DocumentScorer


@dataclass
class ScorePassResult:
    state: StageState  # the score pass's final checkpoint: attribute shards and stats
    described: dict[str, Any] | None  # the scorer's describe()


def description_path(run_dir: Path) -> Path:
    """Where the score pass keeps the scorer's ``describe()``, so that a run whose
    score pass finished earlier, on either executor, still writes a complete manifest."""
    return run_dir / STATE_DIR / "scorer.json"


def run_score_pass(
    cfg: RunConfig, run_dir: Path, progress: Progress, scorer: DocumentScorer | None = None
) -> ScorePassResult:
    """Run (or resume) the score pass on ``cfg.runtime.executor``. ``scorer``, a model already
    loaded in this process (any :class:`DocumentScorer`), only serves the local executor."""
    if cfg.runtime.executor == "ray":
        if scorer is not None:
            raise ConfigError(
                "runtime.executor=ray loads the model in each Ray actor and cannot use a scorer "
                "built in this process: drop the scorer argument or use runtime.executor=local",
                field="runtime.executor",
                value="ray",
            )
        from rosetta_filter.filtering.executors.ray import score_on_ray  # ray is an optional extra

        return score_on_ray(cfg, run_dir, progress)
    from rosetta_filter.filtering.executors.local import score_locally

    return score_locally(cfg, run_dir, progress, scorer)
