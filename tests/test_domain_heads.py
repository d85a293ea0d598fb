"""Source-disjoint neuron choice and domain heads: planted ground truth, no model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from discovery.domain.heads import (
    HeadSettings,
    auto_depth,
    depth_quality,
    depth_rule_check,
    fit_head,
)
from discovery.domain.lofo import (
    LabelledDocs,
    domain_stats,
    family_folds,
    fold_plan,
    rank_neurons,
)
from discovery.errors import DiscoveryError
from rosetta_filter.errors import BankError
from rosetta_filter.evaluation.metrics import auroc
from rosetta_filter.scoring.heads import choose_depth


def _labels(per_family: dict[tuple[str, str], int]) -> LabelledDocs:
    domains = [d for (d, _), n in per_family.items() for _ in range(n)]
    families = [f for (_, f), n in per_family.items() for _ in range(n)]
    return LabelledDocs(np.asarray(domains), np.asarray(families))


def test_auroc_matches_the_pairwise_definition():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 4, size=(30, 3)).astype(float)  # ties on purpose
    positive = rng.random(30) < 0.4
    pos, neg = values[positive], values[~positive]
    expected = [
        np.mean([(p > n) + 0.5 * (p == n) for p in pos[:, j] for n in neg[:, j]]) for j in range(3)
    ]
    assert np.allclose(auroc(values, positive), expected)


def test_a_source_specific_neuron_loses_to_a_domain_general_one():
    """Neuron 0 knows family f1 only (perfect on it); neuron 1 knows the domain (slightly
    noisy everywhere). Ranked on f1 alone, 0 wins; source-disjoint, 1 must win, and 1 is also
    the better neuron on a family that neither ranking saw (f4)."""
    rng = np.random.default_rng(1)
    sizes = {("code", "f1"): 40, ("code", "f2"): 40, ("code", "f3"): 40, ("prose", "g1"): 60}
    sizes |= {("prose", "g2"): 60, ("code", "f4"): 40}
    labels = _labels(sizes)
    code = labels.domains == "code"
    f1 = labels.families == "f1"
    specific = np.where(f1, 5.0, 0.0) + rng.normal(0, 0.3, len(code))
    general = np.where(code, 1.0, 0.0) + rng.normal(0, 0.45, len(code))
    values = np.stack([specific, general], axis=1)

    probe = f1 | ~code  # what the old ranking saw: one family
    assert auroc(values[probe], code[probe])[0] == 1.0 > auroc(values[probe], code[probe])[1]

    choose = labels.families != "f4"
    chosen = LabelledDocs(labels.domains[choose], labels.families[choose])
    stats = domain_stats(values[choose], chosen, "code")
    assert stats.worst[0] < 0.7 < 0.9 < stats.worst[1]
    assert rank_neurons(stats, [0, 1]).tolist() == [1, 0]

    unseen = (labels.families == "f4") | ~code
    on_unseen = auroc(values[unseen], code[unseen])
    assert on_unseen[1] > 0.9 > 0.7 > on_unseen[0]


def test_family_folds_hold_out_one_family_of_every_domain():
    labels = _labels(
        {("a", "a1"): 3, ("a", "a2"): 3, ("a", "a3"): 3, ("b", "b1"): 2, ("b", "b2"): 2}
    )
    folds = family_folds(labels, "a")
    assert len(folds) == 3
    for i, held in enumerate(folds):
        assert set(labels.families[held & (labels.domains == "a")]) == {f"a{i + 1}"}
        assert set(labels.families[held & (labels.domains == "b")]) == {f"b{i % 2 + 1}"}


def test_cross_validation_ranks_each_folds_candidates_without_its_held_out_family():
    """Neuron 0 is perfect on family f1 and noise on f2; neuron 1 is a noisy general detector.
    Ranked on every family, neuron 1 wins (worst family); a fold that holds out f2 has only f1
    to rank on, picks neuron 0 and must report the failure on f2, which a ranking that had
    seen f2 would hide."""
    rng = np.random.default_rng(3)
    labels = _labels(
        {("code", "f1"): 60, ("code", "f2"): 60, ("prose", "g1"): 40, ("prose", "g2"): 40}
    )
    code, f1 = labels.domains == "code", labels.families == "f1"
    specific = np.where(f1, 4.0, 0.0) + rng.normal(0, 0.3, len(code))
    general = np.where(code, 1.0, 0.0) + rng.normal(0, 0.5, len(code))
    values = np.stack([specific, general], axis=1)
    stats = domain_stats(values, labels, "code")
    assert rank_neurons(stats, [0, 1]).tolist() == [1, 0]
    plan = fold_plan(values, labels, "code")
    held_f2 = [i for i, m in enumerate(plan.held) if set(labels.families[m & code]) == {"f2"}]
    assert rank_neurons(plan.train_stats[held_f2[0]], [0, 1]).tolist() == [0, 1]
    head = fit_head(values, labels, "code", stats, np.arange(2), HeadSettings(candidates=1))
    assert head.columns == [1]  # the final head ranks on every family
    assert head.fold_auroc[held_f2[0]] < 0.75 < 0.85 < head.fold_auroc[1 - held_f2[0]]


def test_one_family_is_refused():
    labels = _labels({("a", "a1"): 3, ("b", "b1"): 3})
    with pytest.raises(DiscoveryError, match="at least 2"):
        domain_stats(np.zeros((6, 2)), labels, "a")


def test_the_head_recovers_planted_weights():
    rng = np.random.default_rng(0)
    n, d = 900, 40
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, d) + rng.uniform(-2, 2, d)
    z = (x - x.mean(0)) / x.std(0)
    logit = 2.0 * z[:, 3] - 1.5 * z[:, 7] + 1.0 * z[:, 12]
    y = rng.random(n) < 1 / (1 + np.exp(-3 * logit))
    families = np.asarray([f"{'p' if t else 'n'}{i % 3}" for i, t in enumerate(y)])
    labels = LabelledDocs(np.where(y, "dom", "rest"), families)
    stats = domain_stats(x, labels, "dom")
    head = fit_head(x, labels, "dom", stats, np.arange(d), HeadSettings(max_neurons=8))
    weights = dict(zip(head.columns, head.weights, strict=True))
    top3 = sorted(weights, key=lambda c: -abs(weights[c]))[:3]
    assert sorted(top3) == [3, 7, 12]
    assert weights[3] > 0 > weights[7] and weights[12] > 0
    assert abs(weights[3] / weights[7]) == pytest.approx(2 / 1.5, rel=0.35)
    assert len(head.columns) <= 8 and head.worst > 0.9
    # the head's own normalisation reproduces its training-time scores
    raw = x[:, head.columns]
    score = head.intercept + ((raw - head.norm_mean) / head.norm_std) @ np.asarray(head.weights)
    assert auroc(score[:, None], y)[0] > 0.9


def test_auto_depth_takes_the_shallowest_within_the_loss():
    table = [(0, 0.90), (2, 0.985), (4, 0.99), (6, 0.991)]
    assert auto_depth(table, 0.005) == 4
    assert auto_depth(table, 0.1) == 0
    rows = [{"max_layer": d, "worst_fold_auroc": q} for d, q in table]
    assert choose_depth(rows, "auto", 0.005)["max_layer"] == 4
    assert choose_depth(rows, 5, 0.005)["max_layer"] == 4
    assert choose_depth(rows, None, 0.005)["max_layer"] == 6
    with pytest.raises(BankError, match="shallowest head"):
        choose_depth([{"max_layer": 3, "worst_fold_auroc": 1.0}], 1, 0.0)
    # a bank that ranks depths by the mean over families: the noisy worst fold is ignored
    rows = [
        {"max_layer": 0, "worst_fold_auroc": 0.90, "mean_fold_auroc": 0.990},
        {"max_layer": 1, "worst_fold_auroc": 0.99, "mean_fold_auroc": 0.992},
    ]
    assert choose_depth(rows, "auto", 0.005, "mean_fold_auroc")["max_layer"] == 0
    assert choose_depth(rows, "auto", 0.005)["max_layer"] == 1


def test_rosetta_only_auto_takes_the_pool_that_validated_better_then_the_cheapest():
    import pyarrow as pa

    from rosetta_filter.scoring.bank import NeuronBank
    from rosetta_filter.scoring.heads import choose_pool

    def table(quality: list[float]) -> dict:
        return {"depths": [{"max_layer": d, "worst_fold_auroc": q} for d, q in enumerate(quality)]}

    heads = {
        "model": "m",
        "domains": {
            "code": {"rosetta": table([0.90, 0.95]), "all": table([0.97, 0.99])},
            "prose": {"rosetta": table([0.99, 0.99]), "all": table([0.99, 0.99])},
            # Rosetta is 0.001 better but needs layer 1: within the loss, the cheaper pool wins
            "legal": {"rosetta": table([0.90, 0.991]), "all": table([0.99, 0.99])},
            "math": {
                "rosetta": table([0.90, 0.90]),
                "consistent": table([0.95, 0.995]),
                "all": table([0.90, 0.96]),
            },
        },
    }
    bank = NeuronBank(Path("b"), {}, pa.table({}), pa.table({}), heads)
    assert choose_pool(bank, "m", "code", "auto", 0.005) is False  # all neurons validated better
    assert choose_pool(bank, "m", "code", 0, 0.005) is False
    assert choose_pool(bank, "m", "prose", "auto", 0.005) is True  # a tie keeps the prior
    assert choose_pool(bank, "m", "legal", "auto", 0.005) is False
    assert choose_pool(bank, "m", "legal", "auto", 0.0) is True  # no loss accepted
    assert choose_pool(bank, "m", "math", "auto", 0.005) == "consistent"


def test_a_bank_names_the_statistic_that_ranks_its_depths():
    import pyarrow as pa

    from rosetta_filter.scoring.bank import NeuronBank
    from rosetta_filter.scoring.heads import auto_layer, quality_key

    rows = [
        {"max_layer": 0, "worst_fold_auroc": 0.90, "mean_fold_auroc": 0.990},
        {"max_layer": 5, "worst_fold_auroc": 0.99, "mean_fold_auroc": 0.992},
    ]
    heads = {"model": "m", "domains": {"code": {"rosetta": {"depths": rows}}}}
    old = NeuronBank(Path("b"), {}, pa.table({}), pa.table({}), heads)
    new = NeuronBank(
        Path("b"), {}, pa.table({}), pa.table({}), heads | {"quality_key": "mean_fold_auroc"}
    )
    assert quality_key(old) == "worst_fold_auroc" and quality_key(new) == "mean_fold_auroc"
    assert auto_layer(old, "m", "code", True, 0.005) == 5
    assert auto_layer(new, "m", "code", True, 0.005) == 0


def test_depth_rule_check_judges_each_family_on_a_depth_chosen_without_it():
    # family c needs depth 10; a and b are flat, so a rule that never saw c stops at depth 0
    fold_auroc = np.array([[0.99, 0.99, 0.90], [0.99, 0.99, 0.95], [0.99, 0.99, 0.99]])
    check = depth_rule_check([0, 5, 10], fold_auroc, ["a", "b", "c"], 0.005, "worst")
    assert [(r["family"], r["max_layer"]) for r in check["families"]] == [
        ("a", 10),
        ("b", 10),
        ("c", 0),
    ]
    assert check["worst_loss"] == pytest.approx(0.09)
    assert check["families"][0]["loss"] == 0.0
    # the mean over a and c (0.945, 0.97, 0.99) also needs depth 10 when b is left out
    assert (
        depth_rule_check([0, 5, 10], fold_auroc, ["a", "b", "c"], 0.005, "mean")["families"][1][
            "max_layer"
        ]
        == 10
    )
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
