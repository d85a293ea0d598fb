"""Shared measuring tools for the benchmarks: a same-run fp32 matmul peak, wall-clock timing with
a reading of how much CPU other processes took meanwhile, and a mixed-length document set cut
from text present on every machine (Python stdlib sources, /usr/share/common-licenses).

The machine the benchmarks run on is shared and noisy, so each benchmark compares ratios measured
in one run, alternating the things it compares, and reports medians (ASSETS.md).
"""

from __future__ import annotations

import math
import os
import random
import statistics
import sysconfig
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rosetta_filter.config import RunConfig, load_config

LICENSES = Path("/usr/share/common-licenses")


@dataclass(frozen=True, slots=True)
class Peak:
    """A matmul rate two ways: per wall-clock second (what the run achieved) and per second of
    this process's CPU time (what it achieves while scheduled: steadier on a shared machine,
    exact with one thread, inflated by spin-waiting with several)."""

    wall_gflops: float
    cpu_gflops: float


def matmul_peak(n: int = 2048, repeats: int = 5) -> Peak:
    """Best-of-``repeats`` fp32 ``n x n @ n x n`` rates (2 n^3 FLOPs per product) on the
    current ``torch.get_num_threads()``: the peak that efficiency figures divide by."""
    import torch  # here: the I/O benchmarks' rank processes never need it

    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen)
    b = torch.randn(n, n, generator=gen)
    out = torch.empty(n, n)
    torch.mm(a, b, out=out)  # warm-up: first call allocates and picks the kernel
    best_wall = best_cpu = math.inf
    for _ in range(repeats):
        cpu, start = time.process_time(), time.perf_counter()
        torch.mm(a, b, out=out)
        best_wall = min(best_wall, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    flops = 2 * n**3
    return Peak(flops / best_wall / 1e9, flops / max(best_cpu, 1e-9) / 1e9)


def _busy_jiffies() -> int | None:
    """CPU time all processes spent (user+nice+system+irq+softirq+steal), in clock ticks."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return user + nice + system + irq + softirq + steal


@dataclass(frozen=True, slots=True)
class Timing:
    """One timed call. ``cpu_s``: this process's CPU time (all threads); ``others_cores``:
    average cores busy with *other* processes meanwhile (None where /proc/stat is unreadable)."""

    wall_s: float
    cpu_s: float
    others_cores: float | None

    @property
    def own_cores(self) -> float:
        return self.cpu_s / self.wall_s

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "own_cores": self.own_cores}


def timed(fn: Callable[[], Any]) -> tuple[Any, Timing]:
    """Run ``fn()`` and return its result with its :class:`Timing`."""
    tick = os.sysconf("SC_CLK_TCK")
    busy0, cpu0, start = _busy_jiffies(), time.process_time(), time.perf_counter()
    result = fn()
    wall, cpu, busy1 = time.perf_counter() - start, time.process_time() - cpu0, _busy_jiffies()
    others = None
    if busy0 is not None and busy1 is not None:
        others = max(0.0, (busy1 - busy0) / tick - cpu) / wall
    return result, Timing(wall, cpu, others)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def rotated(names: Sequence[str], round_no: int) -> list[str]:
    """``names`` rotated by ``round_no``: alternating order spreads slow spells of a shared
    machine over every contender instead of always hitting the same one."""
    k = round_no % len(names)
    return [*names[k:], *names[:k]]


def _text_files() -> list[tuple[str, Path]]:
    """(domain, path) of the source texts, in a fixed order."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    code = sorted(p for p in stdlib.glob("*.py") if p.stat().st_size > 4096)
    legal = sorted(p for p in LICENSES.iterdir() if p.is_file()) if LICENSES.is_dir() else []
    return [("code", p) for p in code] + [("legal", p) for p in legal]


def mixed_length_documents(
    tokenizer: Any,
    n_docs: int,
    *,
    min_tokens: int = 50,
    max_tokens: int = 2000,
    seed: int = 0,
    legal_share: float = 0.3,
) -> list[str]:
    """``n_docs`` texts whose lengths in ``tokenizer`` tokens are log-uniform on
    [min_tokens, max_tokens] (many short, a few long, as in web corpora), each a contiguous cut
    of a stdlib source (code) or a licence (legal) at token boundaries. Deterministic for a
    given seed, tokenizer and machine. Re-tokenising a cut may shift its length by a token or
    two, so count tokens on the returned texts."""
    files = _text_files()
    by_domain = {d: [p for dd, p in files if dd == d] for d in ("code", "legal")}
    if not by_domain["code"]:
        raise RuntimeError("no Python stdlib sources found to build documents from")
    rng = random.Random(seed)
    encoded: dict[Path, tuple[str, list]] = {}
    docs: list[str] = []
    while len(docs) < n_docs:
        length = round(math.exp(rng.uniform(math.log(min_tokens), math.log(max_tokens))))
        domain = "legal" if by_domain["legal"] and rng.random() < legal_share else "code"
        path = rng.choice(by_domain[domain])
        if path not in encoded:
            text = path.read_text(encoding="utf-8", errors="replace")[: max_tokens * 32]
            offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
            encoded[path] = (text, offsets["offset_mapping"])
        text, offsets = encoded[path]
        if len(offsets) <= length:
            continue  # too short for this length: draw again
        start = rng.randrange(len(offsets) - length)
        docs.append(text[offsets[start][0] : offsets[start + length - 1][1]])
    return docs


def default_bank() -> str:
    """The bank ``configs/demo.yaml`` scores with (the committed default): benches that need
    a real bank measure the one users get, and follow it when the default moves."""
    demo = load_config(
        Path(__file__).resolve().parents[1] / "configs" / "demo.yaml", None, RunConfig
    )
    return str(demo.neurons.bank)
