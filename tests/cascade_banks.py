"""A planted bank for the cascade's tests: two-row depth tables (a shallow head on the trigger
L0.N5, a deeper one reading layer 2) for both planted domains, with bands set per test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rosetta_filter.config import ModelConfig, NeuronsConfig, ScoringConfig
from rosetta_filter.scoring.cascade import CASCADE_ERRORS, Band
from rosetta_filter.scoring.scorer import Scorer


def cascade_bank_from(heads_bank: Path, bank: Path) -> tuple[Path, dict]:
    """A copy of the planted heads bank at ``bank`` whose ``all`` tables are two rows each: a
    shallow head on the trigger L0.N5 and a deeper head (layer 2); bands to be set per test
    (:func:`set_bands`)."""
    shutil.copytree(heads_bank, bank)
    heads = json.loads((bank / "heads.json").read_text())
    row = {"fold_auroc": [1.0, 1.0], "strength": 1.0, "norm_mean": [0.0], "norm_std": [1.0]}
    shallow = row | {"max_layer": 0, "neurons": ["L0.N5"], "weights": [4.0], "intercept": -1.0}
    full = row | {
        "max_layer": 2,
        "neurons": ["L0.N5", "L2.N3"],
        "weights": [1.0, -2.0],
        "intercept": 0.5,
        "norm_mean": [0.0, 0.0],
        "norm_std": [1.0, 1.0],
    }
    heads["domains"]["ex"]["all"]["depths"] = [shallow, full]
    # the rival domain's table at the same depth limits (the relative score's cascade)
    heads["domains"]["plain"]["all"]["depths"] = [
        shallow | {"weights": [-3.0], "intercept": 0.5},
        full | {"weights": [-1.0, 1.0], "intercept": -0.5},
    ]
    (bank / "heads.json").write_text(json.dumps(heads))
    return bank, heads


def set_bands(bank: Path, heads: dict, low: float, high: float, defer_rate: float) -> None:
    """Every row of both tables gets the band ``[low, high]`` at every recorded error."""
    for domain in ("ex", "plain"):
        for row in heads["domains"][domain]["all"]["depths"]:
            row["bands"] = {f"{e:g}": vars(Band(low, high, defer_rate)) for e in CASCADE_ERRORS}
    (bank / "heads.json").write_text(json.dumps(heads))


def shallow_scores(planted_model: Path, bank: Path, texts: list[str]) -> list[float]:
    """``ex``'s shallow (L0) logits on ``texts``, sorted: where a test puts its bands."""
    shallow = NeuronsConfig(bank=str(bank), bank_model="tiny", domain="ex", max_layer=0)
    model = ModelConfig(name=str(planted_model), threads=1)
    scorer = Scorer.from_config(model, shallow, ScoringConfig(max_tokens=64))
    return sorted(d.score for d in scorer.score(texts))
