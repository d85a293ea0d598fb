"""Column layout: where each ``(layer, index)`` neuron of one model sits among its columns.

Discovery concatenates the MLP neurons of all of a model's layers into one activation matrix
(spans x columns), layer 0 first. :class:`ColumnLayout` is the one place that maps a global
column to a :class:`~rosetta_filter.neuron.Neuron` and back, and that knows a layer's relative
depth (used by the layer-neighbourhood limit of the correlation and by the per-layer rotation
null).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from discovery.errors import DiscoveryError
from rosetta_filter.neuron import Neuron


@dataclass(frozen=True)
class ColumnLayout:
    """Layer sizes of one model, in column order (``layer_sizes[l]`` = d_mlp of layer l)."""

    layer_sizes: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.layer_sizes or any(int(s) <= 0 for s in self.layer_sizes):
            raise DiscoveryError(
                f"layer sizes {self.layer_sizes!r} must be a non-empty list of positive ints",
                field="layer_sizes",
                value=self.layer_sizes,
            )
        object.__setattr__(self, "layer_sizes", tuple(int(s) for s in self.layer_sizes))

    @classmethod
    def uniform(cls, n_layers: int, d_mlp: int) -> ColumnLayout:
        return cls((d_mlp,) * n_layers)

    @classmethod
    def of(cls, layer_sizes: Sequence[int]) -> ColumnLayout:
        return cls(tuple(layer_sizes))

    @property
    def n_layers(self) -> int:
        return len(self.layer_sizes)

    @property
    def n_columns(self) -> int:
        return int(sum(self.layer_sizes))

    @property
    def offsets(self) -> np.ndarray:
        """(n_layers + 1,) first column of each layer, then the total."""
        return np.concatenate([[0], np.cumsum(self.layer_sizes)]).astype(np.int64)

    def layer_columns(self, layer: int) -> slice:
        offsets = self.offsets
        return slice(int(offsets[layer]), int(offsets[layer + 1]))

    def column(self, layer: int, index: int) -> int:
        if not (0 <= layer < self.n_layers and 0 <= index < self.layer_sizes[layer]):
            raise DiscoveryError(
                f"neuron L{layer}.N{index} is outside this layout "
                f"({self.n_layers} layers of sizes {self.layer_sizes})",
                field="neuron",
                value=(layer, index),
            )
        return int(self.offsets[layer]) + index

    def split(self, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised column -> (layer, index); both arrays have the shape of ``columns``."""
        columns = np.asarray(columns, dtype=np.int64)
        if columns.size and (columns.min() < 0 or columns.max() >= self.n_columns):
            raise DiscoveryError(
                f"column out of range [0, {self.n_columns})", field="column", value=columns
            )
        layers = np.searchsorted(self.offsets, columns, side="right") - 1
        return layers, columns - self.offsets[layers]

    def neuron(self, column: int) -> Neuron:
        layers, indices = self.split(np.asarray([column]))
        return Neuron(int(layers[0]), int(indices[0]))

    def relative_depth(self, layer: int) -> float:
        """Layer position in [0, 1]: 0 = first layer, 1 = last (0 for a one-layer model)."""
        return layer / (self.n_layers - 1) if self.n_layers > 1 else 0.0

    def neighbour_columns(self, other_layer_depth: float, window: float) -> slice:
        """Contiguous columns of the layers whose relative depth is within ``window`` of
        ``other_layer_depth``. Relative depth is monotone in the layer, so the allowed layers
        are contiguous and so are their columns; an empty slice when no layer qualifies."""
        depths = np.array([self.relative_depth(layer) for layer in range(self.n_layers)])
        allowed = np.flatnonzero(np.abs(depths - other_layer_depth) <= window + 1e-12)
        if allowed.size == 0:
            return slice(0, 0)
        offsets = self.offsets
        return slice(int(offsets[allowed[0]]), int(offsets[allowed[-1] + 1]))
