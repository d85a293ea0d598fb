"""Mixtures: one pass tags both planted domains, every document goes to at most one bucket,
each bucket is filled exactly to its share of the budget, and a run killed with SIGKILL in the
middle of a mixture resumes to byte-identical shards."""

from __future__ import annotations

import json
import random

import pyarrow.parquet as pq
import pytest
from cascade_banks import set_bands, shallow_scores
from planted_domains import family_docs
from test_pipeline import write_jsonl
from test_resume import assert_resumes_identically

from rosetta_filter.config import RunConfig
from rosetta_filter.filtering.pipeline import run
from rosetta_filter.filtering.selection import rest_key

MIXTURE = {"ex": 0.5, "plain": 0.3, "rest": 0.2}


def _docs(n: int) -> list[dict]:
    """``n`` planted documents: both families' kinds, plus some that neither domain claims."""
    base = family_docs("heldout", per_family=n // 2)
    rng = random.Random(1)
    for i, doc in enumerate(base):
        doc["text"] += " " + " ".join(rng.choice(["moon", "river"]) for _ in range(i % 5))
    return base


def _config(planted_model, heads_bank, data, out, budget, **extra) -> dict:
    return {
        "source": {"data_files": str(data)},
        "model": {"name": str(planted_model), "threads": 1},
        "neurons": {"bank": str(heads_bank), "bank_model": "tiny", "domains": ["ex", "plain"]},
        "scoring": {"max_tokens": 64},
        "selection": {"token_budget": budget, "mixture": MIXTURE, **extra},
        "output": {"dir": str(out), "write_rejected": True, "shard_max_rows": 7},
        "runtime": {"lookahead_docs": 8, "checkpoint_docs": 16, "batch_tokens": 512},
    }


def _rows(run_dir) -> list[dict]:
    rows = []
    for sub in ("data", "rejected"):
        for path in sorted((run_dir / sub).glob("*.parquet")):
            rows += [r | {"kept": sub == "data"} for r in pq.read_table(path).to_pylist()]
    return rows


def test_every_bucket_is_filled_exactly_to_its_share(planted_model, heads_bank, tmp_path):
    data = write_jsonl(tmp_path / "docs.jsonl", _docs(40))
    probe = run(
        RunConfig.model_validate(
            _config(planted_model, heads_bank, data, tmp_path / "probe", 10**9)
        )
    )
    budget = probe.stats.tokens_in // 3
    # "plain" claims only its stronger half: the weaker half (and nothing else) is left to rest
    plain = sorted(
        s
        for s in pq.read_table(tmp_path / "probe" / "attributes")["score__plain"].to_pylist()
        if s > 0
    )
    threshold = plain[len(plain) // 2]
    cfg = RunConfig.model_validate(
        _config(
            planted_model, heads_bank, data, tmp_path / "m", budget, thresholds={"ex": threshold}
        )
    )
    result = run(cfg)
    rows = _rows(tmp_path / "m")
    attributes = {r["id"]: r for r in pq.read_table(tmp_path / "m" / "attributes").to_pylist()}
    stats = json.loads((tmp_path / "m" / "stats.json").read_text())
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    buckets = manifest["selection"]["buckets"]
    claims = {}
    for row in rows:
        margins = {"ex": row["score__ex"] - threshold, "plain": row["score__plain"]}
        best = max(margins, key=lambda n: margins[n])
        claims[row["id"]] = best if margins[best] >= 0 else "rest"
        assert row["bucket"] == (claims[row["id"]] if row["kept"] else None)
    for name, share in MIXTURE.items():
        target = int(share * budget)
        members = [r for r in rows if claims[r["id"]] == name]
        if name == "rest":
            order = sorted(members, key=lambda r: rest_key(0, 0, attributes[r["id"]]["index"]))
        else:
            order = sorted(
                members, key=lambda r: (-r[f"score__{name}"], attributes[r["id"]]["index"])
            )
        kept = [r for r in order if r["kept"]]
        assert order[: len(kept)] == kept  # a prefix of the bucket's order
        tokens = sum(attributes[r["id"]]["total_tokens"] for r in kept)
        assert tokens <= target and tokens == buckets[name]["tokens"]
        assert tokens == stats["bucket_tokens"].get(name, 0)
        if len(kept) < len(order):  # within one document of the share
            assert tokens + attributes[order[len(kept)]["id"]]["total_tokens"] > target
    assert {claims[r["id"]] for r in rows} == {"ex", "plain", "rest"}
    assert result.stats.kept == sum(r["kept"] for r in rows) == sum(stats["bucket_docs"].values())


def test_a_mixture_needs_its_domains_tagged_and_shares_that_sum_to_one(
    planted_model, heads_bank, tmp_path
):
    base = _config(planted_model, heads_bank, tmp_path / "x.jsonl", tmp_path / "o", 100)
    base["neurons"]["domains"] = ["ex"]
    with pytest.raises(ValueError, match=r"\['plain'\] not tagged; list them in neurons.domains"):
        RunConfig.model_validate(base)
    base["selection"]["mixture"] = {"ex": 0.5, "rest": 0.4}
    with pytest.raises(ValueError, match=r"sum to 0\.9"):
        RunConfig.model_validate(base)
    del base["selection"]["token_budget"]
    base["selection"]["keep_fraction"] = 0.5
    base["selection"]["mixture"] = {"ex": 1.0}
    with pytest.raises(ValueError, match=r"set selection\.token_budget"):
        RunConfig.model_validate(base)


def test_sigkill_mid_mixture_resumes_to_identical_shards(planted_model, heads_bank, tmp_path):
    data = write_jsonl(tmp_path / "docs.jsonl", _docs(240))

    def config(out):
        return _config(planted_model, heads_bank, data, out, 3000)

    points = [("score", 16), ("score", 120), ("write", 1), ("write", 160)]
    assert assert_resumes_identically(tmp_path, config, points) >= 2
    ref = json.loads((tmp_path / "reference" / "stats.json").read_text())
    got = json.loads((tmp_path / "resumed" / "stats.json").read_text())
    assert got["bucket_tokens"] == ref["bucket_tokens"] and sum(ref["bucket_tokens"].values())


def test_a_mixture_behind_the_cascade_of_the_relative_score_resumes_identically(
    planted_model, cascade_bank, tmp_path
):
    """The default's cascade (rule 17) tagging both domains for a mixture: one shallow pass,
    one deep pass for the documents either domain's shallow head is unsure of; a run killed
    in either pass resumes to byte-identical shards and the same deferrals."""
    bank, heads = cascade_bank
    docs = _docs(240)
    scores = shallow_scores(planted_model, bank, [d["text"] for d in docs[:60]])
    set_bands(bank, heads, scores[len(scores) // 3], scores[2 * len(scores) // 3], 0.3)
    data = write_jsonl(tmp_path / "docs.jsonl", docs)

    def config(out):
        cfg = _config(planted_model, bank, data, out, 3000)
        cfg["neurons"] |= {"relative": True, "cascade": True, "max_layer": None}
        return cfg

    assert assert_resumes_identically(tmp_path, config, [("score", 16), ("write", 1)]) >= 1
    stats = [
        json.loads((tmp_path / n / "stats.json").read_text()) for n in ("reference", "resumed")
    ]
    assert 0 < stats[0]["deferred"] < 240 and stats[0]["deferred"] == stats[1]["deferred"]
    assert stats[0]["bucket_tokens"] == stats[1]["bucket_tokens"]
    manifest = json.loads((tmp_path / "reference" / "manifest.json").read_text())
    described = manifest["neurons"]["sets"]
    assert described["ex"]["cascade"]["shallow_relative_to"] == ["plain"]
    assert described["plain"]["cascade"]["shallow_relative_to"] == ["ex"]
