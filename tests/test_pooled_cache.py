"""The pooled pass's per-document cache: a grown corpus runs the model on its new texts only,
and reads what it reuses exactly as a fresh pass computes it."""

from __future__ import annotations

import numpy as np
import pytest
from planted_domains import family_docs, planted_domains_config
from test_pipeline import write_jsonl

import rosetta_filter.activations.pooled_pass as pooled_pass
from discovery.domain.job import choose_matrix
from rosetta_filter.config import BatchingConfig, ModelConfig, TokensConfig

TEXTS = [
    "def add(a, b):\n    return a + b\n",
    "The court held that the contract was void.",
    "Let x be a real number with x > 0.",
]
NEW = ["Call me Ishmael. Some years ago, never mind how long.", "SELECT * FROM notes;"]


def _pass(model_dir, texts, cache_dir, monkeypatch, runs):
    real = pooled_pass._run_model

    def counted(model, texts, *args):
        runs.append(list(texts))
        return real(model, texts, *args)

    monkeypatch.setattr(pooled_pass, "_run_model", counted)
    return pooled_pass.pooled_activations(
        ModelConfig(name=str(model_dir), threads=1, dtype="float32"),
        texts,
        tokens=TokensConfig(max_tokens=32),
        batching=BatchingConfig(),
        cache_dir=cache_dir,
    )


def test_a_grown_corpus_runs_the_model_on_its_new_texts_only(tiny_model_dir, tmp_path, monkeypatch):
    runs: list[list[str]] = []
    first, d_mlp = _pass(tiny_model_dir("llama"), TEXTS, tmp_path, monkeypatch, runs)
    grown = [NEW[0], *TEXTS, NEW[1], TEXTS[0]]  # reordered, grown, one text twice
    again, _ = _pass(tiny_model_dir("llama"), grown, tmp_path, monkeypatch, runs)
    fresh, _ = _pass(tiny_model_dir("llama"), grown, None, monkeypatch, runs)

    assert runs[:2] == [TEXTS, NEW]  # the second pass computed the two new texts, once each
    assert first.shape == (3, fresh.shape[1]) and fresh.shape[1] % d_mlp == 0
    np.testing.assert_allclose(again, fresh, atol=1e-5)
    np.testing.assert_array_equal(again[[1, 2, 3]], first)  # reused rows are the stored ones
    np.testing.assert_array_equal(again[5], again[1])
    assert len(list(tmp_path.glob("pooled-*/shard-*.npz"))) == 2


def test_other_settings_do_not_share_rows(tiny_model_dir, tmp_path, monkeypatch):
    runs: list[list[str]] = []
    _pass(tiny_model_dir("llama"), TEXTS, tmp_path, monkeypatch, runs)
    pooled_pass.pooled_activations(
        ModelConfig(name=str(tiny_model_dir("llama")), threads=1, dtype="float32"),
        TEXTS,
        tokens=TokensConfig(max_tokens=16),
        batching=BatchingConfig(),
        cache_dir=tmp_path,
    )
    assert len(list(tmp_path.glob("pooled-*"))) == 2


def test_a_text_whose_digest_ends_in_a_nul_byte_is_found_again(
    tiny_model_dir, tmp_path, monkeypatch
):
    """numpy's S32 strings drop trailing NUL bytes: about one digest in 256 ends with one, and
    its row was recomputed on every pass before the cache restored the byte."""
    nul = next(
        t for t in (f"line {i}" for i in range(100_000)) if pooled_pass.text_digest(t)[-1] == 0
    )
    runs: list[list[str]] = []
    first, _ = _pass(tiny_model_dir("llama"), [nul, TEXTS[0]], tmp_path, monkeypatch, runs)
    again, _ = _pass(tiny_model_dir("llama"), [nul, TEXTS[0]], tmp_path, monkeypatch, runs)
    assert len(runs) == 1
    assert np.array_equal(first, again)


