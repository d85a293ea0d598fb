"""Is a changed bank no worse than the current one, beyond the cross-validation's own noise?

A bank change (a family moved into the choose corpus, a new fitting rule) is judged on the
choose side by the heads' family-disjoint cross-validation. Session 14 compared two banks' mean
fold AUROCs as they came out of each bank's own folds, and found that moving 80 legal documents
moved *medical* by -0.015: :func:`~discovery.domain.lofo.family_folds` deals negative families
into folds by position, so a new family re-deals the others, and a fold's AUROC depends on which
hard negatives share it. That noise was larger than the 0.005 the rule tested for.

Here the comparison removes what it can and measures the rest:

- **Paired folds.** Families only one bank has are ``train_only`` in both: never held out, so in
  each fold both banks' heads are scored on the same held-out documents, and the per-fold
  difference is the change's effect on exactly those families.
- **Repeated dealings.** Each of ``seeds`` deals every domain's families in its own seeded order
  (``family_folds(shuffle_seed=...)``), so the result does not hang on one arbitrary grouping of
  negatives; ``assignment_sd`` reports how far one dealing's mean fold AUROC moves.
- **An interval over families.** What varies for a user is which families their data comes from,
  so the 95% interval of a domain's difference resamples its held-out families (every fold holds
  out one family of the domain), each resample averaging over all dealings.

The statistic is the all-neuron head at full depth (the most expressive head; the same setting as
the depth tables' reference row), fitted with the bank's own :class:`HeadSettings`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from discovery.domain.heads import HeadSettings, fit_head
from discovery.domain.lofo import (
    FamilyMoments,
    LabelledDocs,
    domain_stats,
    family_folds,
    fold_plan,
)
from discovery.domain.ranked import RankedMatrix, ranked_matrices
from discovery.domain.workers import map_domains
from discovery.errors import DiscoveryError


@dataclass(frozen=True)
class DealtAurocs:
    """One domain's held-out AUROCs: ``aurocs[s, f]`` is fold family ``families[f]`` under
    dealing ``seeds[s]``."""

    families: list[str]
    seeds: list[int]
    aurocs: np.ndarray  # (seeds, families)


def held_family(held: np.ndarray, labels: LabelledDocs, domain: str) -> str:
    """The one family of ``domain`` that a fold holds out."""
    names = set(labels.families[held & (labels.domains == domain)].tolist())
    if len(names) != 1:
        raise DiscoveryError(f"a fold of {domain!r} holds out {sorted(names)}", field="folds")
    return names.pop()


def dealt_aurocs(
    values: np.ndarray,
    labels: LabelledDocs,
    domain: str,
    settings: HeadSettings,
    seeds: Sequence[int],
    train_only: Collection[str] = (),
    ranked: RankedMatrix | None = None,
    layers: np.ndarray | None = None,
) -> DealtAurocs:
    """The full-depth all-neuron head's held-out AUROC per fold family, for each dealing
    (``layers``: each column's layer, which ``per_layer`` candidates need)."""
    if ranked is None:
        ranked = RankedMatrix.of(values)
    moments = FamilyMoments.of(values, labels)  # the statistics' and every dealing's folds'
    stats = domain_stats(values, labels, domain, ranked=ranked, moments=moments)
    pool = np.arange(values.shape[1])
    by_seed: list[dict[str, float]] = []
    for seed in seeds:
        held = family_folds(labels, domain, shuffle_seed=seed, train_only=train_only)
        plan = fold_plan(values, labels, domain, ranked, held, moments)
        head = fit_head(values, labels, domain, stats, pool, settings, plan, layers)
        by_seed.append(
            {held_family(h, labels, domain): a for h, a in zip(held, head.fold_auroc, strict=True)}
        )
    families = sorted(by_seed[0])
    return DealtAurocs(
        families, list(seeds), np.asarray([[row[f] for f in families] for row in by_seed])
    )


@dataclass(frozen=True)
class DomainChange:
    """Bank B against bank A in one domain, over the same folds."""

    families: list[str]
    mean_a: float  # mean over dealings and families
    mean_b: float
    difference: float  # mean_b - mean_a
    low: float  # 95% interval of the difference, families resampled
    high: float
    assignment_sd_a: float  # sd over dealings of A's mean fold AUROC (one dealing's noise)
    assignment_sd_b: float
    by_family: dict[str, float]  # each family's difference, mean over dealings

    def non_inferior(self, margin: float) -> bool:
        return self.low >= -margin


def compare_domain(
    a: DealtAurocs, b: DealtAurocs, resamples: int = 2000, seed: int = 0
) -> DomainChange:
    """The paired difference B - A and its family-bootstrap interval (percentile, 95%)."""
    if a.families != b.families or a.seeds != b.seeds:
        raise DiscoveryError(
            f"unpaired folds: families {a.families} vs {b.families}, seeds {a.seeds} vs {b.seeds}"
            " (pass the families only one bank has as train_only)",
            field="train_only",
        )
    per_family = (b.aurocs - a.aurocs).mean(axis=0)  # (families,)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(per_family), size=(resamples, len(per_family)))
    boot = per_family[picks].mean(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    return DomainChange(
        families=a.families,
        mean_a=float(a.aurocs.mean()),
        mean_b=float(b.aurocs.mean()),
        difference=float(per_family.mean()),
        low=float(low),
        high=float(high),
        assignment_sd_a=float(a.aurocs.mean(axis=1).std(ddof=1)) if len(a.seeds) > 1 else 0.0,
        assignment_sd_b=float(b.aurocs.mean(axis=1).std(ddof=1)) if len(b.seeds) > 1 else 0.0,
        by_family={f: float(d) for f, d in zip(a.families, per_family, strict=True)},
    )


def compare_banks(
    a: tuple[np.ndarray, LabelledDocs],
    b: tuple[np.ndarray, LabelledDocs],
    settings: HeadSettings,
    seeds: Sequence[int],
    domains: Sequence[str] | None = None,
    layers: np.ndarray | tuple[np.ndarray, np.ndarray] | None = None,
    workers: int = 1,
    done: Callable[[str], None] = lambda step: None,
) -> dict[str, DomainChange]:
    """Per domain, bank B's choose corpus (values, labels) against bank A's on paired folds:
    every family that only one of them has is ``train_only`` for both. ``layers``: each
    column's layer, one array when both banks read the same neurons or a pair (A's, B's) when
    B reads another anchor model (its columns are its own neurons; the folds are still paired,
    by document family); ``workers``: processes, one domain each
    (:func:`~discovery.domain.workers.map_domains`; 0: one per core)."""
    layers_a, layers_b = layers if isinstance(layers, tuple) else (layers, layers)
    fams_a, fams_b = set(a[1].families.tolist()), set(b[1].families.tolist())
    names = domains or sorted(set(a[1].domains.tolist()) & set(b[1].domains.tolist()))
    task = partial(
        _compare_domain_task,
        labels={"a": a[1], "b": b[1]},
        settings=settings,
        seeds=list(seeds),
        train_only=sorted(fams_a ^ fams_b),
        layers={"a": layers_a, "b": layers_b},
    )
    return map_domains({"a": a[0], "b": b[0]}, ranked_matrices, task, names, workers, done)


def _compare_domain_task(
    ranked: dict[str, tuple[np.ndarray, RankedMatrix]],
    domain: str,
    labels: dict[str, LabelledDocs],
    settings: HeadSettings,
    seeds: list[int],
    train_only: list[str],
    layers: dict[str, np.ndarray | None],
) -> DomainChange:
    dealt = {
        key: dealt_aurocs(
            values, labels[key], domain, settings, seeds, train_only, order, layers[key]
        )
        for key, (values, order) in ranked.items()
    }
    return compare_domain(dealt["a"], dealt["b"])
