"""The vLLM backend against the hf backend: same tiny model, same documents, same numbers.

Runs where vLLM is installed (``make test-vllm``, the ``.venv-vllm`` environment); elsewhere
only the missing-vLLM error is checked. vLLM runs in-process here (no engine-core process),
which is what makes several engines fit in a fast test.

Tolerance: both backends compute in float32 on the same weights; they differ only in kernels
and summation order (vLLM fuses the residual add into RMSNorm, fuses gate/up into one matmul,
and has its own CPU attention). Measured here the largest difference is ~3e-7 on values of
order 0.1; ``atol=1e-5, rtol=1e-4`` leaves ~30x headroom, while reading the neighbouring
neuron instead moves a document's mean by 7e-4 at the least and 2e-2 typically.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import transformers as tf
from tiny_models import CORPUS, build_config, build_tokenizer, save_tiny_model

from rosetta_filter.activations.backends import build_engine, load_backend_model
from rosetta_filter.activations.engine import ActivationEngine
from rosetta_filter.activations.models import load_model
from rosetta_filter.activations.pooling import POOLING_METHODS
from rosetta_filter.config import (
    BatchingConfig,
    ModelConfig,
    NeuronsConfig,
    ScoringConfig,
    TokensConfig,
)
from rosetta_filter.errors import ModelError, UnsupportedArchitecture
from rosetta_filter.neuron import Neuron
from rosetta_filter.scoring.scorer import Scorer

TOL = {"atol": 1e-5, "rtol": 1e-4}
DOCS = [*CORPUS, " ".join(CORPUS), "x", None, "", 42, "  \n"]
# Request order is not layer order, two neurons share a layer, the deepest layer is the last.
NEURONS = [Neuron(1, 5), Neuron(0, 3), Neuron(2, 120), Neuron(0, 77)]
# Steps of 16 tokens: vLLM splits prompts across steps (chunked prefill), and the pooler must
# put each back together before pooling.
BATCHING = BatchingConfig(batch_tokens=16, max_batch_docs=4)


@pytest.fixture(scope="module")
def vllm_in_process():
    """vLLM importable, its engine core in this process, threads left unpinned, and the
    model traced by dynamo but run without inductor (vLLM's own CPU CI setting: compiling
    would cost minutes and checks nothing about the numbers)."""
    pytest.importorskip("vllm")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        mp.setenv("VLLM_CPU_OMP_THREADS_BIND", "nobind")
        mp.setenv("VLLM_CPU_CI_ENV", "1")
        yield


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("vllm-models")
    return {family: _save_model(family, root) for family in ("llama", "qwen2")}


def _save_model(family: str, root: Path) -> Path:
    """The tiny family model with head_dim 32: vLLM's CPU attention kernels only take head
    sizes in (32, 64, 80, ...), and vLLM's qwen2 derives head_dim as hidden / heads."""
    torch.manual_seed(0)
    config = build_config(family)
    config.hidden_size, config.intermediate_size = 64, 128
    config.num_attention_heads, config.num_key_value_heads, config.head_dim = 2, 1, 32
    model = tf.AutoModel.from_config(config)
    with torch.no_grad():  # non-zero biases and norms, as tiny_models does
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    out = root / family
    model.save_pretrained(out)
    build_tokenizer().save_pretrained(out)
    return out


def _run_both(path: Path, **kwargs) -> tuple[list, list, str]:
    """DOCS through the hf and the vllm engine on one model: (hf results, vllm results, vLLM
    task). The vLLM engine is stopped before returning, so the next one starts clean."""
    hf = ActivationEngine(load_model(ModelConfig(name=str(path), threads=1)), NEURONS, **kwargs)
    described = load_backend_model(ModelConfig(name=str(path), backend="vllm"))
    vllm = build_engine("vllm", described, NEURONS, **kwargs)
    try:
        return list(hf.run(DOCS)), list(vllm.run(DOCS)), vllm.forward.task
    finally:
        vllm.close()


