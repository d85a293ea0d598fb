"""The default bank (configs/banks/offline-12, format 2) with the real SmolLM2-135M: every
domain's default head ranks a clear document of its domain above clear documents of the
others. Slow tier: needs `rosetta-filter models pull smollm2-135m`."""

from __future__ import annotations

from pathlib import Path

import pytest

from rosetta_filter.config import load_config
from rosetta_filter.registry import catalog as registry
from rosetta_filter.scoring.bank import FORMAT_VERSION, load_bank
from rosetta_filter.scoring.scorer import Scorer

REPO = Path(__file__).resolve().parents[1]
# Written here for this test: none of them is in the labelled corpus.
DOCS = {
    "code": "fn main() {\n    let xs: Vec<u32> = (0..10).map(|i| i * i).collect();\n"
    '    for x in &xs {\n        println!("{}", x);\n    }\n}\n',
    "legal": "The Licensee shall not sublicense, assign or transfer any rights granted under "
    "this Agreement without the prior written consent of the Licensor. This Agreement is "
    "governed by the laws of the State of New York, and any dispute arising hereunder shall "
    "be resolved exclusively in its courts.",
    "math": "Let $G$ be a finite group and $H \\leq G$ a subgroup. By Lagrange's theorem, "
    "$|H|$ divides $|G|$. Proof: the left cosets $gH$ partition $G$ and each has exactly "
    "$|H|$ elements, hence $|G| = [G:H]\\,|H|$. $\\square$",
    "medical": "Hypertension: a chronic elevation of arterial blood pressure, usually defined "
    "as a systolic pressure above 140 mmHg. First-line treatment includes thiazide diuretics "
    "and ACE inhibitors; monitor serum potassium and renal function.",
    "prose": "The rain had stopped by the time she reached the harbour. Gulls wheeled over "
    "the empty boats, and somewhere behind the warehouses a dog barked twice and then fell "
    "silent, as if it, too, had remembered something it would rather forget.",
}


@pytest.mark.slow
def test_each_default_head_ranks_its_own_domain_first():
    if registry.cached_path(registry.registry_entry("smollm2-135m")) is None:
        pytest.skip("smollm2-135m is not pulled: run `rosetta-filter models pull smollm2-135m`")
    cfg = load_config(REPO / "configs" / "demo.yaml")
    bank_dir = REPO / "configs" / "banks" / "offline-12"
    assert load_bank(bank_dir).meta["format_version"] == FORMAT_VERSION
    texts = list(DOCS.values())
    for domain in DOCS:
        neurons = cfg.neurons.model_copy(update={"bank": str(bank_dir), "domain": domain})
        scorer = Scorer.from_config(cfg.model, neurons, cfg.scoring, cfg.runtime.batching)
        assert scorer.selection.intercept is not None  # the head, not top-k
        scores = dict(zip(DOCS, (d.score for d in scorer.score(texts)), strict=True))
        assert max(scores, key=scores.get) == domain, (domain, scores)
