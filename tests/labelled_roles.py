"""The family roles of the corpus of record (configs/labelled.yaml), for tests that check which
sets are sealed, held out or chosen on."""

from __future__ import annotations

from pathlib import Path

from discovery.corpus.labelled import LabelledCorpusConfig
from rosetta_filter.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def labelled_config() -> LabelledCorpusConfig:
    return load_config(ROOT / "configs/labelled.yaml", cls=LabelledCorpusConfig)


def family_roles() -> dict[str, tuple[str, str]]:
    """family -> (domain, role)."""
    return {
        name: (domain, spec.role)
        for domain, members in labelled_config().families.items()
        for name, spec in members.items()
    }
