"""Planting a fetched package's files for the corpus readers' tests (no network)."""

from __future__ import annotations

from pathlib import Path

import discovery.corpus.families as families_mod
from discovery.corpus.fetch import Fetched


def planted_package(monkeypatch, root: Path, files: dict[str, str]) -> None:
    """Plant ``files`` under ``root`` and make every family's fetch return it, offline."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    monkeypatch.setattr(
        families_mod,
        "fetch",
        lambda package, cache: Fetched(root, {"name": package.name, "version": package.version}),
    )
