"""The pooled pass (every MLP neuron of every layer, document-pooled: the pass behind
``rosetta-filter domains``, ``evaluate --cache`` and the cross-fit) pooling only the method it
caches against pooling every method, in one run on the same documents.

Contenders, alternated round by round (the machine is shared), medians reported:

  every    the engine over all layers with ``PoolingParams()``: mean, max, topk_mean and
           frac_active of all ``n_layers * d_mlp`` neurons per batch (before session 28);
  asked    the same engine asking for ``mean`` alone (what ``pooled_activations`` asks for).

Both produce the same ``mean`` rows (checked bit for bit here); the difference is pooling work
only. Documents: log-uniform lengths from the stdlib and licences (``mixed_length_documents``),
cut at the scorer's 512 tokens. Run ``python -m bench.pooled_pass --help``.
"""

from __future__ import annotations

import argparse
import json

import torch

from bench.common import median, mixed_length_documents, rotated, timed
from rosetta_filter.activations.engine import ActivationEngine
from rosetta_filter.activations.forward import PoolingParams
from rosetta_filter.activations.models import load_model
from rosetta_filter.activations.taps import TapPlan
from rosetta_filter.config import ModelConfig, TokensConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--docs", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    loaded = load_model(ModelConfig(name=args.model, dtype=args.dtype))
    plan = TapPlan.whole_layers(range(loaded.arch.n_layers), loaded.arch)
    tokens = TokensConfig(max_tokens=512, long_docs="truncate")
    docs = mixed_length_documents(loaded.tokenizer, args.docs, max_tokens=600)
    n_tokens = sum(min(512, len(loaded.tokenizer(d)["input_ids"])) for d in docs)
    contenders = {
        "every": PoolingParams(),
        "asked": PoolingParams(methods=("mean",)),
    }
    engines = {
        name: ActivationEngine(loaded, plan, tokens=tokens, pooling=params)
        for name, params in contenders.items()
    }
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    means: dict[str, torch.Tensor] = {}
    for round_no in range(args.rounds):
        for name in rotated(list(contenders), round_no):
            results, timing = timed(lambda name=name: list(engines[name].run(docs)))
            seconds[name].append(timing.wall_s)
            means[name] = torch.stack([r.pooled["mean"] for r in results])
            print(f"round {round_no} {name}: {timing.wall_s:.1f} s (others: {timing.others_cores})")
    assert torch.equal(means["every"], means["asked"]), "mean rows differ"
    report = {
        "docs": len(docs),
        "tokens": n_tokens,
        "dtype": str(loaded.model.dtype),
        "docs_per_s": {name: len(docs) / median(s) for name, s in seconds.items()},
        "tokens_per_s": {name: n_tokens / median(s) for name, s in seconds.items()},
        "speedup_asked_vs_every": median(seconds["every"]) / median(seconds["asked"]),
        "mean_rows_identical": True,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
