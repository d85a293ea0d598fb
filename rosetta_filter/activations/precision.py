"""Which floating-point type to compute in.

bfloat16 halves memory and, where the hardware has it (AMX or AVX512-BF16 on a CPU, any recent
GPU), runs several times faster than float32; where it does not, PyTorch emulates it and a CPU
matmul runs ~50x *slower* (measured on an AVX2 EPYC: 34.8 vs 0.6 GFLOP/s). ``dtype: auto``
therefore asks the machine instead of assuming.

The answer is measured once per machine and kept in ``$ROSETTA_FILTER_HOME/cpu-dtype.json``:
a timing taken in every process flipped on a busy 2-core machine (bf16 measured 0.0218 s
against fp32's 0.0206 s where it is normally 2.6x faster), and since the resolved type keys the
pooled-activation cache and changes scores in the last digits, ``auto`` must resolve the same
way in every run on one machine. Delete the file to measure again.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from rosetta_filter.files import write_json_atomic
from rosetta_filter.registry.catalog import rosetta_home

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


PROBE_FILE = "cpu-dtype.json"
# bfloat16 must beat float32 clearly: where both are close (no native bf16 kernels, or a noisy
# machine) float32 is the safer answer, exact and never slower by much
BF16_MIN_SPEEDUP = 1.25
_ROUNDS = 5


@functools.cache
def fastest_cpu_matmul_dtype() -> torch.dtype:
    """bfloat16 if this CPU multiplies it clearly faster than float32 (AMX / AVX512-BF16), else
    float32: the answer recorded for this machine, measured (~0.2 s) the first time.

    Measured, not read from CPU flags: flags say what exists, not what PyTorch's kernels use."""
    key = machine_key()
    path = rosetta_home() / PROBE_FILE
    with _probe_lock(path):  # concurrent first runs (Ray workers) measure once, agree always
        recorded = _read_probe(path).get(key)
        if recorded in DTYPES:
            return DTYPES[recorded]
        timings = measure_matmul_seconds()
        choice = choose_dtype(timings)
        log.info(
            "fastest CPU matmul dtype: %s (best of %d rounds, s: %s); recorded in %s",
            choice,
            _ROUNDS,
            {str(d): round(t, 5) for d, t in timings.items()},
            path,
        )
        _record_probe(path, key, choice)
    return choice


@contextmanager
def _probe_lock(path: Path) -> Iterator[None]:
    """An exclusive lock beside the probe file; none where the home cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path.with_name(path.name + ".lock"), "a")  # noqa: SIM115 (held across yield)
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def machine_key() -> str:
    """What decides the answer: the CPU model, its bf16/AMX flags and the PyTorch build."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            fields.setdefault(name.strip(), value.strip())  # the first processor's
    except OSError:  # not Linux: the processor string is what there is
        pass
    model = fields.get("model name") or platform.processor() or platform.machine()
    flags = " ".join(
        f for f in fields.get("flags", "").split() if "bf16" in f or f.startswith("amx")
    )
    return f"{model} | {flags or 'no bf16 flags'} | torch {torch.__version__}"


def measure_matmul_seconds() -> dict[torch.dtype, float]:
    """Best of a few interleaved rounds of four 768x768 matmuls per type: the minimum, because
    noise on a shared machine only ever adds time."""
    base = torch.randn(768, 768)
    operands = {dtype: base.to(dtype) for dtype in (torch.float32, torch.bfloat16)}
    for a in operands.values():  # warm-up: the first calls initialise the kernels
        a @ a
        a @ a
    best = dict.fromkeys(operands, float("inf"))
    for _ in range(_ROUNDS):
        for dtype, a in operands.items():
            t = time.perf_counter()
            for _ in range(4):
                a @ a
            best[dtype] = min(best[dtype], time.perf_counter() - t)
    return best


def choose_dtype(timings: dict[torch.dtype, float]) -> torch.dtype:
    fast = timings[torch.bfloat16] * BF16_MIN_SPEEDUP <= timings[torch.float32]
    return torch.bfloat16 if fast else torch.float32


def _read_probe(path: Path) -> dict[str, str]:
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError):  # absent, unreadable or torn: measure again
        return {}
    return recorded if isinstance(recorded, dict) else {}


def _record_probe(path: Path, key: str, choice: torch.dtype) -> None:
    """Adds this machine's answer to the file (one home may be shared by several machines);
    a home that cannot be written only costs a measurement per process."""
    recorded = _read_probe(path)
    recorded[key] = str(choice).removeprefix("torch.")
    try:
        write_json_atomic(path, recorded)
    except OSError as exc:
        log.warning("could not record the CPU dtype choice in %s (%s)", path, exc)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """``model.dtype``: a named type, or ``auto``: bfloat16 where ``device`` runs it natively
    (a GPU with bf16, a CPU on which it measures faster), float32 elsewhere."""
    if name != "auto":
        return DTYPES[name]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return fastest_cpu_matmul_dtype()
