"""``rosetta-filter run``: the chain source -> work units -> score pass -> selection -> write
pass -> manifest. Each pass runs per work unit and resumes from the unit's checkpoint; the
executor decides where units run (``executors/``), selection runs here on scores alone."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
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
from rosetta_filter.filtering.selection import MixtureRule, SelectionRule
from rosetta_filter.filtering.shards import ShardInfo
from rosetta_filter.filtering.stats import RunStats
from rosetta_filter.filtering.stream_select import (
    Columns,
    SetColumns,
    streamed_mixture_rule,
    streamed_rule,
)
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
    token counts only: texts are never read here). A top fraction, a token budget or each
    bucket of a mixture is cut in passes over the attribute shards with bounded memory
    (``stream_select``)."""
    rows = cfg.runtime.select_rows
    if cfg.selection.mixture is None:
        return streamed_rule(cfg.selection, lambda: _score_columns(run_dir, attributes), rows)
    return streamed_mixture_rule(
        cfg.selection,
        cfg.mixture_thresholds(),
        lambda: _set_columns(cfg, run_dir, attributes),
        rows,
    )


def _attribute_tables(
    run_dir: Path, attributes: dict[int, list[ShardInfo]], names: list[str]
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """(unit, columns) of each attribute shard, scored documents only (skipped ones have no
    score)."""
    for unit, shards in attributes.items():
        for shard in shards:
            table = pq.read_table(run_dir / shard.path, columns=["score", *names])
            score = table["score"].to_numpy(zero_copy_only=False).astype(np.float64)
            valid = ~np.isnan(score)
            values = {"score": score[valid]}
            for name in names:
                values[name] = table[name].to_numpy(zero_copy_only=False)[valid]
            yield unit, values


def _score_columns(run_dir: Path, attributes: dict[int, list[ShardInfo]]) -> Iterator[Columns]:
    for unit, t in _attribute_tables(run_dir, attributes, ["index", "total_tokens"]):
        units = np.full(len(t["score"]), unit, dtype=np.int64)
        yield Columns(t["score"], units, t["index"].astype(np.int64), t["total_tokens"])


def _set_columns(
    cfg: RunConfig, run_dir: Path, attributes: dict[int, list[ShardInfo]]
) -> Iterator[SetColumns]:
    sets = set_columns(cfg)
    for unit, t in _attribute_tables(run_dir, attributes, ["index", "total_tokens", *sets]):
        scores = {
            c.removeprefix(SET_SCORE_PREFIX): t[c].astype(np.float64, copy=False) for c in sets
        }
        units = np.full(len(t["score"]), unit, dtype=np.int64)
        yield SetColumns(scores, units, t["index"].astype(np.int64), t["total_tokens"])


def _input_paths(cfg: RunConfig) -> list[Path]:
    """Local paths the run reads: source files (globs cut at their first wildcard), the bank."""
    source = cfg.source.data_files or cfg.source.dataset
    patterns = [source] if isinstance(source, str) else list(source or [])
    paths = [Path(re.split(r"[*?\[]", p)[0] or ".").expanduser() for p in patterns]
    if cfg.neurons.bank:
        paths.append(Path(cfg.neurons.bank).expanduser())
    return paths


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
