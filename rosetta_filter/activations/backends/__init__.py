"""Where the forward pass runs: ``hf`` (transformers, in this process) or ``vllm`` (the tap
model plugin in a vLLM engine; optional, in its own environment built by ``make vllm-env``).

The engine (:class:`~rosetta_filter.activations.engine.ActivationEngine`) is the same for both:
reading, tokenisation, packing, pooling, normalisation and scoring are shared; a backend is only
a :class:`~rosetta_filter.activations.forward.Forward` (``backends/hf.py``, ``backends/vllm.py``).
vLLM is imported only when ``model.backend=vllm`` asks for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any, Literal

from rosetta_filter.activations.engine import ActivationEngine
from rosetta_filter.activations.models import LoadedModel, load_model
from rosetta_filter.activations.taps import TapPlan
from rosetta_filter.config import ModelConfig
from rosetta_filter.errors import ModelError
from rosetta_filter.neuron import Neuron

Backend = Literal["hf", "vllm"]


def load_backend_model(cfg: ModelConfig) -> LoadedModel:
    """``cfg``'s model as its backend needs it: loaded weights for hf, a description (the
    weights stay with vLLM) for vllm."""
    if cfg.backend == "vllm":
        return _vllm().describe_model(cfg)
    return load_model(cfg)


def build_engine(
    backend: Backend, model: LoadedModel, neurons: Sequence[Neuron] | TapPlan, **kwargs: Any
) -> ActivationEngine:
    """An activation engine whose forward runs on ``backend``; ``kwargs`` as for
    :class:`ActivationEngine`. An unknown backend is refused with the choices named."""
    if backend == "vllm":
        return ActivationEngine(model, neurons, forward=_vllm().VllmForward, **kwargs)
    if backend != "hf":
        raise ModelError(
            f"model.backend={backend!r}: choose hf or vllm", field="model.backend", value=backend
        )
    return ActivationEngine(model, neurons, **kwargs)


def register_vllm_plugin() -> None:
    """The ``vllm.general_plugins`` entry point: vLLM calls it in every process it starts."""
    _vllm().register_plugin()


def _vllm() -> ModuleType:
    try:
        import vllm  # noqa: F401
    except ImportError as exc:
        raise ModelError(
            f"model.backend=vllm but vLLM is not importable here ({exc}): build its environment "
            "with `make vllm-env` and run from .venv-vllm, or set model.backend=hf",
            field="model.backend",
            value="vllm",
        ) from exc
    from rosetta_filter.activations.backends import vllm as backend

    return backend
