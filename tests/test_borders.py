"""Border heads (rule 20): a head fit on two domains' documents alone, composed with the
relative score. Planted: the fit finds the one neuron that tells the two domains apart (and
that no one-vs-rest statistic favours), the composed scores stay a distribution over domains,
the scorer and ``evaluate`` compute the formula from the heads scored one by one, and what
cannot be composed is refused with the field and the fix."""

from __future__ import annotations

import json
import shutil
from functools import partial

import numpy as np
import pytest
import torch
from planted_domains import family_docs, planted_domains_config
from pydantic import ValidationError
from test_evaluate import evaluate_planted, planted_run
from test_pipeline import write_jsonl

from discovery.domain.borders import check_borders, fit_border
from discovery.domain.heads import HeadSettings, interleaved
from discovery.domain.job import add_borders, build_domain_bank, head_row
from discovery.domain.lofo import LabelledDocs
from discovery.errors import DiscoveryError
from rosetta_filter.config import ModelConfig, NeuronsConfig, ScoringConfig
from rosetta_filter.errors import BankError
from rosetta_filter.evaluation.metrics import auroc
from rosetta_filter.scoring.bank import load_bank
from rosetta_filter.scoring.relative import bordered_score, relative_score
from rosetta_filter.scoring.scorer import NeuronSelection, Scorer


def test_bordered_scores_stay_a_distribution_over_domains():
    logits = torch.tensor([[2.0, 1.5, -1.0], [-3.0, 0.0, 4.0]], dtype=torch.float64).T
    a, b, c = logits  # each (documents,)
    z = torch.tensor([0.7, -2.0], dtype=torch.float64)  # the border head's logit toward a
    score_a = bordered_score(a, b, [b, c], z)
    score_b = bordered_score(b, a, [a, c], -z)
    score_c = relative_score(c, [a, b])
    total = torch.exp(score_a) + torch.exp(score_b) + torch.exp(score_c)
    assert total.tolist() == pytest.approx([1.0, 1.0])
    pair = torch.exp(a) + torch.exp(b)
    expected_a = torch.log(pair / (pair + torch.exp(c))) + torch.log(torch.sigmoid(z))
    assert score_a.tolist() == pytest.approx(expected_a.tolist())


def _border_world(seed: int = 0) -> tuple[np.ndarray, LabelledDocs]:
    """Three domains of three families each, 40 documents per family. Column 0 rises for a and
    b together (what their one-vs-rest heads read); column 1 tells a from b and is flat
    between c and the pair's mean (no one-vs-rest statistic favours it); column 2 is a
    source-specific neuron, high for family a0 only; the rest is noise."""
    rng = np.random.default_rng(seed)
    domains, families = [], []
    for domain in ("a", "b", "c"):
        for k in range(3):
            domains += [domain] * 40
            families += [f"{domain}{k}"] * 40
    domains, families = np.asarray(domains), np.asarray(families)
    x = rng.normal(size=(len(domains), 12))
    x[:, 0] += 2.0 * np.isin(domains, ["a", "b"])
    x[:, 1] += 1.5 * np.where(domains == "a", 1.0, np.where(domains == "b", -1.0, 0.0))
    x[:, 2] += 4.0 * (families == "a0")
    return x, LabelledDocs(domains, families)


def test_the_border_head_reads_what_tells_the_two_domains_apart():
    values, labels = _border_world()
    settings = HeadSettings(max_neurons=4, candidates=12)
    row = fit_border(values, labels, ("a", "b"), settings, 4, partial(head_row, d_mlp=4))
    assert (row["positive"], row["negative"], row["max_layer"]) == ("a", "b", 2)
    weights = dict(zip(row["neurons"], row["weights"], strict=True))
    assert max(weights, key=lambda n: abs(weights[n])) == "L0.N1" and weights["L0.N1"] > 0
    assert row["worst_fold_auroc"] > 0.8
    # its logit separates a from b on the documents (c takes no part in the fit)
    column = [int(n[1]) * 4 + int(n.split(".N")[1]) for n in row["neurons"]]
    z = row["intercept"] + ((values[:, column] - row["norm_mean"]) / row["norm_std"]) @ np.asarray(
        row["weights"]
    )
    pair = np.isin(labels.domains, ["a", "b"])
    assert auroc(z[pair][:, None], labels.domains[pair] == "a")[0] > 0.85


