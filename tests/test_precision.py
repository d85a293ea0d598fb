"""``model.dtype: auto`` picks bfloat16 only where the hardware runs it natively."""

from __future__ import annotations

import json

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


@pytest.fixture
def probe_home(tmp_path, monkeypatch):
    """A fresh home and a fresh process-level memo for the CPU dtype probe."""
    monkeypatch.setenv("ROSETTA_FILTER_HOME", str(tmp_path))
    precision.fastest_cpu_matmul_dtype.cache_clear()
    yield tmp_path / precision.PROBE_FILE
    precision.fastest_cpu_matmul_dtype.cache_clear()


def test_the_cpu_measurement_picks_a_real_matmul_type(probe_home):
    assert precision.fastest_cpu_matmul_dtype() in (torch.float32, torch.bfloat16)
    recorded = json.loads(probe_home.read_text())
    assert list(recorded) == [precision.machine_key()]


def test_the_choice_is_measured_once_per_machine_and_then_read(probe_home, monkeypatch):
    """A timing per process flipped on a busy machine; the recorded answer must not."""
    monkeypatch.setattr(
        precision, "measure_matmul_seconds", lambda: {torch.float32: 1.0, torch.bfloat16: 0.4}
    )
    assert precision.fastest_cpu_matmul_dtype() is torch.bfloat16
    precision.fastest_cpu_matmul_dtype.cache_clear()  # a new process on the same machine

    def noisy():
        raise AssertionError("measured again although this machine's answer is recorded")

    monkeypatch.setattr(precision, "measure_matmul_seconds", noisy)
    assert precision.fastest_cpu_matmul_dtype() is torch.bfloat16


def test_another_machine_sharing_the_home_measures_its_own(probe_home, monkeypatch):
    probe_home.parent.mkdir(parents=True, exist_ok=True)
    probe_home.write_text(json.dumps({"another CPU | amx_bf16 | torch 0": "bfloat16"}))
    monkeypatch.setattr(
        precision, "measure_matmul_seconds", lambda: {torch.float32: 1.0, torch.bfloat16: 50.0}
    )
    assert precision.fastest_cpu_matmul_dtype() is torch.float32
    recorded = json.loads(probe_home.read_text())
    assert recorded == {
        "another CPU | amx_bf16 | torch 0": "bfloat16",
        precision.machine_key(): "float32",
    }


def test_a_torn_probe_file_is_measured_again(probe_home, monkeypatch):
    probe_home.parent.mkdir(parents=True, exist_ok=True)
    probe_home.write_text('{"half')
    monkeypatch.setattr(
        precision, "measure_matmul_seconds", lambda: {torch.float32: 1.0, torch.bfloat16: 0.3}
    )
    assert precision.fastest_cpu_matmul_dtype() is torch.bfloat16
    assert json.loads(probe_home.read_text()) == {precision.machine_key(): "bfloat16"}


@pytest.mark.parametrize(
    ("bf16_seconds", "expected"),
    [(0.5, torch.bfloat16), (0.79, torch.bfloat16), (0.9, torch.float32), (1.1, torch.float32)],
)
def test_bfloat16_must_win_clearly(bf16_seconds, expected):
    """Close timings (no native kernels, or noise) resolve to float32, the exact type."""
    assert precision.choose_dtype({torch.float32: 1.0, torch.bfloat16: bf16_seconds}) is expected
