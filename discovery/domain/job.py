"""``rosetta-filter domains CONFIG``: add source-disjoint domain statistics and domain heads to a
neuron bank (format 2).

Input: a bank from ``rosetta-filter discover`` (which neurons are Rosetta Neurons) and a labelled
corpus whose documents carry a domain and a source family (``rosetta-filter corpus build
--config configs/labelled.yaml`` writes one; only its ``choose`` split belongs here: held-out
families are for ``rosetta-filter evaluate``). Steps: the anchor-only pooled pass
(:mod:`~rosetta_filter.activations.pooled_pass`, cached), leave-one-family-out statistics per neuron
(:mod:`~discovery.domain.lofo`), then per domain and neuron pool (Rosetta only, all) a depth
table of heads (:mod:`~discovery.domain.heads`). Output: a new bank directory with
``lofo_worst__{domain}``, ``lofo_mean__{domain}``, ``dprime__{domain}`` columns and
``heads.json``; the input bank is never modified. Pools: Rosetta Neurons, ``consistent`` Rosetta
groups (matched in every model), all neurons.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from discovery.domain.borders import check_borders, fit_border
from discovery.domain.fit_domains import DomainJob, fit_domains
from discovery.domain.heads import HeadSettings
from discovery.domain.lofo import DomainStats, LabelledDocs
from discovery.errors import DiscoveryError
from rosetta_filter.activations.pooled_pass import pooled_activations
from rosetta_filter.activations.pooling_methods import PoolingMethod
from rosetta_filter.config import BatchingConfig, ModelConfig, Strict, TokensConfig
from rosetta_filter.evaluation.labelled import LabelledSet, read_labelled
from rosetta_filter.scoring.bank import (
    FORMAT_VERSION,
    NeuronBank,
    Pool,
    in_pool,
    load_bank,
    write_bank,
)
from rosetta_filter.scoring.heads import pool_name

log = logging.getLogger(__name__)


class LabelledCorpusConfig(Strict):
    path: str | list[str] = Field(
        description="labelled file(s), read as one set: a text, a domain and a family per record"
    )
    text_field: str = "text"
    domain_field: str = "domain"
    family_field: str = "family"
    role_field: str = Field(
        "role", description="records whose role is 'heldout' are refused unless fit_heldout"
    )
    fit_heldout: bool = Field(
        False,
        description="fit on held-out records too: the bank then has no held-out family left, "
        "so its quality on unseen families is the cross-fitted estimate (bench.crossfit)",
    )


class HeadsConfig(Strict):
    max_neurons: int = Field(32, ge=1, le=256, description="neurons per head at most")
    candidates: int = Field(128, ge=1, description="best neurons (worst-family AUROC) offered")
    candidate_order: Literal["best", "per_layer"] = Field(
        "best",
        description="which candidates: best (the best by worst-family AUROC, wherever they "
        "are) or per_layer (round-robin over layers: each layer's best first)",
    )
    strengths: list[float] = Field([0.01, 0.03, 0.1, 0.3, 1.0], description="L1 C values tried")
    depth_step: int = Field(1, ge=1, description="fit a head at every n-th layer (and the last)")
    max_quality_loss: float = Field(0.005, ge=0, le=1, description="recorded auto depth's loss")
    workers: int = Field(
        0, ge=0, description="processes fitting domains in parallel (0: one per CPU core)"
    )
    borders: list[tuple[str, str]] = Field(
        [],
        description="pairs of domains [positive, negative] that each get a border head, fit on "
        "the two domains' documents alone; neurons.borders composes it with the relative score "
        "(rule 20, docs/DISCOVERY.md)",
    )
    border_candidates: Literal["positive", "symmetric"] = Field(
        "positive",
        description="a border head's candidates: positive (rule 20: the neurons ranked highest "
        "for the pair's first domain, so the order of a pair matters) or symmetric (rule 21: "
        "both sides' rankings in equal shares)",
    )
    depth_statistic: Literal["worst", "mean", "paired"] = Field(
        "worst",
        description="how max_layer: auto ranks depths: worst (default: the worst held-out "
        "family), mean (the mean over families) or paired (the largest drop of any held-out "
        "family against its own full-depth AUROC); each pool's rule_check shows how the rule "
        "fared on choose families it did not see, and auto stops early only where it passed "
        "(docs/DISCOVERY.md)",
    )
    depth_guard: Literal["worst", "mean"] = Field(
        "mean",
        description="which left-out families' losses the recorded auto depth must keep within "
        "max_quality_loss: mean (default: their average) or worst (every family's); the "
        "scorer's neurons.depth_guard makes the same choice at run time",
    )


class DomainsConfig(Strict):
    bank: str = Field(description="input bank (from rosetta-filter discover)")
    out: str = Field(description="output bank directory (format 2); the input is not modified")
    model: ModelConfig = Field(description="the bank's anchor model")
    bank_model: str | None = Field(None, description="model id in the bank (default model.name)")
    labelled: LabelledCorpusConfig
    tokens: TokensConfig = TokensConfig()
    batching: BatchingConfig = BatchingConfig()
    pooling: PoolingMethod = "mean"
    also_cache: list[PoolingMethod] = Field(
        [],
        description="other pooling methods whose caches the pooled pass fills from the same "
        "forward pass (a later fit with one of them reads its rows instead of running the "
        "model again)",
    )
    heads: HeadsConfig = HeadsConfig()
    cache_dir: str | None = Field("out/cache/domains", description="pooled-pass cache")


def neuron_name(column: int, d_mlp: int) -> str:
    return f"L{column // d_mlp}.N{column % d_mlp}"


def _pool_columns(bank: NeuronBank, model_id: str, d_mlp: int, pool: Pool) -> np.ndarray:
    rows = [r for r in bank.rows(model_id) if in_pool(r, pool)]
    return np.asarray(sorted(int(r["layer"]) * d_mlp + int(r["index"]) for r in rows), np.int64)


def _labelled(cfg: LabelledCorpusConfig) -> LabelledSet:
    data = read_labelled(
        cfg.path,
        text_field=cfg.text_field,
        label_field=cfg.domain_field,
        family_field=cfg.family_field,
        role_field=cfg.role_field,
    )
    if (data.roles == "heldout").any() and not cfg.fit_heldout:
        raise DiscoveryError(
            f"labelled.path={cfg.path} holds held-out documents (role=heldout): fit heads on "
            "the choose split only and keep held-out families for `rosetta-filter evaluate`, "
            "or set labelled.fit_heldout: true and judge the bank by cross-fitting",
            field="labelled.fit_heldout",
            value=str(cfg.path),
        )
    if (data.families == "").any():
        raise DiscoveryError(
            f"labelled.path={cfg.path}: some records have no {cfg.family_field!r}; "
            "source-disjoint statistics need a family on every record",
            field="labelled.family_field",
            value=cfg.family_field,
        )
    return data


@dataclass(frozen=True)
class ChooseMatrix:
    """The anchor's document-pooled activations of a labelled choose corpus (scored rows
    only), with each row's domain and family."""

    values: np.ndarray  # (docs, n_layers * d_mlp) float32
    labels: LabelledDocs
    d_mlp: int


