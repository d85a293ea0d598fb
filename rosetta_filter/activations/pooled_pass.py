"""Every MLP neuron of one model, document-pooled, over a list of texts, cached on disk per
document: the pass behind the domain statistics (``rosetta-filter domains``) and, with
``--cache``, behind ``rosetta-filter evaluate``.

Cross-model discovery needs token-aligned spans of several models; the domain statistics need
only the anchor's pooled activations, so this pass runs one model over far more documents than
the span sample. An evaluation reads a few hundred of the same columns, so a cache shared with
the domains pass makes re-scoring a held-out file after a bank change a matter of seconds.
It goes through :func:`rosetta_filter.activations.backends.build_engine`, the
scorer's own factory, with the scorer's tokenisation, so the values a head is fit on are the
values the scorer computes. Column ``c`` is neuron ``(c // d_mlp, c % d_mlp)``.

The cache is keyed by document, not by corpus: the corpus grows a few families at a time (hard
negatives, new sealed sets), and a key over the whole text list re-ran every document (37 min
on two cores) to add 480. A call writes the documents it had to compute into
``pooled-<settings key>/``, a shard every two read-ahead windows (512 documents by default) so a
killed pass resumes; a later call reads every row it can from the shards and runs the model on the
rest only.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from rosetta_filter.activations.backends import build_engine, load_backend_model
from rosetta_filter.activations.forward import PoolingParams
from rosetta_filter.activations.models import LoadedModel
from rosetta_filter.activations.precision import resolve_dtype
from rosetta_filter.activations.taps import TapPlan
from rosetta_filter.config import BatchingConfig, ModelConfig, TokensConfig
from rosetta_filter.files import atomic_path

log = logging.getLogger(__name__)
CHECKPOINT_LOOKAHEADS = 2  # read-ahead windows of documents per cache shard


def settings_key(
    model: ModelConfig, tokens: TokensConfig, pooling: str, params: PoolingParams = PoolingParams()
) -> str:
    """Everything but the text that changes a document's row: model, resolved dtype,
    tokenisation, pooling and its parameters (threads, device, backend and which other methods
    a pass computes do not). Default parameters add nothing to the key, so the caches written
    before they were keyed (every one of them pooled with the defaults) keep their rows."""
    payload = {
        "model": model.model_dump(mode="json", exclude={"threads", "device", "backend", "dtype"}),
        "dtype": str(resolve_dtype(model.dtype, _device(model))),
        "tokens": tokens.model_dump(mode="json"),
        "pooling": pooling,
    }
    how = {"top_k": params.top_k, "threshold": params.threshold}
    if how != {"top_k": PoolingParams().top_k, "threshold": PoolingParams().threshold}:
        payload["pooling_params"] = how
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def text_digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _device(model: ModelConfig) -> torch.device:
    cuda = model.device == "cuda" or (model.device == "auto" and torch.cuda.is_available())
    return torch.device("cuda" if cuda else "cpu")


class PooledCache:
    """Shards of pooled rows under one settings key; each shard holds the texts' sha256
    (``digests``), their rows (``values``, NaN for an unscorable text) and ``d_mlp``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # shards this process wrote, kept in memory: the rows just computed are not read back
        self._written: dict[Path, tuple[np.ndarray, int]] = {}

    def shards(self) -> list[Path]:
        return sorted(self.directory.glob("shard-*.npz")) if self.directory.is_dir() else []

    def index(self) -> dict[bytes, tuple[Path, int]]:
        """Where each cached text's row is: ``digest -> (shard, row)`` (first shard wins)."""
        found: dict[bytes, tuple[Path, int]] = {}
        for shard in self.shards():
            with np.load(shard) as saved:
                for row, digest in enumerate(saved["digests"]):
                    # numpy's S32 drops a digest's trailing NUL bytes on the way back: restore them
                    found.setdefault(bytes(digest).ljust(32, b"\0"), (shard, row))
        return found

    def write(
        self, digests: list[bytes], values: np.ndarray, d_mlp: int, *, keep: bool = True
    ) -> Path:
        """One new shard, named by its texts, written atomically; ``keep``: hold its rows for
        this process's reads (a companion pooling's shard is only written)."""
        name = hashlib.sha256(b"".join(digests)).hexdigest()[:20]
        path = self.directory / f"shard-{name}.npz"
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, digests=np.array(digests, dtype="S32"), values=values, d_mlp=d_mlp)
        if keep:
            self._written[path] = (values, d_mlp)
        return path

    def _load(self, shard: Path) -> tuple[np.ndarray, int]:
        if shard in self._written:
            return self._written[shard]
        with np.load(shard) as saved:
            return saved["values"], int(saved["d_mlp"])

    def read(
        self, n_rows: int, wanted: dict[bytes, list[int]], where: dict[bytes, tuple[Path, int]]
    ) -> tuple[np.ndarray, int]:
        """An ``(n_rows, columns)`` matrix with the cached row of each digest of ``wanted`` at
        its output rows, and ``d_mlp``. Each shard is loaded once (one this cache wrote is
        not loaded at all)."""
        by_shard: dict[Path, list[tuple[int, list[int]]]] = {}
        for digest, rows in wanted.items():
            shard, row = where[digest]
            by_shard.setdefault(shard, []).append((row, rows))
        out, d_mlp = np.empty((n_rows, 0), dtype=np.float32), 0
        for shard, pairs in by_shard.items():
            values, d_mlp = self._load(shard)
            if out.shape[1] != values.shape[1]:
                out = np.full((n_rows, values.shape[1]), np.nan, dtype=np.float32)
            for row, rows in pairs:
                out[rows] = values[row]
        return out, d_mlp


