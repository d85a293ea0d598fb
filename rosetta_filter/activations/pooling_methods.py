"""The names of the pooling methods, without torch: the config validates them, and processes
that never run a model (rank processes of a model-free scorer, the CLI's config checks) should
not pay torch's import to do so. ``pooling.py`` implements them."""

from __future__ import annotations

from typing import Literal

PoolingMethod = Literal["mean", "max", "topk_mean", "frac_active"]
POOLING_METHODS: tuple[PoolingMethod, ...] = ("mean", "max", "topk_mean", "frac_active")
