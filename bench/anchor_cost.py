"""What a document costs through each anchor model: the pooled pass over every layer (the pass
behind ``rosetta-filter domains`` and ``evaluate --cache``), side by side on the same documents.

A bank change that swaps the anchor (rule 7 of docs/DISCOVERY.md) trades quality for compute;
this prints the compute side as a ratio measured in one run. Each model is loaded once, outside
the timing; rounds alternate the order (the machine is shared) and medians are reported. The
documents are :func:`bench.common.mixed_length_documents` cut with the first model's tokenizer
(50 to ``--max-tokens`` tokens); each model counts tokens with its own tokenizer.

    python -m bench.anchor_cost --models smollm2-135m qwen2.5-coder-0.5b --docs 24 --rounds 2
"""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from bench.common import median, mixed_length_documents, rotated, timed
from rosetta_filter.activations.backends import build_engine, load_backend_model
from rosetta_filter.activations.taps import TapPlan
from rosetta_filter.config import BatchingConfig, ModelConfig, TokensConfig


def pooled_pass(loaded, texts: list[str], tokens: TokensConfig) -> int:
    """Every layer's MLP neurons, mean-pooled, for ``texts``; returns the tokens run."""
    arch = loaded.arch
    plan = TapPlan.whole_layers(range(arch.n_layers), arch)
    engine = build_engine("hf", loaded, plan, tokens=tokens, batching=BatchingConfig())
    return sum(doc.n_tokens for doc in engine.run(texts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["smollm2-135m", "qwen2.5-coder-0.5b"])
    parser.add_argument("--docs", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=512, help="cap (the scorer's default)")
    parser.add_argument("--dtype", default="auto", help="model.dtype of every model")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    loaded = {
        name: load_backend_model(ModelConfig(name=name, dtype=args.dtype)) for name in args.models
    }
    texts = mixed_length_documents(
        loaded[args.models[0]].tokenizer, args.docs, max_tokens=args.max_tokens
    )
    tokens = TokensConfig(max_tokens=args.max_tokens)
    seconds: dict[str, list[float]] = {name: [] for name in args.models}
    n_tokens: dict[str, int] = {}
    for round_no in range(args.rounds):
        for name in rotated(args.models, round_no):
            n_tokens[name], timing = timed(lambda n=name: pooled_pass(loaded[n], texts, tokens))
            seconds[name].append(timing.wall_s)
    first = args.models[0]
    result = {
        name: {
            "params": loaded[name].parameters,
            "mlp_neurons": loaded[name].arch.n_layers * loaded[name].arch.d_mlp,
            "docs_per_s": args.docs / median(seconds[name]),
            "tokens_per_s": n_tokens[name] / median(seconds[name]),
            "seconds_per_doc_vs_first": median(seconds[name]) / median(seconds[first]),
        }
        for name in args.models
    }
    if args.json:
        print(json.dumps({"docs": args.docs, "rounds": args.rounds, "models": result}, indent=2))
        return
    table = Table("model", "params", "MLP neurons", "docs/s", "tokens/s", f"cost vs {first}")
    for name, r in result.items():
        table.add_row(
            name, f"{r['params'] / 1e6:.0f}M", f"{r['mlp_neurons']:,}", f"{r['docs_per_s']:.2f}",
            f"{r['tokens_per_s']:.0f}", f"{r['seconds_per_doc_vs_first']:.2f}x",
        )  # fmt: skip
    Console().print(table)


if __name__ == "__main__":
    main()
