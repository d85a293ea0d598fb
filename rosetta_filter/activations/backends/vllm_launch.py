"""Starting a vLLM engine that runs the tap model for one tap plan: the plugin registration,
the config overrides that carry the tap (and cut the model after the deepest tapped layer),
and the engine arguments that map the project's batching config onto vLLM's scheduler.
"""

from __future__ import annotations

import logging
import os
from importlib.metadata import entry_points

import torch
from transformers import PretrainedConfig
from vllm import LLM, ModelRegistry
from vllm import envs as vllm_envs
from vllm.config import PoolerConfig
from vllm.platforms import current_platform

from rosetta_filter.activations.backends.vllm_model import TAP_KEY, TapSpec
from rosetta_filter.activations.models import LoadedModel, names_gguf_quantization
from rosetta_filter.activations.taps import TapPlan
from rosetta_filter.config import BatchingConfig, TokensConfig
from rosetta_filter.errors import ModelError

log = logging.getLogger(__name__)

TAP_ARCHITECTURE = "RosettaTapModel"
PLUGIN_ENTRY_POINT = "rosetta_filter.activations.backends:register_vllm_plugin"


def register_plugin() -> None:
    """Make the tap model known to vLLM in this process (idempotent)."""
    if TAP_ARCHITECTURE not in ModelRegistry.get_supported_archs():
        ModelRegistry.register_model(
            TAP_ARCHITECTURE, f"rosetta_filter.activations.backends.vllm_model:{TAP_ARCHITECTURE}"
        )


def tap_spec(plan: TapPlan, d_mlp: int) -> TapSpec:
    """The plan in the plain form a Hugging Face config can carry to vLLM's workers."""
    layers = tuple(sorted(plan.columns))
    columns = tuple(
        tuple(range(d_mlp)) if plan.columns[layer] is None else tuple(plan.columns[layer].tolist())
        for layer in layers
    )
    n_neurons = sum(len(c) for c in columns)
    order = tuple(range(n_neurons)) if plan.order is None else tuple(plan.order.tolist())
    return TapSpec(layers, columns, order)


def start_llm(
    model: LoadedModel, plan: TapPlan, tokens: TokensConfig, batching: BatchingConfig, task: str
) -> LLM:
    """A vLLM engine running layers 0..plan.deepest of ``model``'s weights with the tap."""
    register_plugin()
    _check_plugin_installed()
    config = model.model.config
    overrides = {
        "architectures": [TAP_ARCHITECTURE],
        "num_hidden_layers": plan.deepest + 1,  # early exit: vLLM builds and sizes L + 1 layers
        TAP_KEY: tap_spec(plan, model.arch.d_mlp).to_dict(),
    }
    if names_gguf_quantization(config):
        overrides["quantization_config"] = None
    dtype = next(model.model.parameters()).dtype
    step_tokens = max(batching.batch_tokens, tokens.max_tokens)
    try:
        return LLM(
            model=str(model.path) if model.path is not None else model.name,
            revision=model.revision if model.source == "hub" else None,
            runner="pooling",
            dtype=str(dtype).removeprefix("torch."),
            hf_overrides=overrides,
            pooler_config=PoolerConfig(task=task),
            max_model_len=tokens.max_tokens,
            max_num_batched_tokens=step_tokens,
            max_num_seqs=batching.max_batch_docs,
            enable_prefix_caching=False,  # a cached prefix is not computed, so not pooled
            kv_cache_memory_bytes=kv_cache_bytes(
                config,
                plan.deepest + 1,
                kv_cache_tokens(step_tokens, tokens.max_tokens, batching.max_batch_docs),
                dtype,
            ),
            seed=0,
        )
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelError(
            f"vLLM could not start {model.name!r} with the tap model: {exc}",
            field="model.name",
            value=model.name,
        ) from exc


def kv_cache_tokens(step_tokens: int, max_tokens: int, max_seqs: int) -> int:
    """Tokens the KV cache must hold. Scoring only prefills and a request frees its blocks
    when its last chunk is computed, so what is held at once is about one step of tokens plus
    a prompt left half-done by chunked prefill, plus per request one partly filled block (vLLM
    CPU blocks hold 128 tokens, CUDA ones 16). Twice that, for headroom; vLLM's default would
    instead claim most of the device's memory."""
    return 2 * (step_tokens + max_tokens) + max_seqs * 128


def kv_cache_bytes(config: PretrainedConfig, layers: int, tokens: int, dtype: torch.dtype) -> int:
    """Bytes of K and V for ``tokens`` tokens in ``layers`` layers."""
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    return 2 * layers * kv_heads * head_dim * dtype.itemsize * tokens


def bind_cpu_threads(threads: int | None) -> None:
    """On vLLM's CPU build, pin its worker to ``threads`` of this process's cores (the meaning
    of ``model.threads``), unless VLLM_CPU_OMP_THREADS_BIND already says otherwise."""
    if not threads or not current_platform.is_cpu() or "VLLM_CPU_OMP_THREADS_BIND" in os.environ:
        return
    cores = sorted(os.sched_getaffinity(0))[:threads]
    os.environ["VLLM_CPU_OMP_THREADS_BIND"] = ",".join(map(str, cores))
    log.info("vLLM CPU worker bound to cores %s", os.environ["VLLM_CPU_OMP_THREADS_BIND"])


def _check_plugin_installed() -> None:
    """vLLM's engine core runs in a child process (spawned on CPU); the child learns of the tap
    model only through the package's ``vllm.general_plugins`` entry point."""
    if not vllm_envs.VLLM_ENABLE_V1_MULTIPROCESSING:
        return  # in-process engine: register_plugin() above is enough
    installed = {ep.value for ep in entry_points(group="vllm.general_plugins")}
    if PLUGIN_ENTRY_POINT not in installed:
        raise ModelError(
            "the rosetta-filter vLLM plugin entry point is not installed, so vLLM's engine "
            "process cannot build the tap model: reinstall the package in the vLLM environment "
            "(`make vllm-env`), or set VLLM_ENABLE_V1_MULTIPROCESSING=0 to run vLLM in-process",
            field="model.backend",
            value="vllm",
        )
