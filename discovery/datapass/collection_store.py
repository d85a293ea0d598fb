"""Persisting the data pass: a finished :class:`Collection` is saved beside its activation caches
so that matching can run again without re-running the models.

The data pass is the expensive stage (every model over every probe document; an hour of CPU for
the offline study) while matching is minutes. Saving it buys two things: a discovery that dies
in matching resumes there, and one data pass over K models serves several anchors (the scaling
study runs Qwen-0.5B, Qwen-1.5B, SmolLM2 and gemma as anchors over the same spans).

A saved collection is only reused when its fingerprint matches: the probe documents (ids and
text hashes), the models (names and weight hashes) and every setting that changes activations or
spans (tokens, batching, dtype, span sampling, active threshold). ``collection.json`` is written
last and atomically, so a collection interrupted mid-save is never read.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from discovery.config import DiscoverConfig
from discovery.corpus.build import ProbeDoc
from discovery.correlate.streaming_stats import Moments
from discovery.datapass.collect import Collection, ModelCollection
from discovery.datapass.layout import ColumnLayout
from rosetta_filter.files import atomic_path, write_json_atomic

log = logging.getLogger(__name__)

_FORMAT_VERSION = 1
_INDEX = "collection.json"
_MOMENT_FIELDS = ("mean", "m2", "m3", "m4")


def fingerprint(cfg: DiscoverConfig, docs: Sequence[ProbeDoc], model_hashes: dict[str, str]) -> str:
    """Hash of everything the data pass's output depends on."""
    digest = hashlib.sha256()
    for doc in docs:
        digest.update(f"{doc.id}\0{doc.domain}\0".encode())
        digest.update(hashlib.sha256(doc.text.encode()).digest())
    settings = {
        "models": [(m.id, m.model.model_dump(mode="json"), model_hashes[m.id]) for m in cfg.models],
        "tokens": cfg.tokens.model_dump(mode="json"),
        "spans": cfg.spans.model_dump(mode="json"),
        "active_threshold": cfg.active_threshold,
        "format": _FORMAT_VERSION,
    }
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _moments_arrays(prefix: str, moments: Moments) -> dict[str, np.ndarray]:
    arrays = {f"{prefix}.{name}": getattr(moments, name) for name in _MOMENT_FIELDS}
    arrays[f"{prefix}.count"] = np.asarray(moments.count, dtype=np.int64)
    return arrays


def _moments_from(arrays, prefix: str) -> Moments:
    return Moments(
        int(arrays[f"{prefix}.count"]), *(arrays[f"{prefix}.{name}"] for name in _MOMENT_FIELDS)
    )


def save_collection(collection: Collection, work_dir: Path, key: str) -> None:
    """Write every model's statistics (``<id>.collection.npz``), then the index."""
    for mid, model in collection.models.items():
        arrays = {
            "span_active": model.span_active,
            "doc_mean": model.doc_mean,
            **_moments_arrays("span", model.span_moments),
        }
        for method, moments in model.doc_moments.items():
            arrays.update(_moments_arrays(f"doc.{method}", moments))
        path = work_dir / f"{mid}.collection.npz"
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    index = {
        "format_version": _FORMAT_VERSION,
        "fingerprint": key,
        "n_docs": collection.n_docs,
        "n_spans": collection.n_spans,
        "n_spans_total": collection.n_spans_total,
        "models": {
            mid: {
                "layer_sizes": list(m.layout.layer_sizes),
                "tokens": m.tokens,
                "cache": m.cache_path.name,
                "poolings": sorted(m.doc_moments),
            }
            for mid, m in collection.models.items()
        },
    }
    write_json_atomic(work_dir / _INDEX, index)


def load_collection(work_dir: Path, key: str) -> Collection | None:
    """The saved collection in ``work_dir`` if its fingerprint is ``key``, else None."""
    index_path = work_dir / _INDEX
    if not index_path.is_file():
        return None
    index = json.loads(index_path.read_text())
    if index.get("format_version") != _FORMAT_VERSION or index.get("fingerprint") != key:
        log.info("saved data pass in %s is for other inputs or settings: not reused", work_dir)
        return None
    models = {}
    for mid, entry in index["models"].items():
        with np.load(work_dir / f"{mid}.collection.npz") as arrays:
            models[mid] = ModelCollection(
                mid,
                ColumnLayout(tuple(entry["layer_sizes"])),
                work_dir / entry["cache"],
                _moments_from(arrays, "span"),
                arrays["span_active"],
                arrays["doc_mean"],
                {p: _moments_from(arrays, f"doc.{p}") for p in entry["poolings"]},
                tokens=int(entry["tokens"]),
            )
    return Collection(models, index["n_docs"], index["n_spans"], index["n_spans_total"])


def forget_collection(work_dir: Path) -> None:
    """Invalidate a saved collection before its caches are rewritten."""
    (work_dir / _INDEX).unlink(missing_ok=True)
