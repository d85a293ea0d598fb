"""``rosetta-filter run``: the chain source -> work units -> score pass -> selection -> write
pass -> manifest. Each pass runs per work unit and resumes from the unit's checkpoint; the
executor decides where units run (``executors/``), selection runs here on scores alone."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from rosetta_filter.config import RunConfig
from rosetta_filter.filtering.executors import make_executor
from rosetta_filter.filtering.manifest import write_manifest
from rosetta_filter.filtering.progress import NullProgress, Progress
from rosetta_filter.filtering.run_dir import claim_run_dir, remove_run_dir
from rosetta_filter.filtering.score_pass import SET_SCORE_PREFIX, set_columns
from rosetta_filter.filtering.selection import (
    MixtureRule,
    SelectionRule,
    build_mixture_rule,
    build_rule,
)
from rosetta_filter.filtering.shards import ShardInfo
from rosetta_filter.filtering.stats import RunStats
from rosetta_filter.filtering.units import claim_units
from rosetta_filter.scoring.document import DocumentScorer

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    run_dir: Path
    stats: RunStats
    rule: SelectionRule | MixtureRule
    shards: list[ShardInfo]
    resumed: bool


def rule_from_attributes(
    cfg: RunConfig, run_dir: Path, attributes: dict[int, list[ShardInfo]]
) -> SelectionRule | MixtureRule:
    """Rank every scored document of every unit and derive the selection rule (scores and
    token counts only: texts are never read here)."""
    sets = [c for c in set_columns(cfg) if cfg.selection.mixture is not None]
    columns: dict[str, list[np.ndarray]] = {
        name: [] for name in ("score", "index", "total_tokens", "unit", *sets)
    }
    for unit, shards in attributes.items():
        for shard in shards:
            table = pq.read_table(
                run_dir / shard.path, columns=["score", "index", "total_tokens", *sets]
            )
            score = table["score"].to_numpy(zero_copy_only=False).astype(np.float64)
            valid = ~np.isnan(score)
            for name in ("score", "index", "total_tokens", *sets):
                values = table[name].to_numpy(zero_copy_only=False)
                columns[name].append(values[valid])
            columns["unit"].append(np.full(int(valid.sum()), unit))
    units = _concat(columns["unit"], np.int64)
    indexes = _concat(columns["index"], np.int64)
    tokens = _concat(columns["total_tokens"], np.int64)
    if cfg.selection.mixture is not None:
        set_scores = {
            column.removeprefix(SET_SCORE_PREFIX): _concat(columns[column], np.float64)
            for column in sets
        }
        return build_mixture_rule(cfg.selection, set_scores, units, indexes, tokens)
    scores = _concat(columns["score"], np.float64)
    return build_rule(cfg.selection, scores, units, indexes, tokens)


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
    units = claim_units(run_dir, cfg.source, cfg.runtime.unit_bytes)
    with make_executor(cfg, run_dir, progress, scorer) as executor:
        scored = executor.score(units)
        rule = rule_from_attributes(
            cfg, run_dir, {unit: state.shards for unit, state in scored.states.items()}
        )
        written = executor.write(units, rule, scored.states)
    stats = sum((s.stats for s in (*scored.states.values(), *written.values())), RunStats())
    shards = [shard for unit in units for shard in written[unit.id].shards]
    write_manifest(run_dir, cfg, scored.described, rule, shards, stats, units)
    return RunResult(run_dir, stats, rule, shards, resumed)
