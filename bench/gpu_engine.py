"""The hf activation engine on a GPU: documents and tokens per second at several
``batching.batch_tokens``, early exit against full depth, as a fraction of the device's matmul
peak and against a naive loop, all measured in one run, with a correctness check first.

Why: every engine figure so far was taken on CPUs. ``batch_tokens`` defaults to 1024 because that
is best on a CPU; a GPU wants far larger batches, and how much larger, and what the engine then
achieves of the chip, had not been measured.

Why random weights: the real checkpoint (538 MB) is too large to take to a lent GPU machine, and
throughput does not depend on weight values. The model is built from the checkpoint's
``config.json`` alone (the same architecture, sizes and attention code), with weights drawn from
``--seed``; only the tokenizer files come with it. Put the three small files in a git-ignored
folder so the device call carries them::

    mkdir -p .gpu-model/smollm2-135m && echo /.gpu-model/ >> .git/info/exclude
    cp ~/.cache/rosetta-filter/models/smollm2-135m/{config,tokenizer,tokenizer_config}.json \\
        .gpu-model/smollm2-135m/
    python -m bench.gpu_engine --model .gpu-model/smollm2-135m --device cuda --dtype bfloat16

An image with torch and transformers but without pydantic (the config models) needs pydantic,
pydantic-core, annotated-types, typing-inspection and typing-extensions as wheels beside them
(``pip download --no-deps --only-binary=:all: --python-version 3.12 ...`` into a git-ignored
``.whl/``, then ``pip install --no-index --no-deps --target /tmp/site .whl/*.whl``).

Contenders, alternated round by round, medians reported:

  L{exit}@{B}  the engine, neurons in layers 0..``--exit-layer`` (early exit), batch_tokens B;
  L{last}@{B}  the engine, neurons down to the last layer (full depth), batch_tokens B;
  host:...     the same engine pooling each document on the host, as it did before the hf
               backend pooled batches on the device (``HfForward(pool_on_device=False)``);
  fwd:...      the same engine's forward pass alone on batches tokenised and packed beforehand:
               what the device gives without the host's tokenisation and pooling;
  naive        one document at a time, the full causal LM (LM head included) on the device,
               forward pre-hooks on the same layers' MLP projections, means read per document;
               on ``--naive-docs`` of the documents (evenly spaced), compared per token;
  tokenize     the engine's tokenizer alone over all documents (the engine overlaps it with the
               forward pass on one background thread: a ceiling on its rate).

Before timing, the pooled values of ``--check-docs`` documents on the device are compared with
the same seeded model in float32 on the CPU; a relative difference (max |diff| / max |value|
per pooling method) over ``--tolerance`` stops the run. FLOPs are ``bench.activations``'s needed
FLOPs (no padding); the peak is a ``--peak-n`` cubed matmul in ``--dtype`` on the device, measured
before and after every round. On CPU, for a dry run::

    python -m bench.gpu_engine --quick
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from bench.activations import engine_runner, needed_flops
from bench.backends import pick_neurons
from bench.common import median, mixed_length_documents, rotated, timed
from rosetta_filter.activations.architectures import resolve_architecture
from rosetta_filter.activations.backends.hf import HfForward
from rosetta_filter.activations.batching import pack
from rosetta_filter.activations.engine import ActivationEngine
from rosetta_filter.activations.models import LoadedModel, resolve_device
from rosetta_filter.activations.pooling import POOLING_METHODS
from rosetta_filter.activations.precision import DTYPES, resolve_dtype
from rosetta_filter.config import BatchingConfig, ModelConfig, TokensConfig
from rosetta_filter.neuron import Neuron
from rosetta_filter.registry import catalog as registry

# Pooled values compared by relative difference; frac_active (a fraction of tokens above 0, which
# bfloat16 rounding flips for values near 0) by absolute difference.
RELATIVE_CHECKED = ("mean", "max", "topk_mean")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument(
        "--model",
        default="smollm2-135m",
        help="directory with config.json and the tokenizer, or a pulled registry name",
    )
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--dtype", default="auto", choices=("auto", *DTYPES))
    p.add_argument("--docs", type=int, default=4096, help="documents (50 to 2,000 tokens)")
    p.add_argument("--max-tokens", type=int, default=512, help="truncation cap (runtime default)")
    p.add_argument(
        "--batch-tokens", type=int, nargs="+", default=[8192, 65536, 262144], help="settings"
    )
    p.add_argument("--max-batch-docs", type=int, default=2048, help="rows per forward pass")
    p.add_argument(
        "--lookahead-docs",
        type=int,
        default=1024,
        help="sort window: batches never span two, so it must hold several batches",
    )
    p.add_argument("--exit-layer", type=int, default=8, help="deepest layer of the early exit")
    p.add_argument("--neurons", type=int, default=16, help="neurons per contender")
    p.add_argument("--naive-docs", type=int, default=128, help="documents the naive loop runs")
    p.add_argument("--check-docs", type=int, default=16, help="documents checked against fp32")
    p.add_argument("--tolerance", type=float, default=0.05, help="largest relative difference")
    p.add_argument("--peak-n", type=int, default=8192, help="matmul size of the peak")
    p.add_argument("--rounds", type=int, default=3, help="alternating measurement rounds")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny CPU-sized run (dry run, CI)")
    p.add_argument("--json", action="store_true", help="print machine-readable results only")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON results here")
    args = p.parse_args(argv)
    if args.quick:
        args.docs, args.naive_docs, args.check_docs, args.rounds = 24, 6, 4, 1
        args.max_tokens, args.batch_tokens, args.peak_n, args.neurons = 256, [1024, 4096], 1024, 8
    return args


def log(message: str) -> None:
    """Progress on stderr: a run cut short by a time limit still shows what it measured."""
    print(message, file=sys.stderr, flush=True)


def model_dir(name: str) -> Path:
    """The folder whose config.json and tokenizer the run uses (weights are never read)."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    found = registry.cached_path(name)
    if found is None:
        raise SystemExit(f"{name!r}: no such directory, and no pulled registry model of that name")
    return found


