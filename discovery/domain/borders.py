"""Border heads: one head fit to tell two domains apart, on their documents alone (rule 20).

A domain head is fit one domain against all the others, so what is left of its error sits where
two domains meet (computer-algebra library code against mathematics, proof-assistant source
against code), and the relative score (``neurons.relative``) compares two heads that were never
fit to tell those two apart. A border head is the domain heads' own procedure
(:func:`discovery.domain.heads.fit_head`: L1 logistic regression on standardised pooled
activations, candidates round-robin over layers, the strength chosen by the worst
family-disjoint fold) on the two domains' documents only, the first domain positive, over every
layer. The scorer composes it with the relative score (:mod:`rosetta_filter.scoring.relative`):
the domain heads decide "one of the two rather than anything else", the border head which one.

Its candidates (``heads.border_candidates``): ``positive`` (rule 20), like a domain head's,
the neurons ranked highest for the positive side (worst-family AUROC of positive against
negative documents), so a neuron that fires for the negative side more is never offered and the
order of a pair matters; ``symmetric`` (rule 21), both sides' rankings interleaved in equal
shares (:func:`~discovery.domain.heads.interleaved`), in each fold by that fold's training
families, so ``[a, b]`` and ``[b, a]`` are offered the same neurons.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from discovery.domain.heads import Head, HeadSettings, fit_head
from discovery.domain.lofo import FamilyMoments, LabelledDocs, domain_stats, fold_plan
from discovery.domain.ranked import RankedMatrix
from discovery.errors import DiscoveryError


def check_borders(borders: Sequence[Sequence[str]], domains: Sequence[str]) -> None:
    """Every border names two different domains of the labelled corpus, and no domain has two
    borders (its score composes one)."""
    sides = [d for pair in borders for d in pair]
    twice = sorted({d for d in sides if sides.count(d) > 1})
    if twice:
        raise DiscoveryError(
            f"heads.borders: {twice} on more than one border (or on both sides of one): a "
            "domain's score composes one border head; keep one border per domain",
            field="heads.borders",
            value=[list(p) for p in borders],
        )
    for pair in borders:
        missing = sorted(set(pair) - set(domains))
        if missing:
            raise DiscoveryError(
                f"heads.borders: {list(pair)} names {missing}, not a domain of the labelled "
                f"corpus ({sorted(domains)}): list two of its domains",
                field="heads.borders",
                value=list(pair),
            )


def fit_border(
    values: np.ndarray,
    labels: LabelledDocs,
    pair: tuple[str, str],
    settings: HeadSettings,
    d_mlp: int,
    row: Callable[[int, Head], dict],
    candidates: str = "positive",
) -> dict:
    """The border head of ``pair`` (positive, negative) as a bank row: the depth-table row of a
    head over every layer (``row(deepest layer, head)``) with the two domains and its
    ``candidates`` (``positive`` or ``symmetric``) named."""
    positive, negative = pair
    keep = np.isin(labels.domains, pair)
    x = np.ascontiguousarray(values[keep])
    both = LabelledDocs(labels.domains[keep], labels.families[keep])
    layers = np.arange(x.shape[1]) // d_mlp
    ranked, moments = RankedMatrix.of(x), FamilyMoments.of(x, both)
    stats = domain_stats(x, both, positive, ranked=ranked, moments=moments)
    plan = fold_plan(x, both, positive, ranked, moments=moments)
    if candidates == "symmetric":
        opposite = (
            domain_stats(x, both, negative, ranked=ranked, moments=moments),
            fold_plan(x, both, negative, ranked, held=plan.held, moments=moments),
        )
    elif candidates == "positive":
        opposite = None
    else:
        raise DiscoveryError(
            f"unknown border candidates {candidates!r}: use positive or symmetric",
            field="heads.border_candidates",
            value=candidates,
        )
    pool = np.arange(x.shape[1])
    head = fit_head(x, both, positive, stats, pool, settings, plan, layers, opposite)
    return {
        "positive": positive,
        "negative": negative,
        "candidates": candidates,
        **row(int(layers[-1]), head),
    }
