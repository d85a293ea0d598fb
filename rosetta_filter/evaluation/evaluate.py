"""``rosetta-filter evaluate``: how well a filter ranks labelled documents it was not chosen on,
beside a TF-IDF + logistic-regression baseline trained on the documents the filter *was* chosen
on, with the ablations that justify the defaults.

Per domain of the bank present in the labelled file, every variant is scored from one forward
pass (the union of all variants' neurons, read once): the configured filter (the run config's
``neurons`` section with its domain set to each domain), then, where the bank has them, heads
of each neuron pool at every depth of the depth table and at ``auto``, and top-k by held-out
families vs by the probe AUROC. Reported: AUROC of domain vs rest, the worst held-out family's
AUROC where the file has families, and precision/recall of the configured selection rule (the
baseline keeps the same number of documents); 95% bootstrap intervals for the headline variants
and the configured filter's paired lead over the baseline
(:mod:`~rosetta_filter.evaluation.uncertainty`); for each head depth, the bank's own
cross-validation beside it. Neuron pools: Rosetta Neurons, consistent Rosetta groups (matched
in every model of the bank), all neurons. The pooled values come from the scorer itself, or with
``--cache`` from the per-document cache of every neuron that ``rosetta-filter domains`` fills
(:mod:`~rosetta_filter.activations.pooled_pass`): a file is then run through the model once, and
every later evaluation of a bank of the same model reads it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rosetta_filter.activations.forward import PoolingParams
from rosetta_filter.activations.models import load_tokenizer
from rosetta_filter.activations.pooled_pass import pooled_activations
from rosetta_filter.activations.tokenize import TextTokenizer
from rosetta_filter.config import RunConfig
from rosetta_filter.errors import BankError, ConfigError
from rosetta_filter.evaluation.labelled import LabelledSet
from rosetta_filter.evaluation.metrics import auroc, precision_recall
from rosetta_filter.evaluation.uncertainty import (
    Resamples,
    interval,
    paired_difference,
    resampled_aurocs,
)
from rosetta_filter.filtering.selection import build_rule
from rosetta_filter.neuron import Neuron
from rosetta_filter.scoring.bank import NeuronBank, load_bank
from rosetta_filter.scoring.cascade import cascade_scores, expected_layer_share
from rosetta_filter.scoring.heads import HEAD_POOLS, depth_rows, pool_name
from rosetta_filter.scoring.scorer import NeuronSelection, Scorer

log = logging.getLogger(__name__)
CONFIGURED = "configured"
BASELINE = "tfidf_lr"
POOLS = tuple(pool_name(pool) for pool in HEAD_POOLS)  # depth-table keys
AUTO_HEADS = tuple(f"head/{pool}/auto" for pool in POOLS)
CASCADE_HEADS = tuple(  # neurons.cascade, alone and with neurons.relative
    f"head/{pool}/{option}" for pool in POOLS for option in ("cascade", "relative_cascade")
)
RELATIVE_HEADS = tuple(f"head/{pool}/relative" for pool in POOLS)  # neurons.relative
BORDER_HEADS = tuple(f"head/{pool}/relative_border" for pool in POOLS)  # neurons.borders


@dataclass
class DomainResult:
    """Scores and metrics of every variant for one domain."""

    domain: str
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)  # variant -> why


def variants(
    cfg: RunConfig, bank: NeuronBank, domain: str
) -> tuple[dict[str, NeuronSelection], dict[str, str]]:
    """The configured selection for ``domain`` and the ablations the bank supports; variants
    the bank cannot build (e.g. no neuron above AUROC 0.5) come back as name -> reason."""
    model = cfg.model.name
    neurons = cfg.neurons.model_copy(update={"domain": domain, "explicit": None})
    asked = {CONFIGURED: neurons}
    if bank.heads is not None:
        tables = bank.heads.get("domains", {}).get(domain, {})
        pools = [p for p in HEAD_POOLS if pool_name(p) in tables]  # older: no consistent
        for rosetta_only in pools:
            rows = depth_rows(bank, neurons.bank_model or model, domain, rosetta_only)
            for depth in [row["max_layer"] for row in rows] + ["auto"]:
                name = f"head/{pool_name(rosetta_only)}/{depth if depth == 'auto' else f'L{depth}'}"
                asked[name] = neurons.model_copy(
                    update={
                        "mode": "head",
                        "rosetta_only": rosetta_only,
                        "max_layer": depth,
                        "cascade": False,
                        "relative": False,
                        "borders": False,
                    }
                )
            options = ["cascade", "relative", "relative_cascade"]
            if any(domain in (b["positive"], b["negative"]) for b in bank.heads.get("borders", [])):
                options.append("relative_border")
            for option in options:
                asked[f"head/{pool_name(rosetta_only)}/{option}"] = neurons.model_copy(
                    update={
                        "mode": "head",
                        "rosetta_only": rosetta_only,
                        "cascade": option.endswith("cascade"),
                        "relative": option.startswith("relative"),
                        "borders": option.endswith("border"),
                    }
                )
    for rank_by in ("held_out_families", "probe_auroc"):
        if rank_by == "probe_auroc" or bank.heads is not None:
            asked[f"top_k/rosetta/{rank_by}"] = neurons.model_copy(
                update={
                    "mode": "top_k",
                    "max_layer": None,
                    "rank_by": rank_by,
                    "cascade": False,
                    "relative": False,
                    "borders": False,
                }
            )
    built, unavailable = {}, {}
    for name, neurons_cfg in asked.items():
        try:
            built[name] = NeuronSelection.from_config(neurons_cfg, cfg.scoring, model, bank)
        except BankError as exc:
            unavailable[name] = exc.message
    return built, unavailable


def _union(selections: list[NeuronSelection]) -> list[Neuron]:
    return sorted({n for s in selections for n in s.read}, key=lambda n: (n.layer, n.index))


def _selection_scores(
    selection: NeuronSelection, raw: np.ndarray, column: dict[Neuron, int], n_layers: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """A selection's scores from the union's pooled values ``raw``; a cascade's (the shallow
    head's score, the full head's where its band defers) with what it ran: the shallow head's
    deepest layer, the share deferred and the share of the model's layers run per document."""

    def values_of(head: NeuronSelection) -> torch.Tensor:
        return torch.from_numpy(raw[:, [column[n] for n in head.neurons]])

    def combine(chosen: NeuronSelection) -> np.ndarray:
        return chosen.score_from(values_of).numpy().astype(np.float64)

    scores = combine(selection)
    stage = selection.cascade
    if stage is None:
        return scores, {}
    deferred = stage.deferred(values_of)
    scores = cascade_scores(combine(stage.shallow), scores, deferred)
    shallow = max(n.layer for n in stage.shallow.own_read)
    full = max(n.layer for n in selection.own_read)
    share = expected_layer_share(shallow, float(deferred.mean()), full, n_layers)
    return scores, {
        "cascade": {
            "shallow_layer": shallow,
            "band": [stage.band.low, stage.band.high],
            "deferred": float(deferred.mean()),
            "layer_share": share,
            "expected_layer_share": stage.layer_share,
        }
    }