def test_symmetric_candidates_make_the_pair_order_a_sign():
    """Two candidates of twelve: ranked toward b alone, the border b|a is never offered column 1
    (it falls for b) and reads noise; offered both sides (rule 21), b|a and a|b read the same
    neurons with opposite weights, column 1 first."""
    values, labels = _border_world()
    settings = HeadSettings(max_neurons=2, candidates=2)
    row = partial(head_row, d_mlp=4)
    positive = fit_border(values, labels, ("b", "a"), settings, 4, row)
    assert "L0.N1" not in positive["neurons"] and positive["worst_fold_auroc"] < 0.75
    assert positive["candidates"] == "positive"
    flipped = fit_border(values, labels, ("b", "a"), settings, 4, row, "symmetric")
    straight = fit_border(values, labels, ("a", "b"), settings, 4, row, "symmetric")
    assert flipped["candidates"] == "symmetric" and flipped["worst_fold_auroc"] > 0.8
    assert flipped["neurons"] == straight["neurons"] and "L0.N1" in flipped["neurons"]
    assert flipped["weights"] == pytest.approx([-w for w in straight["weights"]], abs=1e-3)
    assert flipped["fold_auroc"] == pytest.approx(straight["fold_auroc"], abs=1e-6)
    with pytest.raises(DiscoveryError, match="positive or symmetric") as error:
        fit_border(values, labels, ("a", "b"), settings, 4, row, "both")
    assert error.value.field == "heads.border_candidates"


def test_interleaved_offers_equal_shares_without_repeats():
    first, second = np.array([5, 1, 2, 3]), np.array([1, 7, 8, 5])
    assert interleaved(first, second, 5).tolist() == [5, 1, 7, 2, 8]
    assert interleaved(first, second, 99).tolist() == [5, 1, 7, 2, 8, 3]


def test_borders_name_two_domains_and_one_border_per_domain():
    check_borders([("a", "b")], ["a", "b", "c"])
    with pytest.raises(DiscoveryError, match="not a domain") as error:
        check_borders([("a", "z")], ["a", "b", "c"])
    assert error.value.field == "heads.borders"
    with pytest.raises(DiscoveryError, match="more than one border"):
        check_borders([("a", "b"), ("a", "c")], ["a", "b", "c"])


def _bordered_bank(heads_bank, root):
    """The planted heads bank plus a border head ex|plain reading L1.N3 and L2.N7."""
    bank = root / "bordered"
    shutil.copytree(heads_bank, bank)
    heads = json.loads((bank / "heads.json").read_text())
    heads["borders"] = [
        {
            "positive": "ex",
            "negative": "plain",
            "max_layer": 2,
            "neurons": ["L1.N3", "L2.N7"],
            "weights": [1.5, -0.5],
            "intercept": 0.25,
            "norm_mean": [0.1, 0.0],
            "norm_std": [2.0, 1.0],
            "fold_auroc": [0.9, 0.95],
            "strength": 0.1,
        }
    ]
    (bank / "heads.json").write_text(json.dumps(heads))
    return bank, heads["borders"][0]


def test_the_scorer_and_evaluate_compose_the_border_head(planted_model, heads_bank, tmp_path):
    bank, row = _bordered_bank(heads_bank, tmp_path)
    docs = family_docs("heldout")
    texts = [d["text"] for d in docs]
    scoring = ScoringConfig(max_tokens=64)
    model = ModelConfig(name=str(planted_model), threads=1)
    base = {"bank": str(bank), "bank_model": "tiny", "max_layer": None}
    border = NeuronSelection.of_head(row, "ex|plain", "tiny")
    explicit = NeuronsConfig(
        explicit=[{"neuron": n, "weight": 1.0} for n in row["neurons"]], bank=None
    )
    raw = Scorer.from_config(model, explicit, scoring, selection=border)
    z = torch.tensor([d.score for d in raw.score(texts)], dtype=torch.float64)
    relative = NeuronsConfig(**base, domain="ex", relative=True)
    plain_relative = [d.score for d in Scorer.from_config(model, relative, scoring).score(texts)]
    assert not np.allclose(plain_relative, torch.nn.functional.logsigmoid(z).tolist())
    for domain, sign in (("ex", 1.0), ("plain", -1.0)):
        cfg = NeuronsConfig(**base, domain=domain, relative=True, borders=True)
        selection = NeuronSelection.from_config(cfg, scoring, "tiny")
        assert selection.border is not None and selection.border.sign == sign
        assert set(border.neurons) <= set(selection.read)
        scorer = Scorer.from_config(model, cfg, scoring)
        assert scorer.describe()["neurons"]["border"]["neurons"] == row["neurons"]
        scored = [d.score for d in scorer.score(texts)]
        # two domains: log(p_ex + p_plain) = 0, so the score is the border head's alone
        expected = torch.nn.functional.logsigmoid(sign * z).tolist()
        assert scored == pytest.approx(expected, abs=1e-5)
    labels = write_jsonl(tmp_path / "heldout.jsonl", docs)
    run_cfg = planted_run(planted_model, bank, labels, tmp_path)
    run_cfg["neurons"] |= {"relative": True, "borders": True, "max_layer": None}
    table, report, _ = evaluate_planted(run_cfg, labels, tmp_path)
    by_id = dict(zip(table["id"], table["ex/configured"], strict=True))
    expected = torch.nn.functional.logsigmoid(z).tolist()
    assert [by_id[d["id"]] for d in docs] == pytest.approx(expected, abs=1e-5)
    variants = report["domains"]["ex"]
    assert {"head/all/relative", "head/all/relative_border"} <= set(variants)
    assert variants["head/all/relative_border"]["auroc"] == variants["configured"]["auroc"]


