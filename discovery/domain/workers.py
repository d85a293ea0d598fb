"""Domains on worker processes: the parallel maps behind ``rosetta-filter domains`` and the
bank comparison.

A domain's work (its statistics, folds and head fits) needs nothing from another domain's, and
liblinear and the rank histograms run on one core each: one process per domain uses every core
(:func:`map_domains`) until the last round, where five domains on two cores leave one idle for a
whole domain's fit; :func:`map_domain_parts` splits each domain into a setup and parts (its
statistics, then one task per neuron pool) so the cores stay busy to the end.
Workers are spawned (not forked: the parent has run torch, whose thread pools do not survive a
fork) and read the activation matrices through memory-mapped ``.npy`` files rather than a
pickled copy each; each worker prepares its state (e.g. column ranks) once, for every domain it
is handed. The result is the same, domain by domain, for any worker count.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

State = TypeVar("State")
Shared = TypeVar("Shared")
Result = TypeVar("Result")
Matrices = Mapping[str, np.ndarray]
log = logging.getLogger(__name__)


def map_domains(
    matrices: Matrices,
    prepare: Callable[[Matrices], State],
    task: Callable[[State, str], Result],
    domains: Sequence[str],
    workers: int = 0,
    done: Callable[[str], None] = lambda domain: None,
    scratch_dir: Path | None = None,
) -> dict[str, Result]:
    """``task(prepare(matrices), domain)`` for every domain, in ``workers`` processes (0: one
    per CPU core, never more than there are domains; 1: in this process). ``prepare`` and
    ``task`` must be picklable (module-level functions or partials of them). ``done`` is called
    as each domain finishes. The workers' copies of the matrices live in a temporary folder
    under ``scratch_dir`` (default: the system's temp dir), which a large corpus may want on
    the disk that holds its cache."""
    workers = min(workers or os.cpu_count() or 1, len(domains))
    results: dict[str, Result] = {}
    if workers <= 1:
        state = prepare(matrices)
        for domain in domains:
            results[domain] = task(state, domain)
            done(domain)
        return results
    with _worker_pool(matrices, prepare, workers, scratch_dir) as pool:
        futures = {domain: pool.submit(_run_task, task, domain) for domain in domains}
        for domain, future in futures.items():
            results[domain] = future.result()
            done(domain)
    return results


def map_domain_parts(
    matrices: Matrices,
    prepare: Callable[[Matrices], State],
    setup: Callable[[State, str], Shared],
    part: Callable[[State, str, str, Shared], Result],
    domains: Sequence[str],
    parts: Sequence[str],
    workers: int = 0,
    done: Callable[[str], None] = lambda domain: None,
    scratch_dir: Path | None = None,
) -> dict[str, tuple[Shared, dict[str, Result]]]:
    """Per domain, ``shared = setup(state, domain)`` then ``part(state, domain, p, shared)``
    for every ``p`` in ``parts``: ``{domain: (shared, {p: result})}``, parts in the order
    given. A domain's parts are queued as its setup returns, so every core works until the
    last part ends (``workers`` and the rest as in :func:`map_domains`; ``shared`` travels to
    each part's worker pickled, so it should be small). ``done`` is called as each domain's
    last part ends."""
    workers = min(workers or os.cpu_count() or 1, len(domains) * max(len(parts), 1))
    if workers <= 1:
        state = prepare(matrices)
        results = {}
        for domain in domains:
            shared = setup(state, domain)
            results[domain] = (shared, {p: part(state, domain, p, shared) for p in parts})
            done(domain)
        return results
    shared_of: dict[str, Shared] = {}
    parts_of: dict[str, dict[str, Result]] = {domain: {} for domain in domains}
    with _worker_pool(matrices, prepare, workers, scratch_dir) as pool:
        setups = {pool.submit(_run_task, setup, domain): domain for domain in domains}
        part_keys: dict[Future, tuple[str, str]] = {}
        waiting = set(setups)
        while waiting:
            finished, waiting = wait(waiting, return_when=FIRST_COMPLETED)
            for future in finished:
                if future in setups:
                    domain = setups[future]
                    shared_of[domain] = future.result()
                    for p in parts:
                        queued = pool.submit(_run_task, part, domain, p, shared_of[domain])
                        part_keys[queued] = (domain, p)
                        waiting.add(queued)
                else:
                    domain, p = part_keys[future]
                    parts_of[domain][p] = future.result()
                if len(parts_of[domain]) == len(parts):
                    done(domain)
    return {d: (shared_of[d], {p: parts_of[d][p] for p in parts}) for d in domains}


@contextmanager
def _worker_pool(
    matrices: Matrices, prepare: Callable[[Matrices], Any], workers: int, scratch_dir: Path | None
) -> Iterator[ProcessPoolExecutor]:
    """Spawned workers that each open the matrices (saved once to a scratch folder, read
    memory-mapped) and ``prepare`` their state; stopped at once on any error or signal."""
    if scratch_dir is not None:
        scratch_dir.mkdir(parents=True, exist_ok=True)
    sweep_stale_scratch(Path(scratch_dir or tempfile.gettempdir()))
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=scratch_dir) as scratch:
        (Path(scratch) / OWNER_FILE).write_text(str(os.getpid()))
        paths = {}
        for name, matrix in matrices.items():
            paths[name] = str(Path(scratch) / f"{name}.npy")
            np.save(paths[name], matrix)
        pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_open_matrices,
            initargs=(paths, prepare),
        )
        try:
            yield pool
        except BaseException:
            _stop_now(pool)
            raise
        pool.shutdown()


SCRATCH_PREFIX = "rosetta-domains-"
OWNER_FILE = "owner.pid"


def sweep_stale_scratch(scratch_dir: Path) -> list[Path]:
    """Remove the scratch folders of fits that were killed outright (SIGKILL, a lost machine:
    no handler runs, and each left a copy of the activation matrices, 1-2 GB for the labelled
    corpus). Only a folder this module made is touched: named ``rosetta-domains-*``, holding its
    owner's pid in ``owner.pid`` and nothing but ``.npy`` copies beside it, whose owner no longer
    runs (a live or unreadable pid keeps it). Returns the folders removed."""
    removed = []
    for folder in sorted(scratch_dir.glob(f"{SCRATCH_PREFIX}*")):
        try:
            owner = int((folder / OWNER_FILE).read_text())
            names = [entry.name for entry in folder.iterdir()]
        except (OSError, ValueError):
            continue
        if _running(owner) or any(n != OWNER_FILE and not n.endswith(".npy") for n in names):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        log.info("removed %s, the scratch copy of a fit (pid %d) that was killed", folder, owner)
        removed.append(folder)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """End the workers at once. On an error, Ctrl-C or SIGTERM, ``shutdown`` alone would wait
    for every running fit to finish (minutes) while the matrices' copies stay on disk. A
    ``multiprocessing.Pool`` terminates on exit but hangs for ever when a worker dies (an
    out-of-memory kill), where this executor raises ``BrokenProcessPool``. Python 3.14 has
    ``terminate_workers()``; before it the executor's own process table is the only handle."""
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    for process in list(getattr(pool, "_processes", {}).values()):
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


_WORKER: dict[str, Any] = {}


def _open_matrices(paths: dict[str, str], prepare: Callable[[Matrices], Any]) -> None:
    _WORKER["state"] = prepare({name: np.load(path, mmap_mode="r") for name, path in paths.items()})


def _run_task(task: Callable[..., Result], *args: Any) -> Result:
    return task(_WORKER["state"], *args)
