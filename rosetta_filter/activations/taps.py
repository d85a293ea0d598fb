"""Neuron taps: forward pre-hooks on the MLP output projections that copy out the
post-activations of only the requested neurons, and stop the forward pass after the deepest
requested layer (early exit, DESIGN.md).

A pre-hook sees the projection's *input*, which is the post-activation; it is copied with
``index_select`` (or ``clone``) at once, because fused or in-place kernels may reuse that buffer.
Hooks are global state on the module, so they only live inside :func:`capture`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from rosetta_filter.activations.architectures import ResolvedArchitecture
from rosetta_filter.errors import ConfigError
from rosetta_filter.neuron import Neuron


class StopForward(Exception):
    """Raised by the deepest tap: nothing after it is needed."""


@dataclass(frozen=True)
class TapPlan:
    """Which neurons to read from which layer, and how to put them back in request order.

    ``columns[layer]`` holds the neuron indices read at that layer (None: the whole layer);
    concatenating the layers in ascending order then applying ``order`` restores the order of
    ``neurons``.
    """

    neurons: tuple[Neuron, ...]
    columns: dict[int, torch.Tensor | None]
    order: torch.Tensor | None
    deepest: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "deepest", max(self.columns))

    @classmethod
    def build(cls, neurons: Sequence[Neuron], arch: ResolvedArchitecture) -> TapPlan:
        if not neurons:
            raise ConfigError("no neurons requested", field="neurons")
        for neuron in neurons:
            if not 0 <= neuron.layer < arch.n_layers or not 0 <= neuron.index < arch.d_mlp:
                raise ConfigError(
                    f"neuron {neuron} is outside this {arch.family} model "
                    f"({arch.n_layers} layers x {arch.d_mlp} neurons)",
                    field="neurons",
                    value=str(neuron),
                )
        by_layer: dict[int, list[int]] = {}
        for neuron in neurons:
            by_layer.setdefault(neuron.layer, []).append(neuron.index)
        columns: dict[int, torch.Tensor | None] = {}
        for layer in sorted(by_layer):
            idx = by_layer[layer]
            whole = idx == list(range(arch.d_mlp))
            columns[layer] = None if whole else torch.tensor(idx, dtype=torch.long)
        flat = [Neuron(layer, i) for layer in sorted(by_layer) for i in by_layer[layer]]
        position = {n: j for j, n in enumerate(flat)}
        order = [position[n] for n in neurons]
        identity = order == list(range(len(flat)))
        return cls(tuple(neurons), columns, None if identity else torch.tensor(order))

    @classmethod
    def whole_layers(cls, layers: Sequence[int], arch: ResolvedArchitecture) -> TapPlan:
        """Every neuron of ``layers`` (discovery): no gather, one copy per layer."""
        neurons = [Neuron(layer, i) for layer in sorted(layers) for i in range(arch.d_mlp)]
        return cls.build(neurons, arch)

    def assemble(self, captured: dict[int, torch.Tensor], batch: int, tokens: int) -> torch.Tensor:
        """Concatenate per-layer captures into (batch, tokens, n_neurons) in request order.

        Some families (OPT) flatten (batch, tokens) into one axis before the MLP: reshape back.
        """
        parts = [captured[layer].reshape(batch, tokens, -1) for layer in sorted(self.columns)]
        out = torch.cat(parts, dim=-1)
        return out if self.order is None else out.index_select(-1, self.order.to(out.device))


@contextmanager
def capture(
    arch: ResolvedArchitecture, plan: TapPlan, *, stop_early: bool = True
) -> Iterator[dict[int, torch.Tensor]]:
    """Hook the plan's layers; the yielded dict fills with (batch, tokens, k) per layer."""
    captured: dict[int, torch.Tensor] = {}
    handles = []

    def make_hook(layer: int, cols: torch.Tensor | None):
        def hook(_module: torch.nn.Module, args: tuple) -> None:
            post = args[0]  # (batch, tokens, d_mlp): the MLP post-activation
            captured[layer] = (
                post.clone() if cols is None else post.index_select(-1, cols.to(post.device))
            )
            if stop_early and layer == plan.deepest:
                raise StopForward

        return hook

    try:
        for layer, cols in plan.columns.items():
            handles.append(arch.tap_module(layer).register_forward_pre_hook(make_hook(layer, cols)))
        yield captured
    finally:
        for handle in handles:
            handle.remove()
