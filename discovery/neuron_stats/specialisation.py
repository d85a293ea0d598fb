"""Domain specialisation of every neuron from document-pooled activations.

For each domain: the mean of the document-pooled (mean over tokens) activation, and the AUROC
of that value for in-domain vs all other documents (the probability that a random in-domain
document activates the neuron more than a random other one; ties count half). The preferred
domain has the highest AUROC; ``specialisation = 2 * AUROC(preferred) - 1`` is 0 for a neuron
that does not tell domains apart and 1 for one that separates its domain perfectly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

from discovery.errors import DiscoveryError
from rosetta_filter.scoring.bank import auroc_column, domain_mean_column

_COLUMN_CHUNK = 8192  # rank this many neurons at a time: bounded float64 rank matrices


def domain_auroc(values: np.ndarray, labels: Sequence[str], domains: Sequence[str]) -> np.ndarray:
    """(n_domains, d) AUROC of ``values`` (n_docs, d) for each domain vs the rest."""
    labels = np.asarray(labels)
    out = np.empty((len(domains), values.shape[1]), dtype=np.float64)
    for domain in domains:
        inside = labels == domain
        n_in, n_out = int(inside.sum()), int((~inside).sum())
        if n_in == 0:
            raise DiscoveryError(
                f"domain {domain!r} has no documents in the probe corpus: add documents or "
                "drop it from corpus.domains",
                field="corpus.domains",
                value=domain,
            )
        if n_out == 0:
            raise DiscoveryError(
                "the probe corpus has a single domain: specialisation needs at least two",
                field="corpus.domains",
                value=domain,
            )
    for c0 in range(0, values.shape[1], _COLUMN_CHUNK):
        cols = slice(c0, c0 + _COLUMN_CHUNK)
        ranks = rankdata(values[:, cols], axis=0)  # (n_docs, chunk); ties: average rank
        for i, domain in enumerate(domains):
            inside = labels == domain
            n_in = int(inside.sum())
            u = ranks[inside].sum(axis=0) - n_in * (n_in + 1) / 2  # Mann-Whitney U
            out[i, cols] = u / (n_in * (len(labels) - n_in))
    return out


def specialisation_columns(
    values: np.ndarray, labels: Sequence[str], domains: Sequence[str]
) -> dict[str, np.ndarray | list]:
    """Per-neuron columns: domain means, AUROC per domain, preferred domain, specialisation."""
    auroc = domain_auroc(values, labels, domains)
    labels = np.asarray(labels)
    columns: dict[str, np.ndarray | list] = {}
    for i, domain in enumerate(domains):
        columns[domain_mean_column(domain)] = (
            values[labels == domain].mean(axis=0).astype(np.float32)
        )
        columns[auroc_column(domain)] = auroc[i].astype(np.float32)
    best = auroc.argmax(axis=0)
    columns["preferred_domain"] = [domains[i] for i in best]
    columns["specialisation"] = (2 * auroc.max(axis=0) - 1).astype(np.float32)
    return columns
