"""The local executor: work units in this process (``runtime.ranks: 1``) or in N spawned rank
processes that each take the next unfinished unit (``runtime.ranks: N``).

A rank process loads the scorer once and keeps it for every unit it scores; torch threads are
split between the ranks unless ``model.threads`` says otherwise. Progress comes back through a
queue in batches (a put per record would cost more than a cheap scorer). A rank that dies
(killed, out of memory) breaks the pool: the run stops with a message, and running the same
command again resumes every unit from its own checkpoint, so nothing is scored or written twice.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from rosetta_filter.config import RunConfig
from rosetta_filter.errors import ShardError
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
from rosetta_filter.filtering.progress import Progress, UnitProgress
from rosetta_filter.filtering.sources import COUNT_LINES_MAX_BYTES, Source
from rosetta_filter.filtering.units import WorkUnit
from rosetta_filter.scoring.document import DocumentScorer

_REPORT_EVERY_S = 0.2


def build_scorer(cfg: RunConfig) -> DocumentScorer:
    """The neuron scorer the config names (imported here: torch loads only where it runs)."""
    from rosetta_filter.scoring.scorer import Scorer

    return Scorer.from_config(cfg.model, cfg.neurons, cfg.scoring, cfg.runtime.batching)


def total_records(cfg: RunConfig, units: list[WorkUnit]) -> int | None:
    """Records of all units when every unit can tell cheaply (progress ETA), else None.
    Parquet footers are cheap at any size; counting lines is not past 1 GiB in all."""
    if (
        Source(cfg.source, units[0]).format != "parquet"
        and sum(u.bytes for u in units) > COUNT_LINES_MAX_BYTES
    ):
        return None
    total = 0
    for unit in units:
        count = Source(cfg.source, unit).estimated_total()
        if count is None:
            return None
        total += count
    return total


class LocalExecutor:
    def __init__(
        self,
        cfg: RunConfig,
        run_dir: Path,
        progress: Progress,
        scorer: DocumentScorer | None = None,
    ) -> None:
        self.cfg, self.run_dir, self.progress = cfg, run_dir, progress
        self.scorer = scorer
        self.ranks = cfg.runtime.ranks
        self.pool: ProcessPoolExecutor | None = None
        self.reports: Any = None

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    # -- passes ----------------------------------------------------------------------------
    def score(self, units: list[WorkUnit]) -> ScorePassResult:
        cfg, run_dir = self.cfg, self.run_dir
        pending = pending_units(run_dir, score_pass.STAGE, units)
        start_stage(self.progress, "score", run_dir, units, total_records(cfg, units))
        described = None
        if pending and self.ranks == 1:
            self.scorer = self.scorer or build_scorer(cfg)
            for unit in pending:
                score_pass.score_unit(cfg, self.scorer, run_dir, unit, UnitProgress(self.progress))
            described = self.scorer.describe()
        elif pending:
            described = self._in_ranks(_score_task, [(unit,) for unit in pending])[0]
        self.progress.finish()
        if described is not None:
            write_json_atomic(description_path(run_dir), described)
        path = description_path(run_dir)
        described = described or (json.loads(path.read_text()) if path.exists() else None)
        states = {u.id: load_state(run_dir, score_pass.STAGE, u.id) for u in units}
        return ScorePassResult(states, described)

    def write(
        self, units: list[WorkUnit], rule: Rule, attributes: dict[int, StageState]
    ) -> dict[int, StageState]:
        cfg, run_dir = self.cfg, self.run_dir
        pending = pending_units(run_dir, write_pass.STAGE, units)
        total = sum(s.records_done for s in attributes.values())
        start_stage(self.progress, "write", run_dir, units, total)
        if self.ranks == 1:
            for unit in pending:
                shards = attributes[unit.id].shards
                write_pass.write_unit(
                    cfg, rule, shards, run_dir, unit, progress=UnitProgress(self.progress)
                )
        elif pending:
            self._in_ranks(
                _write_task, [(unit, rule, attributes[unit.id].shards) for unit in pending]
            )
        self.progress.finish()
        return {u.id: load_state(run_dir, write_pass.STAGE, u.id) for u in units}

    # -- rank processes --------------------------------------------------------------------
    def _start_pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            context = multiprocessing.get_context("spawn")  # no forked torch or thread state
            self.reports = context.Queue()
            threads = self.cfg.model.threads or max(1, (os.cpu_count() or 1) // self.ranks)
            self.pool = ProcessPoolExecutor(
                self.ranks,
                mp_context=context,
                initializer=_start_rank,
                initargs=(self.cfg, self.run_dir, self.scorer, self.reports, threads),
            )
        return self.pool

    def _in_ranks(self, task: Any, calls: list[tuple]) -> list[Any]:
        """Run ``task(*call)`` for every call on the rank processes, reporting progress as it
        comes; results in call order. The first failure stops the pass and is raised."""
        pool = self._start_pool()
        futures: list[Future] = [pool.submit(task, *call) for call in calls]
        try:
            while True:
                done, running = wait(futures, timeout=_REPORT_EVERY_S, return_when=FIRST_EXCEPTION)
                self._drain_reports()
                if not running or any(f.exception() is not None for f in done):
                    break
            return [f.result() for f in futures]
        except BrokenProcessPool as exc:
            raise ShardError(
                "a rank process died (killed, or out of memory?); every finished checkpoint is "
                "kept: run the same command again to resume the unfinished units",
                field="runtime.ranks",
                value=self.ranks,
            ) from exc
        finally:
            for future in futures:
                future.cancel()
            self._drain_reports()

    def _drain_reports(self) -> None:
        while True:
            try:
                docs, tokens, kept = self.reports.get_nowait()
            except queue.Empty:
                return
            self.progress.advance(docs, tokens, kept)


# -- inside a rank process ---------------------------------------------------------------------
_RANK: dict[str, Any] = {}


class QueueProgress:
    """A unit's progress sent to the driver in batches of at most one put per 0.2 s."""

    def __init__(self, reports: Any) -> None:
        self.reports = reports
        self.pending = [0, 0, 0]
        self.last = time.monotonic()

    def start(self, stage: str, total: int | None, done: int = 0) -> None:
        pass

    def advance(self, docs: int, tokens: int = 0, kept: int = 0) -> None:
        self.pending = [self.pending[0] + docs, self.pending[1] + tokens, self.pending[2] + kept]
        if time.monotonic() - self.last >= _REPORT_EVERY_S:
            self.finish()

    def finish(self) -> None:
        if any(self.pending):
            self.reports.put(tuple(self.pending))
        self.pending, self.last = [0, 0, 0], time.monotonic()