def tfidf_baseline(
    train: LabelledSet, texts: list[str], domains: list[str]
) -> dict[str, np.ndarray]:
    """Per domain, the decision function of :func:`fit_tfidf` (one binary classifier per
    domain, fit on ``train``) on ``texts``."""
    return {domain: fit_tfidf(train.texts, train.labels == domain)(texts) for domain in domains}


def fit_tfidf(texts: list[str], positive: np.ndarray) -> Callable[[list[str]], np.ndarray]:
    """A TF-IDF (word 1-2 grams, sublinear tf) + logistic regression classifier of ``positive``
    vs the rest, settings fixed in advance (never tuned on evaluated documents); returns the
    function that scores texts (the decision function: higher is more positive)."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:
        raise ConfigError(
            "the TF-IDF baseline needs scikit-learn: pip install 'rosetta-filter[eval]' "
            "(or pass --no-baseline)",
            field="baseline",
        ) from exc
    vectoriser = TfidfVectorizer(
        sublinear_tf=True, ngram_range=(1, 2), min_df=2, max_features=200_000
    )
    model = LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced")
    model.fit(vectoriser.fit_transform(texts), positive)
    return lambda batch: model.decision_function(vectoriser.transform(batch))


def _metrics(scores: np.ndarray, data: LabelledSet, domain: str) -> dict[str, Any]:
    """AUROC, and per family: each of the domain's families against every other document
    (``family_auroc``: which of the domain's sources the filter misses), and every document
    of the domain against each other family (``negative_family_auroc``: which foreign source
    the filter takes for the domain, such as a book about copyright for legal text)."""
    positive = data.labels == domain
    result: dict[str, Any] = {"auroc": float(auroc(scores, positive)[0])}
    families = sorted(set(data.families[positive].tolist()) - {""})
    if families:
        per_family = _family_aurocs(scores, positive, data.families, families, ~positive)
        result["family_auroc"] = per_family
        result["worst_family_auroc"] = min(per_family.values())
        others = sorted(set(data.families[~positive].tolist()) - {""})
        result["negative_family_auroc"] = _family_aurocs(
            scores, positive, data.families, others, positive
        )
    return result


def _family_aurocs(
    scores: np.ndarray,
    positive: np.ndarray,
    families: np.ndarray,
    names: list[str],
    other_side: np.ndarray,
) -> dict[str, float]:
    """AUROC of each family in ``names`` together with every document of ``other_side``."""
    out = {}
    for family in names:
        rows = other_side | (families == family)
        out[family] = float(auroc(scores[rows], positive[rows])[0])
    return out


def evaluate(
    cfg: RunConfig,
    data: LabelledSet,
    train: LabelledSet | None,
    advance: Callable[[int], None] = lambda n: None,
    cache_dir: Path | None = None,
) -> dict[str, DomainResult]:
    """Score ``data`` with every variant of every shared domain (see the module docstring);
    with ``cache_dir``, through the per-document pooled cache (:func:`_cached_values`)."""
    if cfg.neurons.bank is None:
        raise ConfigError(
            "evaluate needs neurons.bank (it scores every domain of the bank): set it in the "
            "config",
            field="neurons.bank",
        )
    bank = load_bank(cfg.neurons.bank)
    domains = [d for d in bank.domains if d in set(data.labels.tolist())]
    if not domains:
        raise ConfigError(
            f"no label of the file is a domain of bank {bank.path} ({bank.domains}): check "
            "--label-field",
            field="labels",
        )
    model_id = cfg.neurons.bank_model or cfg.model.name
    built = {d: variants(cfg, bank, d) for d in domains}
    by_domain = {d: selections for d, (selections, _) in built.items()}
    union = _union([s for v in by_domain.values() for s in v.values()])
    if cache_dir is None:
        raw, n_tokens = _scored_values(cfg, data.texts, union, advance)
    else:
        raw, n_tokens = _cached_values(cfg, data.texts, union, cache_dir, advance)
    column = {n: i for i, n in enumerate(union)}
    n_layers = int(bank.model_meta(model_id)["layers"])
    baseline = tfidf_baseline(train, data.texts, domains) if train is not None else {}
    strata = np.char.add(np.char.add(data.labels.astype(str), "\t"), data.families.astype(str))
    resamples = Resamples(strata)
    results = {}
    for domain, selections in by_domain.items():
        result = DomainResult(domain, unavailable=built[domain][1])
        for name, selection in selections.items():
            result.scores[name], ran = _selection_scores(selection, raw, column, n_layers)
            result.metrics[name] = _metrics(result.scores[name], data, domain) | {
                "neurons": [str(n) for n in selection.neurons],
                "max_layer": max(n.layer for n in selection.neurons),
                **ran,
            }
        for name, validation in _validation(bank, model_id, domain).items():
            if name in result.metrics:
                result.metrics[name]["validation"] = validation
        if domain in baseline:
            result.scores[BASELINE] = baseline[domain]
            result.metrics[BASELINE] = _metrics(baseline[domain], data, domain)
        if CONFIGURED in result.scores:
            _at_selection(cfg, result, data, n_tokens)
        _intervals(result, data, resamples)
        results[domain] = result
    return results


def _scored_values(
    cfg: RunConfig, texts: list[str], union: list[Neuron], advance: Callable[[int], None]
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled values of ``union`` (``(docs, neurons)``) and tokens scored per document, from
    the scorer itself: the model stops at the union's deepest layer."""
    reader = NeuronSelection(tuple(union), (1.0,) * len(union), None, None)
    scorer = Scorer.from_config(
        cfg.model, cfg.neurons, cfg.scoring, cfg.runtime.batching, selection=reader
    )
    raw = np.zeros((len(texts), len(union)), np.float32)
    n_tokens = np.zeros(len(texts), np.int64)
    for doc in scorer.score(texts, with_neurons=True):
        raw[doc.index] = doc.neuron_values
        n_tokens[doc.index] = doc.n_tokens
        advance(1)
    return raw, n_tokens


def _cached_values(
    cfg: RunConfig,
    texts: list[str],
    union: list[Neuron],
    cache_dir: Path,
    advance: Callable[[int], None],
) -> tuple[np.ndarray, np.ndarray]:
    """What :func:`_scored_values` gives, read from the pooled cache that ``rosetta-filter
    domains`` fills (every neuron of every layer, per document): a held-out file is run through
    the model once, and every later evaluation of any bank of the same model, tokenisation and
    pooling reads its rows. The values are the same engine's, batched differently (equal to
    float rounding; bench and test in tests/test_evaluate_cache.py)."""
    values, d_mlp = pooled_activations(
        cfg.model,
        texts,
        tokens=cfg.scoring.tokens,
        batching=cfg.runtime.batching,
        pooling=cfg.scoring.pooling,
        pooling_params=PoolingParams(cfg.scoring.pool_top_k, cfg.scoring.active_threshold),
        cache_dir=cache_dir,
        advance=advance,
    )  # loads the model only for rows the cache lacks
    tokenizer = TextTokenizer(
        load_tokenizer(cfg.model),
        max_tokens=cfg.scoring.tokens.max_tokens,
        long_docs=cfg.scoring.tokens.long_docs,
    )
    n_tokens = np.asarray([doc.n_tokens for doc in tokenizer.encode(texts)], np.int64)
    return values[:, [n.layer * d_mlp + n.index for n in union]], n_tokens


def _validation(bank: NeuronBank, model_id: str, domain: str) -> dict[str, dict[str, float]]:
    """The bank's own family cross-validation of every head variant (worst and mean fold), to
    set beside what the evaluated set says: where the two disagree, the bank's depth choice
    rests on families unlike the evaluated ones."""
    found = {}
    for pool in HEAD_POOLS:
        try:
            rows = depth_rows(bank, model_id, domain, pool)
        except BankError:
            continue
        for row in rows:
            folds = row["fold_auroc"]
            found[f"head/{pool_name(pool)}/L{row['max_layer']}"] = {
                "worst_fold_auroc": float(min(folds)),
                "mean_fold_auroc": float(np.mean(folds)),
            }
    return found


def _intervals(result: DomainResult, data: LabelledSet, resamples: Resamples) -> None:
    """95% bootstrap intervals of the headline variants' AUROC and, paired, of the configured
    filter's lead over the baseline (:mod:`rosetta_filter.evaluation.uncertainty`)."""
    positive = data.labels == result.domain
    boot = {
        name: resampled_aurocs(result.scores[name], positive, resamples)
        for name in (CONFIGURED, *AUTO_HEADS, BASELINE)
        if name in result.scores
    }
    for name, values in boot.items():
        result.metrics[name]["auroc_ci"] = interval(values)
    if CONFIGURED in boot and BASELINE in boot:
        result.metrics[CONFIGURED]["vs_baseline"] = {
            "difference": result.metrics[CONFIGURED]["auroc"] - result.metrics[BASELINE]["auroc"],
            **paired_difference(boot[CONFIGURED], boot[BASELINE]),
        }


def _at_selection(cfg: RunConfig, result: DomainResult, data: LabelledSet, tokens: np.ndarray):
    """Precision/recall of the configured rule on this set; the baseline keeps as many."""
    positive = data.labels == result.domain
    scores = result.scores[CONFIGURED]
    index = np.arange(len(scores))
    rule = build_rule(cfg.selection, scores, np.zeros_like(index), index, tokens)
    kept = np.asarray([rule.keeps(float(s), 0, int(i)) for i, s in enumerate(scores)])
    precision, recall = precision_recall(kept, positive)
    result.metrics[CONFIGURED] |= {
        "kept": int(kept.sum()),
        "precision": precision,
        "recall": recall,
    }
    if BASELINE in result.scores and kept.any():
        order = np.argsort(-result.scores[BASELINE], kind="stable")
        base_kept = np.zeros(len(scores), dtype=bool)
        base_kept[order[: int(kept.sum())]] = True
        precision, recall = precision_recall(base_kept, positive)
        result.metrics[BASELINE] |= {
            "kept": int(kept.sum()),
            "precision": precision,
            "recall": recall,
        }
