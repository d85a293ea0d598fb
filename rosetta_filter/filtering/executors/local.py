"""The local executor: the score pass in this process, with the engine's own threads for
read-ahead and tokenisation."""

from __future__ import annotations

from pathlib import Path

from rosetta_filter.config import RunConfig
from rosetta_filter.files import write_json_atomic
from rosetta_filter.filtering.executors import ScorePassResult, description_path
from rosetta_filter.filtering.progress import Progress
from rosetta_filter.filtering.score_pass import score_rank
from rosetta_filter.scoring.scorer import DocumentScorer, Scorer


def score_locally(
    cfg: RunConfig, run_dir: Path, progress: Progress, scorer: DocumentScorer | None = None
) -> ScorePassResult:
    scorer = scorer or Scorer.from_config(cfg.model, cfg.neurons, cfg.scoring, cfg.runtime.batching)
    state = score_rank(cfg, scorer, run_dir, progress=progress)
    described = scorer.describe()
    write_json_atomic(description_path(run_dir), described)
    return ScorePassResult(state, described)
