"""Which floating-point type to compute in.

bfloat16 halves memory and, where the hardware has it (AMX or AVX512-BF16 on a CPU, any recent
GPU), runs several times faster than float32; where it does not, PyTorch emulates it and a CPU
matmul runs ~50x *slower* (measured on an AVX2 EPYC: 34.8 vs 0.6 GFLOP/s). ``dtype: auto``
therefore asks the machine instead of assuming.
"""

from __future__ import annotations

import functools
import logging
import time

import torch

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@functools.cache
def fastest_cpu_matmul_dtype() -> torch.dtype:
    """bfloat16 if this CPU multiplies it faster than float32 (AMX / AVX512-BF16), else fp32.

    Measured, not read from CPU flags: flags say what exists, not what PyTorch's kernels use.
    Costs ~0.1 s once per process."""
    base = torch.randn(768, 768)
    elapsed = {}
    for dtype in (torch.float32, torch.bfloat16):
        a = base.to(dtype)
        a @ a  # warm-up: the first call initialises the kernel
        t = time.perf_counter()
        for _ in range(4):
            a @ a
        elapsed[dtype] = time.perf_counter() - t
    choice = min(elapsed, key=elapsed.__getitem__)
    log.info("fastest CPU matmul dtype: %s (%s)", choice, elapsed)
    return choice


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """``model.dtype``: a named type, or ``auto``: bfloat16 where ``device`` runs it natively
    (a GPU with bf16, a CPU on which it measures faster), float32 elsewhere."""
    if name != "auto":
        return DTYPES[name]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return fastest_cpu_matmul_dtype()
