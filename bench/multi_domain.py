"""Tagging five domains in one forward pass vs one domain vs five separate passes.

All variants stop at the same layer (the deepest any of the five domain heads of the committed
bank needs at ``--max-layer``), so the measured ratio is the cost of reading and combining more
neurons, not of running more layers. Five separate runs cost five forward passes by
construction; this measures one domain's pass and the five-domain pass side by side, alternating
their order over rounds, and prints the median ratio.

    python bench/multi_domain.py --docs 64 --rounds 3
"""

from __future__ import annotations

import argparse
import json

import torch

from bench.common import default_bank, median, mixed_length_documents, rotated, timed
from rosetta_filter.config import ModelConfig, NeuronsConfig, ScoringConfig
from rosetta_filter.scoring.bank import load_bank
from rosetta_filter.scoring.scorer import NeuronSelection, Scorer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-layer", type=int, default=15)
    parser.add_argument("--dtype", default="auto")
    args = parser.parse_args()
    bank = default_bank()
    domains = load_bank(bank).domains
    model = ModelConfig(name="smollm2-135m", dtype=args.dtype)
    scoring = ScoringConfig(max_tokens=512)
    common = {"bank": bank, "bank_model": "smollm2-135m", "max_layer": args.max_layer}
    one = Scorer.from_config(model, NeuronsConfig(domain=domains[0], **common), scoring)
    every = Scorer.from_config(
        model, NeuronsConfig(domains=domains, **common), scoring, loaded=one.model
    )
    depth = max(n.layer for n in every.read)
    # the single-domain scorer stops at the same depth as the five-domain one
    deepest = tuple(n for n in every.read if n.layer == depth)[:1]
    one = Scorer(
        one.model,
        one.selection,
        scoring,
        sets={"depth": NeuronSelection(deepest, (1.0,), None, None)},
    )
    texts = mixed_length_documents(one.tokenizer, args.docs, max_tokens=512)
    scorers = {"one domain": one, f"{len(domains)} domains": every}
    seconds: dict[str, list[float]] = {name: [] for name in scorers}
    for round_no in range(args.rounds):
        for name in rotated(list(scorers), round_no):
            _, timing = timed(lambda s=scorers[name]: list(s.score(texts)))
            seconds[name].append(timing.wall_s)
    base = median(seconds["one domain"])
    result = {
        "bank": bank,
        "docs": len(texts),
        "layers_run": depth + 1,
        "neurons_read": {"one domain": len(one.read), f"{len(domains)} domains": len(every.read)},
        "median_seconds": {name: median(s) for name, s in seconds.items()},
        f"ratio_{len(domains)}_domains_one_pass_vs_one": median(seconds[f"{len(domains)} domains"])
        / base,
        f"ratio_{len(domains)}_separate_passes_vs_one": float(len(domains)),
        "threads": torch.get_num_threads(),
    }
    result["seconds_per_round"] = seconds
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
