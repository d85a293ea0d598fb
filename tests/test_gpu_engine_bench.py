"""bench/gpu_engine.py end to end on a tiny llama on the CPU: the device run is prepared here
(one lent GPU call per task), so a broken bench must show before it costs device time. The
tiny tokenizer adds a BOS token, so the naive loop must leave special tokens out as the engine
does, or the correctness check fails."""

from __future__ import annotations

import json

from bench import gpu_engine


def test_gpu_engine_bench_runs_and_checks_on_cpu(tiny_model_dir, tmp_path, one_thread):
    out = tmp_path / "res.json"
    argv = ["--model", str(tiny_model_dir("llama")), "--device", "cpu", "--dtype", "float32"]
    argv += ["--docs", "6", "--naive-docs", "2", "--check-docs", "3", "--rounds", "1"]
    argv += ["--batch-tokens", "64", "256", "--max-tokens", "32", "--peak-n", "64"]
    argv += ["--neurons", "4", "--exit-layer", "1", "--out", str(out)]
    assert gpu_engine.main(argv) == 0
    res = json.loads(out.read_text())
    assert res["check"]["mean"] == 0.0 and res["check"]["naive_mean"] < 1e-5
    assert res["setup"]["depths"] == {"L1": 1, "L2": 2}
    engines = [f"{p}L{d}@{b}" for b in (64, 256) for d in (1, 2) for p in ("", "fwd:", "host:")]
    assert set(res["median"]) == {*engines, "naive", "tokenize"}
    assert res["check"]["device_vs_host_pooling"] < 1e-6
    assert all(res["median"][name]["tokens_per_s"] > 0 for name in engines)
    assert res["auto"]["ModelConfig_defaults"]["dtype"] == "float32"
