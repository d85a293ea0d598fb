"""``model.dtype: auto`` picks bfloat16 only where the hardware runs it natively."""

from __future__ import annotations

import pytest
import torch

from rosetta_filter.activations import precision
from rosetta_filter.activations.models import load_model
from rosetta_filter.config import ModelConfig


def test_named_dtypes_are_taken_as_given():
    for name, dtype in precision.DTYPES.items():
        assert precision.resolve_dtype(name, torch.device("cpu")) is dtype


def test_auto_on_a_gpu_follows_its_bf16_support(monkeypatch):
    cuda = torch.device("cuda")  # resolving looks at the capability only, no GPU needed
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert precision.resolve_dtype("auto", cuda) is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert precision.resolve_dtype("auto", cuda) is torch.float32


@pytest.mark.parametrize("fastest", [torch.float32, torch.bfloat16])
def test_auto_on_a_cpu_loads_the_model_in_the_faster_type(tiny_model_dir, monkeypatch, fastest):
    monkeypatch.setattr(precision, "fastest_cpu_matmul_dtype", lambda: fastest)
    loaded = load_model(ModelConfig(name=str(tiny_model_dir("llama")), dtype="auto", device="cpu"))
    assert next(loaded.model.parameters()).dtype is fastest


def test_the_cpu_measurement_picks_a_real_matmul_type():
    assert precision.fastest_cpu_matmul_dtype() in (torch.float32, torch.bfloat16)
