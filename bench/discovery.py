"""Benchmark: exhaustive vs pruned streamed correlation, on synthetic or real activation caches.

Synthetic data is shaped like the real problem, smaller: an anchor and a partner "model" whose
post-activations (GELU of a pre-activation) share a low-rank latent structure (many moderate,
near-tied correlations, as between real models) plus planted twin neurons with r spread over
~0.3-0.9. Both are written to float16 activation caches on disk and read back in span batches,
as the real pipeline does. Prints, measured in one run (the machine is shared and noisy, so
compare the ratios): a plain 2048^3 fp32 matmul's GFLOP/s, the exhaustive X^T Y GFLOP/s and
its ratio to that, time and peak anonymous memory of each method, the speed ratio, and the
recall / precision of the pruned best buddies against the exhaustive ones.

Run it as a module from the repository root (as a script, this file's name would shadow the
``discovery`` package)::

    python -m bench.discovery                                  # d_a=12288, d_b=9216, 8192 spans
    python -m bench.discovery --d-a 46080 --d-b 36864 --spans 14800   # the real shape
    python -m bench.discovery --anchor-cache runs/x/smollm --partner-cache runs/x/gemma

On a shared, oversubscribed machine set ``OMP_WAIT_POLICY=PASSIVE``: with spinning OpenMP
threads, torch's elementwise passes (moments, standardisation) ran ~7x slower at 2 threads
when other processes held the cores (measured here), which distorts every ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from discovery.correlate.buddies import best_buddies, compare_pairs
from discovery.correlate.correlation import correlate_exhaustive, span_moments
from discovery.correlate.pruning import correlate_pruned
from discovery.datapass.activation_cache import (
    ActivationCache,
    ActivationCacheWriter,
    paired_source,
)
from discovery.datapass.layout import ColumnLayout


class PeakAnonMemory:
    """Samples the process's anonymous RSS (RssAnon: heap, torch tensors; not the page cache
    or memory-mapped cache files) every 20 ms and keeps the peak above the starting value."""

    def __enter__(self) -> PeakAnonMemory:
        self.start = self.peak = _rss_anon()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_anon())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_anon())

    @property
    def delta_mb(self) -> float:
        return (self.peak - self.start) / 2**20


def _rss_anon() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def matmul_gflops(dtype: torch.dtype = torch.float32, size: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * size**3 / best / 1e9


def synthetic_caches(
    directory: Path,
    anchor: ColumnLayout,
    partner: ColumnLayout,
    n_spans: int,
    n_planted: int,
    rank: int = 64,
    chunk: int = 1024,
    seed: int = 0,
) -> tuple[ActivationCache, ActivationCache, dict[int, int]]:
    """Write GELU post-activations with shared low-rank structure and planted twins."""
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    d_a, d_b = anchor.n_columns, partner.n_columns
    # Shared latent loadings: each neuron carries ~30% of its variance from the rank-r latents.
    wa = torch.randn(rank, d_a, generator=gen) * (0.3 / rank) ** 0.5
    wb = torch.randn(rank, d_b, generator=gen) * (0.3 / rank) ** 0.5
    a_idx = torch.from_numpy(rng.choice(d_a, n_planted, replace=False))
    b_idx = torch.from_numpy(rng.choice(d_b, n_planted, replace=False))
    strength = torch.from_numpy(rng.uniform(0.5, 2.5, n_planted)).float()  # r ~ 0.3 .. 0.9
    bias_a, bias_b = torch.rand(d_a, generator=gen) - 0.5, torch.rand(d_b, generator=gen) - 0.5
    writers = [
        ActivationCacheWriter(directory / "anchor", anchor, model="synthetic-anchor"),
        ActivationCacheWriter(directory / "partner", partner, model="synthetic-partner"),
    ]
    for r0 in range(0, n_spans, chunk):
        n = min(chunk, n_spans - r0)
        z = torch.randn(n, rank, generator=gen)
        twin = torch.randn(n, n_planted, generator=gen) * strength  # (n, n_planted)
        pre_a = z @ wa + 0.7**0.5 * torch.randn(n, d_a, generator=gen) + bias_a
        pre_b = z @ wb + 0.7**0.5 * torch.randn(n, d_b, generator=gen) + bias_b
        pre_a[:, a_idx] += twin
        pre_b[:, b_idx] += twin
        writers[0].append(torch.nn.functional.gelu(pre_a))
        writers[1].append(torch.nn.functional.gelu(pre_b))
    caches = [w.close() for w in writers]
    twins = dict(zip(a_idx.tolist(), b_idx.tolist(), strict=True))
    return caches[0], caches[1], twins


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    with PeakAnonMemory() as memory:
        t = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - t
    return out, elapsed, memory.delta_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--d-a", type=int, default=12288, help="anchor neurons (synthetic)")
    parser.add_argument("--d-b", type=int, default=9216, help="partner neurons (synthetic)")
    parser.add_argument("--layers-a", type=int, default=8)
    parser.add_argument("--layers-b", type=int, default=6)
    parser.add_argument("--spans", type=int, default=8192)
    parser.add_argument("--planted", type=int, default=1500)
    parser.add_argument("--anchor-cache", type=Path, help="real activation cache (anchor)")
    parser.add_argument("--partner-cache", type=Path, help="real activation cache (partner)")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--candidates", type=int, default=16)
    parser.add_argument("--sketch-size", type=int, default=4096)
    parser.add_argument("--sketch-dtype", default="auto", choices=["auto", "float32", "bfloat16"])
    parser.add_argument(
        "--search", nargs="+", default=["sketch", "subsample"], choices=["sketch", "subsample"]
    )
    parser.add_argument("--accumulator-mb", type=float, default=1024.0)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--skip-exhaustive", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="rosetta-bench-") as tmp:
        twins: dict[int, int] = {}
        if args.anchor_cache and args.partner_cache:
            x_cache = ActivationCache.open(args.anchor_cache)
            y_cache = ActivationCache.open(args.partner_cache)
        else:
            t = time.perf_counter()
            x_cache, y_cache, twins = synthetic_caches(
                Path(tmp),
                ColumnLayout.uniform(args.layers_a, args.d_a // args.layers_a),
                ColumnLayout.uniform(args.layers_b, args.d_b // args.layers_b),
                args.spans,
                args.planted,
            )
            print(f"synthetic caches written in {time.perf_counter() - t:.1f} s")
        d_a, d_b, n = x_cache.layout.n_columns, y_cache.layout.n_columns, x_cache.n_rows
        print(f"anchor {d_a} x partner {d_b} neurons over {n} spans, {args.threads} threads")
        source = paired_source(x_cache, y_cache, batch_size=args.batch_size)

        ref32 = matmul_gflops(torch.float32)
        ref16 = matmul_gflops(torch.bfloat16)
        print(f"plain 2048^3 matmul: fp32 {ref32:.0f} GFLOP/s, bf16 {ref16:.0f} GFLOP/s")

        # Every method runs end to end from the caches (its own pass 1 included), as the
        # pipeline would when nothing else needs the moments; pass 1 alone is timed for scale.
        _, t_moments, mem_moments = timed(lambda: span_moments(source))
        print(f"pass 1 (moments) alone: {t_moments:.1f} s, peak +{mem_moments:.0f} MiB")

        pruned_runs = {}
        for search in args.search:
            pruned, t_pruned, mem_pruned = timed(
                lambda search=search: correlate_pruned(
                    source,
                    candidates=args.candidates,
                    search=search,
                    sketch_size=args.sketch_size,
                    sketch_dtype=args.sketch_dtype,
                    accumulator_mb=args.accumulator_mb,
                )
            )
            pruned_runs[search] = (pruned, t_pruned)
            stages = ", ".join(f"{k} {v:.1f}" for k, v in pruned.timings.items() if k != "total")
            print(
                f"pruned ({search}, C={args.candidates}, m={args.sketch_size}): {t_pruned:.1f} s "
                f"({stages}), peak +{mem_pruned:.0f} MiB, candidate matmul "
                f"{pruned.matmul_gflops:.0f} GFLOP/s"
            )
        if args.skip_exhaustive:
            return
        exhaustive, t_exh, mem_exh = timed(
            # k=2: the runner-up gives each best buddy's margin (see below).
            lambda: correlate_exhaustive(source, k=2, accumulator_mb=args.accumulator_mb)
        )
        print(
            f"exhaustive: {t_exh:.1f} s (moments {exhaustive.timings['moments']:.1f}), peak "
            f"+{mem_exh:.0f} MiB, X^T Y {exhaustive.matmul_gflops:.0f} GFLOP/s = "
            f"{exhaustive.matmul_gflops / ref32:.2f} of the plain fp32 matmul; overall "
            f"{exhaustive.matmul_flops / t_exh / 1e9:.0f} GFLOP/s"
        )
        # A best buddy whose r beats the runner-up (either side) by less than 1/sqrt(N), the
        # sampling noise of r itself, is a statistical tie: another span sample would flip it.
        ref_all = best_buddies(exhaustive, "anchor", "partner")
        top_a, top_b = exhaustive.anchor_top.values, exhaustive.partner_top.values
        margin = np.minimum(
            (top_a[:, 0] - top_a[:, 1])[ref_all.neuron_a],
            (top_b[:, 0] - top_b[:, 1])[ref_all.neuron_b],
        )
        resolvable = margin >= 1 / np.sqrt(n)
        print(
            f"exhaustive best buddies: {len(ref_all)}, of which {int(resolvable.sum())} resolvable "
            f"(margin over the runner-up >= 1/sqrt(N) = {1 / np.sqrt(n):.4f})"
        )
        for search, (pruned, t_pruned) in pruned_runs.items():
            print(f"[{search}] speed-up vs exhaustive: {t_exh / t_pruned:.1f}x end to end")
            found = best_buddies(pruned, "anchor", "partner").as_set()
            hit = np.array(
                [
                    (a, b) in found
                    for a, b in zip(
                        ref_all.neuron_a.tolist(), ref_all.neuron_b.tolist(), strict=True
                    )
                ]
            )
            print(
                f"[{search}] recall of resolvable best buddies: {hit[resolvable].mean():.4f}, of "
                f"statistical ties: {hit[~resolvable].mean() if (~resolvable).any() else 1.0:.4f}"
            )
            for min_r in (0.0, 0.1, 0.2, 0.3, 0.5):
                ref = best_buddies(exhaustive, "anchor", "partner", min_r=min_r)
                got = best_buddies(pruned, "anchor", "partner", min_r=min_r)
                recall, precision = compare_pairs(ref, got)
                print(
                    f"[{search}] best buddies r >= {min_r}: exhaustive {len(ref)}, pruned "
                    f"{len(got)}, recall {recall:.4f}, precision {precision:.4f}"
                )
        if twins:
            found = best_buddies(exhaustive, "anchor", "partner").as_set()
            planted = sum((a, b) in found for a, b in twins.items())
            print(f"planted twins found as best buddies (exhaustive): {planted}/{len(twins)}")


if __name__ == "__main__":
    main()
