"""A run killed with SIGKILL at several points resumes to exactly the uninterrupted result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from test_pipeline import base_config, make_docs, write_jsonl


def _records_done(run_dir: Path, stage: str) -> int:
    path = run_dir / ".state" / f"{stage}-00000.json"
    try:
        return json.loads(path.read_text())["records_done"]
    except (FileNotFoundError, json.JSONDecodeError):
        return -1


def _start(config: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "rosetta_filter", "run", str(config), "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _kill_when(proc: subprocess.Popen, run_dir: Path, stage: str, at_least: int) -> bool:
    """SIGKILL once ``stage`` has checkpointed ``at_least`` records; False if it finished."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if _records_done(run_dir, stage) >= at_least:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.005)
    proc.kill()
    raise AssertionError("run made no progress")


def _output(run_dir: Path) -> tuple[list, dict]:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    stats = json.loads((run_dir / "stats.json").read_text())
    counts = {
        k: stats[k]
        for k in ("seen", "scored", "kept", "dropped", "invalid", "tokens_in", "tokens_kept")
    }
    return [(s["path"], s["rows"], s["sha256"]) for s in manifest["shards"]], counts


def assert_resumes_identically(
    tmp_path: Path, config_for: Callable[[Path], dict], points: list[tuple[str, int]]
) -> int:
    """Run ``config_for(out_dir)`` straight through ("reference") and again killed with
    SIGKILL once each ``(stage, records checkpointed)`` point is reached, then finished
    ("resumed"); assert byte-identical shards and identical counts; return the kills made."""

    def write(name: str) -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config_for(tmp_path / name)))
        return path

    reference = _start(write("reference"))
    assert reference.wait() == 0, reference.stderr.read().decode()[-2000:]
    resumed = write("resumed")
    kills = sum(
        _kill_when(_start(resumed), tmp_path / "resumed", stage, at_least)
        for stage, at_least in points
    )
    final = _start(resumed)
    assert final.wait() == 0, final.stderr.read().decode()[-2000:]
    assert _output(tmp_path / "resumed") == _output(tmp_path / "reference")
    return kills


def test_sigkill_at_several_points_resumes_to_the_identical_result(planted_model, tmp_path):
    docs = make_docs(1000, seed=7)
    docs[10]["text"] = None  # an invalid record must stay counted exactly once
    data = write_jsonl(tmp_path / "docs.jsonl", docs)

    def config(out: Path) -> dict:
        cfg = base_config(planted_model, data, out, keep_fraction=0.3)
        cfg["output"].update(write_rejected=True, shard_max_rows=40)
        cfg["runtime"].update(checkpoint_docs=64, lookahead_docs=32)
        return cfg

    points = [("score", 64), ("score", 500), ("write", 1), ("write", 640)]
    kills = assert_resumes_identically(tmp_path, config, points)
    assert kills >= 3  # the run really was interrupted, in both passes
    ref_shards, ref_counts = _output(tmp_path / "reference")
    assert ref_counts["seen"] == 1000 and ref_counts["invalid"] == {"null": 1}
    kept = sorted((tmp_path / "resumed" / "data").iterdir())
    assert len(kept) == sum(1 for p, _, _ in ref_shards if p.startswith("data/"))


class _Crash(Exception):
    """A process death at one exact save: raised instead of killing a process."""


def test_a_crash_at_a_pass_s_last_save_resumes_without_counting_twice(
    planted_model, tmp_path, monkeypatch
):
    """The last state write of each pass is where a finished unit's counts meet its position:
    dying there must leave a state that a resume finishes to the uninterrupted result."""
    import rosetta_filter.filtering.checkpoint as checkpoint_mod
    from rosetta_filter.config import validate_config
    from rosetta_filter.filtering.pipeline import run

    data = write_jsonl(tmp_path / "docs.jsonl", make_docs(100, seed=3))

    def config(out: Path) -> dict:
        cfg = base_config(planted_model, data, out, keep_fraction=0.3)
        cfg["output"].update(write_rejected=True, shard_max_rows=16)
        cfg["runtime"].update(checkpoint_docs=32, lookahead_docs=16)
        return cfg

    real_save = checkpoint_mod.save_state
    saves: list[str] = []

    def recording(run_dir, stage, unit, state):
        saves.append(stage)
        real_save(run_dir, stage, unit, state)

    monkeypatch.setattr(checkpoint_mod, "save_state", recording)
    run(validate_config(config(tmp_path / "reference")))
    for stage in ("score", "write"):
        last = len(saves) - saves[::-1].index(stage)  # 1-based number of the stage's last save
        seen = 0

        def crashing(run_dir, stage_, unit, state, last=last):
            nonlocal seen
            seen += 1
            if seen == last:
                raise _Crash(stage_)
            real_save(run_dir, stage_, unit, state)

        out = tmp_path / f"crash-{stage}"
        monkeypatch.setattr(checkpoint_mod, "save_state", crashing)
        with pytest.raises(_Crash):
            run(validate_config(config(out)))
        monkeypatch.setattr(checkpoint_mod, "save_state", real_save)
        assert run(validate_config(config(out))).resumed
        assert _output(out) == _output(tmp_path / "reference"), stage
