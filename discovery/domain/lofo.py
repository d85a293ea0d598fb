"""Source-disjoint domain statistics: how well each neuron separates a domain from the rest on
source *families* it was not chosen on.

A statistic measured on the documents it ranks neurons by saturates (hundreds of neurons reach
AUROC 1.0 on a few clean documents of one source) and rewards neurons that detect a source
(Python, the GPL) instead of the domain (code, licences). Here every domain's documents come
from several families; a neuron's AUROC is computed per held-out family (that family's domain
documents against every out-of-domain document) and summarised by its worst family, so a neuron
that only knows one source scores by the family it fails on.

Folds for fitted choices (heads, depths) hold out families of *every* domain at once
(:func:`family_folds`), so negatives are unseen too, and every negative family is unseen in
some fold.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from discovery.domain.ranked import RankedMatrix
from discovery.errors import DiscoveryError


@dataclass(frozen=True)
class LabelledDocs:
    """Row labels of a document-pooled activation matrix: domain and source family per row."""

    domains: np.ndarray  # (docs,) str
    families: np.ndarray  # (docs,) str

    def families_of(self, domain: str) -> list[str]:
        return sorted(set(self.families[self.domains == domain].tolist()))

    def groups(self, rows: np.ndarray | None = None) -> list[tuple[str, str]]:
        """The (domain, family) pairs of every row, or of the rows in the mask ``rows``."""
        domains, families = (self.domains, self.families) if rows is None else (
            self.domains[rows], self.families[rows])  # fmt: skip
        return sorted(set(zip(domains.tolist(), families.tolist(), strict=True)))


@dataclass(frozen=True)
class DomainStats:
    """Per neuron, for one domain: held-out-family AUROCs and the effect size."""

    family_auroc: dict[str, np.ndarray]  # family -> (neurons,)
    worst: np.ndarray  # (neurons,) min over families
    mean: np.ndarray  # (neurons,) mean over families
    dprime: np.ndarray  # (neurons,)


Group = tuple[str, str]  # (domain, family)


@dataclass(frozen=True)
class FamilyMoments:
    """Each family's document count and every column's sum and sum of squares (float64), for
    the effect size d' = (mean_pos - mean_neg) / sqrt((var_pos + var_neg) / 2) per column (0
    where both sides are constant).

    A fold's training part is the corpus minus its held-out families, so the effect size of
    every fold follows from these sums without copying or re-reading the matrix (on the real
    corpus, a 7,000 x 46,080 copy and two variances per fold were a sixth of a domains fit).
    Computed in float64 whatever the matrix's dtype; equal to the rows' own d' in float64 to
    rounding (a test checks it)."""

    count: dict[Group, int]
    total: dict[Group, np.ndarray]
    squares: dict[Group, np.ndarray]

    @classmethod
    def of(cls, values: np.ndarray, labels: LabelledDocs) -> FamilyMoments:
        count, total, squares = {}, {}, {}
        for key in labels.groups():
            rows = np.asarray(
                values[(labels.domains == key[0]) & (labels.families == key[1])], np.float64
            )
            count[key] = len(rows)
            total[key] = rows.sum(axis=0)
            squares[key] = np.einsum("ij,ij->j", rows, rows)
        return cls(count, total, squares)

    def dprime(self, positive: Collection[Group], negative: Collection[Group]) -> np.ndarray:
        """d' of the documents of the ``positive`` (domain, family) groups against those of the
        ``negative`` ones."""
        (pos_mean, pos_var), (neg_mean, neg_var) = self._moments(positive), self._moments(negative)
        spread = np.sqrt((pos_var + neg_var) / 2)
        diff = pos_mean - neg_mean
        return np.divide(diff, spread, out=np.zeros_like(diff), where=spread > 0)

    def _moments(self, families: Collection[Group]) -> tuple[np.ndarray, np.ndarray]:
        n = sum(self.count[f] for f in families)
        mean = sum(self.total[f] for f in families) / n
        return mean, np.maximum(sum(self.squares[f] for f in families) / n - mean * mean, 0.0)


def domain_stats(
    values: np.ndarray,
    labels: LabelledDocs,
    domain: str,
    min_families: int = 2,
    ranked: RankedMatrix | None = None,
    moments: FamilyMoments | None = None,
) -> DomainStats:
    """Leave-one-family-out AUROC of every neuron for ``domain`` (see the module docstring).
    ``ranked`` and ``moments``: the column ranks and family sums of ``values`` where the caller
    has them already (they serve every domain and fold of one matrix)."""
    if ranked is None:
        ranked = RankedMatrix.of(values)
    moments = moments or FamilyMoments.of(values, labels)
    rows = np.ones(len(labels.domains), dtype=bool)
    return _stats_of_rows(ranked, labels, domain, rows, moments, min_families)


def _stats_of_rows(
    ranked: RankedMatrix,
    labels: LabelledDocs,
    domain: str,
    rows: np.ndarray,
    moments: FamilyMoments,
    min_families: int,
) -> DomainStats:
    """:func:`domain_stats` of the documents in ``rows`` (a boolean mask), from the whole
    matrix's ranks: a subset's AUROC needs only its rows' ranks (the counts are the same
    integers), so no subset is copied, and its d' follows from the family sums."""
    families = sorted(set(labels.families[rows & (labels.domains == domain)].tolist()))
    if len(families) < min_families:
        raise DiscoveryError(
            f"domain {domain!r} has {len(families)} source family in the labelled corpus: "
            "source-disjoint statistics need at least 2 (add families to the corpus)",
            field="labelled.families",
            value=domain,
        )
    positive = rows & (labels.domains == domain)
    groups = labels.groups(rows)
    stacked = ranked.aurocs(
        rows & ~positive, [positive & (labels.families == family) for family in families]
    )
    return DomainStats(
        dict(zip(families, stacked, strict=True)),
        stacked.min(axis=0),
        stacked.mean(axis=0),
        moments.dprime(
            [g for g in groups if g[0] == domain], [g for g in groups if g[0] != domain]
        ),
    )


