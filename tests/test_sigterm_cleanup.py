"""SIGTERM ends a command as an exception: a ``domains`` fit killed while its workers run
leaves no worker process and no copy of the activation matrices behind. A fit killed outright
(SIGKILL: no handler runs) leaves its copy, and the next fit with the same scratch folder
removes it, and nothing else."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]

# A fit that never ends on its own: one worker per domain, each sleeping in its task.
SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    import numpy as np

    from discovery.domain.workers import map_domains
    from rosetta_filter.cli.common import sigterm_as_exit


    def prepare(matrices):
        return matrices["acts"].shape


    def task(state, domain):
        if sys.argv[2] == "sleep":
            time.sleep(600)


    if __name__ == "__main__":
        with sigterm_as_exit():
            map_domains(
                {"acts": np.ones((64, 32), dtype=np.float32)}, prepare, task, ["a", "b"],
                workers=2, scratch_dir=Path(sys.argv[1]),
            )
    """
)


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _fit(tmp_path: Path, mode: str) -> subprocess.Popen:
    """The script above in a new process, scratch folder ``tmp_path/scratch``; ``mode`` sleep
    (a fit that never ends) or quick (one that ends at once)."""
    script = tmp_path / "fit.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # its own session: a test can kill it and every process it started at once (os.killpg)
    command = [sys.executable, str(script), str(tmp_path / "scratch"), mode]
    return subprocess.Popen(command, env=env, start_new_session=True)


def _kill_session(proc: subprocess.Popen) -> None:
    """SIGKILL to the fit's whole session (the fit, every worker, the resource tracker)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _workers_started(proc: subprocess.Popen, scratch: Path) -> list[psutil.Process]:
    parent = psutil.Process(proc.pid)
    _wait_for(lambda: len(parent.children()) >= 2 and any(scratch.glob("*/acts.npy")))
    return parent.children(recursive=True)


def test_sigterm_removes_the_workers_and_their_scratch_copy(tmp_path):
    scratch = tmp_path / "scratch"
    proc = _fit(tmp_path, "sleep")
    workers: list[psutil.Process] = []
    try:
        workers = _workers_started(proc, scratch)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert alive == []
        assert list(scratch.iterdir()) == []
    finally:  # a failing run must not leave its sleeping workers behind
        _kill_session(proc)


def test_the_handler_is_restored_after_the_block():
    from rosetta_filter.cli.common import sigterm_as_exit

    before = signal.getsignal(signal.SIGTERM)
    with sigterm_as_exit():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_killed_fits_scratch_copy_is_swept_by_the_next_fit_and_nothing_else(tmp_path):
    scratch = tmp_path / "scratch"
    proc = _fit(tmp_path, "sleep")
    workers = _workers_started(proc, scratch)
    _kill_session(proc)  # as a lost machine or the OOM killer would: no handler runs
    proc.wait(timeout=30)
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == []
    (stale,) = scratch.iterdir()
    assert (stale / "acts.npy").exists() and int((stale / "owner.pid").read_text()) == proc.pid
    kept = {  # not a killed fit's copy: each stays
        "rosetta-domains-live": {"owner.pid": str(os.getpid()), "acts.npy": ""},
        "rosetta-domains-user": {"owner.pid": "999999999", "notes.txt": "mine"},
        "rosetta-domains-nopid": {"acts.npy": ""},
        "other-folder": {"owner.pid": "999999999"},
    }
    for name, files in kept.items():
        (scratch / name).mkdir()
        for file, text in files.items():
            (scratch / name / file).write_text(text)
    assert _fit(tmp_path, "quick").wait(timeout=120) == 0
    assert sorted(p.name for p in scratch.iterdir()) == sorted(kept)
    assert (scratch / "rosetta-domains-user" / "notes.txt").read_text() == "mine"