def random_causal_lm(path: Path, seed: int) -> tuple[PreTrainedModel, object]:
    """The architecture of ``path``'s config.json with weights drawn from ``seed``, in float32 on
    the CPU, and ``path``'s tokenizer. A GGUF-converted checkpoint's quantization_config is
    dropped: there are no quantized weights to read."""
    config = AutoConfig.from_pretrained(path)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def as_loaded(causal: PreTrainedModel, tokenizer, name: str, path: Path) -> LoadedModel:
    """The engine's view of ``causal``: its backbone (same modules, no LM head)."""
    backbone = causal.get_decoder()
    return LoadedModel(name, backbone, tokenizer, resolve_architecture(backbone), "local", path)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_tflops(device: torch.device, dtype: torch.dtype, n: int, repeats: int = 10) -> float:
    """Mean rate of ``repeats`` ``n x n @ n x n`` products in ``dtype`` on ``device`` after
    three warm-ups (2 n^3 FLOPs each): the peak efficiency figures divide by."""
    gen = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, generator=gen, device=device, dtype=dtype)
    b = torch.randn(n, n, generator=gen, device=device, dtype=dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    for _ in range(3):
        torch.mm(a, b, out=out)
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b, out=out)
    sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e12


def naive_runner(
    causal: PreTrainedModel,
    tokenizer,
    loaded: LoadedModel,
    neurons: Sequence[Neuron],
    max_tokens: int,
) -> Callable[[Sequence[str]], tuple[int, torch.Tensor]]:
    """documents -> (tokens, per-document means of ``neurons`` over the content tokens, as the
    engine pools them), one document per forward."""
    by_layer: dict[int, list[int]] = {}
    for n in neurons:
        by_layer.setdefault(n.layer, []).append(n.index)
    device = loaded.device
    span = [0, 0]  # the current document's content tokens: [start, end)
    means: dict[int, torch.Tensor] = {}

    def hook(layer: int, cols: list[int]) -> Callable:
        def read(_module: torch.nn.Module, args: tuple) -> None:
            means[layer] = args[0][0, span[0] : span[1], cols].float().mean(0).cpu()

        return read

    @torch.inference_mode()
    def run(docs: Sequence[str]) -> tuple[int, torch.Tensor]:
        handles = [
            loaded.arch.tap_module(layer).register_forward_pre_hook(hook(layer, cols))
            for layer, cols in by_layer.items()
        ]
        tokens, rows = 0, []
        try:
            for doc in docs:
                batch = tokenizer(
                    doc,
                    truncation=True,
                    max_length=max_tokens,
                    return_tensors="pt",
                    return_special_tokens_mask=True,
                )
                special = batch.pop("special_tokens_mask")[0].tolist()
                length = len(special)
                span[0] = next((i for i, x in enumerate(special) if not x), length)
                span[1] = length - next((i for i, x in enumerate(special[::-1]) if not x), length)
                causal(**batch.to(device), use_cache=False)
                tokens += length
                layer_means = {layer: iter(means[layer].tolist()) for layer in by_layer}
                rows.append([next(layer_means[n.layer]) for n in neurons])
        finally:
            for handle in handles:
                handle.remove()
        return tokens, torch.tensor(rows)

    return run


