"""Drop-in steps for the pipelines users already run: ``datatrove`` (a filter step that tags
``doc.metadata``) and Hugging Face ``datasets`` (``add_scores``, a batched ``map``).

Both build one :class:`~rosetta_filter.scoring.scorer.Scorer` per process from the same YAML a
run or ``rosetta-filter score`` reads (only its ``model``, ``neurons``, ``scoring`` and
``runtime`` sections are used), so their scores equal ``rosetta-filter score``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from rosetta_filter.config import ModelConfig, NeuronsConfig, RuntimeConfig, ScoringConfig
from rosetta_filter.config import validate_config as _validate
from rosetta_filter.errors import ConfigError
from rosetta_filter.scoring.scorer import Scorer

ScorerSource = Scorer | str | Path | Mapping[str, Any]


def load_scorer(config: ScorerSource) -> Scorer:
    """A scorer from a config file, a mapping of config sections, or a scorer (returned as is)."""
    if isinstance(config, Scorer):
        return config
    if isinstance(config, str | Path):
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist", field="config", value=str(path))
        config = yaml.safe_load(path.read_text()) or {}
    if not isinstance(config, Mapping) or "model" not in config or "neurons" not in config:
        raise ConfigError(
            "a scorer config needs `model` and `neurons` sections (a run config works)",
            field="config",
        )
    model = _validate(config["model"], ModelConfig)
    neurons = _validate(config["neurons"], NeuronsConfig)
    scoring = _validate(config.get("scoring") or {}, ScoringConfig)
    runtime = _validate(config.get("runtime") or {}, RuntimeConfig)
    return Scorer.from_config(model, neurons, scoring, runtime.batching)
