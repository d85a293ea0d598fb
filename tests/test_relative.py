"""The relative score (``neurons.relative``): a domain's head logit as a log-softmax over every
domain head of the bank. Planted: it equals the log-softmax of the heads scored one by one, in
the scorer, in ``evaluate`` and in the service, and refuses what it cannot compare."""

from __future__ import annotations

import numpy as np
import pytest
from planted_domains import family_docs
from pydantic import ValidationError
from test_evaluate import evaluate_planted, planted_run
from test_pipeline import write_jsonl

from rosetta_filter.config import ModelConfig, NeuronsConfig, RunConfig, ScoringConfig
from rosetta_filter.errors import BankError
from rosetta_filter.scoring.relative import relative_scores
from rosetta_filter.scoring.scorer import NeuronSelection, Scorer


def test_relative_scores_are_a_log_softmax_over_domains():
    logits = np.array([[2.0, 0.0, -1.0], [800.0, 799.0, -5.0]])  # the second would overflow exp
    found = relative_scores(logits)
    assert np.exp(found).sum(axis=1) == pytest.approx([1.0, 1.0])
    assert found[0] == pytest.approx(logits[0] - np.log(np.exp(logits[0]).sum()))
    assert found[1, 0] - found[1, 1] == pytest.approx(1.0) and (found <= 0).all()


def test_relative_refuses_what_it_cannot_compare(format1_bank):
    with pytest.raises(ValidationError, match="domain heads"):
        NeuronsConfig(bank="b", domain="d", mode="top_k", relative=True)
    old = NeuronsConfig(bank=str(format1_bank), bank_model="tiny", domain="ex", relative=True)
    with pytest.raises(BankError, match="has none") as error:
        NeuronSelection.from_config(old, ScoringConfig(max_tokens=64), "tiny")
    assert error.value.field == "neurons.relative"


def test_scorer_evaluate_and_heads_alone_agree(planted_model, heads_bank, tmp_path):
    docs = family_docs("heldout")
    texts = [d["text"] for d in docs]
    scoring = ScoringConfig(max_tokens=64)
    model = ModelConfig(name=str(planted_model), threads=1)
    base = {"bank": str(heads_bank), "bank_model": "tiny", "max_layer": None}
    alone = {
        domain: [
            d.score
            for d in Scorer.from_config(model, NeuronsConfig(**base, domain=domain), scoring).score(
                texts
            )
        ]
        for domain in ("ex", "plain")
    }
    expected = relative_scores(np.array([alone["ex"], alone["plain"]]).T)[:, 0]
    relative = NeuronsConfig(**base, domain="ex", relative=True)
    selection = NeuronSelection.from_config(relative, scoring, "tiny")
    assert [r.domain for r in selection.rivals] == ["plain"]
    assert set(selection.read) == set(selection.neurons) | set(selection.rivals[0].neurons)
    scorer = Scorer.from_config(model, relative, scoring)
    assert scorer.describe()["neurons"]["relative_to"] == ["plain"]
    scored = [d.score for d in scorer.score(texts)]
    assert scored == pytest.approx(expected.tolist(), abs=1e-5)
    # tagged alongside a set: the set's relative score from the same pass
    tagged = NeuronsConfig(**base, domain="ex", relative=True, domains=["ex", "plain"])
    both = list(Scorer.from_config(model, tagged, scoring).score(texts))
    plain = relative_scores(np.array([alone["plain"], alone["ex"]]).T)[:, 0]
    assert [d.scores["plain"] for d in both] == pytest.approx(plain.tolist(), abs=1e-5)
    # evaluate reports the configured relative score and the ablation beside the heads
    labels = write_jsonl(tmp_path / "heldout.jsonl", docs)
    run_cfg = planted_run(planted_model, heads_bank, labels, tmp_path)
    run_cfg["neurons"] |= {"relative": True, "max_layer": None}
    table, report, _ = evaluate_planted(run_cfg, labels, tmp_path)
    by_id = dict(zip(table["id"], table["ex/configured"], strict=True))
    assert [by_id[d["id"]] for d in docs] == pytest.approx(expected.tolist(), abs=1e-5)
    assert {"head/all/relative", "head/rosetta/relative"} <= set(report["domains"]["ex"])


def test_a_mixture_claims_at_half_probability_on_either_scale(tmp_path):
    def run(relative: bool, thresholds: dict) -> RunConfig:
        return RunConfig.model_validate(
            {
                "source": {"data_files": "docs.jsonl"},
                "model": {"name": "tiny"},
                "neurons": {"bank": "b", "domains": ["ex", "plain"], "relative": relative},
                "selection": {
                    "token_budget": 100,
                    "mixture": {"ex": 0.5, "plain": 0.3, "rest": 0.2},
                    "thresholds": thresholds,
                },
                "output": {"dir": str(tmp_path / "run")},
            }
        )

    assert run(False, {}).mixture_thresholds() == {"ex": 0.0, "plain": 0.0}
    assert run(True, {}).mixture_thresholds() == {"ex": np.log(0.5), "plain": np.log(0.5)}
    assert run(True, {"plain": -2.0}).mixture_thresholds()["plain"] == -2.0
