"""Best buddies and Rosetta groups, from the top-K correlations of
:mod:`discovery.correlate.correlation`.

Neurons a (anchor model A) and b (partner model B) are *best buddies* when b is among a's top-k
partners by Pearson r, a is among b's top-k anchors, and r >= min_r (Dravid et al., ICCV 2023;
k = 1 by default). Ranking is by signed r: a unit that fires where the other is silent is not the
same unit. With one anchor and >= 2 partner models, a *Rosetta Neuron* is an anchor neuron with a
best buddy in every partner; its *group* is the anchor neuron plus those buddies, and is
*consistent* when every two partner neurons of the group are best buddies of each other too
(found by running the same correlation with one partner as the anchor).

Records are plain dataclasses of numpy columns or scalars, with ``to_arrow`` helpers that give
the neuron text form ``"L{layer}.N{index}"`` through each model's :class:`ColumnLayout`.

Public API::

    pairs = best_buddies(result, "smollm", "gemma", k=1, min_r=0.0)     # BuddyPairs
    recall, precision = compare_pairs(reference_pairs, pairs)
    groups = rosetta_groups("smollm", [pairs_gemma, pairs_qwen])         # list[RosettaGroup]
    groups = mark_consistency(groups, [best_buddies(r_gemma_qwen, "gemma", "qwen")])
    pairs.to_arrow(layout_a, layout_b); groups_to_arrow(groups, layouts)
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from discovery.correlate.correlation import CorrelationResult
from discovery.datapass.layout import ColumnLayout
from discovery.errors import DiscoveryError


@dataclass(frozen=True)
class BuddyPairs:
    """Best-buddy pairs between two models, one entry per pair, sorted by anchor column."""

    model_a: str
    model_b: str
    neuron_a: np.ndarray  # (n_pairs,) int64 column in model_a
    neuron_b: np.ndarray  # (n_pairs,) int64 column in model_b
    r: np.ndarray  # (n_pairs,) float32 Pearson r over spans

    def __len__(self) -> int:
        return int(self.neuron_a.size)

    def as_set(self) -> set[tuple[int, int]]:
        return set(zip(self.neuron_a.tolist(), self.neuron_b.tolist(), strict=True))

    def to_arrow(self, layout_a: ColumnLayout, layout_b: ColumnLayout) -> pa.Table:
        """pairs.parquet rows: model_a, neuron_a ("L3.N512"), layer_a, index_a, same for b, r."""
        layer_a, index_a = layout_a.split(self.neuron_a)
        layer_b, index_b = layout_b.split(self.neuron_b)
        return pa.table(
            {
                "model_a": [self.model_a] * len(self),
                "neuron_a": _names(layer_a, index_a),
                "layer_a": layer_a.astype(np.int32),
                "index_a": index_a.astype(np.int32),
                "model_b": [self.model_b] * len(self),
                "neuron_b": _names(layer_b, index_b),
                "layer_b": layer_b.astype(np.int32),
                "index_b": index_b.astype(np.int32),
                "r": self.r.astype(np.float32),
            }
        )


def best_buddies(
    result: CorrelationResult, model_a: str, model_b: str, *, k: int = 1, min_r: float = 0.0
) -> BuddyPairs:
    """Mutual top-k pairs with r >= min_r (k at most the k the correlation kept)."""
    kept = result.anchor_top.indices.shape[1]
    if not 1 <= k <= kept:
        raise DiscoveryError(
            f"best buddies with k={k} need the correlation's top-k with k >= {k}, it kept "
            f"{kept}: re-run correlation with k={k}",
            field="k",
            value=k,
        )
    partners = result.anchor_top.indices[:, :k]  # (d_a, k)
    values = result.anchor_top.values[:, :k]
    anchors, slots = np.nonzero((partners >= 0) & (values >= min_r))
    b = partners[anchors, slots]
    back = result.partner_top.indices[b, :k]  # (n_candidates, k): b's top-k anchors
    mutual = (back == anchors[:, None]).any(axis=1)
    return BuddyPairs(
        model_a=model_a,
        model_b=model_b,
        neuron_a=anchors[mutual].astype(np.int64),
        neuron_b=b[mutual].astype(np.int64),
        r=values[anchors[mutual], slots[mutual]].astype(np.float32),
    )


def compare_pairs(reference: BuddyPairs, found: BuddyPairs) -> tuple[float, float]:
    """(recall, precision) of ``found`` against ``reference`` (1.0 when a side is empty)."""
    ref, got = reference.as_set(), found.as_set()
    hit = len(ref & got)
    return (hit / len(ref) if ref else 1.0), (hit / len(got) if got else 1.0)


@dataclass(frozen=True)
class RosettaGroup:
    """One Rosetta Neuron: an anchor neuron and its best buddy in every partner model."""

    group_id: int
    anchor_model: str
    anchor_neuron: int  # column in the anchor model
    partners: dict[str, int]  # partner model -> column of its best buddy
    r: dict[str, float]  # partner model -> r with the anchor neuron
    consistent: bool | None = None  # partners pairwise best buddies; None = not checked

    @property
    def mean_r(self) -> float:
        return float(np.mean(list(self.r.values())))


def rosetta_groups(anchor_model: str, buddies: Sequence[BuddyPairs]) -> list[RosettaGroup]:
    """Anchor neurons with a best buddy in every partner model, ordered by anchor column.

    With k > 1 an anchor neuron may have several buddies in one partner: the group keeps the
    one with the highest r.
    """
    partners = [p.model_b for p in buddies]
    if len(set(partners)) < 2 or len(set(partners)) != len(partners):
        raise DiscoveryError(
            f"Rosetta groups need best buddies with >= 2 distinct partner models, got "
            f"{partners}: add partner models (with one partner, use the best-buddy pairs)",
            field="partners",
            value=partners,
        )
    best: dict[str, dict[int, tuple[int, float]]] = {}
    for pairs in buddies:
        if pairs.model_a != anchor_model:
            raise DiscoveryError(
                f"best buddies {pairs.model_a}->{pairs.model_b} do not have anchor model "
                f"{anchor_model}: correlate every partner against the same anchor",
                field="anchor_model",
                value=pairs.model_a,
            )
        per_anchor: dict[int, tuple[int, float]] = {}
        columns = (pairs.neuron_a.tolist(), pairs.neuron_b.tolist(), pairs.r.tolist())
        for a, b, r in zip(*columns, strict=True):
            if a not in per_anchor or r > per_anchor[a][1]:
                per_anchor[a] = (b, r)
        best[pairs.model_b] = per_anchor
    shared = sorted(set.intersection(*(set(m) for m in best.values())))
    return [
        RosettaGroup(
            group_id=i,
            anchor_model=anchor_model,
            anchor_neuron=a,
            partners={p: best[p][a][0] for p in partners},
            r={p: best[p][a][1] for p in partners},
        )
        for i, a in enumerate(shared)
    ]


def mark_consistency(
    groups: Sequence[RosettaGroup], partner_buddies: Sequence[BuddyPairs]
) -> list[RosettaGroup]:
    """Set ``consistent`` on every group: are all its partner neurons pairwise best buddies?

    ``partner_buddies`` holds the best buddies of every unordered pair of partner models (either
    direction).
    """
    by_pair = {(p.model_a, p.model_b): p.as_set() for p in partner_buddies}
    out = []
    for group in groups:
        consistent = True
        for p, q in itertools.combinations(sorted(group.partners), 2):
            if (p, q) in by_pair:
                pair = (group.partners[p], group.partners[q])
                consistent &= pair in by_pair[(p, q)]
            elif (q, p) in by_pair:
                pair = (group.partners[q], group.partners[p])
                consistent &= pair in by_pair[(q, p)]
            else:
                raise DiscoveryError(
                    f"no best buddies between partners {p} and {q}: correlate {p} (as anchor) "
                    f"with {q} to check Rosetta group consistency",
                    field="partner_buddies",
                    value=(p, q),
                )
        out.append(replace(group, consistent=consistent))
    return out


_GROUP_SCHEMA = pa.schema(
    [
        ("group_id", pa.int32()),
        ("model", pa.string()),
        ("role", pa.string()),  # "anchor" or "partner"
        ("neuron", pa.string()),  # "L{layer}.N{index}"
        ("layer", pa.int32()),
        ("index", pa.int32()),
        ("r", pa.float32()),  # with the anchor neuron; 1.0 for the anchor itself
        ("mean_r", pa.float32()),
        ("consistent", pa.bool_()),
    ]
)


def groups_to_arrow(
    groups: Sequence[RosettaGroup], layouts: Mapping[str, ColumnLayout]
) -> pa.Table:
    """One row per group member, the anchor first (columns: see ``_GROUP_SCHEMA``)."""
    rows = []
    for g in groups:
        members = [(g.anchor_model, "anchor", g.anchor_neuron, 1.0)]
        members += [(m, "partner", col, g.r[m]) for m, col in g.partners.items()]
        for model, role, col, r in members:
            if model not in layouts:
                raise DiscoveryError(
                    f"no column layout for model {model}: pass layouts of every group member",
                    field="layouts",
                    value=model,
                )
            neuron = layouts[model].neuron(col)
            rows.append(
                {
                    "group_id": g.group_id,
                    "model": model,
                    "role": role,
                    "neuron": str(neuron),
                    "layer": neuron.layer,
                    "index": neuron.index,
                    "r": r,
                    "mean_r": g.mean_r,
                    "consistent": g.consistent,
                }
            )
    return pa.Table.from_pylist(rows, schema=_GROUP_SCHEMA)


def _names(layers: np.ndarray, indices: np.ndarray) -> list[str]:
    return [
        f"L{layer}.N{index}" for layer, index in zip(layers.tolist(), indices.tolist(), strict=True)
    ]
