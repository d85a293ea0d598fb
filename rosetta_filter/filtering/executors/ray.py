"""The Ray executor: work units on a pool of ``runtime.ray_actors`` Ray actors.

Each actor loads the scorer once and runs the same per-unit functions as the local executor
(:func:`~rosetta_filter.filtering.score_pass.score_unit`,
:func:`~rosetta_filter.filtering.write_pass.write_unit`): it reads its unit's files itself, and
writes the unit's attribute and output shards and checkpoints into the run directory, which must
be storage that the driver and every node share (a network filesystem or a mounted bucket).
Nothing flows through the driver but unit descriptions, the selection rule and small states:
no single read task, no reordering, no records in the object store, so the driver's memory does
not grow with the corpus. Units go to whichever actor is free next; results do not depend on
which actor ran a unit, nor on how many there were. A killed actor or driver leaves every
finished checkpoint behind: the same command resumes each unit where it stopped.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ray
from ray.util import ActorPool

from rosetta_filter.config import ModelConfig, RunConfig
from rosetta_filter.errors import ConfigError, RosettaError
from rosetta_filter.files import write_json_atomic
from rosetta_filter.filtering import score_pass, write_pass
from rosetta_filter.filtering.checkpoint import StageState, load_state
from rosetta_filter.filtering.executors import (
    Rule,
    ScorePassResult,
    description_path,
    pending_units,
    start_stage,
)
from rosetta_filter.filtering.executors.local import build_scorer, total_records
from rosetta_filter.filtering.progress import NullProgress, Progress
from rosetta_filter.filtering.units import WorkUnit
from rosetta_filter.scoring.document import DocumentScorer

log = logging.getLogger(__name__)


def actor_resources(model: ModelConfig, cluster_gpus: float) -> dict[str, float]:
    """Ray resources of one scorer actor: one GPU when the model may run on one and the cluster
    has any, else one CPU per torch thread (``model.threads``, default 1)."""
    if model.device == "cuda" and cluster_gpus == 0:
        raise ConfigError(
            "model.device=cuda but the Ray cluster has no GPU: add GPU nodes, or set "
            "model.device=auto (GPUs when present) or cpu",
            field="model.device",
            value="cuda",
        )
    if model.device != "cpu" and cluster_gpus > 0:
        return {"num_cpus": 1, "num_gpus": 1}
    return {"num_cpus": model.threads or 1, "num_gpus": 0}


@contextlib.contextmanager
def ray_session(address: str | None) -> Iterator[None]:
    """Use the Ray this process is already connected to, or connect to ``address`` (None: the
    cluster named by RAY_ADDRESS, else a new local one) and disconnect afterwards."""
    if ray.is_initialized():
        if address:
            log.info("Ray is already initialised here; runtime.ray_address=%s is not used", address)
        yield
        return
    try:
        ray.init(address=address)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"cannot connect to Ray at {address or 'RAY_ADDRESS / a new local cluster'}: {exc}. "
            "Give runtime.ray_address as ray://host:10001, host:6379 or auto (a running "
            "cluster), or leave it unset to start a local Ray",
            field="runtime.ray_address",
            value=address,
        ) from exc
    try:
        yield
    finally:
        ray.shutdown()


class RankActor:
    """One rank on Ray: loads the scorer on its first unit and keeps it."""

    def __init__(self, cfg: RunConfig, run_dir: str, scorer: DocumentScorer | None) -> None:
        self.cfg, self.run_dir, self.scorer = cfg, Path(run_dir), scorer

    def score(self, unit: WorkUnit) -> tuple[int, dict[str, Any]]:
        self.scorer = self.scorer or build_scorer(self.cfg)
        score_pass.score_unit(self.cfg, self.scorer, self.run_dir, unit, NullProgress())
        return unit.id, self.scorer.describe()

    def write(self, unit: WorkUnit, rule: Rule, shards: list) -> int:
        write_pass.write_unit(self.cfg, rule, shards, self.run_dir, unit, NullProgress())
        return unit.id


class RayExecutor:
    def __init__(
        self,
        cfg: RunConfig,
        run_dir: Path,
        progress: Progress,
        scorer: DocumentScorer | None = None,
    ) -> None:
        self.cfg, self.run_dir, self.progress, self.scorer = cfg, run_dir, progress, scorer
        self.stack = contextlib.ExitStack()
        self.actors: list[Any] = []

    def __enter__(self) -> RayExecutor:
        self.stack.enter_context(ray_session(self.cfg.runtime.ray_address))
        return self

    def __exit__(self, *exc: object) -> None:
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
        self.stack.close()

    def _pool(self) -> ActorPool:
        if not self.actors:
            resources = actor_resources(self.cfg.model, ray.cluster_resources().get("GPU", 0))
            log.info("Ray: %d actors with %s each", self.cfg.runtime.ray_actors, resources)
            remote = ray.remote(**resources)(RankActor)
            self.actors = [
                remote.remote(self.cfg, str(self.run_dir.resolve()), self.scorer)
                for _ in range(self.cfg.runtime.ray_actors)
            ]
        return ActorPool(self.actors)

    def score(self, units: list[WorkUnit]) -> ScorePassResult:
        run_dir = self.run_dir
        pending = pending_units(run_dir, score_pass.STAGE, units)
        start_stage(self.progress, "score", run_dir, units, total_records(self.cfg, units))
        if pending:
            calls = self._pool().map_unordered(lambda a, u: a.score.remote(u), pending)
            described = {}
            for unit_id, described in _unwrap(calls):  # noqa: B007 (the last one is kept)
                self._advance(score_pass.STAGE, unit_id)
            write_json_atomic(description_path(run_dir), described)
        self.progress.finish()
        states = {u.id: load_state(run_dir, score_pass.STAGE, u.id) for u in units}
        path = description_path(run_dir)
        return ScorePassResult(states, json.loads(path.read_text()) if path.exists() else None)

    def write(
        self, units: list[WorkUnit], rule: Rule, attributes: dict[int, StageState]
    ) -> dict[int, StageState]:
        run_dir = self.run_dir
        pending = pending_units(run_dir, write_pass.STAGE, units)
        total = sum(s.records_done for s in attributes.values())
        start_stage(self.progress, "write", run_dir, units, total)
        if pending:
            calls = self._pool().map_unordered(
                lambda a, u: a.write.remote(u, rule, attributes[u.id].shards), pending
            )
            for unit_id in _unwrap(calls):
                self._advance(write_pass.STAGE, unit_id)
        self.progress.finish()
        return {u.id: load_state(run_dir, write_pass.STAGE, u.id) for u in units}

    def _advance(self, stage: str, unit_id: int) -> None:
        """Progress by whole units: an actor's unit reports when it is done."""
        stats = load_state(self.run_dir, stage, unit_id).stats
        if stage == score_pass.STAGE:
            self.progress.advance(stats.seen, stats.tokens_scored)
        else:
            self.progress.advance(stats.kept + stats.dropped, 0, stats.kept)


def _unwrap(results: Iterator[Any]) -> Iterator[Any]:
    """Results of actor calls; a user's error raised in an actor is raised here as itself."""
    try:
        yield from results
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, RosettaError):
            raise exc.cause from None
        raise
