"""The vLLM model plugin: a llama/qwen2 backbone cut after the deepest tapped layer, whose
"hidden states" are the selected neurons' MLP post-activations.

vLLM runs it with the pooling runner. It is built from vLLM's own decoder layer classes, so
attention, rotary embeddings and fused norms are vLLM's kernels; only layers 0..L exist (the
backend sets ``num_hidden_layers = L + 1``), and no final norm or LM head is built or loaded.
In a tapped layer the MLP is opened up: ``act(gate) * up`` (the input of ``down_proj``, i.e.
the neuron post-activation of DESIGN.md) is read, its selected columns kept, and ``down_proj``
runs only when a deeper layer still needs the residual stream.

The tap arrives in the Hugging Face config (``hf_overrides`` set by
:func:`rosetta_filter.activations.backends.vllm_launch.start_llm`), so every vLLM worker process
builds the same model from the config alone. No hooks: vLLM compiles the forward, and the tap is
part of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn
from vllm.compilation.decorators import support_torch_compile
from vllm.config import VllmConfig
from vllm.model_executor.layers.vocab_parallel_embedding import VocabParallelEmbedding
from vllm.model_executor.model_loader.weight_utils import default_weight_loader
from vllm.model_executor.models.utils import maybe_prefix
from vllm.sequence import IntermediateTensors

from rosetta_filter.activations.backends.vllm_pooler import NeuronPooler

TAP_KEY = "rosetta_taps"  # hf_config attribute holding the tap (a plain dict)

# Checkpoint names -> vLLM's fused parameters: (checkpoint part, fused part, shard id).
_STACKED = (
    (".q_proj", ".qkv_proj", "q"),
    (".k_proj", ".qkv_proj", "k"),
    (".v_proj", ".qkv_proj", "v"),
    (".gate_proj", ".gate_up_proj", 0),
    (".up_proj", ".gate_up_proj", 1),
)


def _llama_layer(vllm_config: VllmConfig, prefix: str) -> nn.Module:
    from vllm.model_executor.models.llama import LlamaDecoderLayer

    return LlamaDecoderLayer(vllm_config=vllm_config, prefix=prefix)


def _qwen2_layer(vllm_config: VllmConfig, prefix: str) -> nn.Module:
    from vllm.model_executor.models.qwen2 import Qwen2DecoderLayer

    return Qwen2DecoderLayer(
        config=vllm_config.model_config.hf_config,
        cache_config=vllm_config.cache_config,
        quant_config=vllm_config.quant_config,
        prefix=prefix,
    )


# Families whose vLLM decoder layer has input_layernorm, self_attn, post_attention_layernorm
# and an MLP of gate_up_proj -> act_fn (SiluAndMul) -> down_proj, which the tap opens up.
DECODER_LAYERS: dict[str, Callable[[VllmConfig, str], nn.Module]] = {
    "llama": _llama_layer,
    "qwen2": _qwen2_layer,
}


@dataclass(frozen=True)
class TapSpec:
    """Which columns of which layers' post-activations to return, in request order.

    ``columns[i]`` are read at ``layers[i]`` (ascending); concatenating them and then applying
    ``order`` gives the caller's neuron order (the same contract as ``TapPlan``).
    """

    layers: tuple[int, ...]
    columns: tuple[tuple[int, ...], ...]
    order: tuple[int, ...]

    @property
    def deepest(self) -> int:
        return self.layers[-1]

    def to_dict(self) -> dict[str, Any]:
        columns = [list(c) for c in self.columns]
        return {"layers": list(self.layers), "columns": columns, "order": list(self.order)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TapSpec:
        return cls(
            tuple(data["layers"]), tuple(tuple(c) for c in data["columns"]), tuple(data["order"])
        )


# vLLM compiles it (inductor; piecewise CUDA graphs on GPUs); dim 0 is the flattened batch.
@support_torch_compile(
    dynamic_arg_dims={
        "input_ids": 0,
        "positions": -1,
        "intermediate_tensors": 0,
        "inputs_embeds": 0,
    }
)
class TapBackbone(nn.Module):
    """Embedding and layers 0..L, named as in the checkpoint (``model.layers.3.mlp...``),
    whose forward returns the tapped post-activations instead of hidden states."""

    def __init__(self, *, vllm_config: VllmConfig, prefix: str = "") -> None:
        super().__init__()
        config = vllm_config.model_config.hf_config
        self.tap = TapSpec.from_dict(getattr(config, TAP_KEY))
        if config.num_hidden_layers != self.tap.deepest + 1:
            raise ValueError(
                f"num_hidden_layers={config.num_hidden_layers} but the deepest tap is layer "
                f"{self.tap.deepest}: the backend must set num_hidden_layers = deepest + 1"
            )
        build = DECODER_LAYERS[config.model_type]
        self.embed_tokens = VocabParallelEmbedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(
            build(vllm_config, f"{prefix}.layers.{i}") for i in range(config.num_hidden_layers)
        )
        for layer, cols in zip(self.tap.layers, self.tap.columns, strict=True):
            self.register_buffer(f"cols_{layer}", torch.tensor(cols), persistent=False)
        self.register_buffer("order", torch.tensor(self.tap.order), persistent=False)

    def forward(
        self,
        input_ids: torch.Tensor | None,
        positions: torch.Tensor,
        intermediate_tensors: IntermediateTensors | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Flattened batch: ``input_ids (tokens,)`` -> ``(tokens, n_neurons)`` float32."""
        hidden = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds
        residual = None
        taps = []
        for index, layer in enumerate(self.layers):
            if index not in self.tap.layers:
                hidden, residual = layer(positions, hidden, residual)
                continue
            post, residual = _attention_then_post_activation(layer, positions, hidden, residual)
            taps.append(post.index_select(-1, getattr(self, f"cols_{index}")))
            if index == self.tap.deepest:
                break  # early exit: no down_proj, no later layer, no final norm, no head
            hidden, _ = layer.mlp.down_proj(post)
        out = torch.cat(taps, dim=-1).index_select(-1, self.order)  # (tokens, n_neurons)
        return out.float()


