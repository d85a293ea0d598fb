"""Column layout: global columns <-> (layer, index), relative depth, neighbour layers."""

from __future__ import annotations

import numpy as np
import pytest

from discovery.datapass.layout import ColumnLayout
from discovery.errors import DiscoveryError
from rosetta_filter.neuron import Neuron


def test_columns_map_to_layer_and_index_and_back():
    layout = ColumnLayout.of([4, 2, 3])
    assert layout.n_columns == 9 and layout.offsets.tolist() == [0, 4, 6, 9]
    layers, indices = layout.split(np.arange(9))
    assert layers.tolist() == [0, 0, 0, 0, 1, 1, 2, 2, 2]
    assert indices.tolist() == [0, 1, 2, 3, 0, 1, 0, 1, 2]
    assert layout.neuron(5) == Neuron(1, 1)
    pairs = zip(layers.tolist(), indices.tolist(), strict=True)
    assert [layout.column(layer, index) for layer, index in pairs] == list(range(9))
    with pytest.raises(DiscoveryError, match="outside this layout"):
        layout.column(1, 2)
    with pytest.raises(DiscoveryError, match="out of range"):
        layout.split(np.array([9]))


def test_neighbour_columns_follow_relative_depth():
    partner = ColumnLayout.uniform(5, 10)  # depths 0, .25, .5, .75, 1
    assert partner.neighbour_columns(0.5, 0.25) == slice(10, 40)  # layers 1..3
    assert partner.neighbour_columns(0.0, 0.1) == slice(0, 10)
    assert partner.neighbour_columns(0.6, 0.05) == slice(0, 0)  # no layer that close
    assert ColumnLayout.uniform(1, 3).relative_depth(0) == 0.0


def test_empty_or_non_positive_layers_are_rejected():
    with pytest.raises(DiscoveryError):
        ColumnLayout.of([])
    with pytest.raises(DiscoveryError):
        ColumnLayout.of([3, 0])
