from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
sys.path.insert(0, str(Path(__file__).parent))

from cascade_banks import cascade_bank_from
from planted_domains import make_format1_bank, make_heads_bank
from planting import plant_trigger_neuron
from tiny_models import save_tiny_model

TRIGGER_TOKEN = 280  # "Ġx" in the tiny tokenizer


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """family -> directory of a saved tiny model (built once per session)."""
    root = tmp_path_factory.mktemp("tiny-models")
    cache: dict[tuple[str, int], Path] = {}

    def get(family: str, seed: int = 0) -> Path:
        if (family, seed) not in cache:
            cache[family, seed] = save_tiny_model(family, root, seed)
        return cache[family, seed]

    return get


@pytest.fixture(scope="session")
def planted_model(tiny_model_dir, tmp_path_factory) -> Path:
    """A tiny llama whose neuron L0.N5 fires on the token " x" and (nearly) nowhere else."""
    out = tmp_path_factory.mktemp("planted") / "llama-x"
    return plant_trigger_neuron(tiny_model_dir("llama"), out, TRIGGER_TOKEN, layer=0, index=5)


@pytest.fixture(scope="session")
def format1_bank(tmp_path_factory) -> Path:
    """A format-1 bank (no heads) for the planted model: domains ex and plain."""
    return make_format1_bank(tmp_path_factory.mktemp("bank1"))


@pytest.fixture(scope="session")
def heads_bank(planted_model, format1_bank, tmp_path_factory) -> Path:
    """`rosetta-filter domains` on the planted two-domain world: a format-2 bank with heads."""
    return make_heads_bank(planted_model, format1_bank, tmp_path_factory.mktemp("domains"))


@pytest.fixture
def one_thread():
    """Torch on one thread: keeps heavy numeric tests modest on the shared 2-core machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def cascade_bank(heads_bank, tmp_path):
    """The planted heads bank with two-row depth tables for the cascade
    (:func:`cascade_banks.cascade_bank_from`)."""
    return cascade_bank_from(heads_bank, tmp_path / "bank")
