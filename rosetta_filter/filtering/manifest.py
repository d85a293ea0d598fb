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
from rosetta_filter.scoring.scorer import Scorer

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


def describe_scorer(scorer: Scorer) -> dict[str, Any]:
    """The manifest's ``model`` and ``neurons`` blocks. A plain dict, so an executor whose
    model lives elsewhere (a Ray actor) can send it to the process that writes the manifest."""
    selection, model = scorer.selection, scorer.model
    return {
        "model": {
            "name": model.name,
            "family": model.family,
            "source": model.source,
            "revision": model.revision,
            "sha256": model.sha256,
            "layers": model.arch.n_layers,
            "d_mlp": model.arch.d_mlp,
        },
        "neurons": {
            "neurons": [str(n) for n in selection.neurons],
            "weights": list(selection.weights),
            "normalized": selection.norm_mean is not None,
            "domain": selection.domain,
            "deepest_layer": max(n.layer for n in selection.neurons),
        },
    }


def write_manifest(
    run_dir: Path,
    cfg: RunConfig,
    described: dict[str, Any] | None,
    rule: SelectionRule,
    shards: list[ShardInfo],
    stats: RunStats,
) -> dict[str, Any]:
    """``described`` is :func:`describe_scorer`'s output (None: model and neurons unknown)."""
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
        },
        "neurons": described.get("neurons"),
        "selection": rule.to_dict(),
        "versions": package_versions(),
        "shards": [s.to_dict() for s in shards],
        "rows": sum(s.rows for s in shards),
    }
    write_json_atomic(run_dir / "manifest.json", manifest)
    write_json_atomic(run_dir / "stats.json", stats.summary())
    return manifest
