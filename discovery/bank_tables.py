"""Assembling the neuron bank's tables from discovery's results (the format itself lives in
:mod:`rosetta_filter.scoring.bank`, shared with the scorer)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from discovery.correlate.buddies import BuddyPairs, RosettaGroup
from discovery.datapass.collect import ModelCollection
from discovery.neuron_stats.selectivity import selectivity_columns
from discovery.neuron_stats.specialisation import specialisation_columns
from rosetta_filter.neuron import Neuron
from rosetta_filter.scoring.bank import PAIR_COLUMNS, auroc_column, norm_columns


def _membership(groups: Sequence[RosettaGroup], model: str) -> dict[int, RosettaGroup]:
    members: dict[int, RosettaGroup] = {}
    for group in groups:
        if group.anchor_model == model:
            members[group.anchor_neuron] = group
        elif model in group.partners:
            members[group.partners[model]] = group
    return members


def _partner_names(group: RosettaGroup, model: str, layouts: dict) -> list[str]:
    members = {group.anchor_model: group.anchor_neuron, **group.partners}
    return [f"{m}:{layouts[m].neuron(col)}" for m, col in sorted(members.items()) if m != model]


def neuron_columns(
    collected: ModelCollection, labels: Sequence[str], domains: Sequence[str]
) -> dict[str, np.ndarray | list]:
    """Every per-neuron statistic of one model (selectivity, specialisation, normalisation),
    one entry per column of its layout."""
    columns: dict[str, np.ndarray | list] = {
        **selectivity_columns(collected.span_moments, collected.span_active),
        **specialisation_columns(collected.doc_mean, labels, domains),
    }
    for method, moments in collected.doc_moments.items():
        mean_col, std_col = norm_columns(method)
        columns[mean_col] = moments.mean.astype(np.float32)
        columns[std_col] = moments.std.astype(np.float32)
    return columns


def rosetta_members(groups: Sequence[RosettaGroup], model: str) -> np.ndarray:
    """Columns of ``model`` that belong to a Rosetta group (as anchor or partner)."""
    return np.asarray(sorted(_membership(groups, model)), dtype=np.int64)


def neuron_table(
    collected: ModelCollection,
    columns: dict[str, np.ndarray | list],
    domains: Sequence[str],
    groups: Sequence[RosettaGroup],
    layouts: dict,
    *,
    top_per_domain: int,
    keep_all: bool,
) -> pa.Table:
    """One row per kept neuron of one model: Rosetta members and the most specialised."""
    d = collected.layout.n_columns
    members = _membership(groups, collected.id)
    keep = np.zeros(d, dtype=bool)
    keep[list(members)] = True
    if keep_all:
        keep[:] = True
    for domain in domains:
        order = np.argsort(-np.asarray(columns[auroc_column(domain)]), kind="stable")
        keep[order[:top_per_domain]] = True
    rows = np.flatnonzero(keep)
    layers, indices = collected.layout.split(rows)
    table: dict[str, object] = {
        "model": [collected.id] * len(rows),
        "layer": layers.astype(np.int32),
        "index": indices.astype(np.int32),
        "neuron": [str(Neuron(int(la), int(ix))) for la, ix in zip(layers, indices, strict=True)],
        "is_rosetta": [int(c) in members for c in rows],
        "group_id": [members[int(c)].group_id if int(c) in members else -1 for c in rows],
        "consistent": [members[int(c)].consistent if int(c) in members else None for c in rows],
        "mean_r": [members[int(c)].mean_r if int(c) in members else None for c in rows],
        "partners": [
            _partner_names(members[int(c)], collected.id, layouts) if int(c) in members else []
            for c in rows
        ],
    }
    for name, values in columns.items():
        table[name] = (
            np.asarray(values)[rows]
            if not isinstance(values, list)
            else [values[int(c)] for c in rows]
        )
    return pa.table(table)


def pairs_table(pairs: Sequence[BuddyPairs], layouts: dict) -> pa.Table:
    tables = [p.to_arrow(layouts[p.model_a], layouts[p.model_b]) for p in pairs if len(p)]
    if not tables:
        return pa.table(
            {c: pa.array([], pa.string() if c != "r" else pa.float32()) for c in PAIR_COLUMNS}
        )
    return pa.concat_tables(tables)
