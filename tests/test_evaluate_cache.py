"""`rosetta-filter evaluate --cache`: the held-out file's pooled activations come from the
per-document cache the domains pass fills, so a second evaluation (a rebuilt bank, say) runs
no model, and what it reports equals the scorer's own evaluation."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
import yaml
from planted_domains import family_docs
from test_evaluate import planted_run
from test_pipeline import write_jsonl
from typer.testing import CliRunner

import rosetta_filter.activations.pooled_pass as pooled_pass
from rosetta_filter.activations.forward import PoolingParams
from rosetta_filter.activations.precision import resolve_dtype
from rosetta_filter.cli import app
from rosetta_filter.config import RunConfig
from rosetta_filter.evaluation.evaluate import evaluate
from rosetta_filter.evaluation.labelled import read_labelled

runner = CliRunner()


@pytest.fixture
def heldout_run(planted_model, heads_bank, tmp_path):
    heldout = write_jsonl(tmp_path / "heldout.jsonl", family_docs("heldout"))
    run = planted_run(planted_model, heads_bank, heldout, tmp_path)
    run["selection"] = {"token_budget": 200}  # the cached path must count tokens as the scorer
    return RunConfig.model_validate(run), read_labelled(heldout), heldout


def test_a_cached_evaluation_equals_the_scorers_and_a_second_one_loads_no_model(
    heldout_run, tmp_path, monkeypatch
):
    cfg, data, _ = heldout_run
    direct = evaluate(cfg, data, None)
    first = evaluate(cfg, data, None, cache_dir=tmp_path / "cache")

    def no_model(*args, **kwargs):
        raise AssertionError("every row was cached: the model must not be loaded or run")

    monkeypatch.setattr(pooled_pass, "load_backend_model", no_model)
    monkeypatch.setattr(pooled_pass, "_run_model", no_model)
    second = evaluate(cfg, data, None, cache_dir=tmp_path / "cache")
    for cached in (first, second):
        for name, scores in direct["ex"].scores.items():
            np.testing.assert_allclose(cached["ex"].scores[name], scores, atol=1e-4)
            assert cached["ex"].metrics[name]["auroc"] == pytest.approx(
                direct["ex"].metrics[name]["auroc"], abs=1e-9
            )
        configured = cached["ex"].metrics["configured"]
        assert (configured["kept"], configured["precision"]) == (
            direct["ex"].metrics["configured"]["kept"],
            direct["ex"].metrics["configured"]["precision"],
        )


def test_pooling_parameters_get_their_own_rows_and_default_ones_keep_the_old_key(
    heldout_run, tmp_path
):
    """top-k pooling over 2 tokens: the cached evaluation pools as the scorer does, in rows
    of their own beside the default ones; the default parameters' key is the one caches had
    before parameters were keyed (model, dtype, tokens, pooling)."""
    cfg, data, _ = heldout_run
    cache = tmp_path / "cache"
    evaluate(cfg, data, None, cache_dir=cache)
    scoring = cfg.scoring.model_copy(update={"pooling": "topk_mean", "pool_top_k": 2})
    top2 = cfg.model_copy(update={"scoring": scoring})
    direct, cached = evaluate(top2, data, None), evaluate(top2, data, None, cache_dir=cache)
    for name, scores in direct["ex"].scores.items():
        np.testing.assert_allclose(cached["ex"].scores[name], scores, atol=1e-4)
    keys = {p.name for p in cache.glob("pooled-*")}
    tokens = cfg.scoring.tokens
    assert keys == {
        f"pooled-{pooled_pass.settings_key(cfg.model, tokens, 'mean')}",
        f"pooled-{pooled_pass.settings_key(cfg.model, tokens, 'topk_mean', PoolingParams(2))}",
    }
    legacy = {
        "model": cfg.model.model_dump(
            mode="json", exclude={"threads", "device", "backend", "dtype"}
        ),
        "dtype": str(resolve_dtype(cfg.model.dtype, torch.device("cpu"))),
        "tokens": tokens.model_dump(mode="json"),
        "pooling": "mean",
    }
    digest = hashlib.sha256(json.dumps(legacy, sort_keys=True).encode()).hexdigest()[:20]
    assert pooled_pass.settings_key(cfg.model, tokens, "mean") == digest


def test_the_cli_records_where_the_activations_came_from(heldout_run, tmp_path):
    cfg, _, heldout = heldout_run
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude_none=True)))
    out = tmp_path / "eval"
    args = ["evaluate", str(config), "--labels", str(heldout), "--out", str(out), "-q"]
    result = runner.invoke(app, [*args, "--no-baseline", "--cache", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "evaluation.json").read_text())
    assert report["activations"] == f"pooled cache {tmp_path / 'c'}"
    assert list((tmp_path / "c").glob("pooled-*/shard-*.npz"))


def test_the_cache_bench_runs_the_three_paths_side_by_side(
    heldout_run, tmp_path, monkeypatch, capsys
):
    from bench import evaluate_cache

    cfg, _, heldout = heldout_run
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude_none=True)))
    monkeypatch.setattr("sys.argv", ["bench", str(config), str(heldout), "--docs", "12"])
    monkeypatch.setenv("COLUMNS", "200")
    evaluate_cache.main()
    cells = [line.split("│")[1:-1] for line in capsys.readouterr().out.splitlines()]
    rows = {row[0].strip(): row for row in cells if len(row) == 5}
    assert set(rows) == {"scorer", "cold", "warm"}
    assert all(float(row[4]) < 1e-6 for row in rows.values())  # the same AUROCs all three ways
