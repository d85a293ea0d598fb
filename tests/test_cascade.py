"""The cascade (``neurons.cascade``): a shallow head scores every document, the full-depth head
only those inside the band of the shallow head's out-of-fold scores. Planted: bands that keep
their stated error, the cheapest shallow head, and a scorer whose every score is the shallow
head's outside the band and the full head's inside it, with the deep pass run on those only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from cascade_banks import set_bands, shallow_scores
from fastapi.testclient import TestClient
from planted_domains import family_docs
from pydantic import ValidationError
from test_evaluate import evaluate_planted, planted_run
from test_pipeline import base_config, make_docs, write_jsonl
from test_resume import assert_resumes_identically

from discovery.domain.heads import HeadSettings, fit_head
from discovery.domain.lofo import LabelledDocs, domain_stats
from rosetta_filter.config import (
    ModelConfig,
    NeuronsConfig,
    RunConfig,
    ScoringConfig,
    load_config,
    validate_config,
)
from rosetta_filter.errors import BankError, ConfigError, ModelError
from rosetta_filter.scoring.cascade import (
    CASCADE_ERRORS,
    Band,
    band,
    cascade_scores,
    choose_cascade,
    error_key,
    expected_layer_share,
)
from rosetta_filter.scoring.relative import relative_scores
from rosetta_filter.scoring.scorer import NeuronSelection, Scorer
from service.app import build_app
from service.config import ServeConfig

REPO = Path(__file__).resolve().parents[1]


def test_a_band_defers_what_lies_between_the_classes_and_nothing_when_they_separate():
    rng = np.random.default_rng(0)
    scores = np.r_[rng.normal(2.0, 1.0, 20_000), rng.normal(-2.0, 1.0, 80_000)]
    positive = np.r_[np.ones(20_000, bool), np.zeros(80_000, bool)]
    found = band(scores, positive, 0.01)
    # N(2, 1)'s 1% quantile and N(-2, 1)'s 99%: 2 - 2.326 and -2 + 2.326
    assert found.low == pytest.approx(-0.326, abs=0.05)
    assert found.high == pytest.approx(0.326, abs=0.05)
    assert found.defer_rate == pytest.approx(
        ((scores >= found.low) & (scores <= found.high)).mean()
    )
    # a smaller error defers more; classes further apart than the band defer nothing
    assert band(scores, positive, 0.001).defer_rate > found.defer_rate
    apart = band(np.r_[scores[:20_000] + 10, scores[20_000:]], positive, 0.01)
    assert apart.defer_rate == 0.0 and apart.low == apart.high
    with pytest.raises(ValueError, match="both classes"):
        band(scores[:10], positive[:10], 0.01)


def test_the_cheapest_shallow_head_is_chosen_and_none_where_none_saves_layers():
    candidates = [(1, 0.5), (4, 0.1), (9, 0.0)]  # (deepest layer, share deferred)
    choice = choose_cascade(candidates, full_layer=29, n_layers=30)
    # shares: 2/30 + 0.5 = 0.567, 5/30 + 0.1 = 0.267, 10/30 = 0.333
    assert choice is not None and choice.index == 1
    assert choice.layer_share == pytest.approx(expected_layer_share(4, 0.1, 29, 30))
    assert choose_cascade([(1, 0.95)], full_layer=29, n_layers=30) is None
    assert choose_cascade([(29, 0.0)], full_layer=29, n_layers=30) is None
    deferred = Band(0.0, 1.0, 0.0).deferred(np.array([-5.0, 0.5, 5.0]))
    scored = cascade_scores(np.array([-5.0, 0.5, 5.0]), np.array([1.0, 2.0, 3.0]), deferred)
    assert scored.tolist() == [-5.0, 2.0, 5.0] and deferred.tolist() == [False, True, False]


def test_an_error_off_the_recorded_grid_or_exits_without_a_cascade_are_refused():
    assert error_key(0.01) == "0.01" and len(CASCADE_ERRORS) == 6
    with pytest.raises(ValidationError, match=r"0\.001, 0\.002"):
        NeuronsConfig(bank="b", domain="d", cascade=True, cascade_error=0.03)
    with pytest.raises(ValidationError, match="domain heads"):
        NeuronsConfig(bank="b", domain="d", mode="top_k", cascade=True)
    with pytest.raises(ValidationError, match=r"neurons\.cascade=true, or drop cascade_exits"):
        NeuronsConfig(bank="b", domain="d", cascade_exits="negatives")


@pytest.mark.parametrize(("config", "cls"), [("demo.yaml", RunConfig), ("serve.yaml", ServeConfig)])
def test_a_cascade_is_refused_on_vllm_before_any_model_loads(config, cls):
    """configs/serve.yaml turns the cascade on (rule 17); on vLLM a config with it says to turn
    it off, at validation, not after minutes of engine compilation."""
    path = REPO / "configs" / config
    assert load_config(path, cls=cls).neurons.cascade == (config == "serve.yaml")
    with pytest.raises(ConfigError, match=r"neurons\.cascade=false") as error:
        load_config(path, ["model.backend=vllm", "neurons.cascade=true"], cls=cls)
    assert "model.backend=hf only" in str(error.value)
    assert not load_config(
        path, ["model.backend=vllm", "neurons.cascade=false"], cls=cls
    ).neurons.cascade


def test_a_fitted_head_records_bands_that_keep_their_error_on_new_documents():
    rng = np.random.default_rng(1)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(size=(n, 12))
        y = rng.random(n) < 1 / (1 + np.exp(-2.5 * (x[:, 2] - 0.8 * x[:, 5])))
        return x, y

    x, y = draw(1200)
    families = np.asarray([f"{'p' if t else 'n'}{i % 4}" for i, t in enumerate(y)])
    labels = LabelledDocs(np.where(y, "dom", "rest"), families)
    stats = domain_stats(x, labels, "dom")
    head = fit_head(x, labels, "dom", stats, np.arange(12), HeadSettings(max_neurons=6))
    assert set(head.bands) == {f"{e:g}" for e in CASCADE_ERRORS}
    rates = [head.bands[f"{e:g}"]["defer_rate"] for e in CASCADE_ERRORS]
    assert rates == sorted(rates, reverse=True) and 0 < rates[3] < 1
    assert head.to_dict()["bands"] == head.bands
    # on fresh documents the final head decides about 1% of each class on the wrong side
    new_x, new_y = draw(20_000)
    raw = new_x[:, head.columns]
    score = head.intercept + ((raw - head.norm_mean) / head.norm_std) @ np.asarray(head.weights)
    chosen = Band(**head.bands["0.01"])
    assert (score[new_y] < chosen.low).mean() < 0.03
    assert (score[~new_y] > chosen.high).mean() < 0.03


def test_the_scorer_defers_exactly_the_band_to_the_full_head(planted_model, cascade_bank):
    bank, heads = cascade_bank
    scoring = ScoringConfig(max_tokens=64)
    model = ModelConfig(name=str(planted_model), threads=1)
    base = NeuronsConfig(bank=str(bank), bank_model="tiny", domain="ex", max_layer=None)
    texts = [d["text"] for d in family_docs("heldout")] + ["", "x x x"]

    def scores(cfg: NeuronsConfig) -> list:
        return list(Scorer.from_config(model, cfg, scoring).score(texts, with_neurons=True))

    with pytest.raises(BankError, match="no cascade bands"):
        NeuronSelection.from_config(base.model_copy(update={"cascade": True}), scoring, "tiny")
    shallow = [d.score for d in scores(base.model_copy(update={"max_layer": 0}))]
    full = [d.score for d in scores(base)]
    valid = sorted(s for s in shallow if s is not None)
    low, high = valid[0] - 1.0, valid[len(valid) // 2]  # the lower half is deferred
    set_bands(bank, heads, low, high, defer_rate=0.5)
    cascade_cfg = base.model_copy(update={"cascade": True})
    selection = NeuronSelection.from_config(cascade_cfg, scoring, "tiny")
    assert selection.cascade is not None and [str(n) for n in selection.read] == [
        "L0.N5",
        "L2.N3",
    ]
    assert selection.cascade.layer_share == pytest.approx(expected_layer_share(0, 0.5, 2, 3))
    scorer = Scorer.from_config(model, cascade_cfg, scoring)
    described = scorer.describe()["neurons"]  # what the run's manifest records
    assert described["cascade"]["shallow_neurons"] == ["L0.N5"]
    assert described["cascade"]["band"] == [low, high] and described["deepest_layer"] == 2
    ran_deep: list = []
    deep_run = scorer.deep_engine.run
    scorer.deep_engine.run = lambda records: deep_run(ran_deep.extend(records) or records)
    cascaded = list(scorer.score(texts, with_neurons=True))
    assert [d.index for d in cascaded] == list(range(len(texts)))
    assert cascaded[len(texts) - 2].skip_reason is not None
    deferred = [i for i, s in enumerate(shallow) if s is not None and low <= s <= high]
    assert 0 < len(deferred) < len(texts) - 1
    assert ran_deep == [texts[i] for i in deferred]  # the deep pass ran on those only
    for i, doc in enumerate(cascaded):
        if shallow[i] is None:
            continue
        expected = full[i] if i in deferred else shallow[i]
        assert doc.score == pytest.approx(expected, abs=1e-5) and doc.deferred == (i in deferred)
        assert doc.neurons == (["L0.N5", "L2.N3"] if i in deferred else ["L0.N5"])
        assert len(doc.neuron_values) == len(doc.neurons)
    # no shallow head saves layers where it would defer nearly everything
    set_bands(bank, heads, low, high, defer_rate=0.9)
    assert NeuronSelection.from_config(cascade_cfg, scoring, "tiny").cascade is None
    set_bands(bank, heads, low, high, defer_rate=0.5)
    with pytest.raises(ModelError, match=r"model\.backend=hf only"):
        Scorer(scorer.model, selection, scoring, backend="vllm")


@pytest.mark.parametrize("exits", ["both", "negatives"])
def test_the_relative_cascade_scores_shallow_heads_against_each_other_and_defers_the_band(
    planted_model, cascade_bank, tmp_path, exits
):
    """Rule 17: every domain's shallow head gives the shallow relative score; the domain's own
    shallow logit inside its band sends the document to the full relative score. Rule 19
    (``cascade_exits: negatives``): everything at or above the band's low edge goes deep."""
    bank, heads = cascade_bank
    scoring = ScoringConfig(max_tokens=64)
    model = ModelConfig(name=str(planted_model), threads=1)
    base = NeuronsConfig(bank=str(bank), bank_model="tiny", domain="ex", max_layer=None)
    docs = family_docs("heldout")
    texts = [d["text"] for d in docs]

    def logits(domain: str, max_layer: int | None) -> np.ndarray:
        cfg = base.model_copy(update={"domain": domain, "max_layer": max_layer})
        return np.array([d.score for d in Scorer.from_config(model, cfg, scoring).score(texts)])

    shallow = np.stack([logits("ex", 0), logits("plain", 0)], axis=1)
    full = np.stack([logits("ex", None), logits("plain", None)], axis=1)
    levels = np.unique(shallow[:, 0])  # the shallow head reads one neuron: scores tie
    low, high = levels[[len(levels) // 3, 2 * len(levels) // 3]]
    set_bands(bank, heads, low, high, defer_rate=0.25)
    cfg = base.model_copy(update={"relative": True, "cascade": True, "cascade_exits": exits})
    selection = NeuronSelection.from_config(cfg, scoring, "tiny")
    assert selection.cascade is not None and [r.domain for r in selection.rivals] == ["plain"]
    assert [r.domain for r in selection.cascade.shallow.rivals] == ["plain"]
    assert {n.layer for n in selection.cascade.shallow.read} == {0}
    scorer = Scorer.from_config(model, cfg, scoring)
    described = scorer.describe()["neurons"]["cascade"]
    assert described["shallow_relative_to"] == ["plain"] and described["exits"] == exits
    assert described["band"] == [low, None if exits == "negatives" else high]
    ran_deep: list = []
    deep_run = scorer.deep_engine.run
    scorer.deep_engine.run = lambda records: deep_run(ran_deep.extend(records) or records)
    scored = list(scorer.score(texts))
    deferred = (shallow[:, 0] >= low) & ((shallow[:, 0] <= high) | (exits == "negatives"))
    assert 0 < deferred.sum() < len(texts) and ran_deep == list(np.array(texts)[deferred])
    expected = np.where(deferred, relative_scores(full)[:, 0], relative_scores(shallow)[:, 0])
    assert [d.score for d in scored] == pytest.approx(expected.tolist(), abs=1e-5)
    assert [d.deferred for d in scored] == deferred.tolist()
    # evaluate: the configured score and the ablation are the scorer's
    labels = write_jsonl(tmp_path / "heldout.jsonl", docs)
    run_cfg = planted_run(planted_model, bank, labels, tmp_path)
    run_cfg["neurons"] |= {
        "cascade": True, "relative": True, "max_layer": None, "cascade_exits": exits
    }  # fmt: skip
    table, report, _ = evaluate_planted(run_cfg, labels, tmp_path)
    by_id = dict(zip(table["id"], table["ex/configured"], strict=True))
    assert [by_id[d["id"]] for d in docs] == pytest.approx(expected.tolist(), abs=1e-5)
    ran = report["domains"]["ex"]["configured"]["cascade"]
    assert ran["deferred"] == pytest.approx(deferred.mean())
    assert report["domains"]["ex"]["head/all/relative_cascade"]["cascade"] == ran


@pytest.mark.parametrize("relative", [False, True], ids=["head", "relative"])
def test_tagged_domains_share_one_shallow_pass_and_go_deep_together(
    planted_model, cascade_bank, relative
):
    """``neurons.domains`` with the cascade: each domain's shallow stage scores in the first
    pass; a document any domain's shallow head is unsure of goes deep once, for every domain;
    the depth is chosen from the sum of their bands' shares, so what one domain alone would
    run as a cascade can be refused when tagged with another."""
    bank, heads = cascade_bank
    scoring = ScoringConfig(max_tokens=64)
    model = ModelConfig(name=str(planted_model), threads=1)
    base = NeuronsConfig(bank=str(bank), bank_model="tiny", domain="ex", max_layer=None)
    texts = [d["text"] for d in family_docs("heldout")]

    def logits(domain: str, max_layer: int | None) -> np.ndarray:
        cfg = base.model_copy(update={"domain": domain, "max_layer": max_layer})
        return np.array([d.score for d in Scorer.from_config(model, cfg, scoring).score(texts)])

    shallow = np.stack([logits("ex", 0), logits("plain", 0)], axis=1)
    full = np.stack([logits("ex", None), logits("plain", None)], axis=1)
    bands = []
    for i, domain in enumerate(("ex", "plain")):  # each domain's upper third deferred
        low, high = np.quantile(shallow[:, i], [2 / 3, 1.0])
        for row in heads["domains"][domain]["all"]["depths"]:
            row["bands"] = {f"{e:g}": vars(Band(low, high, 0.3)) for e in CASCADE_ERRORS}
        bands.append(Band(low, high, 0.3))
    (bank / "heads.json").write_text(json.dumps(heads))
    tagged = base.model_copy(
        update={"domains": ["ex", "plain"], "relative": relative, "cascade": True}
    )
    scorer = Scorer.from_config(model, tagged, scoring)
    for chosen in scorer.sets.values():  # both from the summed share, 0.3 + 0.3
        assert chosen.cascade.layer_share == pytest.approx(expected_layer_share(0, 0.6, 2, 3))
    ran_deep: list = []
    deep_run = scorer.deep_engine.run
    scorer.deep_engine.run = lambda records: deep_run(ran_deep.extend(records) or records)
    scored = list(scorer.score(texts))
    deferred = bands[0].deferred(shallow[:, 0]) | bands[1].deferred(shallow[:, 1])
    assert deferred.sum() > max(bands[0].deferred(shallow[:, 0]).sum(), 1)
    assert ran_deep == list(np.array(texts)[deferred]) and [d.deferred for d in scored] == list(
        deferred
    )
    quick, deep = (relative_scores(shallow), relative_scores(full)) if relative else (shallow, full)
    for i, domain in enumerate(("ex", "plain")):
        expected = np.where(deferred, deep[:, i], quick[:, i])
        assert [d.scores[domain] for d in scored] == pytest.approx(expected.tolist(), abs=1e-5)
    assert [d.score for d in scored] == [d.scores["ex"] for d in scored]
    # tagged, the summed share (0.45 + 0.45) runs more layers than the full pass: no cascade,
    # though either domain alone (0.45) would run one
    for domain in ("ex", "plain"):
        for row in heads["domains"][domain]["all"]["depths"]:
            row["bands"]["0.01"]["defer_rate"] = 0.45
    (bank / "heads.json").write_text(json.dumps(heads))
    alone = base.model_copy(update={"relative": relative, "cascade": True})
    assert NeuronSelection.from_config(alone, scoring, "tiny").cascade is not None
    together = Scorer.from_config(model, tagged, scoring)
    assert together.deep_engine is None
    assert all(chosen.cascade is None for chosen in together.sets.values())


def test_evaluate_scores_the_cascade_as_the_scorer_does(planted_model, cascade_bank, tmp_path):
    bank, heads = cascade_bank
    docs = family_docs("heldout")
    labels = write_jsonl(tmp_path / "heldout.jsonl", docs)
    run_cfg = planted_run(planted_model, bank, labels, tmp_path)
    run_cfg["neurons"] |= {"cascade": True, "max_layer": None}
    scoring = ScoringConfig(max_tokens=64)
    model = ModelConfig(name=str(planted_model), threads=1)
    plain = NeuronsConfig(**{**run_cfg["neurons"], "cascade": False, "max_layer": 0})
    shallow = sorted(
        d.score for d in Scorer.from_config(model, plain, scoring).score([d["text"] for d in docs])
    )
    set_bands(bank, heads, shallow[0] - 1.0, shallow[len(shallow) // 3], defer_rate=0.3)
    table, report, out = evaluate_planted(run_cfg, labels, tmp_path)
    cascade_cfg = NeuronsConfig(**run_cfg["neurons"])
    scored = list(Scorer.from_config(model, cascade_cfg, scoring).score([d["text"] for d in docs]))
    by_id = dict(zip(table["id"], table["ex/configured"], strict=True))
    assert [by_id[d["id"]] for d in docs] == pytest.approx([s.score for s in scored], abs=1e-5)
    report = report["domains"]["ex"]
    ran = report["configured"]["cascade"]
    assert ran["shallow_layer"] == 0 and ran["deferred"] == pytest.approx(
        np.mean([s.deferred for s in scored])
    )
    assert report["head/all/cascade"]["cascade"] == ran  # the ablation beside every depth
    assert "shallow_layer 0" in (out / "evaluation.html").read_text()


@pytest.mark.parametrize("relative", [False, True], ids=["head", "relative"])
def test_a_killed_cascade_run_resumes_to_the_identical_result(
    planted_model, cascade_bank, tmp_path, relative
):
    """With the head alone (rule 15) and behind the relative score (rule 17, the default)."""
    bank, heads = cascade_bank
    docs = make_docs(400, seed=5)
    data = write_jsonl(tmp_path / "docs.jsonl", docs)
    scores = shallow_scores(planted_model, bank, [d["text"] for d in docs[:80]])
    set_bands(bank, heads, scores[0] - 1.0, scores[len(scores) // 2], defer_rate=0.5)

    def config(out):
        cfg = base_config(planted_model, data, out, keep_fraction=0.3)
        cfg["neurons"] = {
            "bank": str(bank), "bank_model": "tiny", "domain": "ex", "max_layer": None,
            "cascade": True, "relative": relative,
        }  # fmt: skip
        cfg["scoring"] = {"pooling": "mean", "max_tokens": 64}
        cfg["output"].update(write_rejected=True, shard_max_rows=40)
        cfg["runtime"].update(checkpoint_docs=64, lookahead_docs=32)
        return cfg

    runs = ("reference", "resumed")
    kills = assert_resumes_identically(tmp_path, config, [("score", 64), ("score", 200)])
    assert kills >= 1
    stats = [json.loads((tmp_path / n / "stats.json").read_text()) for n in runs]
    assert 0 < stats[0]["deferred"] < 400 and stats[0]["deferred"] == stats[1]["deferred"]
    deferred = pq.read_table(tmp_path / "reference" / "attributes").column("deferred")
    assert sum(deferred.to_pylist()) == stats[0]["deferred"]


def test_the_service_scores_the_cascade_and_explains_each_document_by_its_head(
    planted_model, cascade_bank
):
    bank, heads = cascade_bank
    texts = [d["text"] for d in family_docs("heldout")]
    neurons = {"bank": str(bank), "bank_model": "tiny", "domain": "ex", "max_layer": None}
    scoring = ScoringConfig(max_tokens=64)
    model = ModelConfig(name=str(planted_model), threads=1)
    scores = shallow_scores(planted_model, bank, texts)
    set_bands(bank, heads, scores[0] - 1.0, scores[len(scores) // 2], defer_rate=0.5)
    cfg = validate_config(
        {
            "model": {"name": str(planted_model), "threads": 1},
            "neurons": neurons | {"cascade": True},
            "scoring": {"max_tokens": 64},
            "batching": {"batch_tokens": 256, "lookahead_docs": 16},
        },
        ServeConfig,
    )
    expected = list(
        Scorer.from_config(model, NeuronsConfig(**neurons | {"cascade": True}), scoring).score(
            texts
        )
    )
    payload = [{"text": t} for t in texts]
    with TestClient(build_app(cfg)) as client:
        body = client.post("/v1/score", json={"documents": payload, "return_neurons": True})
        assert body.status_code == 200, body.text
        docs = body.json()["documents"]
        several = client.post(
            "/v1/score", json={"documents": payload, "neuron_sets": ["default", "plain"]}
        )
    assert [d["score"] for d in docs] == pytest.approx([e.score for e in expected], abs=1e-5)
    for doc, scored in zip(docs, expected, strict=True):
        assert list(doc["neurons"]) == (["L0.N5", "L2.N3"] if scored.deferred else ["L0.N5"])
    assert {tuple(d["neurons"]) for d in docs} == {("L0.N5",), ("L0.N5", "L2.N3")}
    # several sets share one pass, which scores each at full depth
    assert several.status_code == 200, several.text
    full = list(Scorer.from_config(model, NeuronsConfig(**neurons), scoring).score(texts))
    assert [d["score"] for d in several.json()["documents"]] == pytest.approx(
        [f.score for f in full], abs=1e-5
    )
