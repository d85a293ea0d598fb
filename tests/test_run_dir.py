"""``--overwrite`` deletes an earlier run and nothing else: every refusal leaves every file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from test_pipeline import base_config, make_docs, write_jsonl
from typer.testing import CliRunner

from rosetta_filter.cli import app
from rosetta_filter.config import validate_config
from rosetta_filter.errors import ShardError
from rosetta_filter.filtering.run_dir import MARKER, claim_run_dir, remove_run_dir

runner = CliRunner()


def _claimed(run_dir: Path, tmp_path: Path) -> Path:
    """A directory holding a (fake but well-formed) claimed run: marker, a shard, a manifest."""
    cfg = validate_config(base_config(tmp_path / "model", tmp_path / "d.jsonl", run_dir))
    claim_run_dir(run_dir, cfg)
    (run_dir / "data").mkdir()
    (run_dir / "data" / "00000_00000.parquet").write_bytes(b"shard")
    (run_dir / "manifest.json").write_text("{}")
    (run_dir / ".manifest.json.abc.tmp").write_text("{")
    return run_dir


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def test_a_claimed_run_is_removed(tmp_path):
    run_dir = _claimed(tmp_path / "run", tmp_path)
    remove_run_dir(run_dir)
    assert not run_dir.exists()
    remove_run_dir(run_dir)  # missing: nothing to do


def test_a_user_directory_without_the_marker_is_refused(tmp_path):
    user = tmp_path / "x"
    user.mkdir()
    (user / "keep").write_text("mine")
    with pytest.raises(ShardError, match=r"not a rosetta-filter run directory.*found keep"):
        remove_run_dir(user)
    assert (user / "keep").read_text() == "mine"


def test_a_run_holding_foreign_files_is_refused(tmp_path):
    run_dir = _claimed(tmp_path / "run", tmp_path)
    (run_dir / "notes.txt").write_text("mine")
    before = _files(run_dir)
    with pytest.raises(ShardError, match=r"files a run does not write: notes\.txt"):
        remove_run_dir(run_dir)
    assert _files(run_dir) == before


def test_a_forged_or_corrupt_marker_is_refused(tmp_path):
    run_dir = _claimed(tmp_path / "run", tmp_path)
    (run_dir / MARKER).write_text("not json")
    with pytest.raises(ShardError, match="no valid"):
        remove_run_dir(run_dir)
    assert (run_dir / "data" / "00000_00000.parquet").exists()


@pytest.mark.parametrize("which", ["root", "home", "cwd", "ancestor of cwd"])
def test_protected_directories_are_refused_even_with_a_marker(tmp_path, monkeypatch, which):
    work = tmp_path / "work" / "inner"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    target = {
        "root": Path("/"),
        "home": tmp_path / "home",
        "cwd": Path("."),
        "ancestor of cwd": tmp_path / "work",
    }[which]
    if which != "root":  # even a directory that looks like a run is kept when it is protected
        (target / ".state").mkdir(exist_ok=True)
        (target / MARKER).write_text('{"fingerprint": "x"}')
    before = _files(target) if which != "root" else None
    with pytest.raises(ShardError, match="--overwrite refused"):
        remove_run_dir(target)
    if before is not None:
        assert _files(target) == before


def test_a_directory_holding_an_input_is_refused(tmp_path):
    run_dir = _claimed(tmp_path / "run", tmp_path)
    config = run_dir / "data" / "cfg.yaml"
    config.write_text("x")
    with pytest.raises(ShardError, match="ancestor of the input"):
        remove_run_dir(run_dir, [config])
    assert config.exists()


def test_a_symlink_is_refused(tmp_path):
    run_dir = _claimed(tmp_path / "run", tmp_path)
    link = tmp_path / "link"
    os.symlink(run_dir, link)
    with pytest.raises(ShardError, match="symbolic link"):
        remove_run_dir(link)
    assert (run_dir / "manifest.json").exists()


def _cli_config(tmp_path: Path, model: Path, out: Path | str) -> Path:
    data = write_jsonl(tmp_path / "docs.jsonl", make_docs(8))
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(base_config(model, data, out)))  # type: ignore[arg-type]
    return path


def test_cli_overwrite_keeps_user_files_and_replaces_runs(planted_model, tmp_path, monkeypatch):
    """The issue's reproduction: ``output.dir`` a user's directory, ``.``, or ``/``."""
    user = tmp_path / "x"
    user.mkdir()
    (user / "keep").write_text("mine")
    cfg = _cli_config(tmp_path, planted_model, user)
    refused = runner.invoke(app, ["run", str(cfg), "--overwrite", "-q"])
    assert refused.exit_code != 0 and "--overwrite refused" in refused.output
    assert (user / "keep").read_text() == "mine"

    monkeypatch.chdir(tmp_path)
    before = _files(tmp_path)
    for out in (".", "/"):
        args = ["run", str(cfg), "--overwrite", "-q", "--set", f"output.dir={out}"]
        result = runner.invoke(app, args)
        assert result.exit_code != 0 and "--overwrite refused" in result.output, result.output
    assert _files(tmp_path) == before

    run = tmp_path / "run"
    args = ["run", str(cfg), "-q", "--set", f"output.dir={run}"]
    assert runner.invoke(app, args).exit_code == 0
    (run / "data" / "stale.parquet").write_bytes(b"")  # a run's own folder may hold anything
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0
    assert not (run / "data" / "stale.parquet").exists()
