"""``rosetta-filter run``: the chain source -> score pass -> selection -> write pass ->
manifest. Each pass runs per rank and resumes from its checkpoint; the executor decides where
ranks run (``executors/``)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from rosetta_filter.config import RunConfig
from rosetta_filter.filtering.executors import run_score_pass
from rosetta_filter.filtering.manifest import write_manifest
from rosetta_filter.filtering.progress import NullProgress, Progress
from rosetta_filter.filtering.run_dir import claim_run_dir, remove_run_dir
from rosetta_filter.filtering.selection import SelectionRule, build_rule
from rosetta_filter.filtering.shards import ShardInfo
from rosetta_filter.filtering.stats import RunStats
from rosetta_filter.filtering.write_pass import write_rank
from rosetta_filter.scoring.scorer import DocumentScorer

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    run_dir: Path
    stats: RunStats
    rule: SelectionRule
    shards: list[ShardInfo]
    resumed: bool


def rule_from_attributes(
    cfg: RunConfig, run_dir: Path, attributes: dict[int, list[ShardInfo]]
) -> SelectionRule:
    """Rank every scored document of every rank and derive the selection rule."""
    scores, ranks, indexes, tokens = [], [], [], []
    for rank, shards in attributes.items():
        for shard in shards:
            table = pq.read_table(run_dir / shard.path, columns=["score", "index", "total_tokens"])
            score = table["score"].to_numpy(zero_copy_only=False)
            valid = ~np.isnan(score.astype(np.float64))
            scores.append(score[valid].astype(np.float64))
            indexes.append(table["index"].to_numpy()[valid])
            tokens.append(table["total_tokens"].to_numpy()[valid])
            ranks.append(np.full(int(valid.sum()), rank))
    return build_rule(
        cfg.selection,
        _concat(scores, np.float64),
        _concat(ranks, np.int64),
        _concat(indexes, np.int64),
        _concat(tokens, np.int64),
    )


def _input_paths(cfg: RunConfig) -> list[Path]:
    """Local paths the run reads: source files (globs cut at their first wildcard), the bank."""
    source = cfg.source.data_files or cfg.source.dataset
    patterns = [source] if isinstance(source, str) else list(source or [])
    paths = [Path(re.split(r"[*?\[]", p)[0] or ".").expanduser() for p in patterns]
    if cfg.neurons.bank:
        paths.append(Path(cfg.neurons.bank).expanduser())
    return paths


def _concat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def run(
    cfg: RunConfig,
    *,
    progress: Progress | None = None,
    overwrite: bool = False,
    scorer: DocumentScorer | None = None,
    inputs: Sequence[Path] = (),
) -> RunResult:
    """Run (or resume) a filtering job: the score pass on ``runtime.executor``, then selection,
    the write pass and the manifest in this process.

    ``overwrite`` deletes an earlier run in ``output.dir`` first, never anything else: not a
    directory without the run marker, nor one holding ``inputs`` (the config file) or the
    source files and bank the config names (``run_dir.remove_run_dir``).
    """
    progress = progress or NullProgress()
    run_dir = Path(cfg.output.dir)
    if overwrite:
        remove_run_dir(run_dir, [*inputs, *_input_paths(cfg)])
    resumed = claim_run_dir(run_dir, cfg)
    scored = run_score_pass(cfg, run_dir, progress, scorer)
    rule = rule_from_attributes(cfg, run_dir, {0: scored.state.shards})
    write_state = write_rank(cfg, rule, scored.state.shards, run_dir, progress=progress)
    stats = scored.state.stats + write_state.stats
    write_manifest(run_dir, cfg, scored.described, rule, write_state.shards, stats)
    return RunResult(run_dir, stats, rule, write_state.shards, resumed)
