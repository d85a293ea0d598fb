"""Null baselines: how many best buddies would appear by chance.

Two models trained on the same text share *information*, so some correlation between their
neurons is expected even if their neuron bases were arbitrary. What Rosetta Neurons claim is
more: the bases line up. The nulls keep the information and destroy the alignment:

* :func:`rotated_source`: the partner's activations are multiplied, layer by layer, by a fixed
  random orthogonal matrix (Haar, seeded). Every linear relation between the models survives;
  the privileged neuron basis does not (Gurnee et al. 2024 use the same null for universal
  neurons). The rotation is applied batch by batch as the correlation reads the source, so
  memory stays bounded; the same seed gives the same rotation on every pass.
* :func:`shuffled_source`: the partner's spans are permuted, destroying the pairing between
  the models' samples altogether (a floor: what chance correlation over N spans gives).

Run the same correlation and :func:`discovery.correlate.buddies.best_buddies` on the null source and
report both counts.

Public API::

    null = rotated_source(source, partner_layout, seed=0)
    null_pairs = best_buddies(correlate_pruned(null), "smollm", "gemma (rotated)")
    null = shuffled_source(anchor_cache, partner_cache, batch_size=1024, seed=0)
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from discovery.correlate.arrays import as_tensor
from discovery.datapass.activation_cache import ActivationCache, paired_source
from discovery.datapass.layout import ColumnLayout
from discovery.datapass.span_source import Batch, SpanSource
from discovery.errors import DiscoveryError


def random_rotation(d: int, generator: torch.Generator) -> torch.Tensor:
    """(d, d) float32 orthogonal matrix drawn from the Haar measure.

    QR of a Gaussian matrix, with R's diagonal signs folded into Q (Mezzadri 2007, "How to
    generate random matrices from the classical compact groups"); without that fix Q is not
    uniformly distributed."""
    gaussian = torch.randn(d, d, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(gaussian)
    return (q * torch.sign(torch.diagonal(r)).unsqueeze(0)).to(torch.float32)


def rotated_source(source: SpanSource, layout: ColumnLayout, seed: int = 0) -> SpanSource:
    """The source with the partner (Y) basis randomly rotated within each layer."""
    generator = torch.Generator().manual_seed(seed)
    rotations = [random_rotation(size, generator) for size in layout.layer_sizes]

    def batches() -> Iterator[tuple[Batch, torch.Tensor]]:
        for x, y in source():
            if y.shape[1] != layout.n_columns:
                raise DiscoveryError(
                    f"partner batches have {y.shape[1]} columns, the layout {layout.n_columns}: "
                    "pass the partner model's own layout",
                    field="layout",
                    value=layout.n_columns,
                )
            values = as_tensor(y).to(torch.float32)  # (n, d_b)
            out = torch.empty_like(values)  # (n, d_b)
            for layer, rotation in enumerate(rotations):
                cols = layout.layer_columns(layer)
                out[:, cols] = values[:, cols] @ rotation
            yield x, out

    return batches


def shuffled_source(
    anchor: ActivationCache, partner: ActivationCache, batch_size: int = 1024, seed: int = 0
) -> SpanSource:
    """Span i of the anchor paired with span perm[i] of the partner (a seeded permutation)."""
    perm = np.random.default_rng(seed).permutation(partner.n_rows)
    return paired_source(anchor, partner, batch_size=batch_size, y_rows=perm)
