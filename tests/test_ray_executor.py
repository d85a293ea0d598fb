"""`runtime.executor: ray` on a local Ray (2 CPUs): actors read, score and write their own work
units, with the same kept set, scores, shards, stats and checkpoints as the local executor."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from cascade_banks import set_bands, shallow_scores
from test_pipeline import base_config, kept_ids, make_docs
from test_work_units import write_parquet_corpus

from rosetta_filter.config import ModelConfig, validate_config
from rosetta_filter.errors import ConfigError
from rosetta_filter.filtering.pipeline import run
from rosetta_filter.filtering.progress import NullProgress

ray = pytest.importorskip("ray")
from rosetta_filter.filtering.executors.ray import actor_resources  # noqa: E402

pytestmark = pytest.mark.ray

COUNTS = ("seen", "scored", "invalid", "truncated", "tokens_in", "tokens_kept", "kept", "dropped")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


def both_executors(cfg: dict, tmp_path: Path) -> dict:
    """The config for each executor, each writing its own run directory."""
    out = {}
    for executor in ("local", "ray"):
        out[executor] = {
            **cfg,
            "output": {**cfg["output"], "dir": str(tmp_path / executor)},
            "runtime": {**cfg["runtime"], "executor": executor},
        }
    return out


def attributes(run_dir: Path) -> list[dict]:
    return pq.read_table(run_dir / "attributes").to_pylist()


def outcome(run_dir: Path) -> tuple[list, dict, dict]:
    """What a run wrote: shards (path, rows, sha256), counts, model and neurons."""
    manifest = json.loads((run_dir / "manifest.json").read_text())
    stats = json.loads((run_dir / "stats.json").read_text())
    shards = [(s["path"], s["rows"], s["sha256"]) for s in manifest["shards"]]
    described = {"model": manifest["model"], "neurons": manifest["neurons"]}
    return shards, {k: stats[k] for k in COUNTS}, described


class StopAfter(NullProgress):
    """Interrupts the run once the score pass has handled ``docs`` records."""

    class Interrupted(Exception):
        pass

    def __init__(self, docs: int) -> None:
        self.docs, self.stage = docs, None

    def start(self, stage: str, total: int | None, done: int = 0) -> None:
        self.stage = stage

    def advance(self, docs: int, tokens: int = 0, kept: int = 0) -> None:
        if self.stage == "score":
            self.docs -= docs
            if self.docs <= 0:
                raise self.Interrupted


def test_top_fraction_across_actors_keeps_the_local_set(local_ray, planted_model, tmp_path):
    docs = make_docs(150, seed=11)
    lines = [json.dumps(d) for d in docs]
    bad = {
        3: json.dumps({"doc_id": "null", "text": None}),
        40: json.dumps({"doc_id": "int", "text": 42}),
        77: json.dumps({"doc_id": "empty", "text": " "}),
        90: json.dumps({"body": "no text field"}),  # no id either: a derived id
        120: '{"doc_id": "broken", "text": "unterminated',
    }
    for at, line in sorted(bad.items()):
        lines.insert(at, line)
    data = tmp_path / "mixed"
    data.mkdir()
    for part in range(3):  # three files, one work unit each, over two actors
        (data / f"{part}.jsonl").write_text("\n".join(lines[part * 52 : (part + 1) * 52]) + "\n")
    cfg = base_config(planted_model, data, tmp_path, keep_fraction=0.25)
    cfg["runtime"].update(lookahead_docs=8, checkpoint_docs=32, ray_actors=2, unit_bytes=1)
    configs = both_executors(cfg, tmp_path)

    local = run(validate_config(configs["local"]))
    on_ray = run(validate_config(configs["ray"]))

    expected = kept_ids(local.run_dir)
    assert len(expected) == 38 and all(int(i[1:]) % 2 == 0 for i in expected)  # triggers only
    assert kept_ids(on_ray.run_dir) == expected
    assert on_ray.rule == local.rule
    assert attributes(on_ray.run_dir) == attributes(local.run_dir)  # bit-identical scores
    shards, counts, described = outcome(on_ray.run_dir)
    assert (shards, counts, described) == outcome(local.run_dir)
    assert counts["seen"] == 155 and counts["scored"] == 150
    assert counts["invalid"] == {
        "decode_error": 1,
        "empty": 1,
        "missing_field": 1,
        "not_string": 1,
        "null": 1,
    }
    assert described["model"]["family"] == "llama" and described["neurons"]["neurons"] == ["L0.N5"]

    # Where a run executes is not part of its identity: Ray finishes the local run directory.
    moved = run(validate_config({**configs["local"], "runtime": configs["ray"]["runtime"]}))
    assert moved.resumed and outcome(moved.run_dir) == outcome(local.run_dir)


def test_an_interrupted_ray_run_resumes_to_the_local_result(local_ray, planted_model, tmp_path):
    """Parquet row groups as units, a token budget, rejected shards; the driver stops after a
    few units and the actors die with it, mid-unit."""
    data = write_parquet_corpus(tmp_path / "data", make_docs(160, seed=5), files=2, row_group=20)
    cfg = base_config(planted_model, data, tmp_path, token_budget=900)
    cfg["output"].update(write_rejected=True, shard_max_rows=16)
    cfg["runtime"].update(lookahead_docs=8, checkpoint_docs=8, ray_actors=2, unit_bytes=1)
    configs = both_executors(cfg, tmp_path)
    local = run(validate_config(configs["local"]))
    ray_cfg = validate_config(configs["ray"])

    with pytest.raises(StopAfter.Interrupted):
        run(ray_cfg, progress=StopAfter(docs=50))
    states = [json.loads(p.read_text()) for p in (tmp_path / "ray" / ".state").glob("score-*")]
    assert 3 <= sum(s["complete"] for s in states) < 8  # 8 units of 20 rows

    resumed = run(ray_cfg)
    assert resumed.resumed
    kept = kept_ids(resumed.run_dir)
    assert kept == kept_ids(local.run_dir) and 0 < len(kept) < 80
    assert all(int(i[1:]) % 2 == 0 for i in kept)
    assert outcome(resumed.run_dir) == outcome(local.run_dir)
    assert attributes(resumed.run_dir) == attributes(local.run_dir)

    # Both passes are complete now: nothing is scored (or loaded) again.
    state_file = tmp_path / "ray" / ".state" / "score-00000.json"
    before = state_file.stat().st_mtime_ns
    again = run(ray_cfg, progress=StopAfter(docs=1))
    assert state_file.stat().st_mtime_ns == before
    assert outcome(again.run_dir) == outcome(local.run_dir)


@pytest.mark.parametrize(
    ("device", "gpus", "expected"),
    [
        ("auto", 4, {"num_cpus": 1, "num_gpus": 1}),
        ("cuda", 1, {"num_cpus": 1, "num_gpus": 1}),
        ("auto", 0, {"num_cpus": 1, "num_gpus": 0}),
        ("cpu", 4, {"num_cpus": 1, "num_gpus": 0}),
    ],
)
def test_actors_take_a_gpu_only_when_the_model_may_use_one(device, gpus, expected):
    assert actor_resources(ModelConfig(name="m", device=device), gpus) == expected


def test_actor_cpus_follow_model_threads_and_cuda_needs_a_gpu():
    assert actor_resources(ModelConfig(name="m", threads=3), 0) == {"num_cpus": 3, "num_gpus": 0}
    with pytest.raises(ConfigError, match=r"model\.device=cuda but the Ray cluster has no GPU"):
        actor_resources(ModelConfig(name="m", device="cuda"), 0)


def test_the_default_cascade_of_the_relative_score_scores_alike_on_ray(
    local_ray, planted_model, cascade_bank, tmp_path
):
    """The default (rule 17): each actor's scorer runs the shallow stage and the deep pass for
    its own units' deferred documents; the run equals the local one, deferrals included."""
    bank, heads = cascade_bank
    docs = make_docs(120, seed=3)
    scores = shallow_scores(planted_model, bank, [d["text"] for d in docs[:60]])
    set_bands(bank, heads, scores[0] - 1.0, scores[len(scores) // 2], defer_rate=0.5)
    data = write_parquet_corpus(tmp_path / "corpus", docs, files=3, row_group=10)
    cfg = base_config(planted_model, data, tmp_path, keep_fraction=0.25)
    cfg["neurons"] = {
        "bank": str(bank), "bank_model": "tiny", "domain": "ex", "max_layer": None,
        "relative": True, "cascade": True,
    }  # fmt: skip
    cfg["scoring"] = {"pooling": "mean", "max_tokens": 64}
    cfg["runtime"].update(lookahead_docs=8, checkpoint_docs=32, ray_actors=2, unit_bytes=1)
    configs = both_executors(cfg, tmp_path)
    local = run(validate_config(configs["local"]))
    on_ray = run(validate_config(configs["ray"]))
    assert kept_ids(on_ray.run_dir) == kept_ids(local.run_dir)
    assert attributes(on_ray.run_dir) == attributes(local.run_dir)  # scores and deferrals
    assert outcome(on_ray.run_dir) == outcome(local.run_dir)
    stats = json.loads((on_ray.run_dir / "stats.json").read_text())
    assert 0 < stats["deferred"] < 120
    assert outcome(on_ray.run_dir)[2]["neurons"]["cascade"]["shallow_relative_to"] == ["plain"]
