"""Loading a model and its tokenizer from wherever the user has it: a name in the offline
registry, a local directory, a GGUF file, or a Hugging Face hub id.

The backbone is loaded without its LM head (``AutoModel``): scoring never needs logits.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from rosetta_filter.activations.architectures import ResolvedArchitecture, resolve_architecture
from rosetta_filter.activations.precision import resolve_dtype
from rosetta_filter.config import ModelConfig
from rosetta_filter.errors import ModelError
from rosetta_filter.files import sha256_file
from rosetta_filter.registry import catalog as registry

log = logging.getLogger(__name__)

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf")


@dataclass
class LoadedModel:
    """A backbone ready for taps, with where it came from (for manifests and banks)."""

    name: str
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    arch: ResolvedArchitecture
    source: str  # "registry" | "local" | "gguf" | "hub"
    path: Path | None  # local files, when there are any
    revision: str | None = None
    registry_sha256: str | None = field(default=None, repr=False)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def family(self) -> str:
        return self.arch.family

    @cached_property
    def parameters(self) -> int:
        """Parameters of the loaded backbone (embeddings included, no LM head): the model size
        the scaling study fits against."""
        return sum(p.numel() for p in self.model.parameters())

    @cached_property
    def sha256(self) -> str | None:
        """sha256 of the weights: the registry's verified hash, else of the local weight files."""
        if self.registry_sha256:
            return self.registry_sha256
        return weights_sha256(self.path) if self.path else None


def weights_sha256(path: Path) -> str | None:
    """One hash over a model's weight files in name order (a file: that file)."""
    files = (
        [path]
        if path.is_file()
        else sorted(p for p in path.iterdir() if p.suffix in _WEIGHT_SUFFIXES)
    )
    return sha256_file(files) if files else None


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError(
            "model.device=cuda but no CUDA device is visible: use device=cpu or auto",
            field="model.device",
            value=device,
        )
    return torch.device(device)


def load_model(cfg: ModelConfig) -> LoadedModel:
    """Load ``cfg.name`` as a backbone on the configured device, dtype and thread count."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    dtype = resolve_dtype(cfg.dtype, device)
    location, gguf_file, source, sha = locate_model(cfg)
    kwargs = _pretrained_kwargs(cfg, gguf_file, source)
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
        config = _dequantised_config(location) if source in ("registry", "local") else None
        model = AutoModel.from_pretrained(
            location, dtype=dtype, **kwargs, **({"config": config} if config else {})
        )
    except OSError as exc:
        raise _load_error(cfg, source, exc) from exc
    model.to(device).eval()
    arch = resolve_architecture(model)
    path = Path(location) if source != "hub" else None
    if gguf_file and path is not None:
        path = path / gguf_file
    log.info(
        "loaded %s (%s, %d layers x %d neurons) on %s in %s",
        cfg.name,
        arch.family,
        arch.n_layers,
        arch.d_mlp,
        device,
        str(dtype).removeprefix("torch."),
    )
    return LoadedModel(cfg.name, model, tokenizer, arch, source, path, cfg.revision, sha)


def load_tokenizer(cfg: ModelConfig) -> PreTrainedTokenizerBase:
    """``cfg.name``'s tokenizer alone, from where :func:`load_model` would load it: token
    counts of documents whose activations are all cached need no weights."""
    location, gguf_file, source, _ = locate_model(cfg)
    try:
        return AutoTokenizer.from_pretrained(location, **_pretrained_kwargs(cfg, gguf_file, source))
    except OSError as exc:
        raise _load_error(cfg, source, exc) from exc


def _dequantised_config(location: str) -> PretrainedConfig | None:
    """The directory's config without a stale GGUF ``quantization_config``, or None to load
    it as it is.

    Directories converted from a GGUF before session 19 kept the GGUF's quantization entry
    although their safetensors hold dequantised fp32 weights: transformers then marked the
    model quantized and warned that bfloat16 matmuls cast through float32 (they did not; the
    layers are plain ``Linear``). A directory with a config.json never holds packed GGUF
    weights (those load through ``gguf_file``), so the entry is dropped here, leaving the
    cached files, whose hashes the provenance records, untouched."""
    config = AutoConfig.from_pretrained(location)
    if not names_gguf_quantization(config):
        return None
    del config.quantization_config
    return config


def names_gguf_quantization(config: PretrainedConfig) -> bool:
    """Whether ``config`` carries a GGUF ``quantization_config``: for a directory with a
    config.json that is always a leftover of converting a GGUF, whose weights are floats
    (the hf and vLLM loaders both drop it)."""
    quantization = getattr(config, "quantization_config", None)
    method = (
        quantization.get("quant_method")
        if isinstance(quantization, dict)
        else getattr(quantization, "quant_method", None)
    )
    return method == "gguf"


def _pretrained_kwargs(cfg: ModelConfig, gguf_file: str | None, source: str) -> dict[str, str]:
    """``from_pretrained`` arguments besides the location: the GGUF file and a hub revision."""
    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    return kwargs | ({"revision": cfg.revision} if source == "hub" and cfg.revision else {})


def _registry_names() -> list[str]:
    return [entry.name for entry in registry.list_entries()]


def locate_model(cfg: ModelConfig) -> tuple[str, str | None, str, str | None]:
    """(from_pretrained location, gguf file name, source kind, verified sha256)."""
    if cfg.name in _registry_names():
        home = registry.cached_path(cfg.name) or registry.pull(cfg.name)
        return str(home), None, "registry", registry.registry_entry(cfg.name).sha256
    path = Path(cfg.name).expanduser()
    if path.is_file():
        if path.suffix != ".gguf":
            raise ModelError(
                f"model.name={cfg.name!r} is a file but not a .gguf: give a model directory, "
                "a .gguf file, a registry name or a hub id",
                field="model.name",
                value=cfg.name,
            )
        return str(path.parent), path.name, "gguf", None
    if path.is_dir():
        if cfg.gguf_file:
            return str(path), cfg.gguf_file, "gguf", None
        if not (path / "config.json").exists():
            ggufs = sorted(path.glob("*.gguf"))
            if len(ggufs) == 1:
                return str(path), ggufs[0].name, "gguf", None
            raise ModelError(
                f"model directory {path} has no config.json"
                + (f" and {len(ggufs)} .gguf files: set model.gguf_file" if ggufs else ""),
                field="model.name",
                value=cfg.name,
            )
        return str(path), None, "local", None
    if cfg.name.startswith((".", "/", "~")) or cfg.name.count("/") > 1:  # not a hub id
        raise ModelError(
            f"model.name={cfg.name!r}: no such file or directory",
            field="model.name",
            value=cfg.name,
        )
    return cfg.name, cfg.gguf_file, "hub", None


def _load_error(cfg: ModelConfig, source: str, exc: Exception) -> ModelError:
    if source == "hub":
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        return ModelError(
            f"cannot load {cfg.name!r} from the Hugging Face Hub"
            + (" (HF_HUB_OFFLINE=1)" if offline else " (no network or no such repo)")
            + f": give a local directory or .gguf path, or an offline registry name "
            f"({', '.join(_registry_names())}); cause: {exc}",
            field="model.name",
            value=cfg.name,
        )
    return ModelError(f"cannot load model {cfg.name!r}: {exc}", field="model.name", value=cfg.name)
