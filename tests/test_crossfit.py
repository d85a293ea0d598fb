"""Cross-fitting (:mod:`discovery.domain.crossfit`): every held-out document is scored once, by
a bank that never saw its family, and a killed run resumes without refitting."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from planted_domains import family_docs, planted_domains_config
from rich.console import Console
from test_evaluate import planted_run
from test_pipeline import write_jsonl
from typer.testing import CliRunner

from bench.crossfit import summarise, summary_table
from discovery.domain.crossfit import (
    Crossfit,
    choose_paths,
    deal_families,
    pooled_aurocs,
    run_crossfit,
)
from discovery.domain.job import build_domain_bank
from discovery.errors import DiscoveryError
from rosetta_filter.cli import app
from rosetta_filter.config import RunConfig
from rosetta_filter.scoring.bank import load_bank

HELD = {"fb", "fc", "pb", "pc"}  # two families per domain held out, fa and pa chosen on


def test_dealing_is_balanced_deterministic_and_blind_to_input_order():
    families = {"code": [f"c{i}" for i in range(7)], "legal": ["l0", "l1", "l2"], "math": ["m0"]}
    dealt = deal_families(families, 3)
    every = sorted(f for names in families.values() for f in names)
    assert sorted(f for fold in dealt for f in fold) == every
    assert max(map(len, dealt)) - min(map(len, dealt)) <= 1
    shuffled = {d: list(reversed(f)) for d, f in reversed(families.items())}
    assert deal_families(shuffled, 3) == dealt
    # one count runs over the domains: legal's three families land in three different folds
    assert sorted(i for i, fold in enumerate(dealt) for f in fold if f.startswith("l")) == [0, 1, 2]
    with pytest.raises(DiscoveryError, match="fewer folds"):
        deal_families({"code": ["a", "b"]}, 3)


def choose_side(docs: list[dict]) -> list[dict]:
    """The planted documents of every family not held out, as choose records."""
    return [d | {"role": "choose"} for d in docs if d["family"] not in HELD]


def _plan(planted_model, format1_bank, tmp_path, choose_docs=choose_side) -> Crossfit:
    docs = family_docs("choose") + family_docs("heldout")
    choose = write_jsonl(tmp_path / "choose.jsonl", choose_docs(docs))
    heldout = write_jsonl(
        tmp_path / "heldout.jsonl", [d | {"role": "heldout"} for d in docs if d["family"] in HELD]
    )
    domains = planted_domains_config(
        planted_model, format1_bank, choose, tmp_path / "unused", tmp_path / "cache"
    )
    run = RunConfig.model_validate(planted_run(planted_model, format1_bank, heldout, tmp_path))
    return Crossfit(domains, run, heldout, tmp_path / "crossfit", folds=2)


def test_each_document_is_scored_once_by_a_bank_blind_to_its_family(
    planted_model, format1_bank, tmp_path
):
    plan = _plan(planted_model, format1_bank, tmp_path)
    steps, stages, counted = [], [], []
    pooled = run_crossfit(
        plan,
        done=lambda fold, step: steps.append((fold, step)),
        stage=lambda name, total: stages.append((name, total)),
        advance=counted.append,
    )
    assert steps == [(0, "fitted"), (0, "scored"), (1, "fitted"), (1, "scored")]
    # the progress display sees each fold's pooled pass, fit and scoring, each counted out
    assert [name for name, _ in stages if name.startswith("fold 1")] == [
        "fold 1: pooled pass",
        "fold 1: fitting domains",
        "fold 1: scoring its families",
    ]
    assert sum(counted) == sum(total for _, total in stages)
    ids = pooled.column("id").to_pylist()
    everything = family_docs("choose") + family_docs("heldout")
    assert sorted(ids) == sorted(d["id"] for d in everything if d["family"] in HELD)
    assert len(ids) == len(set(ids))
    folds = []
    for fold in range(2):
        bank = load_bank(plan.fold_dir(fold) / "bank")
        fitted = {f for fs in bank.heads["labelled_corpus"]["families"].values() for f in fs}
        scored = set(pq.read_table(plan.fold_dir(fold) / "scores.parquet")["family"].to_pylist())
        assert scored and not scored & fitted and fitted == {"fa", "pa"} | (HELD - scored)
        folds.append(scored)
    # each fold scores one family of each domain
    assert folds[0] | folds[1] == HELD and [len(f & {"fb", "fc"}) for f in folds] == [1, 1]
    # within a fold, the pooled statistic is that fold's own evaluation, weighted by its pairs
    by_fold = [
        json.loads((plan.fold_dir(f) / "evaluation" / "evaluation.json").read_text())
        for f in range(2)
    ]
    pairs = [(ev["docs_per_domain"]["ex"] * ev["docs_per_domain"]["plain"]) for ev in by_fold]
    fold_aurocs = [ev["domains"]["ex"]["configured"]["auroc"] for ev in by_fold]
    ex = pooled_aurocs(pooled)["ex"]["configured"]
    assert ex["within_fold"] == pytest.approx(np.average(fold_aurocs, weights=pairs))
    assert max(fold_aurocs) == 1.0 and 0.5 < ex["pooled"] <= 1.0  # the trigger word
    # the report comes from the folds' outputs alone: the full-depth head, each fold's depth
    summary = summarise(pooled, plan.out, 2)
    assert summary["full_depth_variant"] == "head/all/L2"  # the tiny model: 3 layers
    assert {d: len(v) for d, v in summary["configured_depths"].items()} == {"ex": 2, "plain": 2}
    assert summary["auroc"]["ex"]["configured"] == ex
    console = Console(record=True, width=200)
    console.print(summary_table(summary, 2))
    assert f"{ex['within_fold']:.4f} / {ex['pooled']:.4f}" in console.export_text()
    # a second run (a resumed one) refits and rescores nothing, and pools the same table
    steps.clear()
    again = run_crossfit(plan, done=lambda fold, step: steps.append((fold, step)))
    assert steps == [(0, "reused"), (1, "reused")] and again.equals(pooled)


def test_a_config_fitted_on_the_heldout_file_too_crossfits_without_it(tmp_path):
    """The default's domains config lists the held-out file beside the choose one: its folds
    fit on the choose file and deal the held-out file's families."""
    choose, heldout = tmp_path / "choose.jsonl", tmp_path / "heldout.jsonl"
    assert choose_paths([str(choose), str(heldout)], heldout) == [str(choose)]
    assert choose_paths(str(choose), heldout) == [str(choose)]
    with pytest.raises(DiscoveryError, match="only the held-out file"):
        choose_paths([str(heldout)], heldout)