def _die_with_the_driver() -> None:
    """Ask Linux to SIGKILL this rank when its parent (the driver) dies: an orphaned rank would
    go on writing a unit that the resumed run writes too. Elsewhere a no-op (the pool's own
    shutdown still stops ranks when the driver exits normally)."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() == 1:  # the driver died before the request was made
            os._exit(1)


def _start_rank(
    cfg: RunConfig, run_dir: Path, scorer: DocumentScorer | None, reports: Any, threads: int
) -> None:
    _die_with_the_driver()
    if scorer is None:  # this rank will load the model: give it its share of the cores
        import torch

        torch.set_num_threads(threads)
    _RANK.update(cfg=cfg, run_dir=run_dir, scorer=scorer, reports=reports)


def _score_task(unit: WorkUnit) -> dict[str, Any]:
    """Score one unit in this rank; the scorer is loaded on the rank's first unit."""
    if _RANK["scorer"] is None:
        _RANK["scorer"] = build_scorer(_RANK["cfg"])
    scorer = _RANK["scorer"]
    progress = QueueProgress(_RANK["reports"])
    score_pass.score_unit(_RANK["cfg"], scorer, _RANK["run_dir"], unit, progress)
    progress.finish()
    return scorer.describe()


def _write_task(unit: WorkUnit, rule: Rule, shards: list) -> None:
    progress = QueueProgress(_RANK["reports"])
    write_pass.write_unit(_RANK["cfg"], rule, shards, _RANK["run_dir"], unit, progress)
    progress.finish()
