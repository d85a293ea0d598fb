"""Discovery end to end on planted ground truth: permuted twins and a trigger neuron."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from planting import permute_mlp_neurons

from discovery.config import DiscoverConfig
from discovery.errors import DiscoveryError
from discovery.pipeline import discover
from rosetta_filter.activations import precision
from rosetta_filter.scoring.bank import load_bank, select_neurons

WORDS = (
    "the cat sat on a mat and looked at the moon while she walked along the river "
    "thinking of summer evenings the patient presented with fever and cough"
).split()


def probe_corpus(path, n_per_domain: int = 14):
    """Domain 'ex' documents contain the trigger word ' x'; domain 'plain' ones never do."""
    rng = random.Random(0)
    rows = []
    for domain in ("ex", "plain"):
        for i in range(n_per_domain):
            words = [rng.choice(WORDS) for _ in range(rng.randint(20, 60))]
            if domain == "ex":
                for _ in range(3):
                    words.insert(rng.randrange(1, len(words)), "x")
            rows.append(
                {"id": f"{domain}{i}", "text": " ".join(words), "domain": domain, "split": "probe"}
            )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def twins(planted_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("twins")
    return {
        name: permute_mlp_neurons(planted_model, root / name, seed)
        for name, seed in (("twin1", 1), ("twin2", 2))
    }


def config(tmp_path, anchor_dir, partners: dict, **correlation) -> DiscoverConfig:
    return DiscoverConfig.model_validate(
        {
            "corpus": {"path": str(probe_corpus(tmp_path / "probe.jsonl"))},
            "models": [{"id": "anchor", "model": {"name": str(anchor_dir), "threads": 1}}]
            + [{"id": pid, "model": {"name": str(d), "threads": 1}} for pid, d in partners.items()],
            "tokens": {"max_tokens": 64, "long_docs": "windows"},
            "correlation": {"min_r": 0.5, "candidates": 8, "sketch_size": 256, **correlation},
            "bank": {"dir": str(tmp_path / "bank"), "top_per_domain": 4},
        }
    )


def test_permuted_twins_are_matched_exactly_and_the_null_finds_far_fewer(
    planted_model, twins, tmp_path
):
    partners = {name: d for name, (d, _) in twins.items()}
    result = discover(config(tmp_path, planted_model, partners))
    bank = load_bank(result.bank_dir)
    anchor_rows = {(r["layer"], r["index"]): r for r in bank.rows("anchor") if r["is_rosetta"]}
    summary = result.summary
    d = 3 * 64
    # Nearly every neuron has its twin as best buddy in both partners (a few neurons that are
    # constant on this corpus cannot be matched), with r ~ 1, and the groups are consistent.
    assert summary["rosetta"] >= 0.9 * d
    assert summary["rosetta_null"] < 0.2 * summary["rosetta"]
    assert summary["consistent"] == summary["rosetta"]
    _, perms1 = twins["twin1"]
    wrong = 0
    for (layer, index), row in anchor_rows.items():
        assert row["mean_r"] > 0.99
        twin = {p.split(":")[0]: p.split(":")[1] for p in row["partners"]}["twin1"]
        wrong += twin != f"L{layer}.N{int(np.flatnonzero(perms1[layer] == index)[0])}"
    assert wrong == 0
    assert len(bank.pairs) >= 2 * summary["rosetta"]


@pytest.mark.parametrize("snippets_from", ["cache", "forward"])
def test_trigger_neuron_is_specialised_to_its_domain(planted_model, twins, tmp_path, snippets_from):
    partners = {name: d for name, (d, _) in twins.items()}
    cfg = config(tmp_path, planted_model, partners, null_baseline="none", consistency=False)
    result = discover(cfg.model_copy(update={"snippets_from": snippets_from}))
    bank = load_bank(result.bank_dir)
    row = next(r for r in bank.rows("anchor") if (r["layer"], r["index"]) == (0, 5))
    assert row["preferred_domain"] == "ex"
    assert row["auroc__ex"] > 0.99 and row["specialisation"] > 0.98
    assert row["is_rosetta"]
    chosen = select_neurons(bank, "anchor", "ex", top_k=1)
    assert (chosen[0]["layer"], chosen[0]["index"]) == (0, 5)
    assert row["norm_std__mean"] > 0
    # Both snippet sources find the trigger token, in two different documents: the token " x"
    # itself, or its canonical span "x" (spans leave out the leading space).
    snippets = result.summary["snippets"]["L0.N5"]
    assert len(snippets) == 2 and len({s["doc"] for s in snippets}) == 2
    marked = "⟦ x⟧" if snippets_from == "forward" else "⟦x⟧"
    assert all(marked in s["text"] for s in snippets), snippets


def test_bad_discovery_inputs_name_the_cause(planted_model, tmp_path):
    good = config(tmp_path, planted_model, {"b": planted_model}).model_dump()
    no_domain = tmp_path / "nodomain.jsonl"
    no_domain.write_text(json.dumps({"id": "a", "text": "hello"}) + "\n")
    with pytest.raises(DiscoveryError, match="no column 'domain'"):
        discover(DiscoverConfig.model_validate(good | {"corpus": {"path": str(no_domain)}}))
    with pytest.raises(DiscoveryError, match="failed to load"):
        broken = good | {
            "models": [good["models"][0], {"id": "b", "model": {"name": str(tmp_path / "nothing")}}]
        }
        discover(DiscoverConfig.model_validate(broken))
    one_domain = tmp_path / "one.jsonl"
    one_domain.write_text(
        "".join(
            json.dumps({"id": str(i), "text": "the cat sat", "domain": "a", "split": "probe"})
            + "\n"
            for i in range(4)
        )
    )
    with pytest.raises(DiscoveryError, match="single domain"):
        discover(DiscoverConfig.model_validate(good | {"corpus": {"path": str(one_domain)}}))


def test_saved_data_pass_serves_another_anchor_and_is_redone_when_inputs_change(
    planted_model, twins, tmp_path
):
    partners = {name: d for name, (d, _) in twins.items()}
    first = config(tmp_path, planted_model, partners, null_baseline="none")
    first = first.model_copy(update={"keep_caches": True})
    result = discover(first)
    assert result.summary["seconds"]["collect_reused"] is False
    # Same models and corpus, twin1 as the anchor against the original only: the data pass is
    # read back, not recomputed, and the permutation is still recovered.
    second = first.model_copy(
        update={
            "anchor": "twin1",
            "partners": ["anchor"],
            "bank": first.bank.model_copy(update={"dir": str(tmp_path / "bank2")}),
            "work_dir": f"{first.bank.dir}.work",
        }
    )
    again = discover(second)
    assert again.summary["seconds"]["collect_reused"] is True
    assert again.summary["rosetta"] >= 0.9 * 3 * 64
    bank = load_bank(again.bank_dir)
    assert bank.model_ids == ["twin1", "anchor"]
    assert set(bank.neurons.column("model").to_pylist()) == {"twin1", "anchor"}
    assert bank.meta["probe_corpus"]["span_models"] == ["anchor", "twin1", "twin2"]
    # A setting that changes activations invalidates the saved pass.
    changed = second.model_copy(
        update={"tokens": second.tokens.model_copy(update={"max_tokens": 32})}
    )
    assert discover(changed).summary["seconds"]["collect_reused"] is False


def test_a_data_pass_run_in_another_dtype_is_not_reused(
    planted_model, twins, monkeypatch, tmp_path
):
    """``dtype: auto`` resolves per machine: a pass saved where it meant bfloat16 must not be
    read back where it means float32 (the activations differ)."""
    partners = {name: d for name, (d, _) in twins.items()}
    cfg = config(tmp_path, planted_model, {"twin1": partners["twin1"]}, null_baseline="none")
    auto = [
        m.model_copy(update={"model": m.model.model_copy(update={"dtype": "auto"})})
        for m in cfg.models
    ]
    cfg = cfg.model_copy(update={"models": auto, "keep_caches": True})
    monkeypatch.setattr(precision, "fastest_cpu_matmul_dtype", lambda: torch.bfloat16)
    first = discover(cfg)
    assert [m["dtype"] for m in load_bank(first.bank_dir).meta["models"]] == ["bfloat16"] * 2
    assert discover(cfg).summary["seconds"]["collect_reused"] is True
    monkeypatch.setattr(precision, "fastest_cpu_matmul_dtype", lambda: torch.float32)
    again = discover(cfg)
    assert again.summary["seconds"]["collect_reused"] is False
    assert [m["dtype"] for m in load_bank(again.bank_dir).meta["models"]] == ["float32"] * 2


def test_summary_reports_polarization_of_every_matched_model(planted_model, twins, tmp_path):
    partners = {name: d for name, (d, _) in twins.items()}
    result = discover(
        config(tmp_path, planted_model, partners, null_baseline="none", consistency=False)
    )
    polar = result.summary["polarization"]
    assert set(polar) == {"anchor", "twin1", "twin2"}
    for metric in ("kurtosis", "sparsity", "specialisation"):
        entry = polar["anchor"][metric]
        assert entry["rosetta"]["n"] == result.summary["rosetta"]
        assert entry["rosetta"]["n"] + entry["rest"]["n"] == 3 * 64
        assert len(entry["rosetta"]["quantiles"]) == 21


def test_partners_must_be_other_known_models(planted_model, tmp_path):
    good = config(tmp_path, planted_model, {"b": planted_model}).model_dump()
    for partners in (["anchor"], ["nope"], []):
        with pytest.raises(ValueError, match="partners="):
            DiscoverConfig.model_validate(good | {"partners": partners})
