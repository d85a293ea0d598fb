"""Domain heads of a neuron bank (``heads.json``, format 2): which head scores a domain.

Per domain and neuron pool (``rosetta``: Rosetta Neurons only; ``all``: any neuron of the
anchor) the bank holds a depth table: one sparse linear head per depth limit, each with its
held-out-family validation (written by ``rosetta-filter domains``, :mod:`discovery.domain`).
``neurons.max_layer`` picks the row: an integer takes the deepest head at or below that layer;
``auto`` the shallowest head whose held-out-family AUROC (the statistic the bank names in
``quality_key``: the worst family by default; banks written before it was recorded used the
worst) is within ``neurons.max_quality_loss`` of the table's best, where that rule held on the
families it did not see (every family, or on average: ``neurons.depth_guard``), else the
deepest (:mod:`rosetta_filter.scoring.depth_rule`): the early exit is chosen by measurement,
and only where the measurement validates it.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from rosetta_filter.errors import BankError
from rosetta_filter.neuron import Neuron
from rosetta_filter.scoring.bank import NeuronBank, Pool
from rosetta_filter.scoring.depth_rule import validated_depth

LEGACY_QUALITY_KEY = "worst_fold_auroc"  # banks whose heads.json names no quality_key
LEGACY_QUALITY_LOSS = 0.005  # banks whose heads.json records no max_quality_loss
LEGACY_GUARD = "worst"  # banks fitted before session 14 had only this guard and record none


def quality_key(bank: NeuronBank) -> str:
    """The depth-table statistic that ranks a bank's heads (see the module docstring)."""
    return (bank.heads or {}).get("quality_key", LEGACY_QUALITY_KEY)


def depth_rule_settings(
    bank: NeuronBank, max_quality_loss: float | Literal["auto"], guard: str
) -> tuple[float, str]:
    """The loss and guard ``max_layer: auto`` applies with ``bank``: the configured ones, or for
    ``auto`` the ones the bank's own depth rule was validated with at fit time (its rule check
    in ``heads.json``), so a bank fitted with a stricter guard is scored with it."""
    heads = bank.heads or {}
    if max_quality_loss == "auto":
        max_quality_loss = float(heads.get("max_quality_loss", LEGACY_QUALITY_LOSS))
    if guard == "auto":
        guard = heads.get("settings", {}).get("heads", {}).get("depth_guard", LEGACY_GUARD)
    return max_quality_loss, guard


HEAD_POOLS: tuple[Pool, ...] = (True, "consistent", False)  # the pools a bank may hold heads for


def pool_name(rosetta_only: Pool) -> str:
    """The depth-table key of a neuron pool (``neurons.rosetta_only``)."""
    if rosetta_only == "consistent":
        return "consistent"
    return "rosetta" if rosetta_only else "all"


def depth_rows(bank: NeuronBank, model_id: str, domain: str, rosetta_only: Pool) -> list[dict]:
    """The depth table of one domain and pool, shallowest first."""
    heads = bank.heads
    if heads is None:
        raise BankError(
            f"bank {bank.path} (format {bank.meta.get('format_version')}) has no domain heads: "
            "set neurons.mode=top_k, or add heads with `rosetta-filter domains`",
            field="neurons.mode",
            value="head",
        )
    if heads.get("model") != model_id:
        raise BankError(
            f"the heads of bank {bank.path} are for model {heads.get('model')!r}, not "
            f"{model_id!r}: set neurons.bank_model, or neurons.mode=top_k",
            field="neurons.bank_model",
            value=model_id,
        )
    by_domain = heads.get("domains", {})
    if domain not in by_domain:
        raise BankError(
            f"bank {bank.path} has no head for domain {domain!r}; it has {sorted(by_domain)}",
            field="neurons.domain",
            value=domain,
        )
    rows = by_domain[domain].get(pool_name(rosetta_only), {}).get("depths", [])
    if not rows:
        raise BankError(
            f"bank {bank.path} has no {pool_name(rosetta_only)!r} head for {domain!r}: "
            "set neurons.rosetta_only to another pool (true, false or consistent)",
            field="neurons.rosetta_only",
            value=rosetta_only,
        )
    return sorted(rows, key=lambda r: r["max_layer"])


def deepest_read(row: dict) -> int:
    """The deepest layer a depth-table row's head reads: where its forward pass stops (at or
    below the row's ``max_layer``)."""
    return max(Neuron.parse(n).layer for n in row["neurons"])


def choose_depth(
    rows: list[dict],
    max_layer: int | Literal["auto"] | None,
    max_quality_loss: float,
    key: str = LEGACY_QUALITY_KEY,
    guard: str = "worst",
) -> dict[str, Any]:
    """The depth-table row ``max_layer`` asks for (see the module docstring); ``key`` is the
    bank's :func:`quality_key`, ``guard`` the left-out losses ``auto`` must keep within
    ``max_quality_loss`` (:data:`~rosetta_filter.scoring.depth_rule.DEPTH_GUARDS`)."""
    if max_layer is None:
        return rows[-1]
    if max_layer == "auto":
        if any("fold_auroc" not in r for r in rows):
            raise BankError(
                "this bank's depth table has no per-family AUROCs (fold_auroc) to validate "
                "max_layer: auto on: set neurons.max_layer to a layer or null, or rebuild the "
                "heads with `rosetta-filter domains`",
                field="neurons.max_layer",
                value=max_layer,
            )
        depths = [r["max_layer"] for r in rows]
        fold_auroc = np.asarray([r["fold_auroc"] for r in rows])
        families = [str(i) for i in range(fold_auroc.shape[1])]
        statistic = key.removesuffix("_fold_auroc")
        depth, _ = validated_depth(depths, fold_auroc, families, max_quality_loss, statistic, guard)
        return rows[depths.index(depth)]
    fitting = [r for r in rows if r["max_layer"] <= max_layer]
    if not fitting:
        raise BankError(
            f"neurons.max_layer={max_layer}: the shallowest head of this domain needs layer "
            f"{rows[0]['max_layer']}; raise max_layer or use auto",
            field="neurons.max_layer",
            value=max_layer,
        )
    return fitting[-1]


def auto_layer(
    bank: NeuronBank,
    model_id: str,
    domain: str,
    rosetta_only: Pool,
    loss: float,
    guard: str = "worst",
):
    """The depth ``max_layer: auto`` resolves to, or None for a bank without heads."""
    if bank.heads is None:
        return None
    rows = depth_rows(bank, model_id, domain, rosetta_only)
    return choose_depth(rows, "auto", loss, quality_key(bank), guard)["max_layer"]
