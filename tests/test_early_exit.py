"""The benches that read a cross-fitted run without refitting. ``bench.early_exit``: what a
``max_quality_loss`` (and a depth statistic) costs on families no bank saw; at the run's own
settings it must reproduce each fold's configured depth and AUROC. ``bench.cascade``: each
fold's band chosen on the other folds only. ``bench.relative_score``: the log-softmax over the
domains' configured scores, both ways for named families. ``bench.relative_cascade``: its
shallow stage read off every domain's shallow column, deferred by recorded or nested bands."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_crossfit import _plan

from bench.cascade import nested_cascades, recorded_cascades
from bench.compare_evaluations import Scores
from bench.crossfit import summarise
from bench.early_exit import early_exits, evaluation_depths, reranked
from bench.relative_cascade import relative_cascades, top_overlap
from bench.relative_score import per_family, relative_comparisons
from discovery.domain.crossfit import run_crossfit
from rosetta_filter.evaluation.uncertainty import grouped_auroc
from rosetta_filter.neuron import Neuron
from rosetta_filter.scoring.bank import load_bank
from rosetta_filter.scoring.cascade import band
from rosetta_filter.scoring.heads import depth_rows, quality_key
from rosetta_filter.scoring.relative import relative_scores


@pytest.fixture
def crossfitted(planted_model, format1_bank, tmp_path):
    plan = _plan(planted_model, format1_bank, tmp_path)
    return plan, run_crossfit(plan)


def test_the_runs_own_loss_reproduces_each_folds_depth_and_auroc(crossfitted):
    plan, pooled = crossfitted
    own = plan.run.neurons.max_quality_loss
    summary = summarise(pooled, plan.out, 2)
    full = summary["full_depth_variant"]
    for e in early_exits(plan.out, plan.run, [own]):
        assert e.depths == summary["configured_depths"][e.domain]
        aurocs = summary["auroc"][e.domain]
        assert e.comparison.b == pytest.approx(aurocs["configured"]["within_fold"])
        assert e.comparison.a == pytest.approx(aurocs[full]["within_fold"])


def test_a_loose_loss_gives_every_fold_its_shallowest_head(crossfitted):
    plan, pooled = crossfitted
    folds = pooled.column("fold").to_numpy()
    labels = np.asarray(pooled.column("label").to_pylist(), dtype=object)
    model = plan.run.neurons.bank_model or plan.run.model.name
    for e in early_exits(plan.out, plan.run, [1.0]):  # any depth is within 1.0: the guard holds
        expected = np.empty(len(folds))
        reads = []
        for fold in range(2):
            row = depth_rows(load_bank(plan.fold_dir(fold) / "bank"), model, e.domain, False)[0]
            reads.append(max(Neuron.parse(n).layer for n in row["neurons"]))
            column = f"{e.domain}/head/all/L{row['max_layer']}"
            expected[folds == fold] = pooled.column(column).to_numpy()[folds == fold]
        assert e.depths == reads
        assert e.layer_share == pytest.approx(np.mean([(r + 1) / 3 for r in reads]))  # 3 layers
        assert e.comparison.b == pytest.approx(grouped_auroc(expected, labels == e.domain, folds))


def test_reranking_changes_only_the_statistic(crossfitted):
    plan, _ = crossfitted
    bank = load_bank(plan.fold_dir(0) / "bank")
    assert reranked(bank, None) is bank
    mean = reranked(bank, "mean")
    assert quality_key(mean) == "mean_fold_auroc" and quality_key(bank) != "mean_fold_auroc"
    assert mean.heads["domains"] == bank.heads["domains"] and mean.neurons is bank.neurons
    fitted_with = quality_key(bank).removesuffix("_fold_auroc")
    assert early_exits(plan.out, plan.run, [0.005], fitted_with) == early_exits(
        plan.out, plan.run, [0.005]
    )


def test_one_evaluation_is_read_with_the_bank_it_scored_with(crossfitted):
    plan, _ = crossfitted
    evaluation = plan.fold_dir(0) / "evaluation"
    with pytest.raises(SystemExit, match="--bank"):
        early_exits(evaluation, plan.run, [0.005])
    own = plan.run.neurons.max_quality_loss
    found = evaluation_depths(evaluation, plan.fold_dir(0) / "bank", plan.run, [own, 1.0])
    reported = json.loads((evaluation / "evaluation.json").read_text())["domains"]
    assert {r["domain"] for r in found} == set(reported)
    for r in found:
        variants = reported[r["domain"]]
        assert r["full"] == variants["head/all/L2"]["auroc"]  # the tiny model's full depth
        if r["loss"] == own:  # the run's own setting: what the evaluation configured
            assert r["depth"] == variants["configured"]["max_layer"]
            assert r["auto"] == pytest.approx(variants["configured"]["auroc"])
        else:  # the loosest: the shallowest head
            assert r["auto"] == variants["head/all/L0"]["auroc"]


def _plant_two_depth_tables(plan, pooled, rng) -> dict[str, np.ndarray]:
    """Every fold bank's ``all`` tables cut to a shallow head (reads L0) and a full head (reads
    L2), and their score columns replaced: the full head separates the domain, the shallow one
    overlaps it on a band. Returns the written columns."""
    labels = np.asarray(pooled.column("label").to_pylist(), dtype=object)
    table = pooled
    planted = {}
    for domain in sorted(set(labels.tolist())):
        positive = labels == domain
        shallow = np.empty(len(labels))  # overlapping on [-0.5, 0.5]
        shallow[positive] = rng.permutation(np.linspace(-0.5, 2.0, positive.sum()))
        shallow[~positive] = rng.permutation(np.linspace(-2.0, 0.5, (~positive).sum()))
        full = np.where(positive, 3.0, -3.0) + rng.normal(0, 0.5, len(labels))
        for name, values in ((f"{domain}/head/all/L0", shallow), (f"{domain}/head/all/L2", full)):
            table = table.set_column(table.column_names.index(name), name, pa.array(values))
            planted[name] = values
    pq.write_table(table, plan.out / "scores.parquet")
    for fold in range(2):
        heads_file = plan.fold_dir(fold) / "bank" / "heads.json"
        heads = json.loads(heads_file.read_text())
        for by_pool in heads["domains"].values():
            rows = {r["max_layer"]: r for r in by_pool["all"]["depths"]}
            by_pool["all"]["depths"] = [
                rows[0] | {"neurons": ["L0.N5"]},
                rows[2] | {"neurons": ["L0.N5", "L2.N3"]},
            ]
        heads_file.write_text(json.dumps(heads))
    return planted


def test_the_nested_cascade_chooses_each_folds_band_on_the_other_folds_only(crossfitted):
    plan, pooled = crossfitted
    planted = _plant_two_depth_tables(plan, pooled, np.random.default_rng(0))
    folds = pooled.column("fold").to_numpy()
    labels = np.asarray(pooled.column("label").to_pylist(), dtype=object)
    for result in nested_cascades(plan.out, [0.1]):
        positive = labels == result.domain
        shallow = planted[f"{result.domain}/head/all/L0"]
        full = planted[f"{result.domain}/head/all/L2"]
        cascade, runs = np.empty(len(labels)), np.empty(len(labels))
        for chosen in result.folds:
            here = folds == chosen.fold
            expected = band(shallow[~here], positive[~here], 0.1)  # the other fold's documents
            assert chosen.shallow_layer == 0 and 0 < chosen.defer < 1
            assert (chosen.low, chosen.high) == (expected.low, expected.high)
            assert chosen.expected_defer == pytest.approx(expected.defer_rate)
            deferred = expected.deferred(shallow[here])
            assert chosen.defer == pytest.approx(deferred.mean())
            cascade[here] = np.where(deferred, full[here], shallow[here])
            runs[here] = 1 + 3 * deferred
        assert result.layer_share == pytest.approx(runs.mean() / 3)
        assert result.comparison.a == pytest.approx(grouped_auroc(full, positive, folds))
        assert result.comparison.b == pytest.approx(grouped_auroc(cascade, positive, folds))
        # the cascade recovers most of what the shallow head alone loses
        alone = grouped_auroc(shallow, positive, folds)
        assert alone < result.comparison.b <= result.comparison.a


def test_the_relative_score_is_read_off_the_cross_fit_both_ways_for_fresh_families(crossfitted):
    plan, _ = crossfitted
    scores = Scores.read(plan.out)
    fresh = sorted(set(scores.families[scores.labels == "ex"].tolist()))[:1]
    found = relative_comparisons(scores, tuple(fresh))
    logits = np.stack([scores.columns[f"{d}/configured"] for d in ("ex", "plain")], axis=1)
    relative = relative_scores(logits)
    for i, domain in enumerate(("ex", "plain")):
        positive = scores.labels == domain
        assert found[domain]["all"].a == pytest.approx(
            grouped_auroc(logits[:, i], positive, scores.folds)
        )
        assert found[domain]["all"].b == pytest.approx(
            grouped_auroc(relative[:, i], positive, scores.folds)
        )
    # ex's fresh family against plain's documents; plain's documents against that family
    assert set(found["ex"]) == {"all", "fresh"} and set(found["plain"]) == {"all", "against_fresh"}
    rows = (scores.labels == "plain") | np.isin(scores.families, fresh)
    assert found["ex"]["fresh"].b == pytest.approx(
        grouped_auroc(relative[rows, 0], (scores.labels == "ex")[rows], scores.folds[rows])
    )
    against = (scores.labels == "plain") | np.isin(scores.families, fresh)
    assert found["plain"]["against_fresh"].a == pytest.approx(
        grouped_auroc(
            logits[against, 1], (scores.labels == "plain")[against], scores.folds[against]
        )
    )
    assert per_family(scores, tuple(fresh))[0]["relative"] == pytest.approx(found["ex"]["fresh"].b)


def test_the_recorded_cascade_is_read_from_each_folds_own_evaluation(crossfitted):
    plan, pooled = crossfitted
    # crossfit.json names the run config the cascade ran with
    (plan.out / "crossfit.json").write_text(
        json.dumps({"run_config": str(plan.out / "run.yaml"), "overrides": []})
    )
    (plan.out / "run.yaml").write_text(json.dumps(plan.run.model_dump(mode="json")))
    folds = pooled.column("fold").to_numpy()
    labels = np.asarray(pooled.column("label").to_pylist(), dtype=object)
    for result in recorded_cascades(plan.out):
        cascade = pooled.column(f"{result.domain}/head/all/cascade").to_numpy()
        positive = labels == result.domain
        assert result.comparison.b == pytest.approx(grouped_auroc(cascade, positive, folds))
        assert result.error == plan.run.neurons.cascade_error
        for chosen in result.folds:
            report = json.loads(
                (plan.fold_dir(chosen.fold) / "evaluation" / "evaluation.json").read_text()
            )
            ran = report["domains"][result.domain]["head/all/cascade"].get("cascade")
            # the planted heads separate at L0: no shallower head saves layers, full depth
            assert ran is None and chosen.shallow_layer is None and chosen.layer_share == 1.0
        assert result.comparison.difference == 0.0


def test_the_relative_cascade_defers_on_the_domains_own_band_or_on_any(crossfitted):
    """``bench.relative_cascade``: with recorded bands (each fold bank's own) the ``own`` variant
    defers where the target's shallow logit is in its band and scores the rest by the shallow
    heads' log-softmax; ``negatives`` defers everything at or above the band's low edge at the
    same depth; ``any`` expects the sum of the heads' shares; nested, each fold's bands come
    from the other fold's documents. The top overlap is the full stage's top 4% kept."""
    plan, pooled = crossfitted
    planted = _plant_two_depth_tables(plan, pooled, np.random.default_rng(1))
    recorded = {"ex": (-0.3, 0.2, 0.3), "plain": (-0.1, 0.4, 0.45)}  # low, high, defer_rate
    for fold in range(2):
        heads_file = plan.fold_dir(fold) / "bank" / "heads.json"
        heads = json.loads(heads_file.read_text())
        for domain, (low, high, rate) in recorded.items():
            for row in heads["domains"][domain]["all"]["depths"]:
                row["bands"] = {"0.01": {"low": low, "high": high, "defer_rate": rate}}
        heads_file.write_text(json.dumps(heads))
    (plan.out / "crossfit.json").write_text(
        json.dumps({"configured_depths": {"ex": [2, 2], "plain": [2, 2]}})
    )
    folds = pooled.column("fold").to_numpy()
    labels = np.asarray(pooled.column("label").to_pylist(), dtype=object)
    domains = ["ex", "plain"]
    configured = np.stack([pooled.column(f"{d}/configured").to_numpy() for d in domains], 1)
    shallow = np.stack([planted[f"{d}/head/all/L0"] for d in domains], axis=1)
    full, quick = relative_scores(configured), relative_scores(shallow)
    found = {(r.domain, r.variant, r.bands): r for r in relative_cascades(plan.out, [0.01])}
    for i, domain in enumerate(domains):
        positive = labels == domain
        low, high, rate = recorded[domain]
        own = found[(domain, "own", "recorded")]
        deferred = (shallow[:, i] >= low) & (shallow[:, i] <= high)
        cascade = np.where(deferred, full[:, i], quick[:, i])
        assert own.shallow_per_fold == [0, 0]
        assert own.layer_share == pytest.approx((1 + 3 * deferred).mean() / 3)
        assert own.comparison.a == pytest.approx(grouped_auroc(full[:, i], positive, folds))
        assert own.comparison.b == pytest.approx(grouped_auroc(cascade, positive, folds))
        assert own.top_overlap == top_overlap(full[:, i], cascade, folds, 0.04)
        rejecting = found[(domain, "negatives", "recorded")]
        deep = shallow[:, i] >= low
        assert rejecting.shallow_per_fold == [0, 0]
        assert rejecting.layer_share == pytest.approx((1 + 3 * deep).mean() / 3)
        one_sided = np.where(deep, full[:, i], quick[:, i])
        assert rejecting.comparison.b == pytest.approx(grouped_auroc(one_sided, positive, folds))
        # any: 0.3 + 0.45 of the documents expected to go deep: more layers than the full pass
        assert found[(domain, "any", "recorded")].shallow_per_fold == [None, None]
        assert found[(domain, "any", "recorded")].comparison.difference == 0.0
        nested = found[(domain, "any", "nested")]
        assert nested.shallow_per_fold.count(0) >= 1
        for fold in range(2):
            here = folds == fold
            bands = [
                band(shallow[~here, j], labels[~here] == d, 0.01) for j, d in enumerate(domains)
            ]
            expected = np.any([b.deferred(shallow[here, j]) for j, b in enumerate(bands)], axis=0)
            assert nested.deferred_per_fold[fold] == pytest.approx(
                expected.mean() if nested.shallow_per_fold[fold] is not None else 1.0
            )


def test_the_top_overlap_counts_the_full_stages_top_documents_the_cascade_keeps():
    full = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0, 9.0, 8.0, 7.0, 6.0])
    folds = np.array([0] * 5 + [1] * 5)
    swapped = full.copy()
    swapped[[0, 4]] = swapped[[4, 0]]  # fold 0's best goes last
    assert top_overlap(full, full, folds, 0.4) == 1.0
    assert top_overlap(full, swapped, folds, 0.4) == 0.75  # fold 0 keeps 1 of 2, fold 1 both