def test_borders_refuse_what_they_cannot_compose(heads_bank):
    with pytest.raises(ValidationError, match=r"neurons\.relative=true"):
        NeuronsConfig(bank="b", domain="d", borders=True)
    with pytest.raises(ValidationError, match=r"not implemented with neurons\.cascade"):
        NeuronsConfig(bank="b", domain="d", relative=True, cascade=True, borders=True)
    cfg = NeuronsConfig(
        bank=str(heads_bank), bank_model="tiny", domain="ex", relative=True, borders=True
    )
    with pytest.raises(BankError, match="has no border heads") as error:
        NeuronSelection.from_config(cfg, ScoringConfig(max_tokens=64), "tiny")
    assert error.value.field == "neurons.borders"


def test_borders_only_adds_a_border_head_to_a_bank(
    planted_model, format1_bank, heads_bank, tmp_path
):
    choose = write_jsonl(
        tmp_path / "choose.jsonl", [d | {"role": "choose"} for d in family_docs("choose")]
    )
    cfg = planted_domains_config(
        planted_model, format1_bank, choose, tmp_path / "out", tmp_path / "cache"
    )
    with pytest.raises(DiscoveryError, match="no domain heads"):
        add_borders(cfg.model_copy(update={"heads": cfg.heads.model_copy(
            update={"borders": [("ex", "plain")]})}))  # fmt: skip
    bordered = cfg.model_copy(
        update={
            "bank": str(heads_bank),
            "heads": cfg.heads.model_copy(update={"borders": [("ex", "plain")]}),
        }
    )
    with pytest.raises(DiscoveryError, match=r"heads\.borders is empty"):
        add_borders(bordered.model_copy(update={"heads": cfg.heads}))
    out = add_borders(bordered)
    bank, before = load_bank(out), load_bank(heads_bank)
    assert bank.heads["domains"] == before.heads["domains"]  # the domain heads are kept
    (row,) = bank.heads["borders"]
    assert (row["positive"], row["negative"]) == ("ex", "plain")
    assert "L0.N5" in row["neurons"] and row["worst_fold_auroc"] > 0.9  # the trigger word
    assert "borders" not in before.heads  # the input bank is not modified


def test_the_domains_job_fits_the_borders_it_is_asked_for(planted_model, format1_bank, tmp_path):
    choose = write_jsonl(
        tmp_path / "choose.jsonl", [d | {"role": "choose"} for d in family_docs("choose")]
    )
    cfg = planted_domains_config(
        planted_model, format1_bank, choose, tmp_path / "out", tmp_path / "cache"
    )
    asked = cfg.model_copy(
        update={"heads": cfg.heads.model_copy(update={"borders": [("ex", "plain")]})}
    )
    out, _ = build_domain_bank(asked)
    (row,) = load_bank(out).heads["borders"]
    assert (row["positive"], row["negative"]) == ("ex", "plain")
    weights = dict(zip(row["neurons"], row["weights"], strict=True))
    assert weights["L0.N5"] > 0 and row["worst_fold_auroc"] > 0.9  # the trigger word
    wrong = cfg.heads.model_copy(update={"borders": [("ex", "legal")]})
    with pytest.raises(DiscoveryError, match="not a domain"):
        build_domain_bank(cfg.model_copy(update={"heads": wrong, "out": str(tmp_path / "o2")}))
