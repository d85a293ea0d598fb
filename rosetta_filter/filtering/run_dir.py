"""Ownership of a run directory: the marker that says this tool made it, binding it to one
config (``claim_run_dir``) and deleting it for ``--overwrite`` (``remove_run_dir``).

Deletion is the one place where a typo costs a user their files (``output.dir=.`` or ``/``), so
it is refused unless every check passes: the directory carries the marker written at claim
time, holds nothing but what a run writes, and is not the filesystem root, the home directory,
the working directory or an ancestor of any input the run reads (config, sources, bank).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import shutil
from collections.abc import Iterable
from pathlib import Path

from rosetta_filter.config import RunConfig
from rosetta_filter.errors import ShardError
from rosetta_filter.files import write_json_atomic
from rosetta_filter.scoring.bank import bank_digest

STATE_DIR = ".state"
MARKER = f"{STATE_DIR}/run.json"
# Everything a run writes at the top of its directory (atomic writes leave ".name.*.tmp").
RUN_ENTRIES = ("data", "rejected", "attributes", STATE_DIR, "manifest.json", "stats.json")
RUN_TEMPORARIES = (".manifest.json.*.tmp", ".stats.json.*.tmp")
# Settings that change where a run executes but not what it computes.
_PLACEMENT_ONLY = {"runtime": {"executor", "ray_address", "ray_actors", "ranks", "select_rows"}}


def config_fingerprint(cfg: RunConfig) -> str:
    """What a run computes: its config (less placement) and the contents of every bank it
    scores with, so that a run resumed after its bank was rebuilt in place is refused rather
    than finished with a mix of two banks' scores."""
    payload = cfg.model_dump(mode="json", exclude=_PLACEMENT_ONLY)
    banks = {cfg.neurons.bank, *(s.bank for s in cfg.neurons.tagged().values())} - {None}
    payload["bank_contents"] = {bank: bank_digest(bank) for bank in sorted(banks)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def read_marker(run_dir: Path) -> dict | None:
    """The claim marker's payload, or None when ``run_dir`` carries no valid marker."""
    path = run_dir / MARKER
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) and "fingerprint" in payload else None


def claim_run_dir(run_dir: Path, cfg: RunConfig) -> bool:
    """Bind ``run_dir`` to this config; True when resuming an earlier attempt of it.

    A directory holding a *different* run is never mixed with this one, and a non-empty
    directory without the marker is never written into.
    """
    fingerprint = config_fingerprint(cfg)
    marker = read_marker(run_dir)
    if marker is not None:
        if marker["fingerprint"] != fingerprint:
            raise ShardError(
                f"output.dir={run_dir} holds a run with a different config or bank contents "
                "(a bank rebuilt in place is a different bank): use another output.dir, or "
                "pass --overwrite to delete it",
                field="output.dir",
                value=str(run_dir),
            )
        _remove_temporaries(run_dir)
        return True
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ShardError(
            f"output.dir={run_dir} exists and is not a rosetta-filter run directory "
            f"(found {_listing(run_dir)}): use an empty or new directory",
            field="output.dir",
            value=str(run_dir),
        )
    write_json_atomic(run_dir / MARKER, {"fingerprint": fingerprint, "tool": "rosetta-filter"})
    return False


def _remove_temporaries(run_dir: Path) -> None:
    """Half-written files of a killed attempt (``.name.*.tmp``): never listed in a checkpoint,
    so nothing refers to them; shard folders clean their own orphans when a pass resumes."""
    for folder in (run_dir, run_dir / STATE_DIR):
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def remove_run_dir(run_dir: Path, inputs: Iterable[Path] = ()) -> None:
    """Delete a run directory for ``--overwrite``; refuse anything this tool did not make.

    ``inputs`` are paths the run reads (config file, source files, bank): a directory holding
    any of them is never deleted. A missing directory is nothing to do.
    """
    if run_dir.is_symlink():
        _refuse(run_dir, f"is a symbolic link to {run_dir.resolve()}; name the directory itself")
    if not run_dir.exists():
        return
    if not run_dir.is_dir():
        _refuse(run_dir, "is a file, not a run directory")
    target = run_dir.resolve()
    for name, protected in _protected_paths(inputs):
        if protected == target or target in protected.parents:
            _refuse(run_dir, f"is {'' if protected == target else 'an ancestor of '}the {name}")
    if read_marker(target) is None:
        _refuse(
            run_dir,
            f"is not a rosetta-filter run directory (no valid {MARKER}; found {_listing(target)})",
        )
    foreign = sorted(p.name for p in target.iterdir() if not _is_run_entry(p.name))
    if foreign:
        _refuse(run_dir, f"holds files a run does not write: {', '.join(foreign[:10])}")
    shutil.rmtree(target)


def _protected_paths(inputs: Iterable[Path]) -> list[tuple[str, Path]]:
    protected = [
        ("filesystem root", Path("/")),
        ("home directory", Path.home().resolve()),
        ("current directory", Path.cwd().resolve()),
    ]
    return protected + [("input " + str(p), p.resolve()) for p in inputs]


def _is_run_entry(name: str) -> bool:
    return name in RUN_ENTRIES or any(fnmatch.fnmatch(name, p) for p in RUN_TEMPORARIES)


def _listing(directory: Path, limit: int = 5) -> str:
    names = sorted(p.name for p in directory.iterdir())
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return (", ".join(names[:limit]) + more) or "nothing"


def _refuse(run_dir: Path, why: str) -> None:
    raise ShardError(
        f"--overwrite refused: output.dir={run_dir} {why}. Nothing was deleted; choose a new "
        "output.dir or delete it yourself",
        field="output.dir",
        value=str(run_dir),
    )
