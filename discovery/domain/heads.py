"""Domain heads: a sparse, regularised linear combination of at most ``max_neurons`` neurons per
domain, chosen and validated on held-out source families.

One neuron is brittle on unseen sources (it may know "Python" rather than "code"); a bag of
words is not explainable. A head is the middle: L1-regularised logistic regression on
standardised document-pooled activations of candidates ranked by worst-family AUROC (the best
overall, or each layer's best in turn: :func:`candidate_columns`), its
strength picked by family-disjoint cross-validation (:func:`discovery.domain.lofo.family_folds`),
so the weights a user can read are the ones that held on sources they were not fitted on. The
cross-validation is nested: each fold ranks its candidates on its own training families
(:class:`~discovery.domain.lofo.FoldPlan`), so a fold's quality is measured on families that took
no part in choosing its neurons.

The depth table fits one head per depth limit (only neurons at layers <= L): its quality says
how much an early exit costs, so ``neurons.max_layer: auto`` can take the shallowest depth within
a stated loss of the best, where that rule held on families it did not see
(:mod:`rosetta_filter.scoring.depth_rule`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from discovery.domain.lofo import DomainStats, FoldPlan, LabelledDocs, fold_plan, rank_neurons
from discovery.errors import DiscoveryError
from rosetta_filter.evaluation.metrics import auroc
from rosetta_filter.scoring.cascade import cascade_bands


@dataclass(frozen=True)
class HeadSettings:
    max_neurons: int = 32
    candidates: int = 128  # best neurons by worst-family AUROC offered to the L1 fit
    strengths: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0)  # inverse L1 strength C
    seed: int = 0
    candidate_order: str = "best"  # or "per_layer" (:func:`candidate_columns`)


@dataclass(frozen=True)
class Head:
    """``score = intercept + sum_j weight_j * (x_j - norm_mean_j) / norm_std_j`` (a logit)."""

    columns: list[int]  # columns of the activation matrix (neuron ids are the caller's)
    weights: list[float]
    intercept: float
    norm_mean: list[float]
    norm_std: list[float]
    strength: float
    fold_auroc: list[float]  # held-out AUROC per family fold at the chosen strength
    # the cascade's bands from the out-of-fold scores at that strength (scoring/cascade.py)
    bands: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def worst(self) -> float:
        return min(self.fold_auroc)

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_auroc))

    def to_dict(self) -> dict:
        return asdict(self) | {"worst_fold_auroc": self.worst, "mean_fold_auroc": self.mean}


def candidate_columns(
    stats: DomainStats, pool: np.ndarray, layers: np.ndarray | None, settings: HeadSettings
) -> np.ndarray:
    """The ``settings.candidates`` neurons of ``pool`` offered to the L1 fit. ``best``: the best
    by worst-family AUROC (:func:`~discovery.domain.lofo.rank_neurons`), wherever they are;
    ``per_layer``: round-robin over layers (every layer's best, then every layer's second best,
    ...), so that the fit also weighs layers whose neurons rank below the top layers' on the
    choose families: a deep layer can fill the whole top 128 with neurons that know the topic
    rather than the register. ``layers`` gives each column's layer (needed for ``per_layer``)."""
    ranked = rank_neurons(stats, pool)
    if settings.candidate_order == "per_layer":
        if layers is None:
            raise DiscoveryError("per_layer candidates need each column's layer", field="layers")
        layer_of = layers[ranked]
        place = np.zeros(len(ranked), dtype=np.int64)  # rank of each neuron within its layer
        for layer in np.unique(layer_of):
            place[layer_of == layer] = np.arange(int((layer_of == layer).sum()))
        ranked = ranked[np.lexsort((layer_of, place))]
    elif settings.candidate_order != "best":
        raise DiscoveryError(
            f"unknown candidate order {settings.candidate_order!r}: use best or per_layer",
            field="heads.candidate_order",
            value=settings.candidate_order,
        )
    return ranked[: settings.candidates]


def interleaved(first: np.ndarray, second: np.ndarray, count: int) -> np.ndarray:
    """``first[0], second[0], first[1], second[1], ...`` without repeats, the first ``count``:
    two rankings of the same pool (equal lengths) offered in equal shares (a border head's two
    sides, :mod:`discovery.domain.borders`)."""
    merged = np.stack([first, second], axis=1).ravel()
    _, where = np.unique(merged, return_index=True)
    return merged[np.sort(where)][:count]


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    std = np.maximum(x.std(axis=0), 1e-6)
    return (x - mean) / std, mean, std


