"""``rosetta-filter discover``: probe corpus -> data pass (spans, caches, doc statistics) ->
correlation and matching (best buddies, Rosetta groups, null) -> neuron bank + summary."""

from __future__ import annotations

import logging
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from discovery.bank_tables import neuron_columns, neuron_table, pairs_table, rosetta_members
from discovery.config import DiscoverConfig
from discovery.corpus.build import ProbeDoc, load_probe_corpus
from discovery.correlate.matching import match
from discovery.datapass.collect import Collection, collect
from discovery.datapass.collection_store import (
    fingerprint,
    forget_collection,
    load_collection,
    save_collection,
)
from discovery.datapass.snippets import cache_snippets, top_snippets
from discovery.datapass.span_sampling import cache_rows, tokenizers
from discovery.errors import DiscoveryError
from discovery.neuron_stats.polarization import polarization
from rosetta_filter.activations.backends import load_backend_model
from rosetta_filter.activations.models import LoadedModel
from rosetta_filter.errors import RosettaError
from rosetta_filter.filtering.manifest import package_versions
from rosetta_filter.neuron import Neuron
from rosetta_filter.scoring.bank import auroc_column, write_bank

log = logging.getLogger(__name__)
_SUMMARY_TOP = 3  # Rosetta Neurons reported per domain


@dataclass
class DiscoveryResult:
    bank_dir: Path
    summary: dict[str, Any]


def load_docs(cfg: DiscoverConfig) -> list[ProbeDoc]:
    c = cfg.corpus
    docs = load_probe_corpus(
        c.path,
        domain_field=c.domain_field,
        text_field=c.text_field,
        split=c.split,
        domains=c.domains,
        id_field=c.id_field,
    )
    if c.max_docs_per_domain is not None:
        taken: Counter = Counter()
        kept = []
        for doc in docs:
            if taken[doc.domain] < c.max_docs_per_domain:
                kept.append(doc)
                taken[doc.domain] += 1
        docs = kept
    if not docs:
        raise DiscoveryError(f"probe corpus {c.path} has no documents", field="corpus.path")
    return docs


def load_models(cfg: DiscoverConfig) -> dict[str, LoadedModel]:
    models = {}
    for entry in cfg.models:
        try:
            models[entry.id] = load_backend_model(entry.model)
        except RosettaError as exc:
            raise DiscoveryError(
                f"model {entry.id!r} ({entry.model.name}) failed to load: {exc.message}",
                field=f"models.{entry.id}",
                value=entry.model.name,
            ) from exc
    return models


def data_pass(
    cfg: DiscoverConfig,
    docs: list[ProbeDoc],
    models: dict[str, LoadedModel],
    work_dir: Path,
    advance: Callable[[int], None],
) -> tuple[Collection, bool]:
    """The data pass, or the one saved in ``work_dir`` for the same inputs (then True)."""
    # The weights, and the type they ran in where the config leaves it to the machine (auto).
    auto = {m.id for m in cfg.models if m.model.dtype == "auto"}
    computed = {
        mid: f"{m.sha256 or m.name} {_dtype(m)}" if mid in auto else m.sha256 or m.name
        for mid, m in models.items()
    }
    key = fingerprint(cfg, docs, computed)
    saved = load_collection(work_dir, key)
    if saved is not None:
        log.info("reusing the data pass saved in %s", work_dir)
        advance(len(docs))
        return saved, True
    forget_collection(work_dir)
    collection = collect(cfg, docs, models, work_dir, advance)
    save_collection(collection, work_dir, key)
    return collection, False


def _dtype(model: LoadedModel) -> str:
    return str(next(model.model.parameters()).dtype).removeprefix("torch.")