def test_a_killed_pass_keeps_its_finished_shards_and_resumes_to_the_same_rows(
    tiny_model_dir, tmp_path, monkeypatch
):
    """A shard per two read-ahead windows: a pass killed in its third window keeps the first
    two windows' rows, and the resumed pass computes only the rest, to the rows one
    uninterrupted pass gives (the batches are the same)."""
    texts = [f"document {i}: " + "word " * (i % 7) for i in range(10)]
    batching = BatchingConfig(lookahead_docs=2)  # shards of 4 documents
    model = ModelConfig(name=str(tiny_model_dir("llama")), threads=1, dtype="float32")
    real, calls = pooled_pass._run_model, []

    def dies_on_the_third_shard(model, todo, *args):
        calls.append(list(todo))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(model, todo, *args)

    monkeypatch.setattr(pooled_pass, "_run_model", dies_on_the_third_shard)
    run = dict(tokens=TokensConfig(max_tokens=32), batching=batching)
    with pytest.raises(KeyboardInterrupt):
        pooled_pass.pooled_activations(model, texts, cache_dir=tmp_path, **run)
    assert len(list(tmp_path.glob("pooled-*/shard-*.npz"))) == 2
    monkeypatch.setattr(pooled_pass, "_run_model", real)
    resumed, _ = pooled_pass.pooled_activations(model, texts, cache_dir=tmp_path, **run)
    whole, _ = pooled_pass.pooled_activations(model, texts, cache_dir=None, **run)
    np.testing.assert_array_equal(resumed, whole)
    assert len(list(tmp_path.glob("pooled-*/shard-*.npz"))) == 3


def test_also_cache_fills_other_poolings_from_the_same_forward_pass(
    tiny_model_dir, tmp_path, monkeypatch
):
    """One pass over the corpus fills every requested pooling's cache: a later pass with one
    of them runs no model, and reads the rows a pass of its own computes."""
    runs: list[list[str]] = []
    model = ModelConfig(name=str(tiny_model_dir("llama")), threads=1, dtype="float32")
    run = dict(tokens=TokensConfig(max_tokens=32), batching=BatchingConfig())
    real = pooled_pass._run_model

    def counted(model, texts, *args):
        runs.append(list(texts))
        return real(model, texts, *args)

    monkeypatch.setattr(pooled_pass, "_run_model", counted)
    pooled_pass.pooled_activations(
        model,
        TEXTS,
        pooling="topk_mean",
        also_cache=["max", "topk_mean"],
        cache_dir=tmp_path,
        **run,
    )
    cached, _ = pooled_pass.pooled_activations(
        model, TEXTS, pooling="max", cache_dir=tmp_path, **run
    )
    fresh, _ = pooled_pass.pooled_activations(model, TEXTS, pooling="max", cache_dir=None, **run)
    mean, _ = pooled_pass.pooled_activations(model, TEXTS, cache_dir=None, **run)
    assert len(runs) == 3  # the cached max pass ran no model; the two uncached passes did
    assert len(list(tmp_path.glob("pooled-*"))) == 2  # topk_mean and max, each once
    np.testing.assert_array_equal(cached, fresh)
    assert not np.allclose(cached, mean)  # the companion holds max rows, not the primary's


def test_the_domains_job_fills_its_also_cache_poolings(
    planted_model, format1_bank, tmp_path, monkeypatch
):
    """``also_cache`` in a domains config: the job's pooled pass leaves rows for another pooling
    that a fit with it then reads without running the model."""
    labelled = write_jsonl(
        tmp_path / "choose.jsonl", [d | {"role": "choose"} for d in family_docs("choose", 2)]
    )
    cfg = planted_domains_config(
        planted_model, format1_bank, labelled, tmp_path / "bank", tmp_path / "cache"
    )
    choose_matrix(cfg.model_copy(update={"pooling": "max", "also_cache": ["mean"]}))

    def no_model(*args, **kwargs):
        raise AssertionError("the mean rows should have come from the cache")

    monkeypatch.setattr(pooled_pass, "_run_model", no_model)
    cached = choose_matrix(cfg)  # mean pooling, the default
    monkeypatch.undo()
    fresh = choose_matrix(cfg.model_copy(update={"cache_dir": None}))
    np.testing.assert_array_equal(cached.values, fresh.values)