def pooled(engine: ActivationEngine, docs: Sequence[str]) -> dict[str, torch.Tensor]:
    """method -> (docs, neurons) pooled values."""
    results = list(engine.run(docs))
    return {m: torch.stack([r.pooled[m] for r in results]) for m in POOLING_METHODS}


def differences(got: dict[str, torch.Tensor], ref: dict[str, torch.Tensor]) -> dict[str, float]:
    """Per method: max |got - ref| over max |ref| (frac_active: max |got - ref|)."""
    out = {}
    for method, r in ref.items():
        diff = float((got[method] - r).abs().max())
        out[method] = diff if method == "frac_active" else diff / max(float(r.abs().max()), 1e-12)
    return out


def build(args: argparse.Namespace) -> dict:
    """Models, engines, documents and the correctness check (raises when it fails)."""
    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    path = model_dir(args.model)
    cpu_causal, tokenizer = random_causal_lm(path, args.seed)
    causal = copy.deepcopy(cpu_causal).to(device=device, dtype=dtype)
    loaded = as_loaded(causal, tokenizer, args.model, path)
    arch, last = loaded.arch, loaded.arch.n_layers - 1
    depths = {f"L{args.exit_layer}": args.exit_layer, f"L{last}": last}
    neurons = {
        tag: pick_neurons(arch.n_layers, arch.d_mlp, args.neurons, deepest, args.seed)
        for tag, deepest in depths.items()
    }
    tokens_cfg = TokensConfig(max_tokens=args.max_tokens)

    def engine(
        model: LoadedModel, tag: str, batch_tokens: int, on_device: bool = True
    ) -> ActivationEngine:
        batching = BatchingConfig(
            batch_tokens=batch_tokens,
            max_batch_docs=args.max_batch_docs,
            lookahead_docs=args.lookahead_docs,
        )
        forward = partial(HfForward, pool_on_device=on_device)
        return ActivationEngine(
            model, neurons[tag], tokens=tokens_cfg, batching=batching, forward=forward
        )

    engines = {
        f"{host}{tag}@{bt}": engine(loaded, tag, bt, on_device=not host)
        for bt in args.batch_tokens
        for host in ("", "host:")
        for tag in depths
    }
    docs = mixed_length_documents(tokenizer, args.docs, seed=args.seed)
    step = max(1, len(docs) // args.naive_docs)
    naive_docs = docs[::step][: args.naive_docs]
    check_docs = docs[:: max(1, len(docs) // args.check_docs)][: args.check_docs]

    # Correctness: the deep engine on the device against the same weights in float32 on the CPU.
    deep = f"L{last}"
    reference = pooled(
        engine(as_loaded(cpu_causal, tokenizer, "cpu", path), deep, 1024), check_docs
    )
    on_device = pooled(engines[f"{deep}@{args.batch_tokens[0]}"], check_docs)
    check = differences(on_device, reference)
    # Pooling the batch where it was computed against pooling each document on the host, same
    # device, same weights: only the order of a sum may differ.
    host_pooled = pooled(engines[f"host:{deep}@{args.batch_tokens[0]}"], check_docs)
    device_vs_host = max(differences(on_device, host_pooled).values())
    if device_vs_host > 1e-3:
        raise RuntimeError(f"pooling on {device} differs from pooling on the host: {check}")
    naive = naive_runner(causal, tokenizer, loaded, neurons[deep], args.max_tokens)
    naive_check = differences({"mean": naive(check_docs)[1]}, {"mean": reference["mean"]})
    check = {
        **check,
        "naive_mean": naive_check["mean"],
        "device_vs_host_pooling": device_vs_host,
        "reference_max_abs_mean": float(reference["mean"].abs().max()),
    }
    bad = {m: check[m] for m in (*RELATIVE_CHECKED, "naive_mean") if check[m] > args.tolerance}
    if bad or check["frac_active"] > 2 * args.tolerance:
        raise RuntimeError(
            f"{device} {dtype} pooled values differ from float32 on the CPU beyond "
            f"{args.tolerance}: {check}"
        )
    log(f"check passed: {check}")
    return {
        "device": device,
        "dtype": dtype,
        "loaded": loaded,
        "engines": engines,
        "naive": naive,
        "docs": docs,
        "naive_docs": naive_docs,
        "depths": depths,
        "check": check,
        "auto": {
            "device": str(resolve_device("auto")),
            "dtype": str(resolve_dtype("auto", resolve_device("auto"))).removeprefix("torch."),
            "ModelConfig_defaults": {
                k: getattr(ModelConfig(name="x"), k) for k in ("backend", "device", "dtype")
            },
        },
    }


def device_info(device: torch.device) -> dict:
    info = {"torch": torch.__version__, "cpus": os.cpu_count()}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info |= {
            "gpu": props.name,
            "sms": props.multi_processor_count,
            "memory_gib": round(props.total_memory / 2**30, 1),
            "cuda": torch.version.cuda,
        }
    return info


def forward_runner(engine: ActivationEngine, docs: Sequence[str]) -> Callable[[], int]:
    """The engine's forward pass alone over ``docs`` tokenised and packed beforehand as the
    engine packs them (per read-ahead chunk): what the device allows without the host's
    tokenisation and pooling. Returns the tokens run."""
    lookahead = engine.batching.lookahead_docs
    windows = [w for d in engine.tokenizer.encode(docs) for w in d.windows]
    batches = [
        batch
        for start in range(0, len(windows), lookahead)
        for batch in pack(windows[start : start + lookahead], engine.batching)
    ]

    def run() -> int:
        tokens = 0
        for batch in batches:
            engine.forward(batch)
            tokens += sum(len(w.ids) for w in batch)
        return tokens

    return run


def measure(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    b = build(args)
    device, dtype, loaded, docs = b["device"], b["dtype"], b["loaded"], b["docs"]
    any_engine = next(iter(b["engines"].values()))
    lengths = [len(w.ids) for d in any_engine.tokenizer.encode(docs) for w in d.windows]
    naive_lengths = [
        len(w.ids) for d in any_engine.tokenizer.encode(b["naive_docs"]) for w in d.windows
    ]
    head = 2 * loaded.model.config.vocab_size * loaded.model.config.hidden_size
    naive_flops = needed_flops(loaded, loaded.arch.n_layers - 1, naive_lengths, full=True)
    # name -> (run, documents, FLOPs needed or None)
    contenders: dict[str, tuple[Callable[[], int], int, float | None]] = {}
    for name, e in b["engines"].items():
        flops = needed_flops(loaded, e.plan.deepest, lengths)
        contenders[name] = (lambda e=e: engine_runner(e)(docs)), len(docs), flops
        if not name.startswith("host:"):
            contenders[f"fwd:{name}"] = forward_runner(e, docs), len(docs), flops
    contenders["naive"] = (
        lambda: b["naive"](b["naive_docs"])[0],
        len(b["naive_docs"]),
        naive_flops + head * sum(naive_lengths),
    )
    contenders["tokenize"] = (
        lambda: sum(len(w.ids) for d in any_engine.tokenizer.encode(docs) for w in d.windows),
        len(docs),
        None,
    )
    expected = {name: sum(lengths) for name in contenders} | {"naive": sum(naive_lengths)}
    for name, (run, _, _) in contenders.items():  # warm-up (kernel choice, allocator)
        (got, timing) = timed(run)
        if got != expected[name]:
            raise RuntimeError(f"{name} ran {got} tokens, expected {expected[name]}")
        log(f"warm-up {name}: {timing.wall_s:.2f} s")

    peaks = [matmul_tflops(device, dtype, args.peak_n)]
    rounds: list[dict] = []
    for r in range(args.rounds):
        row = {}
        for name in rotated(list(contenders), r):
            run, n_docs, flops = contenders[name]
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            tokens, timing = timed(run)
            if tokens != expected[name]:
                raise RuntimeError(f"{name} ran {tokens} tokens, expected {expected[name]}")
            row[name] = {
                "wall_s": timing.wall_s,
                "docs_per_s": n_docs / timing.wall_s,
                "tokens_per_s": tokens / timing.wall_s,
                "tflops": flops / timing.wall_s / 1e12 if flops else None,
                "own_cores": timing.own_cores,
                "max_memory_gib": (
                    torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0
                ),
            }
            log(f"round {r} {name}: {timing.wall_s:.2f} s, {tokens / timing.wall_s:.0f} tokens/s")
        rounds.append(row)
        peaks.append(matmul_tflops(device, dtype, args.peak_n))
    peak = median(peaks)
    med = {
        name: {k: median([row[name][k] for row in rounds]) for k, v in values.items() if v}
        for name, values in rounds[0].items()
    }
    naive_rate = med["naive"]["tokens_per_s"]
    for row in med.values():
        if "tflops" in row:
            row["of_peak"] = row["tflops"] / peak
            row["over_naive"] = row["tokens_per_s"] / naive_rate
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
        "machine": device_info(device),
        "setup": {
            "model": args.model,
            "family": loaded.family,
            "layers": loaded.arch.n_layers,
            "d_mlp": loaded.arch.d_mlp,
            "attention": loaded.model.config._attn_implementation,
            "device": str(device),
            "dtype": str(dtype).removeprefix("torch."),
            "depths": b["depths"],
            "neurons": args.neurons,
            "max_tokens": args.max_tokens,
            "batch_tokens": args.batch_tokens,
            "max_batch_docs": args.max_batch_docs,
            "lookahead_docs": args.lookahead_docs,
            "rounds": args.rounds,
            "threads": args.threads,
            "weights": f"random, seed {args.seed}",
        },
        "auto": b["auto"],
        "docs": {
            "count": len(docs),
            "tokens": sum(lengths),
            "median_tokens": median(lengths),
            "naive_count": len(b["naive_docs"]),
            "naive_tokens": sum(naive_lengths),
        },
        "check": {"tolerance": args.tolerance, "docs": args.check_docs, **b["check"]},
        "peak_tflops": peaks,
        "rounds": rounds,
        "median": med,
    }


def report(res: dict) -> str:
    s, m, d, c = res["setup"], res["median"], res["docs"], res["check"]
    lines = [
        f"{res['machine']}",
        f"model {s['model']} ({s['family']}, {s['layers']} layers x {s['d_mlp']}, "
        f"{s['weights']}), {s['device']} {s['dtype']}, attention {s['attention']}",
        f"auto picks device {res['auto']['device']}, dtype {res['auto']['dtype']}; "
        f"ModelConfig defaults {res['auto']['ModelConfig_defaults']}",
        f"documents: {d['count']}, {d['tokens']} tokens (median {d['median_tokens']}, cap "
        f"{s['max_tokens']}); naive on {d['naive_count']} ({d['naive_tokens']} tokens)",
        f"max_batch_docs {s['max_batch_docs']}, lookahead_docs {s['lookahead_docs']}, "
        f"{s['neurons']} neurons per contender, {s['rounds']} rounds, medians",
        "check vs float32 on CPU ("
        + ", ".join(f"{k} {v:.2g}" for k, v in c.items() if k not in ("tolerance", "docs"))
        + f"; tolerance {c['tolerance']}): passed",
        "matmul peak TFLOP/s per check: " + ", ".join(f"{p:.1f}" for p in res["peak_tflops"]),
        "",
        f"{'contender':<18} {'docs/s':>9} {'tokens/s':>11} {'TFLOP/s':>8} {'of peak':>8} "
        f"{'x naive':>8} {'GiB':>6} {'cores':>6}",
    ]
    for name, row in m.items():
        flop = (
            f"{row['tflops']:>8.2f} {row['of_peak']:>8.3f} {row['over_naive']:>8.1f}"
            if "tflops" in row
            else " " * 26
        )
        lines.append(
            f"{name:<18} {row['docs_per_s']:>9.0f} {row['tokens_per_s']:>11.0f} {flop} "
            f"{row.get('max_memory_gib', 0):>6.2f} {row['own_cores']:>6.2f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    res = measure(args)
    text = json.dumps(res, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text if args.json else report(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
