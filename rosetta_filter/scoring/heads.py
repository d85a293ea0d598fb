"""Domain heads of a neuron bank (``heads.json``, format 2): which head scores a domain.

Per domain and neuron pool (``rosetta``: Rosetta Neurons only; ``all``: any neuron of the
anchor) the bank holds a depth table: one sparse linear head per depth limit, each with its
held-out-family validation (written by ``rosetta-filter domains``, :mod:`discovery.domain`).
``neurons.max_layer`` picks the row: an integer takes the deepest head at or below that layer;
``auto`` the shallowest head whose held-out-family AUROC (the statistic the bank names in
``quality_key``: the worst family by default, or the mean; banks written before it was recorded
used the worst) is within ``neurons.max_quality_loss`` of the table's best, so the early exit is
chosen by measurement.
"""

from __future__ import annotations

from typing import Any, Literal

from rosetta_filter.errors import BankError
from rosetta_filter.scoring.bank import NeuronBank, Pool

LEGACY_QUALITY_KEY = "worst_fold_auroc"  # banks whose heads.json names no quality_key


def quality_key(bank: NeuronBank) -> str:
    """The depth-table statistic that ranks a bank's heads (see the module docstring)."""
    return (bank.heads or {}).get("quality_key", LEGACY_QUALITY_KEY)


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


def choose_depth(
    rows: list[dict],
    max_layer: int | Literal["auto"] | None,
    max_quality_loss: float,
    key: str = LEGACY_QUALITY_KEY,
) -> dict[str, Any]:
    """The depth-table row ``max_layer`` asks for (see the module docstring); ``key`` is the
    bank's :func:`quality_key`."""
    if max_layer is None:
        return rows[-1]
    if max_layer == "auto":
        best = max(r[key] for r in rows)
        return next(r for r in rows if r[key] >= best - max_quality_loss)
    fitting = [r for r in rows if r["max_layer"] <= max_layer]
    if not fitting:
        raise BankError(
            f"neurons.max_layer={max_layer}: the shallowest head of this domain needs layer "
            f"{rows[0]['max_layer']}; raise max_layer or use auto",
            field="neurons.max_layer",
            value=max_layer,
        )
    return fitting[-1]


def auto_layer(bank: NeuronBank, model_id: str, domain: str, rosetta_only: Pool, loss: float):
    """The depth ``max_layer: auto`` resolves to, or None for a bank without heads."""
    if bank.heads is None:
        return None
    rows = depth_rows(bank, model_id, domain, rosetta_only)
    return choose_depth(rows, "auto", loss, quality_key(bank))["max_layer"]


POOL_PREFERENCE: tuple[Pool, ...] = (True, "consistent", False)  # order of ties


def choose_pool(
    bank: NeuronBank,
    model_id: str,
    domain: str,
    max_layer: int | Literal["auto"] | None,
    loss: float,
) -> Pool:
    """``rosetta_only: auto`` for a head, by the rule ``max_layer: auto`` follows: quality first,
    then cost. Among the pools (Rosetta Neurons, consistent Rosetta groups, all neurons) whose
    head at this depth request validated within ``loss`` of the best pool's, on the held-out
    families of the bank's build (its cross-validation, never on the documents a user later
    evaluates on), the one that stops earliest; ties keep Rosetta Neurons, then consistent
    groups. A bank without a pool's table simply does not offer it."""
    key = quality_key(bank)
    chosen = {}
    for pool in POOL_PREFERENCE:
        try:
            rows = depth_rows(bank, model_id, domain, pool)
            chosen[pool] = choose_depth(rows, max_layer, loss, key)
        except BankError:
            continue
    if not chosen:  # no pool can serve: let the Rosetta lookup raise its error
        return True
    best = max(row[key] for row in chosen.values())
    near = [pool for pool, row in chosen.items() if row[key] >= best - loss]
    return min(near, key=lambda pool: chosen[pool]["max_layer"])  # stable: preference on ties
