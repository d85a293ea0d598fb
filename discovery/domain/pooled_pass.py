"""The anchor-only pass behind the domain statistics: every MLP neuron of one model,
document-pooled, over a labelled corpus, cached on disk.

Cross-model discovery needs token-aligned spans of several models; the domain statistics need
only the anchor's pooled activations, so this pass runs one model over far more documents than
the span sample. It goes through :func:`rosetta_filter.activations.backends.build_engine`, the
scorer's own factory, with the scorer's tokenisation, so the values a head is fit on are the
values the scorer computes. Column ``c`` is neuron ``(c // d_mlp, c % d_mlp)``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from rosetta_filter.activations.backends import build_engine, load_backend_model
from rosetta_filter.activations.precision import resolve_dtype
from rosetta_filter.activations.taps import TapPlan
from rosetta_filter.config import BatchingConfig, ModelConfig, TokensConfig
from rosetta_filter.files import atomic_path

log = logging.getLogger(__name__)


def pass_key(model: ModelConfig, tokens: TokensConfig, pooling: str, texts: Sequence[str]) -> str:
    """Everything that changes the matrix: model, resolved dtype, tokenisation, pooling, texts."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())
    payload = {
        "model": model.model_dump(mode="json", exclude={"threads", "device", "backend"}),
        "dtype": str(resolve_dtype(model.dtype, _device(model))),
        "tokens": tokens.model_dump(mode="json"),
        "pooling": pooling,
        "texts": digest.hexdigest(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def _device(model: ModelConfig) -> torch.device:
    cuda = model.device == "cuda" or (model.device == "auto" and torch.cuda.is_available())
    return torch.device("cuda" if cuda else "cpu")


def pooled_activations(
    model: ModelConfig,
    texts: Sequence[str],
    *,
    tokens: TokensConfig,
    batching: BatchingConfig,
    pooling: str = "mean",
    cache_dir: Path | None = None,
    advance: Callable[[int], None] = lambda n: None,
) -> tuple[np.ndarray, int]:
    """``(docs, n_layers * d_mlp)`` float32 pooled activations (NaN rows: unscorable texts),
    and ``d_mlp``. Loaded from ``cache_dir`` when an identical pass was run before."""
    key = pass_key(model, tokens, pooling, texts)
    cached = cache_dir / f"pooled-{key}.npz" if cache_dir else None
    if cached is not None and cached.exists():
        with np.load(cached) as saved:
            log.info("pooled activations from %s", cached)
            advance(len(texts))
            return saved["values"], int(saved["d_mlp"])
    loaded = load_backend_model(model)
    arch = loaded.arch
    engine = build_engine(
        model.backend,
        loaded,
        TapPlan.whole_layers(range(arch.n_layers), arch),
        tokens=tokens,
        batching=batching,
    )
    values = np.full((len(texts), arch.n_layers * arch.d_mlp), np.nan, dtype=np.float32)
    for doc in engine.run(texts):
        if doc.skip_reason is None:
            values[doc.index] = doc.pooled[pooling].numpy()
        advance(1)
    if cached is not None:
        with atomic_path(cached) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, values=values, d_mlp=np.int64(arch.d_mlp))
    return values, arch.d_mlp