def test_a_family_in_both_corpora_is_refused(planted_model, format1_bank, tmp_path):
    plan = _plan(
        planted_model, format1_bank, tmp_path, lambda docs: [d | {"role": "choose"} for d in docs]
    )
    with pytest.raises(DiscoveryError, match="fit on the family it scores"):
        run_crossfit(plan)


def test_held_out_records_are_fitted_only_when_asked(planted_model, format1_bank, tmp_path):
    plan = _plan(planted_model, format1_bank, tmp_path)
    both = [str(plan.domains.labelled.path), str(plan.heldout)]
    labelled = plan.domains.labelled.model_copy(update={"path": both})
    refused = plan.domains.model_copy(update={"labelled": labelled, "out": str(tmp_path / "all")})
    with pytest.raises(DiscoveryError, match="fit_heldout: true") as error:
        build_domain_bank(refused)
    assert error.value.field == "labelled.fit_heldout"
    asked = refused.model_copy(
        update={"labelled": labelled.model_copy(update={"fit_heldout": True})}
    )
    path, _ = build_domain_bank(asked)
    corpus = load_bank(path).heads["labelled_corpus"]
    assert corpus["path"] == both
    assert {f for fs in corpus["families"].values() for f in fs} == {"fa", "pa"} | HELD
    # evaluate's TF-IDF baseline learns from every file the bank was fitted on
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(planted_run(planted_model, path, plan.heldout, tmp_path)))
    out = tmp_path / "evaluation"
    result = CliRunner().invoke(
        app, ["evaluate", str(config), "--labels", str(plan.heldout), "--out", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "evaluation.json").read_text())
    assert report["baseline_train"] == both and "tfidf_lr" in report["domains"]["ex"]