class RosettaTapModel(nn.Module):
    """A vLLM pooling model whose per-token output is ``(tokens, n_neurons)`` post-activations."""

    is_pooling_model: ClassVar[bool] = True

    def __init__(self, *, vllm_config: VllmConfig, prefix: str = "") -> None:
        super().__init__()
        if vllm_config.parallel_config.tensor_parallel_size != 1:
            # gate_up_proj would be split across ranks, and so would the neuron columns.
            raise ValueError("the rosetta-filter tap model runs with tensor_parallel_size=1")
        self.model = TapBackbone(vllm_config=vllm_config, prefix=maybe_prefix(prefix, "model"))
        self.pooler = NeuronPooler()

    def embed_input_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model.embed_tokens(input_ids)

    def forward(
        self,
        input_ids: torch.Tensor | None,
        positions: torch.Tensor,
        intermediate_tensors: IntermediateTensors | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.model(input_ids, positions, intermediate_tensors, inputs_embeds)

    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> set[str]:
        """Load the embedding and layers 0..L; skip deeper layers, the final norm and the
        head. Accepts ``...ForCausalLM`` names (``model.layers.0...``) and bare backbone names
        (``layers.0...``, what ``AutoModel.save_pretrained`` writes)."""
        params = dict(self.named_parameters())
        loaded: set[str] = set()
        for raw_name, tensor in weights:
            name = raw_name if raw_name.startswith("model.") else f"model.{raw_name}"
            if not self._needed(name):
                continue
            for part, fused, shard in _STACKED:
                if part in name:
                    target = name.replace(part, fused)
                    param = params[target]
                    param.weight_loader(param, tensor, shard)
                    break
            else:
                target = name
                param = params[target]
                getattr(param, "weight_loader", default_weight_loader)(param, tensor)
            loaded.add(target)
        return loaded

    def _needed(self, name: str) -> bool:
        if name.startswith("model.embed_tokens."):
            return True
        if not name.startswith("model.layers.") or "rotary_emb.inv_freq" in name:
            return False
        return int(name.split(".")[2]) <= self.model.tap.deepest


def _attention_then_post_activation(
    layer: nn.Module, positions: torch.Tensor, hidden: torch.Tensor, residual: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoder layer's own steps (vLLM ``LlamaDecoderLayer.forward``, identical for
    qwen2) up to the MLP post-activation: ``(post (tokens, d_mlp), residual)``."""
    if residual is None:
        residual = hidden
        hidden = layer.input_layernorm(hidden)
    else:
        hidden, residual = layer.input_layernorm(hidden, residual)  # fused add + norm
    hidden = layer.self_attn(positions=positions, hidden_states=hidden)
    hidden, residual = layer.post_attention_layernorm(hidden, residual)
    gate_up, _ = layer.mlp.gate_up_proj(hidden)  # (tokens, 2 * d_mlp)
    return layer.mlp.act_fn(gate_up), residual  # act(gate) * up: the input of down_proj
