"""``manifest.json`` and ``stats.json`` of a run directory: what was run (config, model and its
sha256, bank, neurons, selection rule, software versions) and what came out (every shard with
its row count and sha256)."""

from __future__ import annotations

import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from rosetta_filter.config import RunConfig
from rosetta_filter.files import sha256_file, write_json_atomic
from rosetta_filter.filtering.selection import SelectionRule
from rosetta_filter.filtering.shards import ShardInfo
from rosetta_filter.filtering.stats import RunStats
from rosetta_filter.filtering.units import WorkUnit
from rosetta_filter.scoring.bank import bank_digest

MANIFEST_VERSION = 1
_PACKAGES = (
    "rosetta-filter",
    "torch",
    "transformers",
    "tokenizers",
    "datasets",
    "pyarrow",
    "numpy",
)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _file_sha256(path: Path) -> str | None:
    return sha256_file(path) if path.is_file() else None


def write_manifest(
    run_dir: Path,
    cfg: RunConfig,
    described: dict[str, Any] | None,
    rule: SelectionRule,
    shards: list[ShardInfo],
    stats: RunStats,
    units: list[WorkUnit] = (),
) -> dict[str, Any]:
    """``described`` is the scorer's ``describe()`` (None: model and neurons unknown). Shard
    names start with their work unit's number (``units``: which files and row groups each
    unit read), so the output is partitioned by unit, whatever ran the units."""
    described = described or {}
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": cfg.model_dump(mode="json"),
        "model": described.get("model"),
        "bank": None
        if not cfg.neurons.bank
        else {
            "path": cfg.neurons.bank,
            "bank_json_sha256": _file_sha256(Path(cfg.neurons.bank) / "bank.json"),
            "contents_sha256": bank_digest(cfg.neurons.bank),  # bank.json, neurons, heads
        },
        "neurons": described.get("neurons"),
        "scorer": described.get("scorer"),  # a scorer other than the neuron scorer (baselines)
        "selection": rule.to_dict(),
        "versions": package_versions(),
        "units": [u.to_dict() for u in units],
        "shards": [s.to_dict() for s in shards],
        "rows": sum(s.rows for s in shards),
    }
    write_json_atomic(run_dir / "manifest.json", manifest)
    write_json_atomic(run_dir / "stats.json", stats.summary())
    return manifest