def family_folds(
    labels: LabelledDocs,
    domain: str,
    *,
    shuffle_seed: int | None = None,
    train_only: Collection[str] = (),
) -> list[np.ndarray]:
    """Boolean held-out masks, one per family of ``domain``: fold i holds out family i of
    ``domain`` and, of every other domain d, each family j with ``j mod n == i`` (n: the
    target's family count) or, where d has fewer families than the target, family
    ``i mod n_d``. So every family of every domain is unseen in some fold: a hard negative
    (prose about courts, for legal) always in training could never show that a head fails on it.

    Families are dealt in name order (the banks' folds), or with ``shuffle_seed`` in a seeded
    order per domain: which negatives share a fold moves a fold's AUROC, so a comparison of two
    banks averages over several dealings (:mod:`discovery.domain.bank_change`). Families in
    ``train_only`` are never held out: a family one bank has and the other lacks stays in
    training, and both banks' folds hold out the same documents."""
    excluded = set(train_only)
    order = {
        d: _dealing_order([f for f in labels.families_of(d) if f not in excluded], d, shuffle_seed)
        for d in sorted(set(labels.domains.tolist()))
    }
    target = order[domain]
    n = len(target)
    folds = []
    for i in range(n):
        held = np.zeros(len(labels.domains), dtype=bool)
        for d, fams in order.items():
            if not fams:
                continue
            chosen = fams[i::n] if len(fams) >= n else [fams[i % len(fams)]]
            held |= (labels.domains == d) & np.isin(labels.families, chosen)
        folds.append(held)
    return folds


def _dealing_order(families: list[str], domain: str, seed: int | None) -> list[str]:
    """``families`` (sorted) as they are dealt: unchanged, or permuted by ``seed`` and the
    domain's name (stable across runs and Python processes: no salted ``hash``)."""
    if seed is None:
        return families
    rng = np.random.default_rng([seed, zlib.crc32(domain.encode())])
    return [families[k] for k in rng.permutation(len(families))]


@dataclass(frozen=True)
class FoldPlan:
    """The family folds of one domain and, per fold, the neuron statistics of its training
    part: a fold's candidates must be ranked without the families it holds out, or the
    cross-validated quality of a head is measured on families that helped choose its neurons."""

    held: list[np.ndarray]  # boolean held-out masks (:func:`family_folds`)
    train_stats: list[DomainStats]  # statistics on each fold's complement

    def for_ranking(self) -> FoldPlan:
        """The plan without each fold's per-family AUROCs: what the head fits rank candidates
        by (worst, mean, d'), a family count's fraction of the size, for sending to workers."""
        return FoldPlan(
            self.held, [DomainStats({}, s.worst, s.mean, s.dprime) for s in self.train_stats]
        )


def fold_plan(
    values: np.ndarray,
    labels: LabelledDocs,
    domain: str,
    ranked: RankedMatrix | None = None,
    held: list[np.ndarray] | None = None,
    moments: FamilyMoments | None = None,
) -> FoldPlan:
    """Each fold's training statistics; the column ranks (``ranked``) and family sums
    (``moments``), given or computed here, serve every fold: the ranks made relative to the
    domain's rows once (:meth:`RankedMatrix.relative_to`: every fold's positives are the
    domain's), which shrinks each fold's histograms to a fraction of the corpus' levels.
    ``held``: the folds (default :func:`family_folds` in name order)."""
    if held is None:
        held = family_folds(labels, domain)
    if ranked is None:
        ranked = RankedMatrix.of(values)
    ranked = ranked.relative_to(labels.domains == domain)
    moments = moments or FamilyMoments.of(values, labels)
    stats = []
    for mask in held:
        # a domain with two families leaves one to rank on: its in-sample AUROC is all there is
        stats.append(_stats_of_rows(ranked, labels, domain, ~mask, moments, 1))
    return FoldPlan(held, stats)


def rank_neurons(stats: DomainStats, candidates: Sequence[int] | np.ndarray) -> np.ndarray:
    """``candidates`` ordered best first: worst-family AUROC, then mean, then d' (all desc)."""
    c = np.asarray(candidates)
    order = np.lexsort((-stats.dprime[c], -stats.mean[c], -stats.worst[c]))
    return c[order]
