"""Loading a model directory: what the cached files say is what transformers builds."""

from __future__ import annotations

import json
import shutil

import torch

from rosetta_filter.activations.models import load_model
from rosetta_filter.config import ModelConfig


def test_a_stale_gguf_quantization_entry_does_not_mark_a_dequantised_model(
    tiny_model_dir, tmp_path
):
    """Directories converted before session 19 keep the GGUF's quantization_config beside
    fp32 safetensors; loading them in bfloat16 must give a plain bfloat16 model, untouched
    files, and the same activations as the clean directory."""
    stale = tmp_path / "stale"
    shutil.copytree(tiny_model_dir("llama"), stale)
    config_path = stale / "config.json"
    config = json.loads(config_path.read_text())
    config["quantization_config"] = {"quant_method": "gguf", "dequantize": False, "gguf_file": "x"}
    config_path.write_text(json.dumps(config))
    before = config_path.read_bytes()

    loaded = load_model(ModelConfig(name=str(stale), dtype="bfloat16", device="cpu"))
    clean = load_model(ModelConfig(name=str(tiny_model_dir("llama")), dtype="bfloat16"))
    assert not getattr(loaded.model, "is_quantized", False)
    assert next(loaded.model.parameters()).dtype is torch.bfloat16
    assert config_path.read_bytes() == before
    ids = torch.tensor([[1, 5, 9, 3]])
    with torch.inference_mode():
        assert torch.equal(
            loaded.model(input_ids=ids).last_hidden_state,
            clean.model(input_ids=ids).last_hidden_state,
        )
