"""``max_layer: auto`` and the neuron pool of a head: planted depth tables, no model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from discovery.domain.fit_domains import rank_depths
from rosetta_filter.config import NeuronsConfig, ScoringConfig
from rosetta_filter.errors import BankError
from rosetta_filter.scoring.bank import NeuronBank
from rosetta_filter.scoring.depth_rule import (
    auto_depth,
    depth_quality,
    depth_rule_check,
    validated_depth,
)
from rosetta_filter.scoring.heads import auto_layer, choose_depth, quality_key
from rosetta_filter.scoring.scorer import NeuronSelection


def _rows(fold_auroc: list[list[float]], depths: list[int] | None = None) -> list[dict]:
    """Depth-table rows as a bank stores them (only the fields the depth rule reads)."""
    depths = depths if depths is not None else list(range(len(fold_auroc)))
    return [
        {
            "max_layer": d,
            "fold_auroc": folds,
            "worst_fold_auroc": min(folds),
            "mean_fold_auroc": float(np.mean(folds)),
        }
        for d, folds in zip(depths, fold_auroc, strict=True)
    ]


def _bank(heads: dict) -> NeuronBank:
    return NeuronBank(Path("b"), {}, pa.table({}), pa.table({}), heads)


def test_auto_depth_takes_the_shallowest_within_the_loss():
    table = [(0, 0.90), (2, 0.985), (4, 0.99), (6, 0.991)]
    assert auto_depth(table, 0.005) == 4
    assert auto_depth(table, 0.1) == 0
    rows = _rows([[q] * 3 for _, q in table], [d for d, _ in table])  # every family alike
    assert choose_depth(rows, "auto", 0.005)["max_layer"] == 4
    assert choose_depth(rows, "auto", 0.1)["max_layer"] == 0
    assert choose_depth(rows, 5, 0.005)["max_layer"] == 4
    assert choose_depth(rows, None, 0.005)["max_layer"] == 6
    with pytest.raises(BankError, match="shallowest head"):
        choose_depth(_rows([[1.0, 1.0]], [3]), 1, 0.0)


def test_auto_runs_every_layer_where_the_rule_failed_on_a_left_out_family():
    # family c is hard at every depth, hardest at full depth: the worst-family rule sees depth 0
    # as good as full depth while a and b lose 0.04 there; left out, a and b show the loss
    fold_auroc = [[0.95, 0.95, 0.90], [0.99, 0.99, 0.86]]
    unguarded = auto_depth(
        list(zip([0, 10], depth_quality(np.asarray(fold_auroc), "worst"), strict=True)), 0.005
    )
    assert unguarded == 0
    depth, check = validated_depth([0, 10], np.asarray(fold_auroc), ["a", "b", "c"], 0.005)
    assert depth == 10 and not check["passed"]
    assert check["worst_loss"] == pytest.approx(0.04)
    assert choose_depth(_rows(fold_auroc, [0, 10]), "auto", 0.005)["max_layer"] == 10
    # a loss the user accepts passes the check: the early exit is taken
    assert choose_depth(_rows(fold_auroc, [0, 10]), "auto", 0.05)["max_layer"] == 0
    # the bank builder records the same pick and check
    ranked = rank_depths(_rows(fold_auroc, [0, 10]), ["a", "b", "c"], 0.005, "worst")
    assert ranked["auto_max_layer"] == 10 and ranked["rule_check"] == check
    # one family leaves nothing to validate an early exit on
    assert validated_depth([0, 10], np.asarray([[0.99], [0.99]]), ["a"], 0.005)[0] == 10


def test_the_mean_guard_takes_an_early_exit_that_one_noisy_family_would_veto():
    # eight families: seven lose nothing at depth 0, one loses 0.03; the worst-family guard
    # runs every layer, the mean guard (0.03 / 8 = 0.00375 <= 0.005) stops at depth 0
    shallow = [0.99] * 7 + [0.95]
    deep = [0.99] * 7 + [0.98]
    fold_auroc = np.asarray([shallow, deep])
    families = [f"f{i}" for i in range(8)]
    worst_depth, worst = validated_depth([0, 10], fold_auroc, families, 0.005, "mean", "worst")
    mean_depth, mean = validated_depth([0, 10], fold_auroc, families, 0.005, "mean", "mean")
    assert (worst_depth, mean_depth) == (10, 0)
    assert worst["worst_loss"] == mean["worst_loss"] == pytest.approx(0.03)
    assert mean["mean_loss"] == pytest.approx(0.03 / 8) and mean["passed"]
    assert not worst["passed"]
    rows = _rows(fold_auroc.tolist(), [0, 10])
    assert choose_depth(rows, "auto", 0.005, "mean_fold_auroc", "mean")["max_layer"] == 0
    assert choose_depth(rows, "auto", 0.005, "mean_fold_auroc", "worst")["max_layer"] == 10
    # two lossy families: each, left out, is charged 0.03 (the other seven's mean allows depth
    # 0), the rest nothing (with both lossy ones in, the mean needs depth 10): mean 0.0075
    two = np.asarray([[0.99] * 6 + [0.95, 0.95], [*deep[:6], 0.98, 0.98]])
    check = depth_rule_check([0, 10], two, families, 0.005, "mean", "mean")
    assert [r["max_layer"] for r in check["families"]] == [10] * 6 + [0, 0]
    assert check["mean_loss"] == pytest.approx(0.0075) and not check["passed"]
    assert validated_depth([0, 10], two, families, 0.005, "mean", "mean")[0] == 10
    with pytest.raises(ValueError, match="unknown depth guard"):
        validated_depth([0, 10], fold_auroc, families, 0.005, "mean", "median")


def test_the_scorer_takes_its_depth_guard_from_the_config_else_from_the_bank():
    shallow = [0.99] * 7 + [0.95]
    deep = [0.99] * 7 + [0.98]
    rows = _rows([shallow, deep], [0, 10])
    for row in rows:
        row |= {"neurons": [f"L{row['max_layer']}.N1"], "weights": [1.0]}
        row |= {"norm_mean": [0.0], "norm_std": [1.0], "intercept": 0.0}
    tables = {"code": {"all": {"depths": rows}}}

    def picked(heads: dict, **neurons) -> str:
        bank = _bank({"model": "m", "quality_key": "mean_fold_auroc", "domains": tables} | heads)
        config = NeuronsConfig(bank="b", domain="code", **neurons)
        return str(NeuronSelection.from_config(config, ScoringConfig(), "m", bank).neurons[0])

    # a guard in the config wins over the bank's
    assert picked({}, depth_guard="mean") == "L0.N1" and picked({}, depth_guard="worst") == "L10.N1"
    # auto (the default): the guard and loss the bank was fitted with, worst where it records none
    assert NeuronsConfig(bank="b", domain="code").depth_guard == "auto"
    assert NeuronsConfig(bank="b", domain="code").max_quality_loss == "auto"
    fitted = lambda guard, loss=0.005: {  # noqa: E731
        "settings": {"heads": {"depth_guard": guard}},
        "max_quality_loss": loss,
    }
    assert picked(fitted("mean")) == "L0.N1" and picked(fitted("worst")) == "L10.N1"
    assert picked({}) == "L10.N1"  # a bank from before session 14: the worst guard
    # the bank's loss too: 0.03 of a left-out family is within a recorded 0.05
    assert picked(fitted("worst", loss=0.05)) == "L0.N1"
    assert picked(fitted("worst", loss=0.05), max_quality_loss=0.005) == "L10.N1"
    with pytest.raises(ValueError, match="depth_guard"):
        NeuronsConfig(bank="b", domain="code", depth_guard="median")
    with pytest.raises(ValueError, match="max_quality_loss"):
        NeuronsConfig(bank="b", domain="code", max_quality_loss=2.0)


def test_a_bank_without_per_family_aurocs_cannot_resolve_auto():
    rows = [{"max_layer": 0, "worst_fold_auroc": 0.99}, {"max_layer": 1, "worst_fold_auroc": 0.99}]
    with pytest.raises(BankError, match="fold_auroc"):
        choose_depth(rows, "auto", 0.005)
    assert choose_depth(rows, 0, 0.005)["max_layer"] == 0


def test_a_bank_names_the_statistic_that_ranks_its_depths():
    # the worst family and the mean over families pick different depths here, both validated
    fold_auroc = [
        [0.966, 0.969, 0.975, 0.974],
        [0.991, 0.959, 0.993, 0.994],
        [0.954, 0.950, 0.965, 0.970],
    ]
    heads = {"model": "m", "domains": {"code": {"rosetta": {"depths": _rows(fold_auroc)}}}}
    old, new = _bank(heads), _bank(heads | {"quality_key": "mean_fold_auroc"})
    assert quality_key(old) == "worst_fold_auroc" and quality_key(new) == "mean_fold_auroc"
    assert auto_layer(old, "m", "code", True, 0.01) == 0
    assert auto_layer(new, "m", "code", True, 0.01) == 1


def test_depth_rule_check_judges_each_family_on_a_depth_chosen_without_it():
    # family c needs depth 10; a and b are flat, so a rule that never saw c stops at depth 0
    fold_auroc = np.array([[0.99, 0.99, 0.90], [0.99, 0.99, 0.95], [0.99, 0.99, 0.99]])
    check = depth_rule_check([0, 5, 10], fold_auroc, ["a", "b", "c"], 0.005, "worst")
    assert [(r["family"], r["max_layer"]) for r in check["families"]] == [
        ("a", 10),
        ("b", 10),
        ("c", 0),
    ]
    assert check["worst_loss"] == pytest.approx(0.09) and not check["passed"]
    assert check["families"][0]["loss"] == 0.0
    # the mean over a and c (0.945, 0.97, 0.99) also needs depth 10 when b is left out
    mean = depth_rule_check([0, 5, 10], fold_auroc, ["a", "b", "c"], 0.005, "mean")
    assert mean["families"][1]["max_layer"] == 10
    assert depth_rule_check([0], fold_auroc[:1, :1], ["a"], 0.005)["worst_loss"] is None


def test_paired_depth_quality_compares_each_family_with_itself():
    # family c is hard at every depth; a and b lose 0.04 when the head stops at depth 0
    fold_auroc = np.array([[0.95, 0.95, 0.90], [0.99, 0.99, 0.90]])
    worst = depth_quality(fold_auroc, "worst")
    paired = depth_quality(fold_auroc, "paired")
    assert auto_depth(list(zip([0, 10], worst, strict=True)), 0.005) == 0  # c hides the loss
    assert auto_depth(list(zip([0, 10], paired, strict=True)), 0.005) == 10
    assert paired == pytest.approx([0.86, 0.90])
    assert depth_quality(fold_auroc, "mean") == pytest.approx([0.9333333, 0.96])
    with pytest.raises(ValueError, match="unknown depth statistic"):
        depth_quality(fold_auroc, "median")


def test_rosetta_only_auto_takes_the_all_neuron_head_even_where_rosetta_validated_better():
    def table(neuron: str, quality: float) -> dict:
        row = _rows([[quality] * 3])[0] | {
            "neurons": [neuron],
            "weights": [1.0],
            "norm_mean": [0.0],
            "norm_std": [1.0],
            "intercept": 0.0,
        }
        return {"depths": [row]}

    bank = _bank(
        {
            "model": "m",
            "domains": {"code": {"rosetta": table("L0.N1", 0.99), "all": table("L0.N2", 0.95)}},
        }
    )
    scoring = ScoringConfig()
    pick = {
        pool: NeuronSelection.from_config(
            NeuronsConfig(bank="b", domain="code", rosetta_only=pool), scoring, "m", bank
        ).neurons[0]
        for pool in ("auto", True, False)
    }
    assert str(pick["auto"]) == "L0.N2" == str(pick[False]) and str(pick[True]) == "L0.N1"


# the default (rule 26, sessions 28-29), the previous defaults, the CPT study's
@pytest.mark.parametrize(
    "bank",
    [
        "offline-12",
        "offline-11",
        "offline-10",
        "offline-9",
        "offline-7",
        "offline-5",
        "offline-4",
        "offline-3",
    ],
)
def test_the_committed_banks_record_what_the_rule_picks_today(bank):
    # the recorded auto depths and rule checks are what `rosetta-filter domains` would write
    # with the current rule (a rule change that forgets to re-rank the bank fails here)
    import json

    path = Path(__file__).resolve().parents[1] / f"configs/banks/{bank}/heads.json"
    heads = json.loads(path.read_text())
    settings = heads["settings"]["heads"]
    statistic = settings["depth_statistic"]
    guard = settings.get("depth_guard", "worst")  # banks before session 14 had only this guard
    for domain, pools in heads["domains"].items():
        families = heads["labelled_corpus"]["families"][domain]
        for pool, table in pools.items():
            ranked = rank_depths(
                table["depths"], families, heads["max_quality_loss"], statistic, guard
            )
            assert ranked["auto_max_layer"] == table["auto_max_layer"], (domain, pool)
            recorded = table["rule_check"]  # a later check may add fields (mean_loss)
            assert {k: ranked["rule_check"][k] for k in recorded} == recorded, (domain, pool)
