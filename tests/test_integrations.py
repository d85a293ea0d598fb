"""Drop-in steps: the datatrove filter and the `datasets` helper give `rosetta-filter score`'s
scores on the planted tiny model, and a run's shards load unchanged in both ecosystems."""

from __future__ import annotations

import json
import pickle

import pytest
from test_pipeline import base_config, make_docs, write_jsonl

from rosetta_filter.config import RunConfig
from rosetta_filter.errors import ConfigError
from rosetta_filter.filtering.pipeline import run
from rosetta_filter.integrations import load_scorer
from rosetta_filter.integrations.hf import add_scores

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    return make_docs(24, seed=3)


@pytest.fixture(scope="module")
def config(planted_model, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("integrations")
    return base_config(planted_model, root / "in.jsonl", root / "run")


@pytest.fixture(scope="module")
def expected(config, docs) -> list[float]:
    """What `rosetta-filter score` computes: the scorer on the texts, in order."""
    return [d.score for d in load_scorer(config).score([d["text"] for d in docs])]


def test_add_scores_on_a_dataset_and_a_streaming_one(config, docs, expected):
    from datasets import Dataset

    dataset = Dataset.from_list(docs)
    scored = add_scores(dataset, config, batch_size=5)
    assert scored["score"] == pytest.approx(expected, abs=1e-6)
    assert scored.column_names == [*dataset.column_names, "score"]
    streamed = add_scores(dataset.to_iterable_dataset(num_shards=2), config, batch_size=7)
    assert [r["score"] for r in streamed] == pytest.approx(expected, abs=1e-6)
    triggered = [r["trigger"] for r in scored]
    assert min(s for s, t in zip(expected, triggered, strict=True) if t) > max(
        s for s, t in zip(expected, triggered, strict=True) if not t
    )


def test_add_scores_gives_none_for_an_unscorable_text(config):
    from datasets import Dataset

    scored = add_scores(Dataset.from_list([{"text": ""}, {"text": "a x b"}]), config)
    assert scored["score"][0] is None and scored["score"][1] is not None


def test_a_scorer_config_needs_model_and_neurons():
    with pytest.raises(ConfigError, match="needs `model` and `neurons`"):
        load_scorer({"model": {"name": "x"}})


def test_the_datatrove_step_tags_and_filters_in_a_local_pipeline(config, docs, expected, tmp_path):
    pytest.importorskip("datatrove")
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from rosetta_filter.integrations.datatrove import RosettaFilter

    source = tmp_path / "in"
    source.mkdir()
    write_jsonl(source / "docs.jsonl", docs)
    step = RosettaFilter(config, threshold=1.0, batch_size=4)
    LocalPipelineExecutor(
        [
            JsonlReader(str(source), id_key="doc_id"),
            step,
            JsonlWriter(str(tmp_path / "out"), compression=None),
        ],
        tasks=1,
        workers=1,
        logging_dir=str(tmp_path / "logs"),
    ).run()
    rows = [
        json.loads(line)
        for path in sorted((tmp_path / "out").glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    want = {d["doc_id"]: s for d, s in zip(docs, expected, strict=True)}
    assert {r["id"] for r in rows} == {i for i, s in want.items() if s >= 1.0}
    for row in rows:
        assert row["metadata"]["rosetta_score"] == pytest.approx(want[row["id"]], abs=1e-6)
    assert step.scorer is not None  # built on first use ...
    assert pickle.loads(pickle.dumps(step))._scorer is None  # ... and never sent to a worker


def test_run_shards_load_with_datatrove_and_datasets(planted_model, tmp_path, docs):
    pytest.importorskip("datatrove")
    from datasets import load_dataset
    from datatrove.pipeline.readers import ParquetReader

    data = write_jsonl(tmp_path / "in.jsonl", docs)
    cfg = RunConfig.model_validate(base_config(planted_model, data, tmp_path / "run"))
    result = run(cfg)
    read = list(ParquetReader(str(tmp_path / "run" / "data"))())
    assert sorted(d.id for d in read) == sorted(d["doc_id"] for d in docs if d["trigger"])
    assert all(d.metadata["score"] >= 1.0 for d in read)
    loaded = load_dataset("parquet", data_dir=str(tmp_path / "run" / "data"), split="train")
    assert loaded.num_rows == result.stats.kept == len(read)
