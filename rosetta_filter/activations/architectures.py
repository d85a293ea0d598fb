"""The only table of architecture module paths: where each family keeps its layers and the MLP
output projection whose *input* is the neuron post-activation (DESIGN.md, "Neuron").

Paths are relative to the *base* model (``model.base_model``), so a ``...ForCausalLM`` and its
bare backbone resolve the same way. An unknown family is handled generically when exactly one
linear map inside a layer goes from a wider space back to the hidden size; otherwise it is an
:class:`UnsupportedArchitecture` error listing the families known here.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from rosetta_filter.errors import UnsupportedArchitecture


@dataclass(frozen=True, slots=True)
class Architecture:
    layers: str  # dotted path of the ModuleList of blocks, relative to the base model
    tap: str  # dotted path of the MLP output projection, relative to one block


ARCHITECTURES: dict[str, Architecture] = {
    "gpt2": Architecture("h", "mlp.c_proj"),
    "gpt_neox": Architecture("layers", "mlp.dense_4h_to_h"),
    "opt": Architecture("decoder.layers", "fc2"),
    "llama": Architecture("layers", "mlp.down_proj"),
    "mistral": Architecture("layers", "mlp.down_proj"),
    "qwen2": Architecture("layers", "mlp.down_proj"),
    "qwen3": Architecture("layers", "mlp.down_proj"),
    "gemma": Architecture("layers", "mlp.down_proj"),
    "gemma2": Architecture("layers", "mlp.down_proj"),
    "gemma3_text": Architecture("layers", "mlp.down_proj"),
    "bert": Architecture("encoder.layer", "output.dense"),
    "roberta": Architecture("encoder.layer", "output.dense"),
}


@dataclass(frozen=True, slots=True)
class ResolvedArchitecture:
    """An architecture bound to one model instance."""

    family: str
    layers: nn.ModuleList
    layers_path: str  # relative to the base model
    tap_path: str  # relative to a block
    d_mlp: int

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    def tap_module(self, layer: int) -> nn.Module:
        return self.layers[layer].get_submodule(self.tap_path)

    def tap_name(self, layer: int) -> str:
        """Dotted module path of layer ``layer``'s tap, relative to the base model."""
        return f"{self.layers_path}.{layer}.{self.tap_path}".lstrip(".")


def _in_out_features(module: nn.Module) -> tuple[int, int] | None:
    """(in, out) of a linear-like map: nn.Linear, or GPT-2's Conv1D whose weight is (in, out)."""
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    if type(module).__name__ == "Conv1D" and hasattr(module, "nf"):
        return module.weight.shape[0], module.nf
    return None


def _find_layers(base: nn.Module) -> tuple[str, nn.ModuleList] | None:
    """The longest ModuleList of blocks: the transformer's layer stack."""
    lists = [(n, m) for n, m in base.named_modules() if isinstance(m, nn.ModuleList) and len(m)]
    return max(lists, key=lambda item: len(item[1]), default=None)


def _detect_tap(block: nn.Module, hidden: int) -> list[str]:
    """Submodules that map a wider space back to the hidden size (an MLP output projection);
    attention output projections map hidden -> hidden and are excluded by ``in > hidden``."""
    found = []
    for name, module in block.named_modules():
        features = _in_out_features(module)
        if features is not None and features[1] == hidden and features[0] > hidden:
            found.append(name)
    return found


def resolve_architecture(model: nn.Module) -> ResolvedArchitecture:
    """Locate the layer stack and the tap module of ``model`` (a base model or a wrapper)."""
    base = getattr(model, "base_model", model)
    model_type = getattr(getattr(model, "config", None), "model_type", None) or "unknown"
    arch = ARCHITECTURES.get(model_type)
    if arch is not None:
        layers_path, tap_path = arch.layers, arch.tap
    else:
        found = _find_layers(base)
        hidden = getattr(model.config, "hidden_size", None) if hasattr(model, "config") else None
        taps = _detect_tap(found[1][0], hidden) if found and hidden else []
        if len(taps) != 1:
            raise UnsupportedArchitecture(
                f"cannot locate the MLP output projection of model_type {model_type!r} "
                f"(candidates: {taps or 'none'}); supported families: "
                f"{', '.join(sorted(ARCHITECTURES))}",
                field="model",
                value=model_type,
            )
        layers_path, tap_path = found[0], taps[0]
    layers = base.get_submodule(layers_path)
    features = _in_out_features(layers[0].get_submodule(tap_path))
    if features is None:
        raise UnsupportedArchitecture(
            f"{model_type}: {tap_path} is not a linear map", field="model", value=model_type
        )
    return ResolvedArchitecture(
        family=model_type,
        layers=layers,
        layers_path=layers_path,
        tap_path=tap_path,
        d_mlp=features[0],
    )
