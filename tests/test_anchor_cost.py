"""bench.anchor_cost: two anchors' pooled passes side by side on the same documents."""

from __future__ import annotations

import json


def test_two_anchors_are_timed_on_the_same_documents(tiny_model_dir, monkeypatch, capsys):
    from bench import anchor_cost

    llama, qwen = tiny_model_dir("llama"), tiny_model_dir("qwen2")
    argv = ["bench", "--models", str(llama), str(qwen), "--docs", "4", "--rounds", "2"]
    monkeypatch.setattr("sys.argv", [*argv, "--max-tokens", "64", "--dtype", "float32", "--json"])
    anchor_cost.main()
    report = json.loads(capsys.readouterr().out)
    first, second = report["models"][str(llama)], report["models"][str(qwen)]
    assert first["seconds_per_doc_vs_first"] == 1.0
    assert second["seconds_per_doc_vs_first"] > 0 and second["docs_per_s"] > 0
    assert first["mlp_neurons"] > 0 and second["params"] > 0
