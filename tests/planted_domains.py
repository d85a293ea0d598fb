"""A planted two-domain world for domain heads: "ex" documents carry the trigger word " x" of
the planted tiny model, "plain" ones never do; each source family draws from its own words.
``heads_bank`` (conftest) runs `rosetta-filter domains` on it."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
from test_pipeline import WORDS, write_jsonl

from discovery.domain.job import DomainsConfig, build_domain_bank
from rosetta_filter.scoring.bank import load_bank, write_bank

# "ex" documents carry the trigger word " x"; each family draws from its own slice of words.
FAMILIES = {
    ("ex", "fa", "choose"): WORDS[:10],
    ("ex", "fb", "choose"): WORDS[10:20],
    ("ex", "fc", "heldout"): WORDS[20:],
    ("plain", "pa", "choose"): WORDS[:12],
    ("plain", "pb", "choose"): WORDS[12:],
    ("plain", "pc", "heldout"): WORDS[5:25],
}


def family_docs(role: str, per_family: int = 16) -> list[dict]:
    rng = random.Random(role)
    docs = []
    for (domain, family, family_role), words in FAMILIES.items():
        if family_role != role:
            continue
        for i in range(per_family):
            text = [rng.choice(words) for _ in range(rng.randint(10, 30))]
            if domain == "ex":
                text.insert(rng.randrange(1, len(text)), "x")
            docs.append(
                {"id": f"{family}{i}", "text": " ".join(text), "domain": domain, "family": family}
            )
    return docs


def make_format1_bank(root: Path) -> Path:
    rows = [  # layer, index, Rosetta, consistent group, probe AUROC of ex and plain
        (0, 5, True, True, 0.99, 0.01),
        (1, 3, True, False, 0.6, 0.4),
        (2, 7, False, False, 0.5, 0.5),
    ]
    neurons = pa.Table.from_pylist(
        [
            {
                "model": "tiny",
                "layer": layer,
                "index": index,
                "is_rosetta": rosetta,
                "consistent": consistent,
                "preferred_domain": "ex",
                "auroc__ex": ex,
                "auroc__plain": plain,
            }
            for layer, index, rosetta, consistent, ex, plain in rows
        ]
    )
    meta = {
        "models": [{"id": "tiny", "family": "llama", "layers": 3, "d_mlp": 64}],
        "probe_corpus": {"domains": ["ex", "plain"]},
    }
    pairs = pa.table({c: [] for c in ("model_a", "neuron_a", "model_b", "neuron_b", "r")})
    return write_bank(root / "bank", meta, neurons, pairs)


def planted_domains_config(
    planted_model: Path, format1_bank: Path, labelled: Path, out: Path, cache: Path
) -> DomainsConfig:
    """The heads job for the planted model: small heads, one worker, the tiny model's bank."""
    return DomainsConfig.model_validate(
        {
            "bank": str(format1_bank),
            "out": str(out),
            "model": {"name": str(planted_model), "threads": 1},
            "bank_model": "tiny",
            "labelled": {"path": str(labelled)},
            "tokens": {"max_tokens": 64},
            "heads": {"candidates": 16, "max_neurons": 4, "workers": 1},
            "cache_dir": str(cache),
        }
    )


def make_heads_bank(planted_model: Path, format1_bank: Path, root: Path) -> Path:
    choose = write_jsonl(
        root / "choose.jsonl", [d | {"role": "choose"} for d in family_docs("choose")]
    )
    cfg = planted_domains_config(
        planted_model, format1_bank, choose, root / "bank2", root / "cache"
    )
    out, summary = build_domain_bank(cfg)
    assert summary["ex"]["rosetta"]["auto_max_layer"] == 0
    check = load_bank(out).heads["domains"]["ex"]["rosetta"]["rule_check"]
    families = sorted({d["family"] for d in family_docs("choose") if d["domain"] == "ex"})
    assert [r["family"] for r in check["families"]] == families
    assert check["worst_loss"] == max(r["loss"] for r in check["families"])
    # cached pooled pass; one spawned process per domain gives what one process gives
    parallel = cfg.heads.model_copy(update={"workers": 2})
    again, _ = build_domain_bank(
        cfg.model_copy(update={"out": str(root / "bank3"), "heads": parallel})
    )
    assert len(list((root / "cache").glob("pooled-*/shard-*.npz"))) == 1
    assert load_bank(again).heads["domains"] == load_bank(out).heads["domains"]
    return out
