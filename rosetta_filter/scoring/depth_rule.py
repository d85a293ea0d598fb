"""The ``neurons.max_layer: auto`` rule: how deep a domain head's forward pass must run.

A bank's depth table holds one head per depth limit, each with its AUROC on every held-out
source family of the bank's cross-validation. The rule takes the shallowest depth whose quality
(:func:`depth_quality`, a statistic over those families) is within ``max_quality_loss`` of the
best depth's, but only where that rule was validated the way every other choice is: on families
it did not see. :func:`depth_rule_check` leaves each family out of the rule in turn and measures
what the depth picked without it cost that family against its own full-depth AUROC. The guard
(:data:`DEPTH_GUARDS`) says which of those losses must stay within ``max_quality_loss``:
``worst``, every left-out family's; ``mean``, their average (the expected loss on a family the
rule has not seen, which is what a held-out AUROC pooled over families measures). Where the
guard fails, the early exit is not validated and the rule runs the whole table
(:func:`validated_depth`).

Why a guard at all: on the 31 choose families of the session-10 bank's all-neuron heads, the
unguarded rule cost a left-out family up to 0.047 AUROC (one odd family decided the depth for
the rest), 0.0036 on average; with the ``worst`` guard, at most 0.027 and 0.0005 on average
(``bench/selection_rules.py``, docs/DISCOVERY.md). Why ``mean`` too: with 4 to 12 families per
domain, the noisiest one fails ``worst`` for almost any early exit, even where the average
family loses nothing (session 14, docs/DISCOVERY.md).

The bank builder (which records the pick) and the scorer (which makes it, for whatever
``max_quality_loss`` and guard a user sets) both call this module, so they always agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEPTH_STATISTICS = ("worst", "mean", "paired")
DEPTH_GUARDS = ("worst", "mean")  # which left-out losses must stay within max_quality_loss


def depth_quality(fold_auroc: np.ndarray, statistic: str) -> np.ndarray:
    """Per depth (row of ``fold_auroc``, depths x family folds, deepest last), the quality that
    ``max_layer: auto`` ranks by.

    ``worst``: the worst family's AUROC; ``mean``: the mean over families; ``paired``: the
    full-depth head's worst family, minus the largest drop any family suffers at this depth
    against its own full-depth AUROC. ``worst`` compares different families at different depths,
    so one family that happens to be hard at full depth can make a shallow depth look as good
    (and pick it while every other family loses there); ``paired`` compares each family with
    itself, which is what "within a loss of full depth" means.
    """
    if statistic == "worst":
        return fold_auroc.min(axis=1)
    if statistic == "mean":
        return fold_auroc.mean(axis=1)
    if statistic == "paired":
        full = fold_auroc[-1]
        return full.min() + (fold_auroc - full).min(axis=1)
    raise ValueError(f"unknown depth statistic {statistic!r}; use one of {DEPTH_STATISTICS}")


def auto_depth(qualities: Sequence[tuple[int, float]], max_quality_loss: float) -> int:
    """The shallowest depth whose quality is within ``max_quality_loss`` of the best."""
    best = max(q for _, q in qualities)
    return min(d for d, q in qualities if q >= best - max_quality_loss)


def _unchecked_depth(
    depths: Sequence[int], fold_auroc: np.ndarray, max_quality_loss: float, statistic: str
) -> int:
    quality = depth_quality(fold_auroc, statistic)
    return auto_depth(
        [(int(d), float(q)) for d, q in zip(depths, quality, strict=True)], max_quality_loss
    )


def depth_rule_check(
    depths: Sequence[int],
    fold_auroc: np.ndarray,
    families: Sequence[str],
    max_quality_loss: float,
    statistic: str = "worst",
    guard: str = "worst",
) -> dict:
    """How the depth rule fares on a family it did not see.

    ``fold_auroc[k, i]`` is the held-out AUROC of family fold ``i`` for the head of
    ``depths[k]``. For each family, the rule (:func:`depth_quality` by ``statistic`` of the
    *other* folds, then :func:`auto_depth`) picks a depth, and the left-out family's AUROC
    there is compared with its AUROC at full depth (the last row): a positive ``loss`` is what
    the early exit cost a family the choice never looked at. The other folds' heads were
    trained with that family, so this checks the rule, not the heads. Returns per-family rows,
    their worst and mean loss (None with fewer than two families: there is nothing to leave
    out) and ``passed``: whether the ``guard`` loss (:data:`DEPTH_GUARDS`) is within
    ``max_quality_loss``.
    """
    if guard not in DEPTH_GUARDS:
        raise ValueError(f"unknown depth guard {guard!r}; use one of {DEPTH_GUARDS}")
    if len(families) < 2:
        return {"families": [], "worst_loss": None, "mean_loss": None, "passed": False}
    rows = []
    for i, family in enumerate(families):
        others = np.delete(fold_auroc, i, axis=1)
        depth = _unchecked_depth(depths, others, max_quality_loss, statistic)
        k = list(depths).index(depth)
        loss = float(fold_auroc[-1, i] - fold_auroc[k, i])
        rows.append({"family": family, "max_layer": depth, "loss": loss})
    losses = [r["loss"] for r in rows]
    worst, mean = max(losses), float(np.mean(losses))
    judged = worst if guard == "worst" else mean
    return {
        "families": rows,
        "worst_loss": worst,
        "mean_loss": mean,
        "passed": judged <= max_quality_loss,
    }


def validated_depth(
    depths: Sequence[int],
    fold_auroc: np.ndarray,
    families: Sequence[str],
    max_quality_loss: float,
    statistic: str = "worst",
    guard: str = "worst",
) -> tuple[int, dict]:
    """``max_layer: auto``: the rule's depth where :func:`depth_rule_check` passed its
    ``guard``, else the deepest; returned with the check."""
    check = depth_rule_check(depths, fold_auroc, families, max_quality_loss, statistic, guard)
    if not check["passed"]:
        return int(depths[-1]), check
    return _unchecked_depth(depths, fold_auroc, max_quality_loss, statistic), check
