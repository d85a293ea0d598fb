"""Activation engine throughput against a naive transformers loop, in one run on the same documents.

Contenders, alternated round by round (the machine is shared), medians reported:

  naive    ``AutoModelForCausalLM`` full forward ``model(**batch)`` *with* the LM head, fixed-size
           batches in input order padded to their longest text, same tokenizer and cap;
  shallow  the engine with neurons only in the first third of the layers (early exit);
  deep     the engine with neurons in every layer, the last included.

Throughput counts real tokens (no padding), identical for all three. Efficiency is the engine's
achieved rate of *needed* FLOPs over a fp32 2048^3 matmul peak measured in the same run:

  needed FLOPs of a document of n tokens run through layers 0..L =
      2 * P(0..L) * n                          matmuls: P = weights of every linear map in
                                               layers 0..L, minus layer L's MLP output projection
                                               (the tap stops the pass at its input)
    + (L + 1) * 2 * d_attn * n * (n + 1)       causal attention: QK^T and AV over the n(n+1)/2
                                               (query, key) pairs, 2 FLOPs per multiply-add,
                                               d_attn = heads x head_dim

Embeddings, norms, rotary and activation functions are elementwise or lookups and not counted;
padding is not counted (work on it is waste). The naive loop's figure adds the LM head
(2 * vocab * hidden per token) and all layers. Run ``python -m bench.activations --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from bench.common import matmul_peak, median, mixed_length_documents, rotated, timed
from rosetta_filter.activations.engine import ActivationEngine
from rosetta_filter.activations.models import LoadedModel, load_model
from rosetta_filter.config import BatchingConfig, ModelConfig, TokensConfig
from rosetta_filter.neuron import Neuron

TARGETS = {"shallow/naive": 4.0, "deep/naive": 1.5, "engine_gflops/peak": 0.6}
CONTENDERS = ("naive", "shallow", "deep")


@dataclass(frozen=True)
class Contender:
    name: str
    run: Callable[[Sequence[str]], int]  # documents -> real tokens processed
    flops: float  # FLOPs needed for the whole document set


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--model", default="smollm2-135m", help="registry name, directory or .gguf")
    p.add_argument("--docs", type=int, default=32, help="documents (50 to 2,000 tokens)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads")
    p.add_argument("--max-tokens", type=int, default=2048, help="truncation cap, both sides")
    p.add_argument("--batch-tokens", type=int, default=None, help="engine padded-token budget")
    p.add_argument("--max-batch-docs", type=int, default=None, help="engine rows per pass")
    p.add_argument("--lookahead-docs", type=int, default=None, help="engine sort window")
    p.add_argument(
        "--dtype",
        default="float32",
        choices=("float32", "bfloat16"),
        help="weights and activations of both the naive loop and the engine (peak stays fp32)",
    )
    p.add_argument("--naive-batch", type=int, default=8, help="naive loop batch size")
    p.add_argument("--rounds", type=int, default=3, help="alternating measurement rounds")
    p.add_argument("--shallow-neurons", type=int, default=16)
    p.add_argument("--deep-per-layer", type=int, default=2, help="neurons per layer in 'deep'")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny run for CI smoke (12 short docs)")
    p.add_argument("--json", action="store_true", help="print machine-readable results only")
    args = p.parse_args(argv)
    if args.quick:
        args.docs, args.rounds, args.doc_max = 12, 1, 300
    else:
        args.doc_max = min(2000, args.max_tokens)
    return args


def shallow_neurons(n_layers: int, d_mlp: int, count: int, rng: random.Random) -> list[Neuron]:
    """``count`` neurons spread over the first third of the layers (0..n_layers//3 - 1)."""
    depth = max(1, n_layers // 3)
    return [Neuron(i % depth, rng.randrange(d_mlp)) for i in range(count)]


def deep_neurons(n_layers: int, d_mlp: int, per_layer: int, rng: random.Random) -> list[Neuron]:
    return [
        Neuron(layer, i) for layer in range(n_layers) for i in rng.sample(range(d_mlp), per_layer)
    ]


def _linear_params(module: nn.Module, skip: nn.Module | None = None) -> int:
    return sum(
        m.weight.numel() for m in module.modules() if isinstance(m, nn.Linear) and m is not skip
    )


def needed_flops(
    loaded: LoadedModel, deepest: int, lengths: Sequence[int], *, full: bool = False
) -> float:
    """FLOPs to run ``lengths`` through layers 0..deepest (formula in the module docstring).
    ``full``: the whole layer ``deepest`` (no tap stop), for the naive loop."""
    cfg = loaded.model.config
    heads = cfg.num_attention_heads
    d_attn = heads * (getattr(cfg, "head_dim", None) or cfg.hidden_size // heads)
    arch = loaded.arch
    params = sum(_linear_params(arch.layers[i]) for i in range(deepest))
    params += _linear_params(arch.layers[deepest], None if full else arch.tap_module(deepest))
    tokens = sum(lengths)
    attention = (deepest + 1) * sum(2 * d_attn * n * (n + 1) for n in lengths)
    return 2 * params * tokens + attention


def load_causal_lm(loaded: LoadedModel, dtype: torch.dtype) -> tuple[PreTrainedModel, object]:
    """The same checkpoint as ``loaded``, with its LM head, as a naive user loads it."""
    if loaded.path is None:
        where, kwargs = loaded.name, {}
    elif loaded.path.is_file():  # a .gguf
        where, kwargs = str(loaded.path.parent), {"gguf_file": loaded.path.name}
    else:
        where, kwargs = str(loaded.path), {}
    model = AutoModelForCausalLM.from_pretrained(where, dtype=dtype, **kwargs).eval()
    tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def naive_runner(
    model: PreTrainedModel, tokenizer, batch_size: int, max_tokens: int
) -> Callable[[Sequence[str]], int]:
    @torch.inference_mode()
    def run(docs: Sequence[str]) -> int:
        tokens = 0
        for start in range(0, len(docs), batch_size):
            batch = tokenizer(
                list(docs[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=max_tokens,
                return_tensors="pt",
            )
            model(**batch)
            tokens += int(batch["attention_mask"].sum())
        return tokens

    return run


def engine_runner(engine: ActivationEngine) -> Callable[[Sequence[str]], int]:
    specials = len(engine.tokenizer.prefix) + len(engine.tokenizer.suffix)

    def run(docs: Sequence[str]) -> int:
        return sum(r.n_tokens + specials for r in engine.run(docs))

    return run


def build(args: argparse.Namespace) -> tuple[list[Contender], list[str], list[int], dict]:
    loaded = load_model(
        ModelConfig(name=args.model, threads=args.threads, device="cpu", dtype=args.dtype)
    )
    causal, naive_tok = load_causal_lm(loaded, getattr(torch, args.dtype))
    docs = mixed_length_documents(
        loaded.tokenizer, args.docs, max_tokens=args.doc_max, seed=args.seed
    )
    lengths = [
        len(ids)
        for ids in naive_tok(docs, truncation=True, max_length=args.max_tokens)["input_ids"]
    ]
    arch, rng = loaded.arch, random.Random(args.seed)
    batching = BatchingConfig(
        **{
            k: v
            for k, v in {
                "batch_tokens": args.batch_tokens,
                "max_batch_docs": args.max_batch_docs,
                "lookahead_docs": args.lookahead_docs,
            }.items()
            if v is not None
        }
    )
    tokens_cfg = TokensConfig(max_tokens=args.max_tokens)
    shallow = shallow_neurons(arch.n_layers, arch.d_mlp, args.shallow_neurons, rng)
    deep = deep_neurons(arch.n_layers, arch.d_mlp, args.deep_per_layer, rng)
    engines = {
        name: ActivationEngine(loaded, neurons, tokens=tokens_cfg, batching=batching)
        for name, neurons in (("shallow", shallow), ("deep", deep))
    }
    head = causal.get_output_embeddings().weight.numel()
    contenders = [
        Contender(
            "naive",
            naive_runner(causal, naive_tok, args.naive_batch, args.max_tokens),
            needed_flops(loaded, arch.n_layers - 1, lengths, full=True) + 2 * head * sum(lengths),
        ),
        *(
            Contender(
                name, engine_runner(engine), needed_flops(loaded, engine.plan.deepest, lengths)
            )
            for name, engine in engines.items()
        ),
    ]
    setup = {
        "model": args.model,
        "dtype": args.dtype,
        "family": loaded.family,
        "layers": arch.n_layers,
        "d_mlp": arch.d_mlp,
        "shallow_layers": sorted({n.layer for n in shallow}),
        "shallow_neurons": len(shallow),
        "deep_neurons": len(deep),
        "batching": batching.model_dump(),
        "max_tokens": args.max_tokens,
        "naive_batch": args.naive_batch,
    }
    return contenders, docs, lengths, setup


def measure(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    contenders, docs, lengths, setup = build(args)
    expected = sum(lengths)
    for c in contenders:  # warm-up on a few short and long docs; token counts must agree
        warm = sorted(docs, key=len)[:: max(1, len(docs) // 4)]
        c.run(warm)
    peaks = [matmul_peak()]
    rounds: list[dict] = []
    for r in range(args.rounds):
        row = {}
        for name in rotated(CONTENDERS, r):
            c = next(c for c in contenders if c.name == name)
            tokens, timing = timed(lambda c=c: c.run(docs))
            if tokens != expected:
                raise RuntimeError(f"{name} processed {tokens} tokens, expected {expected}")
            row[name] = {
                **timing.as_dict(),
                "tokens_per_s": tokens / timing.wall_s,
                "gflops": c.flops / timing.wall_s / 1e9,
                "cpu_gflops": c.flops / timing.cpu_s / 1e9,
            }
        rounds.append(row)
        peaks.append(matmul_peak())
    med = {
        name: {
            key: median([row[name][key] for row in rounds])
            for key in (
                "tokens_per_s",
                "gflops",
                "cpu_gflops",
                "wall_s",
                "own_cores",
                "others_cores",
            )
            if rounds[0][name][key] is not None
        }
        for name in CONTENDERS
    }
    peak = median([p.wall_gflops for p in peaks])
    cpu_peak = median([p.cpu_gflops for p in peaks])
    ratios = {
        "shallow/naive": med["shallow"]["tokens_per_s"] / med["naive"]["tokens_per_s"],
        "deep/naive": med["deep"]["tokens_per_s"] / med["naive"]["tokens_per_s"],
        "engine_gflops/peak": med["deep"]["gflops"] / peak,
        "shallow_gflops/peak": med["shallow"]["gflops"] / peak,
        "naive_gflops/peak": med["naive"]["gflops"] / peak,
        # the same per CPU-second of this process: what the code achieves while scheduled
        "engine_cpu_gflops/cpu_peak": med["deep"]["cpu_gflops"] / cpu_peak,
        "shallow_cpu_gflops/cpu_peak": med["shallow"]["cpu_gflops"] / cpu_peak,
    }
    return {
        "setup": {**setup, "threads": args.threads, "rounds": args.rounds, "cpus": os.cpu_count()},
        "docs": {
            "count": len(docs),
            "tokens": expected,
            "min": min(lengths),
            "median": median(lengths),
            "max": max(lengths),
        },
        "flops": {c.name: c.flops for c in contenders},
        "peak_gflops": [p.wall_gflops for p in peaks],
        "peak_cpu_gflops": [p.cpu_gflops for p in peaks],
        "rounds": rounds,
        "median": med,
        "ratios": ratios,
        "targets": {k: {"target": t, "met": ratios[k] >= t} for k, t in TARGETS.items()},
        "loadavg_end": os.getloadavg(),
    }


def report(res: dict) -> str:
    d, m, s = res["docs"], res["median"], res["setup"]
    lines = [
        f"model {s['model']} ({s['family']}, {s['layers']} layers, {s['dtype']}), "
        f"{s['threads']} threads of "
        f"{s['cpus']} cpus, {res['setup']['rounds']} rounds, medians",
        f"documents: {d['count']}, {d['tokens']} tokens (min {d['min']}, median {d['median']}, "
        f"max {d['max']})",
        f"shallow: {s['shallow_neurons']} neurons in layers {s['shallow_layers']}; "
        f"deep: {s['deep_neurons']} neurons in all layers; engine batching {s['batching']}",
        "matmul peak 2048^3 fp32 GFLOP/s per check: "
        + ", ".join(f"{p:.0f}" for p in res["peak_gflops"])
        + "; per CPU-second: "
        + ", ".join(f"{p:.0f}" for p in res["peak_cpu_gflops"]),
        "",
        f"{'contender':<9} {'tokens/s':>9} {'GFLOP/s':>8} {'per CPU-s':>9} {'wall s':>7} "
        f"{'own cores':>9} {'others':>7}",
    ]
    for name in CONTENDERS:
        row = m[name]
        others = f"{row['others_cores']:.2f}" if "others_cores" in row else "n/a"
        lines.append(
            f"{name:<9} {row['tokens_per_s']:>9.0f} {row['gflops']:>8.1f} "
            f"{row['cpu_gflops']:>9.1f} {row['wall_s']:>7.1f} {row['own_cores']:>9.2f} {others:>7}"
        )
    lines.append("")
    for key, value in res["ratios"].items():
        target = res["targets"].get(key)
        verdict = (
            f"  (target >= {target['target']}: {'met' if target['met'] else 'MISSED'})"
            if target
            else ""
        )
        lines.append(f"{key:<20} {value:6.2f}{verdict}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    res = measure(args)
    print(json.dumps(res, indent=2) if args.json else report(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
