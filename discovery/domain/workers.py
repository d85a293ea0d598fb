"""One domain per worker process: the parallel map behind ``rosetta-filter domains`` and the
bank comparison.

A domain's work (its statistics, folds and head fits) needs nothing from another domain's, and
liblinear and the rank histograms run on one core each: one process per domain uses every core.
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
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

State = TypeVar("State")
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
            futures = {domain: pool.submit(_run_task, task, domain) for domain in domains}
            for domain, future in futures.items():
                results[domain] = future.result()
                done(domain)
        except BaseException:
            _stop_now(pool)
            raise
        pool.shutdown()
    return results


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


def _run_task(task: Callable[[Any, str], Result], domain: str) -> Result:
    return task(_WORKER["state"], domain)
