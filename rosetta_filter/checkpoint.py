"""Per-stage, per-rank checkpoints of a run directory (``.state/{stage}-{rank:05d}.json``).

A checkpoint is written only after the shards it lists were published, so on resume every
listed shard is complete and any other shard of that rank is an orphan to delete. Checkpoints
fall on multiples of ``runtime.checkpoint_docs``, which is a multiple of the engine's
read-ahead, so a resumed run forms exactly the batches of an uninterrupted one and computes
bit-identical scores.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rosetta_filter.atomic import write_json_atomic
from rosetta_filter.config import RunConfig
from rosetta_filter.errors import ShardError
from rosetta_filter.shards import ShardInfo
from rosetta_filter.stats import RunStats

STATE_DIR = ".state"
# Settings that change where a run executes but not what it computes.
_PLACEMENT_ONLY = {"runtime": {"executor", "ray_address", "ray_actors"}}


@dataclass
class StageState:
    records_done: int = 0
    source_state: dict | None = None
    seq: int = 0
    shards: list[ShardInfo] = field(default_factory=list)
    stats: RunStats = field(default_factory=RunStats)
    complete: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "records_done": self.records_done,
            "source_state": self.source_state,
            "seq": self.seq,
            "shards": [s.to_dict() for s in self.shards],
            "stats": self.stats.to_dict(),
            "complete": self.complete,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageState:
        return cls(
            records_done=data["records_done"],
            source_state=data["source_state"],
            seq=data["seq"],
            shards=[ShardInfo(**s) for s in data["shards"]],
            stats=RunStats.from_dict(data["stats"]),
            complete=data["complete"],
        )


def state_path(run_dir: Path, stage: str, rank: int) -> Path:
    return run_dir / STATE_DIR / f"{stage}-{rank:05d}.json"


def load_state(run_dir: Path, stage: str, rank: int) -> StageState:
    path = state_path(run_dir, stage, rank)
    return StageState.from_dict(json.loads(path.read_text())) if path.exists() else StageState()


def save_state(run_dir: Path, stage: str, rank: int, state: StageState) -> None:
    write_json_atomic(state_path(run_dir, stage, rank), state.to_dict())


def config_fingerprint(cfg: RunConfig) -> str:
    payload = cfg.model_dump(mode="json", exclude=_PLACEMENT_ONLY)
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def claim_run_dir(run_dir: Path, cfg: RunConfig) -> bool:
    """Bind ``run_dir`` to this config; True when resuming an earlier attempt of it.

    A directory holding a *different* run is never mixed with this one.
    """
    marker = run_dir / STATE_DIR / "run.json"
    fingerprint = config_fingerprint(cfg)
    if marker.exists():
        previous = json.loads(marker.read_text())["fingerprint"]
        if previous != fingerprint:
            raise ShardError(
                f"output.dir={run_dir} holds a run with a different config: use another "
                "output.dir, or pass --overwrite to delete it",
                field="output.dir",
                value=str(run_dir),
            )
        return True
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ShardError(
            f"output.dir={run_dir} exists and is not a rosetta-filter run directory: use an "
            "empty or new directory",
            field="output.dir",
            value=str(run_dir),
        )
    write_json_atomic(marker, {"fingerprint": fingerprint})
    return False