def choose_matrix(
    cfg: DomainsConfig,
    data: LabelledSet | None = None,
    advance: Callable[[int], None] = lambda n: None,
) -> ChooseMatrix:
    """The pooled pass over ``cfg.labelled`` (read here unless ``data`` is given), cached in
    ``cfg.cache_dir``; rows the model could not score are dropped."""
    data = data or _labelled(cfg.labelled)
    values, d_mlp = pooled_activations(
        cfg.model,
        data.texts,
        tokens=cfg.tokens,
        batching=cfg.batching,
        pooling=cfg.pooling,
        cache_dir=Path(cfg.cache_dir) if cfg.cache_dir else None,
        also_cache=cfg.also_cache,
        advance=advance,
    )
    scored = ~np.isnan(values).any(axis=1)
    labels = LabelledDocs(data.labels[scored], data.families[scored])
    return ChooseMatrix(values[scored], labels, d_mlp)


def head_settings(cfg: HeadsConfig) -> HeadSettings:
    return HeadSettings(
        cfg.max_neurons, cfg.candidates, tuple(cfg.strengths), candidate_order=cfg.candidate_order
    )


def build_domain_bank(
    cfg: DomainsConfig,
    stage: Callable[[str, int], None] = lambda name, total: None,
    advance: Callable[[int], None] = lambda n: None,
) -> tuple[Path, dict]:
    """Run the job (see the module docstring); returns the new bank and a summary. Progress:
    ``stage(name, total)`` opens the pooled pass (documents), then the fit (domains), and
    ``advance(n)`` counts what each finished."""
    started = time.perf_counter()
    bank = load_bank(cfg.bank)
    model_id = cfg.bank_model or cfg.model.name
    bank.model_meta(model_id)
    data = _labelled(cfg.labelled)
    stage("pooled pass", len(data.texts))
    choose = choose_matrix(cfg, data, advance)
    values, labels, d_mlp = choose.values, choose.labels, choose.d_mlp
    n_layers = values.shape[1] // d_mlp
    layers = np.arange(values.shape[1]) // d_mlp
    pools = {
        pool_name(pool): _pool_columns(bank, model_id, d_mlp, pool) for pool in (True, "consistent")
    }
    pools["all"] = np.arange(values.shape[1])
    pools = {name: columns for name, columns in pools.items() if len(columns)}
    depths = sorted({*range(0, n_layers, cfg.heads.depth_step), n_layers - 1})
    settings = head_settings(cfg.heads)
    domains = sorted(set(labels.domains.tolist()))
    check_borders(cfg.heads.borders, domains)
    job = DomainJob(
        labels=labels,
        pools=pools,
        layers=layers,
        depths=depths,
        settings=settings,
        max_quality_loss=cfg.heads.max_quality_loss,
        depth_statistic=cfg.heads.depth_statistic,
        depth_guard=cfg.heads.depth_guard,
        row=partial(head_row, d_mlp=d_mlp),
    )
    stage("fitting domains", len(domains))
    fitted = fit_domains(
        values,
        job,
        domains,
        cfg.heads.workers,
        done=lambda d: advance(1),
        scratch_dir=Path(cfg.cache_dir) if cfg.cache_dir else None,
    )
    stats = {domain: fitted[domain][0] for domain in domains}
    heads = {domain: fitted[domain][1] for domain in domains}
    borders = _fit_borders(cfg, choose, stage, advance)
    quality_key = f"{cfg.heads.depth_statistic}_fold_auroc"
    neurons = _with_lofo_columns(bank, model_id, d_mlp, stats)
    payload = {
        "model": model_id,
        "pooling": cfg.pooling,
        "tokens": cfg.tokens.model_dump(mode="json"),
        "max_quality_loss": cfg.heads.max_quality_loss,
        "quality_key": quality_key,
        "labelled_corpus": {
            "path": cfg.labelled.path,
            "docs": len(labels.domains),
            "families": {
                d: sorted(set(labels.families[labels.domains == d].tolist())) for d in domains
            },
            "docs_per_domain": data.counts(),
        },
        "settings": cfg.model_dump(mode="json"),
        "domains": heads,
    }
    if borders:
        payload["borders"] = borders
    meta = {k: v for k, v in bank.meta.items() if k != "format_version"}
    meta["domain_heads"] = {"seconds": round(time.perf_counter() - started, 1), "source": cfg.bank}
    out = write_bank(cfg.out, meta, neurons, bank.pairs, heads=payload)
    summary = {
        domain: {
            name: {
                "auto_max_layer": h["auto_max_layer"],
                "full_depth_worst_auroc": h["depths"][-1]["worst_fold_auroc"],
                "rule_check_worst_loss": h["rule_check"]["worst_loss"],
                "rule_check_mean_loss": h["rule_check"]["mean_loss"],
                "rule_check_passed": h["rule_check"]["passed"],
                "neurons": len(h["depths"][-1]["neurons"]),
            }
            for name, h in by_pool.items()
        }
        for domain, by_pool in heads.items()
    }
    log.info("bank format %s written to %s", FORMAT_VERSION, out)
    return out, summary