@pytest.mark.parametrize("family", ["llama", "qwen2"])
def test_pooled_activations_match_hf_backend(family, model_dir, vllm_in_process):
    # max_tokens=12 truncates the longer documents: the cut must fall at the same token.
    tokens = TokensConfig(max_tokens=12)
    expected, got, task = _run_both(model_dir[family], tokens=tokens, batching=BATCHING)
    assert task == "embed"  # pooled inside the vLLM worker
    assert [d.index for d in got] == list(range(len(DOCS)))
    assert any(d.truncated for d in got)
    for want, have in zip(expected, got, strict=True):
        assert have.skip_reason == want.skip_reason
        assert (have.n_tokens, have.total_tokens, have.truncated) == (
            want.n_tokens,
            want.total_tokens,
            want.truncated,
        )
        assert set(have.pooled) == (set(POOLING_METHODS) if want.skip_reason is None else set())
        for method in have.pooled:
            torch.testing.assert_close(have.pooled[method], want.pooled[method], **TOL)


def test_per_token_windows_match_hf_backend(model_dir, vllm_in_process):
    tokens = TokensConfig(max_tokens=10, long_docs="windows")  # long documents: many windows
    expected, got, task = _run_both(
        model_dir["llama"], tokens=tokens, batching=BATCHING, keep_tokens=True
    )
    assert task == "token_embed"
    for want, have in zip(expected, got, strict=True):
        assert have.skip_reason == want.skip_reason
        if want.skip_reason is not None:
            continue
        assert have.offsets == want.offsets  # BOS of every window excluded, content in order
        torch.testing.assert_close(have.tokens, want.tokens, **TOL)
        for method in POOLING_METHODS:
            torch.testing.assert_close(have.pooled[method], want.pooled[method], **TOL)


def test_scorer_on_vllm_backend_gives_hf_scores(model_dir, vllm_in_process):
    neurons = NeuronsConfig(explicit=[{"neuron": "L2.N120", "weight": -1.0}, "L0.N3"])
    scoring = ScoringConfig(pooling="topk_mean", pool_top_k=3, normalize="none")
    by_backend = {}
    for backend in ("hf", "vllm"):
        model = ModelConfig(name=str(model_dir["qwen2"]), backend=backend, threads=1)
        scorer = Scorer.from_config(model, neurons, scoring, BATCHING)
        by_backend[backend] = list(scorer.score(DOCS))
        if backend == "vllm":
            scorer.engine.close()
    hf, vllm = by_backend["hf"], by_backend["vllm"]
    assert [d.skip_reason for d in vllm] == [d.skip_reason for d in hf]
    scored = [(h.score, v.score) for h, v in zip(hf, vllm, strict=True) if h.score is not None]
    torch.testing.assert_close(torch.tensor(scored)[:, 1], torch.tensor(scored)[:, 0], **TOL)


def test_unsupported_family_is_a_clear_error(tmp_path, vllm_in_process):
    gpt2 = save_tiny_model("gpt2", tmp_path)
    with pytest.raises(UnsupportedArchitecture, match=r"model\.backend=hf") as info:
        load_backend_model(ModelConfig(name=str(gpt2), backend="vllm"))
    assert info.value.value == "gpt2"


def test_missing_vllm_is_a_clear_error(tiny_model_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` raises ImportError
    with pytest.raises(ModelError, match="make vllm-env") as info:
        load_backend_model(ModelConfig(name=str(tiny_model_dir("llama")), backend="vllm"))
    assert info.value.field == "model.backend"


def test_plugin_entry_point_is_installed(vllm_in_process):
    """vLLM's engine process (spawned on CPU) finds the tap model only through it."""
    from importlib.metadata import entry_points

    from rosetta_filter.activations.backends.vllm_launch import PLUGIN_ENTRY_POINT

    assert PLUGIN_ENTRY_POINT in {ep.value for ep in entry_points(group="vllm.general_plugins")}


@pytest.mark.slow
def test_engine_in_its_own_process_gives_hf_scores(model_dir, vllm_in_process, monkeypatch):
    """vLLM's default: the engine core in a spawned process, which loads the tap model through
    the plugin entry point (the production path; ~1 min here, so marked slow)."""
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "1")
    neurons = NeuronsConfig(explicit=["L1.N5", "L0.N77"])
    scoring = ScoringConfig(pooling="max", normalize="none")
    scores = {}
    for backend in ("hf", "vllm"):
        model = ModelConfig(name=str(model_dir["llama"]), backend=backend, threads=1)
        scorer = Scorer.from_config(model, neurons, scoring, BATCHING)
        scores[backend] = [d.score for d in scorer.score(CORPUS)]
        if backend == "vllm":
            scorer.engine.close()
    torch.testing.assert_close(torch.tensor(scores["vllm"]), torch.tensor(scores["hf"]), **TOL)