def _fit(x: np.ndarray, y: np.ndarray, strength: float, seed: int):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(
        penalty="l1",
        solver="liblinear",
        C=strength,
        class_weight="balanced",
        random_state=seed,
        max_iter=2000,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # liblinear's convergence notes on separable folds
        model.fit(x, y)
    return model


@dataclass(frozen=True)
class FoldScores:
    """Each family fold's held-out AUROC, and every held-out score with its label (a document
    held out by several folds appears once per fold)."""

    aurocs: list[float]
    scores: np.ndarray
    positive: np.ndarray


def _fold_scores(
    fold_x: Sequence[np.ndarray], y: np.ndarray, plan: FoldPlan, c: float, seed: int
) -> FoldScores:
    aurocs, scores, positive = [], [], []
    for x, held in zip(fold_x, plan.held, strict=True):
        z, mean, std = _standardise(x[~held])
        model = _fit(z, y[~held], c, seed)
        held_scores = model.decision_function((x[held] - mean) / std)
        aurocs.append(float(auroc(held_scores[:, None], y[held])[0]))
        scores.append(held_scores)
        positive.append(y[held])
    return FoldScores(aurocs, np.concatenate(scores), np.concatenate(positive))


def fit_head(
    values: np.ndarray,
    labels: LabelledDocs,
    domain: str,
    stats: DomainStats,
    pool: np.ndarray,
    settings: HeadSettings = HeadSettings(),
    plan: FoldPlan | None = None,
    layers: np.ndarray | None = None,
    opposite: tuple[DomainStats, FoldPlan] | None = None,
) -> Head:
    """The head of ``domain`` over the neurons (columns) in ``pool``.

    Candidates are :func:`candidate_columns` of ``pool`` (``layers``: each column's layer; in
    each fold, by that fold's training statistics in ``plan``: computed here when not given); the L1
    strength maximises the worst held-out fold's AUROC (then the mean, then fewer neurons)
    among strengths whose full fit keeps at most ``max_neurons`` neurons; the final head is
    refit on every labelled document.

    ``opposite``: the statistics and fold plan (same folds) of the other side of a two-domain
    head (a border head): its candidates are then both sides' rankings interleaved
    (:func:`interleaved`), in each fold by that fold's training statistics of each side.
    """
    if len(pool) == 0:
        raise DiscoveryError(f"no candidate neurons for the {domain!r} head", field="pool")
    plan = plan or fold_plan(values, labels, domain)

    def offered(ours: DomainStats, theirs: DomainStats | None) -> np.ndarray:
        columns = candidate_columns(ours, pool, layers, settings)
        if theirs is None:
            return columns
        other = candidate_columns(theirs, pool, layers, settings)
        return interleaved(columns, other, settings.candidates)

    columns = offered(stats, opposite[0] if opposite else None)
    x = values[:, columns].astype(np.float64)
    y = labels.domains == domain
    other_train = opposite[1].train_stats if opposite else [None] * len(plan.train_stats)
    fold_x = [
        values[:, offered(s, t)].astype(np.float64)
        for s, t in zip(plan.train_stats, other_train, strict=True)
    ]
    z, mean, std = _standardise(x)
    full_coef = {}  # strength -> the fit on every document (the final head starts from it)
    best = None
    for c in settings.strengths:
        full_coef[c] = _fit(z, y, c, settings.seed).coef_[0]
        nonzero = int((full_coef[c] != 0).sum())
        if nonzero == 0 or nonzero > settings.max_neurons:
            continue
        held_out = _fold_scores(fold_x, y, plan, c, settings.seed)
        key = (min(held_out.aurocs), float(np.mean(held_out.aurocs)), -nonzero)
        if best is None or key > best[0]:
            best = (key, c, held_out)
    if best is None:  # every strength kept too many (or no) neurons: the strongest L1 wins
        c = settings.strengths[0]
        best = ((0.0, 0.0, 0), c, _fold_scores(fold_x, y, plan, c, settings.seed))
    _, strength, held_out = best
    coef = full_coef[strength]
    keep = np.argsort(-np.abs(coef), kind="stable")[: settings.max_neurons]
    keep = np.sort(keep[coef[keep] != 0]) if (coef != 0).any() else keep[:1]
    model = _fit(z[:, keep], y, strength, settings.seed)
    return Head(
        columns=[int(columns[k]) for k in keep],
        weights=[float(w) for w in model.coef_[0]],
        intercept=float(model.intercept_[0]),
        norm_mean=[float(mean[k]) for k in keep],
        norm_std=[float(std[k]) for k in keep],
        strength=float(strength),
        fold_auroc=held_out.aurocs,
        bands=cascade_bands(held_out.scores, held_out.positive),
    )


def depth_table(
    values: np.ndarray,
    labels: LabelledDocs,
    domain: str,
    stats: DomainStats,
    pool: np.ndarray,
    layers: np.ndarray,
    depths: Sequence[int],
    settings: HeadSettings = HeadSettings(),
    plan: FoldPlan | None = None,
) -> list[tuple[int, Head]]:
    """One head per depth limit: ``(max_layer, head over pool neurons at layers <= max_layer)``
    for each depth with at least one candidate."""
    plan = plan or fold_plan(values, labels, domain)
    table = []
    for depth in depths:
        shallow = pool[layers[pool] <= depth]
        if len(shallow):
            head = fit_head(values, labels, domain, stats, shallow, settings, plan, layers)
            table.append((int(depth), head))
    return table
