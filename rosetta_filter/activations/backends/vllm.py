"""The vLLM backend: the activation engine's forward pass in vLLM.

:class:`VllmForward` is the :class:`~rosetta_filter.activations.forward.Forward` that runs the tap
model plugin (:mod:`rosetta_filter.activations.backends.vllm_model`) with vLLM's
pooling runner. Reading records, validation, tokenisation, windows and special-token handling are
the hf engine's, unchanged; vLLM receives token ids, never text. Two output modes:

* pooled (task ``embed``): vLLM pools each document inside the worker with the project's own
  ``pool`` and returns ``(len(methods), n_neurons)``; used when a document is one
  window (``long_docs=truncate``) and per-token values are not asked for;
* per token (task ``token_embed``): vLLM returns each window's content tokens and the hf
  engine's code pools them on the host; used for ``keep_tokens``, ``long_docs=windows`` (a
  document's windows are pooled together) and ``pooling=None``.

vLLM owns batching: tokens per step = ``batching.batch_tokens``, rows per step =
``batching.max_batch_docs``, so one config means the same work per forward pass on both
backends. One vLLM engine serves one neuron selection, because the tap is built into the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer
from vllm import PoolingParams as VllmPoolingParams
from vllm import TokensPrompt

from rosetta_filter.activations.architectures import resolve_architecture
from rosetta_filter.activations.backends.vllm_launch import (
    bind_cpu_threads,
    register_plugin,
    start_llm,
)
from rosetta_filter.activations.backends.vllm_model import DECODER_LAYERS
from rosetta_filter.activations.backends.vllm_pooler import POOLED_TASK, TOKENS_TASK
from rosetta_filter.activations.forward import ForwardSettings, PoolingParams
from rosetta_filter.activations.models import LoadedModel, locate_model, resolve_device
from rosetta_filter.activations.precision import resolve_dtype
from rosetta_filter.activations.taps import TapPlan
from rosetta_filter.activations.tokenize import Window
from rosetta_filter.config import ModelConfig
from rosetta_filter.errors import ModelError, UnsupportedArchitecture

SUPPORTED_FAMILIES = tuple(DECODER_LAYERS)

__all__ = ["SUPPORTED_FAMILIES", "VllmForward", "describe_model", "register_plugin"]


def describe_model(cfg: ModelConfig) -> LoadedModel:
    """The model as the rest of rosetta-filter sees it (name, tokenizer, architecture,
    provenance) without loading weights: vLLM loads them. ``.model`` is a weightless
    skeleton on the meta device, built in ``cfg.dtype``, which the engine reads."""
    location, gguf_file, source, sha = locate_model(cfg)
    if gguf_file:
        raise ModelError(
            f"model.backend=vllm cannot read {gguf_file} (GGUF): give a registry name or a "
            "directory of safetensors weights, or set model.backend=hf",
            field="model.name",
            value=cfg.name,
        )
    revision = {"revision": cfg.revision} if source == "hub" and cfg.revision else {}
    try:
        config = AutoConfig.from_pretrained(location, **revision)
        tokenizer = AutoTokenizer.from_pretrained(location, **revision)
    except OSError as exc:
        raise ModelError(
            f"cannot load model {cfg.name!r}: {exc}", field="model.name", value=cfg.name
        ) from exc
    if config.model_type not in SUPPORTED_FAMILIES:
        raise UnsupportedArchitecture(
            f"model.backend=vllm supports the families {', '.join(SUPPORTED_FAMILIES)}; "
            f"{cfg.name!r} is {config.model_type!r}: set model.backend=hf",
            field="model.backend",
            value=config.model_type,
        )
    bind_cpu_threads(cfg.threads)
    with torch.device("meta"):
        skeleton = AutoModel.from_config(
            config, dtype=resolve_dtype(cfg.dtype, resolve_device(cfg.device))
        )
    path = None if source == "hub" else Path(location)
    arch = resolve_architecture(skeleton)
    return LoadedModel(cfg.name, skeleton, tokenizer, arch, source, path, cfg.revision, sha)


class VllmForward:
    """The :class:`~rosetta_filter.activations.forward.Forward` of a vLLM engine started for one
    tap plan. vLLM schedules and packs the windows itself, so it takes a whole read-ahead chunk
    per call. Pooled mode (task ``embed``, documents of one window, no per-token values asked)
    pools inside the worker; otherwise (task ``token_embed``) per-token values come back and the
    engine pools them on the host with the hf path's code."""

    packs_batches = False

    def __init__(self, model: LoadedModel, plan: TapPlan, settings: ForwardSettings) -> None:
        self.task = TOKENS_TASK if settings.per_token else POOLED_TASK
        self.pools = self.task == POOLED_TASK
        self.pooling = settings.pooling or PoolingParams()
        self.llm = start_llm(model, plan, settings.tokens, settings.batching, self.task)

    def close(self) -> None:
        """Stop vLLM's engine (its process, unless it runs in this one) now rather than at exit."""
        self.llm.llm_engine.engine_core.shutdown()

    def __call__(self, batch: Sequence[Window]) -> list[torch.Tensor]:
        """One vLLM call. Per window: its content tokens' activations ``(n, n_neurons)``
        (per-token mode) or its pooled values ``(len(pooling.methods), n_neurons)``."""
        pooling = self.pooling
        params = [
            VllmPoolingParams(
                extra_kwargs={
                    "content_start": w.content_start,
                    "n_content": w.n_content,
                    "top_k": pooling.top_k,
                    "threshold": pooling.threshold,
                    "methods": list(pooling.methods),
                },
                skip_reading_prefix_cache=True,
            )
            for w in batch
        ]
        prompts = [TokensPrompt(prompt_token_ids=list(w.ids)) for w in batch]
        outputs = self.llm.encode(prompts, params, pooling_task=self.task, use_tqdm=False)
        return [out.outputs.data.float().cpu() for out in outputs]