def _run_model(
    model: ModelConfig,
    texts: Sequence[str],
    tokens: TokensConfig,
    batching: BatchingConfig,
    poolings: Sequence[str],
    params: PoolingParams,
    advance: Callable[[int], None],
    loaded: LoadedModel | None = None,
) -> tuple[dict[str, np.ndarray], int]:
    """Each of ``poolings``' ``(len(texts), n_layers * d_mlp)`` rows from one forward pass
    (the engine pools those methods only), and ``d_mlp``."""
    loaded = loaded or load_backend_model(model)
    arch = loaded.arch
    engine = build_engine(
        model.backend,
        loaded,
        TapPlan.whole_layers(range(arch.n_layers), arch),
        tokens=tokens,
        batching=batching,
        pooling=replace(params, methods=tuple(poolings)),
    )
    shape = (len(texts), arch.n_layers * arch.d_mlp)
    values = {p: np.full(shape, np.nan, dtype=np.float32) for p in poolings}
    for doc in engine.run(texts):
        if doc.skip_reason is None:
            for p in poolings:
                values[p][doc.index] = doc.pooled[p].numpy()
        advance(1)
    return values, arch.d_mlp


def pooled_activations(
    model: ModelConfig,
    texts: Sequence[str],
    *,
    tokens: TokensConfig,
    batching: BatchingConfig,
    pooling: str = "mean",
    pooling_params: PoolingParams = PoolingParams(),
    cache_dir: Path | None = None,
    also_cache: Sequence[str] = (),
    advance: Callable[[int], None] = lambda n: None,
) -> tuple[np.ndarray, int]:
    """``(docs, n_layers * d_mlp)`` float32 pooled activations (NaN rows: unscorable texts),
    and ``d_mlp``. Rows cached in ``cache_dir`` by an earlier pass with the same settings are
    read, not recomputed; the model is loaded, and runs, only for the other texts (each
    distinct text once).

    ``also_cache``: other pooling methods whose caches get the rows this call computes, from
    the same forward pass: comparing poolings then costs one pass over the corpus, not one per
    method (the forward pass is the cost; pooling is nearly free)."""
    poolings = [pooling, *(p for p in dict.fromkeys(also_cache) if p != pooling)]
    if cache_dir is None:
        values, d_mlp = _run_model(
            model, texts, tokens, batching, poolings[:1], pooling_params, advance
        )
        return values[pooling], d_mlp
    caches = {
        p: PooledCache(cache_dir / f"pooled-{settings_key(model, tokens, p, pooling_params)}")
        for p in poolings
    }
    cache = caches[pooling]
    rows_of: dict[bytes, list[int]] = {}
    for i, text in enumerate(texts):
        rows_of.setdefault(text_digest(text), []).append(i)
    where = cache.index()
    missing = [digest for digest in rows_of if digest not in where]
    log.info(
        "pooled activations: %d of %d distinct texts cached in %s",
        len(rows_of) - len(missing),
        len(rows_of),
        cache.directory,
    )
    loaded = load_backend_model(model) if missing else None
    # a shard per checkpoint: a pass killed after an hour keeps what it computed. A multiple of
    # the read-ahead, so the batches (and the rounding) are those of one uninterrupted pass.
    step = CHECKPOINT_LOOKAHEADS * batching.lookahead_docs
    for start in range(0, len(missing), step):
        chunk = missing[start : start + step]
        todo = [texts[rows_of[d][0]] for d in chunk]
        computed, d_mlp = _run_model(
            model, todo, tokens, batching, poolings, pooling_params, advance, loaded
        )
        shard = cache.write(chunk, computed[pooling], d_mlp)
        for other in poolings[1:]:
            caches[other].write(chunk, computed[other], d_mlp, keep=False)
        where.update({digest: (shard, row) for row, digest in enumerate(chunk)})
    cached = len(texts) - sum(len(rows_of[d]) for d in missing)
    if cached:
        advance(cached)
    return cache.read(len(texts), rows_of, where)