def _fit_borders(
    cfg: DomainsConfig,
    choose: ChooseMatrix,
    stage: Callable[[str, int], None],
    advance: Callable[[int], None],
) -> list[dict]:
    """Every border head ``cfg.heads.borders`` asks for (:mod:`discovery.domain.borders`), as
    the rows ``heads.json`` keeps under ``borders``."""
    if not cfg.heads.borders:
        return []
    stage("fitting borders", len(cfg.heads.borders))
    rows, settings = [], head_settings(cfg.heads)
    row = partial(head_row, d_mlp=choose.d_mlp)
    for pair in cfg.heads.borders:
        rows.append(
            fit_border(
                choose.values,
                choose.labels,
                pair,
                settings,
                choose.d_mlp,
                row,
                cfg.heads.border_candidates,
            )
        )
        log.info("border %s|%s: %d neurons", *pair, len(rows[-1]["neurons"]))
        advance(1)
    return rows


def add_borders(
    cfg: DomainsConfig,
    stage: Callable[[str, int], None] = lambda name, total: None,
    advance: Callable[[int], None] = lambda n: None,
) -> Path:
    """``rosetta-filter domains CONFIG --borders-only``: the border heads of ``cfg.heads.borders``
    fit on ``cfg.labelled`` and added to ``cfg.bank``, a bank that has domain heads already
    (written to ``cfg.out``; the input bank is not modified). Replaces the bank's borders."""
    bank = load_bank(cfg.bank)
    if bank.heads is None:
        raise DiscoveryError(
            f"bank {cfg.bank} has no domain heads: --borders-only adds border heads to a bank "
            "written by `rosetta-filter domains`; set bank to one, or drop --borders-only",
            field="bank",
            value=cfg.bank,
        )
    if bank.heads.get("pooling", "mean") != cfg.pooling:
        raise DiscoveryError(
            f"the heads of bank {cfg.bank} were fit on {bank.heads.get('pooling')} pooling: set "
            f"pooling={bank.heads.get('pooling')} so the border head reads what they read",
            field="pooling",
            value=cfg.pooling,
        )
    if not cfg.heads.borders:
        raise DiscoveryError(
            "heads.borders is empty: list the pairs to fit, e.g. "
            "--set 'heads.borders=[[code, math]]'",
            field="heads.borders",
        )
    data = _labelled(cfg.labelled)
    stage("pooled pass", len(data.texts))
    choose = choose_matrix(cfg, data, advance)
    check_borders(cfg.heads.borders, sorted(set(choose.labels.domains.tolist())))
    heads = dict(bank.heads)
    heads["borders"] = _fit_borders(cfg, choose, stage, advance)
    heads["borders_corpus"] = {"path": cfg.labelled.path, "docs": len(choose.labels.domains)}
    meta = {k: v for k, v in bank.meta.items() if k != "format_version"}
    return write_bank(cfg.out, meta, bank.neurons, bank.pairs, heads=heads)


def head_row(depth: int, head, d_mlp: int) -> dict:
    row = head.to_dict()
    row["neurons"] = [neuron_name(c, d_mlp) for c in row.pop("columns")]
    row["max_layer"] = depth
    return row


def _with_lofo_columns(
    bank: NeuronBank, model_id: str, d_mlp: int, stats: dict[str, DomainStats]
) -> pa.Table:
    """The bank's neuron table plus the source-disjoint columns (null for other models)."""
    table = bank.neurons
    models = table.column("model").to_pylist()
    columns = [
        int(layer) * d_mlp + int(index)
        for layer, index in zip(
            table.column("layer").to_pylist(), table.column("index").to_pylist(), strict=True
        )
    ]
    for domain, s in stats.items():
        for name, values in (("lofo_worst", s.worst), ("lofo_mean", s.mean), ("dprime", s.dprime)):
            column = [
                float(values[c]) if m == model_id else None
                for m, c in zip(models, columns, strict=True)
            ]
            key = f"{name}__{domain}"
            if key in table.column_names:
                table = table.drop_columns([key])
            table = table.append_column(key, pa.array(column, pa.float64()))
    return table
