"""Zero-copy bridge from the batch types discovery accepts (numpy, np.memmap, torch) to torch.

Activation caches hand out read-only float16 memmap views; converting them with numpy is slow
(numpy has no vectorised float16 path) and copies the whole batch, while torch converts float16
with SIMD and only the columns asked for. Every discovery module reads batches through
:func:`as_tensor`.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch


def as_tensor(batch: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A CPU tensor sharing the batch's memory (no copy, no dtype change); treat it as
    read-only: memmap caches are opened read-only."""
    if isinstance(batch, torch.Tensor):
        return batch.detach().cpu()
    with warnings.catch_warnings():  # "non-writable array": we never write through the view
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(np.asarray(batch))