def discover(
    cfg: DiscoverConfig, advance: Callable[[int], None] = lambda n: None
) -> DiscoveryResult:
    started = time.perf_counter()
    docs = load_docs(cfg)
    domains = sorted({d.domain for d in docs})
    labels = [d.domain for d in docs]
    models = load_models(cfg)
    work_dir = Path(cfg.work_dir or f"{cfg.bank.dir}.work")
    work_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    collection, reused = data_pass(cfg, docs, models, work_dir, advance)
    t_collect = time.perf_counter() - t0
    matched = [cfg.anchor_id, *cfg.partner_ids]
    matching = match(collection, cfg.anchor_id, cfg.correlation, cfg.partner_ids)
    layouts = {mid: c.layout for mid, c in collection.models.items()}
    columns = {mid: neuron_columns(collection.models[mid], labels, domains) for mid in matched}
    tables = [
        neuron_table(
            collection.models[mid],
            columns[mid],
            domains,
            matching.groups,
            layouts,
            top_per_domain=cfg.bank.top_per_domain,
            keep_all=cfg.bank.keep_all,
        )
        for mid in matched
    ]
    neurons = pa.concat_tables(tables, promote_options="default")
    all_pairs = [*matching.pairs.values(), *matching.partner_pairs]
    summary = _summary(cfg, collection, matching, neurons, domains)
    summary["polarization"] = {
        mid: polarization(columns[mid], rosetta_members(matching.groups, mid)) for mid in matched
    }
    summary["snippets"] = _snippets(cfg, models, docs, summary, collection)
    summary["seconds"] = {
        "collect": round(t_collect, 1),
        "collect_reused": reused,
        "total": round(time.perf_counter() - started, 1),
        **{k: round(v, 1) for k, v in matching.timings.items()},
    }
    meta = {
        "models": [
            {
                "id": mid,
                "name": models[mid].name,
                "family": models[mid].family,
                "revision": models[mid].revision,
                "sha256": models[mid].sha256,
                "dtype": _dtype(models[mid]),
                "layers": models[mid].arch.n_layers,
                "d_mlp": models[mid].arch.d_mlp,
                "mlp_neurons": collection.models[mid].layout.n_columns,
                "parameters": models[mid].parameters,
                "tokens": collection.models[mid].tokens,
            }
            for mid in matched
        ],
        "anchor": cfg.anchor_id,
        "partners": cfg.partner_ids,
        "probe_corpus": {
            "path": cfg.corpus.path,
            "docs": len(docs),
            "domains": domains,
            "docs_per_domain": dict(Counter(labels)),
            "spans": collection.n_spans,
            "spans_total": collection.n_spans_total,
            "span_models": list(collection.models),  # whose token boundaries made the spans
        },
        "settings": cfg.model_dump(mode="json"),
        "summary": summary,
        "software": package_versions(),
    }
    bank_dir = write_bank(cfg.bank.dir, meta, neurons, pairs_table(all_pairs, layouts))
    if not cfg.keep_caches:  # caches are large and fully summarised in the bank
        shutil.rmtree(work_dir, ignore_errors=True)
    return DiscoveryResult(bank_dir, summary)


def _summary(cfg, collection, matching, neurons: pa.Table, domains: list[str]) -> dict:
    anchor = cfg.anchor_id
    d_anchor = collection.models[anchor].layout.n_columns
    n_rosetta = len(matching.groups)
    rows = [r for r in neurons.to_pylist() if r["model"] == anchor and r["is_rosetta"]]
    per_domain = {}
    for domain in domains:
        col = auroc_column(domain)
        best = sorted(rows, key=lambda r: -r[col])[:_SUMMARY_TOP]
        per_domain[domain] = [
            {
                "neuron": r["neuron"],
                "auroc": round(float(r[col]), 4),
                "mean_r": round(float(r["mean_r"]), 4),
                "partners": r["partners"],
            }
            for r in best
        ]
    return {
        "anchor": anchor,
        "anchor_neurons": d_anchor,
        "rosetta": n_rosetta,
        "rosetta_fraction": round(n_rosetta / d_anchor, 6),
        "rosetta_null": len(matching.null_groups),
        "consistent": sum(1 for g in matching.groups if g.consistent),
        "mean_r": round(float(np.mean([g.mean_r for g in matching.groups])), 4)
        if matching.groups
        else None,
        "pairs": {p: len(v) for p, v in matching.pairs.items()},
        "pairs_null": {p: len(v) for p, v in matching.null_pairs.items()},
        "null": cfg.correlation.null_baseline,
        "spans": collection.n_spans,
        "docs": collection.n_docs,
        "tokens": {mid: collection.models[mid].tokens for mid in [anchor, *matching.partners]},
        "top_rosetta_per_domain": per_domain,
        "matmul_gflops": {k: round(v, 1) for k, v in matching.gflops.items()},
    }


def _snippets(cfg, models, docs, summary, collection: Collection) -> dict[str, list]:
    anchor = cfg.anchor_id
    names = sorted(
        {n["neuron"] for best in summary["top_rosetta_per_domain"].values() for n in best}
    )
    neurons = [Neuron.parse(n) for n in names]
    if cfg.snippets_from == "forward":
        found = top_snippets(
            models[anchor],
            neurons,
            docs,
            cfg.snippets,
            backend=next(m.model.backend for m in cfg.models if m.id == anchor),
            tokens=cfg.tokens,
            batching=cfg.batching,
        )
    else:
        found = _cached_snippets(cfg, models, docs, collection, neurons)
    return {str(n): snippets for n, snippets in found.items()}


def _cached_snippets(cfg, models, docs, collection: Collection, neurons) -> dict:
    if not neurons or cfg.snippets == 0:
        return {}
    shaped_spans = {mid: models[mid] for mid in collection.models}  # every model cut the spans
    rows = cache_rows(cfg.spans, docs, tokenizers(cfg.tokens, shaped_spans))
    anchor = collection.models[cfg.anchor_id]
    cache = anchor.cache()
    if len(rows.doc) != cache.n_rows:
        raise DiscoveryError(
            f"the span sample replays to {len(rows.doc)} rows but {anchor.cache_path} holds "
            f"{cache.n_rows}: the caches are not from this corpus and settings; delete "
            f"{Path(anchor.cache_path).parent} and run again",
            field="work_dir",
        )
    return cache_snippets(cache, anchor.layout, rows, neurons, docs, cfg.snippets)
