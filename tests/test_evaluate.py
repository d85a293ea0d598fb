"""Domain heads end to end on the planted tiny model: `rosetta-filter domains` writes a format-2
bank whose head finds the trigger neuron at the shallowest depth, the scorer uses it by default,
and `rosetta-filter evaluate` reports it beside the TF-IDF baseline on held-out families."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from planted_domains import family_docs
from pydantic import ValidationError
from test_pipeline import write_jsonl
from typer.testing import CliRunner

from rosetta_filter.cli import app
from rosetta_filter.config import NeuronsConfig, RunConfig, ScoringConfig
from rosetta_filter.errors import BankError, ShardError
from rosetta_filter.evaluation.metrics import auroc
from rosetta_filter.filtering.pipeline import run
from rosetta_filter.scoring.bank import FORMAT_VERSION, bank_digest, load_bank
from rosetta_filter.scoring.scorer import NeuronSelection

runner = CliRunner()


def planted_run(model: Path, bank: Path, docs: Path, tmp_path: Path) -> dict:
    """A run config toward domain ``ex`` of a planted bank, keeping half of ``docs``."""
    return {
        "source": {"data_files": str(docs)},
        "model": {"name": str(model), "threads": 1},
        "neurons": {"bank": str(bank), "bank_model": "tiny", "domain": "ex"},
        "scoring": {"max_tokens": 64},
        "selection": {"keep_fraction": 0.5},
        "output": {"dir": str(tmp_path / "run")},
    }


def evaluate_planted(run_cfg: dict, labels: Path, tmp_path: Path) -> tuple[dict, dict, Path]:
    """`rosetta-filter evaluate` of ``run_cfg`` on ``labels``: the scores table (column ->
    values), evaluation.json and the output directory."""
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(run_cfg))
    out = tmp_path / "eval"
    result = runner.invoke(
        app, ["evaluate", str(config), "--labels", str(labels), "--out", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(out / "scores.parquet").to_pydict()
    return table, json.loads((out / "evaluation.json").read_text()), out


def test_the_head_finds_the_trigger_at_the_shallowest_depth(heads_bank):
    bank = load_bank(heads_bank)
    assert bank.meta["format_version"] == FORMAT_VERSION and bank.heads is not None
    ex = bank.heads["domains"]["ex"]["rosetta"]
    assert [r["max_layer"] for r in ex["depths"]] == [0, 1, 2]
    shallow = ex["depths"][0]
    weights = dict(zip(shallow["neurons"], shallow["weights"], strict=True))
    assert weights["L0.N5"] > 0 and shallow["worst_fold_auroc"] > 0.95
    trigger = next(r for r in bank.rows("tiny") if (r["layer"], r["index"]) == (0, 5))
    assert trigger["lofo_worst__ex"] > 0.95 > trigger["lofo_worst__plain"]
    # the consistent pool (Rosetta groups matched in every model) holds only L0.N5 here
    consistent = bank.heads["domains"]["ex"]["consistent"]["depths"]
    assert {n for row in consistent for n in row["neurons"]} == {"L0.N5"}


def test_the_consistent_pool_serves_heads_and_top_k(heads_bank, format1_bank):
    scoring = ScoringConfig(max_tokens=64)
    cfg = NeuronsConfig(bank=str(heads_bank), bank_model="tiny", domain="ex")
    head = NeuronSelection.from_config(
        cfg.model_copy(update={"rosetta_only": "consistent"}), scoring, "tiny"
    )
    assert [str(n) for n in head.neurons] == ["L0.N5"] and head.intercept is not None
    top_k = cfg.model_copy(
        update={"bank": str(format1_bank), "mode": "top_k", "rosetta_only": "consistent"}
    )
    picked = NeuronSelection.from_config(top_k.model_copy(update={"top_k": 3}), scoring, "tiny")
    assert [str(n) for n in picked.neurons] == ["L0.N5"]  # L1.N3 is Rosetta, not consistent
    with pytest.raises(BankError, match="no consistent Rosetta neuron"):
        NeuronSelection.from_config(
            top_k.model_copy(update={"domain": "plain", "max_layer": 0}), scoring, "tiny"
        )


def test_the_scorer_uses_the_head_by_default_and_old_banks_say_why_not(heads_bank, format1_bank):
    scoring = ScoringConfig(max_tokens=64)
    cfg = NeuronsConfig(bank=str(heads_bank), bank_model="tiny", domain="ex")
    selection = NeuronSelection.from_config(cfg, scoring, "tiny")
    assert selection.intercept is not None and selection.max_layer == 0
    old = cfg.model_copy(update={"bank": str(format1_bank), "mode": "head"})
    with pytest.raises(BankError, match=r"has no domain heads.*neurons\.mode=top_k"):
        NeuronSelection.from_config(old, scoring, "tiny")
    top_k = NeuronSelection.from_config(old.model_copy(update={"mode": "auto"}), scoring, "tiny")
    assert top_k.intercept is None and str(top_k.neurons[0]) == "L0.N5"
    with pytest.raises(BankError, match="fit on mean pooling"):
        NeuronSelection.from_config(cfg, ScoringConfig(pooling="max"), "tiny")


def test_the_scorer_pools_only_its_method_and_scores_as_before(planted_model, format1_bank):
    """Every score reads ``scoring.pooling`` alone, so the scorer's engine pools that method
    only, and its documents score exactly as they did when the engine pooled every method."""
    from rosetta_filter.activations.forward import PoolingParams
    from rosetta_filter.config import ModelConfig
    from rosetta_filter.scoring.scorer import Scorer

    pooling = "topk_mean"  # the method with a parameter of its own
    scoring = ScoringConfig(max_tokens=64, pooling=pooling, pool_top_k=3)
    neurons = NeuronsConfig(bank=str(format1_bank), bank_model="tiny", domain="ex", top_k=2)
    model = ModelConfig(name=str(planted_model), threads=1)
    scorer = Scorer.from_config(model, neurons, scoring)
    assert scorer.engine.pooling == PoolingParams(3, 0.0, methods=(pooling,))
    texts = [*(d["text"] for d in family_docs("heldout")[:6]), "x x x"]
    ours = [d.score for d in scorer.score(texts)]
    scorer.engine = Scorer.from_config(model, neurons, scoring).engine
    scorer.engine.forward.pooling = scorer.engine.pooling = PoolingParams(3, 0.0)
    assert [d.score for d in scorer.score(texts)] == ours


def test_per_family_aurocs_name_the_foreign_family_the_filter_takes_for_the_domain():
    import numpy as np

    from rosetta_filter.evaluation.evaluate import _metrics
    from rosetta_filter.evaluation.labelled import LabelledSet
    from rosetta_filter.evaluation.report import family_rows

    # legal documents (two families) score high; a book about copyright scores as high as
    # legal text, a novel low: only the book's AUROC against the domain falls to chance
    families = ["statutes"] * 4 + ["contracts"] * 4 + ["copyright-book"] * 4 + ["novel"] * 4
    labels = ["legal"] * 8 + ["prose"] * 8
    scores = np.array([5, 6, 7, 8, 5.5, 6.5, 7.5, 8.5, 5.2, 6.2, 7.2, 8.2, 0, 1, 2, 3])
    n = len(labels)
    data = LabelledSet([str(i) for i in range(n)], [""] * n, np.array(labels), np.array(families),
                       np.array([""] * n))  # fmt: skip
    metrics = _metrics(scores, data, "legal")
    assert metrics["negative_family_auroc"]["novel"] == 1.0
    assert 0.4 < metrics["negative_family_auroc"]["copyright-book"] < 0.6
    assert set(metrics["family_auroc"]) == {"statutes", "contracts"}
    rows = family_rows({"legal": {"configured": metrics}})
    assert [(r["side"], r["family"]) for r in rows] == [
        ("domain", "contracts"),
        ("domain", "statutes"),
        ("other", "copyright-book"),
        ("other", "novel"),
    ]


def test_a_labelled_file_can_be_cut_to_named_families(tmp_path):
    from rosetta_filter.errors import SourceError
    from rosetta_filter.evaluation.labelled import read_labelled

    rows = [
        {"id": f"{family}{i}", "text": f"text {i}", "domain": domain, "family": family}
        for domain, family in (("a", "f1"), ("a", "f2"), ("b", "g1"))
        for i in range(3)
    ]
    path = write_jsonl(tmp_path / "labels.jsonl", rows)
    assert len(read_labelled(path)) == 9
    cut = read_labelled(path, only_families={"f2", "g1"})
    assert cut.ids == ["f20", "f21", "f22", "g10", "g11", "g12"]
    assert set(cut.families.tolist()) == {"f2", "g1"} and cut.counts() == {"a": 3, "b": 3}
    with pytest.raises(SourceError, match=r"no family nope.*it has f1, f2, g1"):
        read_labelled(path, only_families={"f1", "nope"})


def test_evaluate_reports_heads_ablations_and_the_baseline(planted_model, heads_bank, tmp_path):
    heldout = write_jsonl(tmp_path / "heldout.jsonl", family_docs("heldout"))
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(planted_run(planted_model, heads_bank, heldout, tmp_path)))
    out = tmp_path / "eval"
    result = runner.invoke(
        app, ["evaluate", str(config), "--labels", str(heldout), "--out", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "evaluation.json").read_text())
    ex = report["domains"]["ex"]
    assert ex["configured"]["auroc"] > 0.85 and ex["configured"]["max_layer"] == 0
    assert ex["configured"]["neurons"] == ["L0.N5"] == ex["head/rosetta/auto"]["neurons"]
    assert ex["configured"]["precision"] > 0.8
    assert set(ex["configured"]["family_auroc"]) == {"fc"}
    assert set(ex["configured"]["negative_family_auroc"]) == {"pc"}
    assert {"head/rosetta/L2", "head/all/auto", "top_k/rosetta/probe_auroc", "tfidf_lr"} <= set(ex)
    assert 0.0 <= ex["tfidf_lr"]["auroc"] <= 1.0 and ex["tfidf_lr"]["kept"] == 16
    assert (out / "figures" / "roc.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "figures" / "depth.png").exists() and (out / "evaluation.html").exists()
    assert (out / "figures" / "families.png").read_bytes()[:4] == b"\x89PNG"
    # the bank's own cross-validation beside each depth's evaluated AUROC
    bank_rows = load_bank(heads_bank).heads["domains"]["ex"]["all"]["depths"]
    assert ex["head/all/L2"]["validation"]["worst_fold_auroc"] == min(bank_rows[2]["fold_auroc"])
    # sampling uncertainty: intervals around the estimates, the lead over TF-IDF paired
    for name in ("configured", "head/all/auto", "tfidf_lr"):
        low, high = ex[name]["auroc_ci"]
        assert low <= ex[name]["auroc"] <= high
    lead = ex["configured"]["vs_baseline"]
    assert lead["difference"] == pytest.approx(ex["configured"]["auroc"] - ex["tfidf_lr"]["auroc"])
    assert lead["ci"][0] <= lead["difference"] <= lead["ci"][1]
    page = (out / "evaluation.html").read_text()
    assert "AUROC per family" in page and "<td>fc</td>" in page
    # every document's score, from which the reported AUROC is recomputed
    scores = pq.read_table(out / "scores.parquet").to_pandas()
    assert len(scores) == report["docs"] and {"id", "label", "family"} <= set(scores.columns)
    positive = (scores["label"] == "ex").to_numpy()
    recomputed = auroc(scores["ex/configured"].to_numpy(), positive)[0]
    assert recomputed == pytest.approx(ex["configured"]["auroc"])


def test_several_domains_are_tagged_in_one_pass_with_each_domains_own_scores(
    planted_model, heads_bank, tmp_path
):
    docs = write_jsonl(tmp_path / "docs.jsonl", family_docs("heldout"))

    def run_with(neurons: dict, name: str) -> tuple[RunConfig, list[dict]]:
        cfg = RunConfig.model_validate(
            {
                "source": {"data_files": str(docs)},
                "model": {"name": str(planted_model), "threads": 1},
                "neurons": {"bank": str(heads_bank), "bank_model": "tiny", **neurons},
                "scoring": {"max_tokens": 64},
                "selection": {"keep_fraction": 0.5},
                "output": {"dir": str(tmp_path / name), "write_rejected": True},
            }
        )
        out = run(cfg)
        rows = []
        for shard in sorted(p.path for p in out.shards):
            rows += pq.read_table(tmp_path / name / shard).to_pylist()
        return cfg, sorted(rows, key=lambda r: r["id"])

    _, ex = run_with({"domain": "ex"}, "ex")
    _, plain = run_with({"domain": "plain"}, "plain")
    cfg, both = run_with({"domains": ["plain", "ex"], "domain": "ex"}, "both")
    assert [r["id"] for r in both] == [r["id"] for r in ex] == [r["id"] for r in plain]
    for one_pass, alone_ex, alone_plain in zip(both, ex, plain, strict=True):
        assert one_pass["score__ex"] == pytest.approx(alone_ex["score"], abs=1e-5)
        assert one_pass["score__plain"] == pytest.approx(alone_plain["score"], abs=1e-5)
        assert one_pass["score"] == one_pass["score__ex"]  # selection ranks by neurons.domain
    manifest = json.loads((tmp_path / "both" / "manifest.json").read_text())
    assert set(manifest["neurons"]["sets"]) == {"plain", "ex"}
    attributes = pq.read_table(tmp_path / "both" / "attributes").column_names
    assert {"score__ex", "score__plain"} <= set(attributes)
    assert cfg.neurons.domain == "ex"
    first = NeuronsConfig(bank=str(heads_bank), domains=["plain", "ex"])
    assert first.domain == "plain"
    with pytest.raises(ValidationError, match=r"not in neurons\.domains"):
        NeuronsConfig(bank=str(heads_bank), domains=["plain"], domain="ex")


def test_named_sets_change_some_keys_of_the_section_and_are_tagged_alongside(
    planted_model, heads_bank, tmp_path
):
    docs = write_jsonl(tmp_path / "docs.jsonl", family_docs("heldout"))
    base = {
        "source": {"data_files": str(docs)},
        "model": {"name": str(planted_model), "threads": 1},
        "scoring": {"max_tokens": 64},
        "selection": {"keep_fraction": 0.5},
    }
    neurons = {"bank": str(heads_bank), "bank_model": "tiny", "domain": "ex"}
    tagged = RunConfig.model_validate(
        base
        | {
            "neurons": neurons
            | {
                "sets": {
                    "plain_deep": {"domain": "plain", "max_layer": 2},
                    "ex_top": {"mode": "top_k", "top_k": 1},
                }
            },
            "output": {"dir": str(tmp_path / "sets")},
        }
    )
    alone = RunConfig.model_validate(
        base
        | {
            "neurons": neurons | {"domain": "plain", "max_layer": 2},
            "output": {"dir": str(tmp_path / "alone")},
        }
    )
    run(tagged)
    run(alone)
    got = pq.read_table(tmp_path / "sets" / "attributes").to_pylist()
    want = pq.read_table(tmp_path / "alone" / "attributes").to_pylist()
    for a, b in zip(got, want, strict=True):
        assert a["score__plain_deep"] == pytest.approx(b["score"], abs=1e-5)
        assert a["score__ex_top"] is not None
    with pytest.raises(ValidationError, match=r"neurons\.sets\.bad"):
        NeuronsConfig.model_validate(neurons | {"sets": {"bad": {"mode": "sideways"}}})
    with pytest.raises(ValidationError, match=r"also in neurons\.domains"):
        NeuronsConfig.model_validate(neurons | {"domains": ["ex"], "sets": {"ex": {}}})


def test_a_run_resumed_after_its_bank_was_rebuilt_in_place_is_refused(
    planted_model, heads_bank, tmp_path
):
    """The run directory is bound to the bank's contents, not only its path: finishing a run
    with a bank refit in between would mix two banks' scores in one output."""
    bank = tmp_path / "bank"
    shutil.copytree(heads_bank, bank)
    docs = write_jsonl(tmp_path / "docs.jsonl", family_docs("heldout"))
    cfg = RunConfig.model_validate(planted_run(planted_model, bank, docs, tmp_path))
    first = run(cfg)
    manifest = json.loads((first.run_dir / "manifest.json").read_text())
    assert manifest["bank"]["contents_sha256"] == bank_digest(bank)
    assert run(cfg).resumed  # the same bank: resumes
    heads = json.loads((bank / "heads.json").read_text())
    heads["domains"]["ex"]["all"]["depths"][0]["intercept"] += 1.0  # a refit, in place
    (bank / "heads.json").write_text(json.dumps(heads))
    with pytest.raises(ShardError, match="different config or bank contents"):
        run(cfg)
