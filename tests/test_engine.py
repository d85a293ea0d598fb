"""The engine's captured values against an independent reference, for every family."""

from __future__ import annotations

import random
from functools import partial

import pytest
import torch
from tiny_models import CORPUS, D_MLP, FAMILIES, LAYERS

from rosetta_filter.activations.backends.hf import HfForward
from rosetta_filter.activations.engine import ActivationEngine
from rosetta_filter.activations.forward import PoolingParams
from rosetta_filter.activations.models import load_model
from rosetta_filter.activations.pooled_pass import settings_key
from rosetta_filter.activations.pooling import POOLING_METHODS
from rosetta_filter.config import BatchingConfig, ModelConfig, TokensConfig
from rosetta_filter.neuron import Neuron

DOCS = [*CORPUS, " ".join(CORPUS), "x", "\n\n  indented text\twith tabs  "]


def _reference_post_activation(model, family: str, layer: int, text: str) -> torch.Tensor:
    """Recompute the MLP post-activation from a *different* hook point of the full, unmodified
    model run on ``text`` alone: (content tokens, d_mlp)."""
    base = model.model
    enc = model.tokenizer(text, return_special_tokens_mask=True, return_tensors="pt")
    grabbed = {}
    if family == "gpt2":
        mlp = base.h[layer].mlp
        hook = mlp.register_forward_hook(lambda m, a, o: grabbed.update(x=m.act(m.c_fc(a[0]))))
    elif family == "gpt_neox":
        mlp = base.layers[layer].mlp
        hook = mlp.register_forward_hook(
            lambda m, a, o: grabbed.update(x=m.act(m.dense_h_to_4h(a[0])))
        )
    elif family == "opt":
        block = base.decoder.layers[layer]
        hook = block.fc1.register_forward_hook(
            lambda m, a, o: grabbed.update(x=block.activation_fn(o))
        )
    elif family == "bert":
        hook = base.encoder.layer[layer].intermediate.register_forward_hook(
            lambda m, a, o: grabbed.update(x=o)
        )
    else:
        mlp = base.layers[layer].mlp
        hook = mlp.register_forward_hook(
            lambda m, a, o: grabbed.update(x=m.act_fn(m.gate_proj(a[0])) * m.up_proj(a[0]))
        )
    try:
        with torch.inference_mode():
            base(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
    finally:
        hook.remove()
    content = enc["special_tokens_mask"][0] == 0
    post = grabbed["x"].reshape(1, content.shape[0], -1)  # OPT flattens (batch, tokens)
    return post[0][content]


def _neurons(rng: random.Random, layers: list[int], per_layer: int = 5) -> list[Neuron]:
    picked = [Neuron(layer, i) for layer in layers for i in rng.sample(range(D_MLP), per_layer)]
    rng.shuffle(picked)  # request order must be honoured, not sorted
    return picked


@pytest.mark.parametrize("family", FAMILIES)
def test_captured_values_equal_full_model_reference(family, tiny_model_dir):
    loaded = load_model(ModelConfig(name=str(tiny_model_dir(family)), threads=1))
    assert loaded.family == family
    neurons = _neurons(random.Random(0), list(range(LAYERS)))
    engine = ActivationEngine(
        loaded, neurons, keep_tokens=True, batching=BatchingConfig(batch_tokens=64)
    )
    results = list(engine.run(DOCS))
    assert [r.index for r in results] == list(range(len(DOCS)))
    for doc, result in zip(DOCS, results, strict=True):
        full = {
            layer: _reference_post_activation(loaded, family, layer, doc) for layer in range(LAYERS)
        }
        expected = torch.stack([full[n.layer][:, n.index] for n in neurons], dim=1)
        assert result.tokens.shape == expected.shape
        torch.testing.assert_close(result.tokens, expected, atol=1e-5, rtol=1e-5)
        assert result.n_tokens == expected.shape[0]
        torch.testing.assert_close(result.pooled["mean"], expected.mean(0), atol=1e-5, rtol=0)
        torch.testing.assert_close(result.pooled["max"], expected.amax(0), atol=1e-5, rtol=0)


@pytest.mark.parametrize("family", ["gpt2", "llama", "bert"])
def test_early_exit_matches_full_forward(family, tiny_model_dir):
    loaded = load_model(ModelConfig(name=str(tiny_model_dir(family)), threads=1))
    neurons = [Neuron(0, 3), Neuron(0, 7)]
    early = ActivationEngine(loaded, neurons, keep_tokens=True)
    calls = []
    last = loaded.arch.layers[-1].register_forward_hook(lambda *a: calls.append(1))
    try:
        early_out = list(early.run(DOCS))
    finally:
        last.remove()
    assert calls == []  # the last layer never ran
    from rosetta_filter.activations.taps import capture

    with_tail = list(ActivationEngine(loaded, neurons, keep_tokens=True).run(DOCS))
    # Same values when the pass is allowed to run to the end.
    plan = early.plan
    with capture(loaded.arch, plan, stop_early=False) as captured, torch.inference_mode():
        enc = loaded.tokenizer(DOCS[0], return_tensors="pt", return_special_tokens_mask=True)
        loaded.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
    full = plan.assemble(captured, *enc["input_ids"].shape)[0][enc["special_tokens_mask"][0] == 0]
    torch.testing.assert_close(early_out[0].tokens, full, atol=1e-6, rtol=0)
    torch.testing.assert_close(early_out[0].tokens, with_tail[0].tokens, atol=0, rtol=0)


@pytest.mark.parametrize("family", ["qwen2", "gemma3_text", "opt"])
def test_batch_composition_and_order_never_change_a_result(family, tiny_model_dir):
    loaded = load_model(ModelConfig(name=str(tiny_model_dir(family)), threads=1))
    neurons = _neurons(random.Random(1), [0, 2], per_layer=4)
    alone = {
        doc: next(iter(ActivationEngine(loaded, neurons, keep_tokens=True).run([doc]))).tokens
        for doc in DOCS
    }
    shuffled = DOCS * 3
    random.Random(2).shuffle(shuffled)
    for budget, rows in [(32, 2), (256, 5), (100_000, 64)]:
        engine = ActivationEngine(
            loaded,
            neurons,
            keep_tokens=True,
            batching=BatchingConfig(batch_tokens=budget, max_batch_docs=rows, lookahead_docs=7),
        )
        for doc, result in zip(shuffled, engine.run(shuffled), strict=True):
            torch.testing.assert_close(result.tokens, alone[doc], atol=1e-5, rtol=1e-5)


def test_windows_cover_the_whole_document_and_equal_windowed_reference(tiny_model_dir):
    loaded = load_model(ModelConfig(name=str(tiny_model_dir("llama")), threads=1))
    long_doc = " ".join(CORPUS * 3)
    n_content = len(loaded.tokenizer(long_doc, add_special_tokens=False)["input_ids"])
    neurons = [Neuron(1, 5)]
    truncating = ActivationEngine(loaded, neurons, tokens=TokensConfig(max_tokens=17))
    windowed = ActivationEngine(
        loaded, neurons, keep_tokens=True, tokens=TokensConfig(max_tokens=17, long_docs="windows")
    )
    cut = next(iter(truncating.run([long_doc])))
    whole = next(iter(windowed.run([long_doc])))
    assert cut.truncated and cut.n_tokens == 16
    assert not whole.truncated and whole.n_tokens == n_content
    assert [o for o in whole.offsets] == sorted(whole.offsets)


def test_bad_records_get_a_documented_skip_reason(tiny_model_dir):
    loaded = load_model(ModelConfig(name=str(tiny_model_dir("gpt2")), threads=1))
    engine = ActivationEngine(loaded, [Neuron(0, 1)], tokens=TokensConfig(max_tokens=64))
    megabyte = "word " * 200_000
    records = ["", "   \n\t ", None, 42, "ok \ud800 lone", megabyte, "fine text"]
    results = list(engine.run(records))
    reasons = [r.skip_reason for r in results]
    assert reasons == ["empty", "empty", "null", "not_string", "invalid_unicode", None, None]
    assert results[5].truncated and results[5].n_tokens == 63
    assert results[6].n_tokens > 0
    # A read-ahead chunk holding nothing scorable still yields one result per record.
    assert [r.skip_reason for r in engine.run(["", None, "  "])] == ["empty", "null", "empty"]


def test_a_document_is_pooled_and_its_token_outputs_freed_before_the_next_batch(tiny_model_dir):
    """Whole-layer taps over a look-ahead chunk would hold every window's per-token outputs
    (~24 GB for 256 documents of 512 tokens on SmolLM2): a finished document must release
    them before the next forward runs, so at most one batch is held."""
    import weakref

    loaded = load_model(ModelConfig(name=str(tiny_model_dir("llama")), threads=1))
    engine = ActivationEngine(
        loaded,
        [Neuron(layer, i) for layer in range(LAYERS) for i in range(D_MLP)],
        batching=BatchingConfig(batch_tokens=32, lookahead_docs=64),
        forward=partial(HfForward, pool_on_device=False),  # per-token outputs, pooled here
    )
    inner, refs, alive = engine.forward, [], []

    class Tracking:
        packs_batches, pools = inner.packs_batches, inner.pools

        def __call__(self, batch):
            alive.append(sum(r() is not None for r in refs))
            outputs = inner(batch)
            refs.extend(weakref.ref(o) for o in outputs)
            return outputs

    engine.forward = Tracking()
    docs = [CORPUS[i % len(CORPUS)] for i in range(40)]
    results = list(engine.run(docs))
    assert [r.index for r in results] == list(range(40)) and len(alive) > 5
    assert max(alive) <= 1  # released (the loop may still name the last window of a batch)


@pytest.mark.parametrize("family", ["llama", "gpt2", "opt"])
def test_batches_pooled_in_the_forward_equal_documents_pooled_one_by_one(family, tiny_model_dir):
    """The hf backend pools a whole padded batch where it was computed; each document must get
    exactly what pooling it alone from its own content tokens gives, whatever the batch."""
    loaded = load_model(ModelConfig(name=str(tiny_model_dir(family)), threads=1))
    neurons = _neurons(random.Random(3), [0, LAYERS - 1], per_layer=4)
    docs = DOCS * 2
    random.Random(4).shuffle(docs)
    batching = BatchingConfig(batch_tokens=96, max_batch_docs=5, lookahead_docs=9)
    tokens = TokensConfig(max_tokens=24)
    in_forward = ActivationEngine(loaded, neurons, tokens=tokens, batching=batching)
    one_by_one = ActivationEngine(
        loaded, neurons, tokens=tokens, forward=partial(HfForward, pool_on_device=False)
    )
    assert in_forward.forward.pools and not one_by_one.forward.pools
    for got, want in zip(in_forward.run(docs), one_by_one.run(docs), strict=True):
        assert (got.n_tokens, got.total_tokens, got.truncated) == (
            want.n_tokens,
            want.total_tokens,
            want.truncated,
        )
        assert got.tokens is None
        for method in POOLING_METHODS:
            torch.testing.assert_close(got.pooled[method], want.pooled[method], atol=1e-6, rtol=0)


@pytest.mark.parametrize("pool_on_device", [True, False])
def test_only_the_asked_pooling_methods_are_computed_and_each_equals_the_full_set(
    pool_on_device, tiny_model_dir
):
    """A caller that reads one method (the pooled pass caches ``mean``) asks for it alone: the
    documents carry that method only, with exactly the values an engine pooling every method
    gives, pooled in the forward or by the engine."""
    loaded = load_model(ModelConfig(name=str(tiny_model_dir("llama")), threads=1))
    neurons = _neurons(random.Random(5), [0, LAYERS - 1], per_layer=4)
    tokens, forward = TokensConfig(max_tokens=24), partial(HfForward, pool_on_device=pool_on_device)
    every = ActivationEngine(loaded, neurons, tokens=tokens, forward=forward)
    asked = ActivationEngine(
        loaded,
        neurons,
        tokens=tokens,
        pooling=PoolingParams(methods=("topk_mean", "mean")),
        forward=forward,
    )
    for got, want in zip(asked.run(DOCS), every.run(DOCS), strict=True):
        assert list(got.pooled) == ["topk_mean", "mean"] and set(want.pooled) == set(
            POOLING_METHODS
        )
        for method in got.pooled:
            assert torch.equal(got.pooled[method], want.pooled[method])


def test_which_methods_a_pass_computes_leaves_the_cache_key_alone():
    """The pooled cache's key names what changes a row; computing fewer methods changes none,
    so a pass that asks for ``mean`` alone reads and extends the caches written before."""
    model, tokens = ModelConfig(name="smollm2-135m"), TokensConfig()
    key = settings_key(model, tokens, "mean")
    assert settings_key(model, tokens, "mean", PoolingParams(methods=("mean",))) == key
    assert settings_key(model, tokens, "mean", PoolingParams(top_k=4)) != key
