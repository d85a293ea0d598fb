"""Per-stage, per-unit checkpoints of a run directory (``.state/{stage}-{unit:05d}.json``).

A checkpoint is written only after the shards it lists were published, so on resume every
listed shard is complete and any other shard of that unit is an orphan to delete. Checkpoints
fall on multiples of ``runtime.checkpoint_docs``, which is a multiple of the engine's
read-ahead, so a resumed run forms exactly the batches of an uninterrupted one and computes
bit-identical scores.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rosetta_filter.files import write_json_atomic
from rosetta_filter.filtering.run_dir import STATE_DIR
from rosetta_filter.filtering.shards import ShardInfo, ShardWriter
from rosetta_filter.filtering.stats import RunStats


@dataclass
class StageState:
    records_done: int = 0
    source_state: dict | None = None  # the source position after records_done records
    seqs: dict[str, int] = field(default_factory=dict)  # next shard number per shard folder
    shards: list[ShardInfo] = field(default_factory=list)
    stats: RunStats = field(default_factory=RunStats)
    complete: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "records_done": self.records_done,
            "source_state": self.source_state,
            "seqs": self.seqs,
            "shards": [s.to_dict() for s in self.shards],
            "stats": self.stats.to_dict(),
            "complete": self.complete,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageState:
        return cls(
            records_done=data["records_done"],
            source_state=data["source_state"],
            seqs=data["seqs"],
            shards=[ShardInfo(**s) for s in data["shards"]],
            stats=RunStats.from_dict(data["stats"]),
            complete=data["complete"],
        )


def state_path(run_dir: Path, stage: str, unit: int) -> Path:
    return run_dir / STATE_DIR / f"{stage}-{unit:05d}.json"


def load_state(run_dir: Path, stage: str, unit: int) -> StageState:
    path = state_path(run_dir, stage, unit)
    return StageState.from_dict(json.loads(path.read_text())) if path.exists() else StageState()


def save_state(run_dir: Path, stage: str, unit: int, state: StageState) -> None:
    write_json_atomic(state_path(run_dir, stage, unit), state.to_dict())


def checkpoint(
    run_dir: Path,
    stage: str,
    unit: int,
    state: StageState,
    writers: Mapping[str, ShardWriter],
    done: int,
    position: dict | None,
    *,
    complete: bool = False,
) -> None:
    """Close every open shard, then record them, the shard numbers, ``done`` and the source
    ``position`` after ``done`` records: the order that makes every listed shard complete.
    A unit's last checkpoint passes ``complete``, so that its final counts and the finished
    flag are one atomic write: a kill leaves the previous checkpoint or a finished unit, never
    a finished unit's counts at a mid-unit position (a resume would count the tail twice)."""
    for writer in writers.values():
        writer.flush()
    state.shards = [s for w in writers.values() for s in w.published]
    state.seqs = {name: w.seq for name, w in writers.items()}
    state.records_done, state.source_state = done, position
    state.complete = complete
    save_state(run_dir, stage, unit, state)
