"""`rosetta-filter run` end to end on a tiny llama with a planted trigger neuron."""

from __future__ import annotations

import json
import random
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import yaml

from rosetta_filter.config import load_config, validate_config
from rosetta_filter.errors import ConfigError, ShardError
from rosetta_filter.filtering.pipeline import run

WORDS = (
    "the cat sat on a mat and looked at the moon while she walked along the river thinking "
    "of summer evenings the patient presented with fever and cough"
).split()


def make_docs(n: int, seed: int = 0) -> list[dict]:
    """Half the documents contain the trigger word ' x'; no other has the letter x."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 40))]
        trigger = i % 2 == 0
        if trigger:
            for _ in range(rng.randint(1, 3)):
                words.insert(rng.randrange(1, len(words)), "x")  # " x", never first
        docs.append({"doc_id": f"d{i:04d}", "text": " ".join(words), "trigger": trigger, "n": i})
    return docs


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def base_config(model: Path, data: Path | str, out: Path, **selection) -> dict:
    return {
        "source": {"data_files": str(data), "id_field": "doc_id"},
        "model": {"name": str(model), "threads": 1},
        "neurons": {"explicit": ["L0.N5"]},
        "scoring": {"pooling": "max", "max_tokens": 256},
        "selection": selection or {"threshold": 1.0},
        "output": {"dir": str(out)},
        "runtime": {"lookahead_docs": 8, "checkpoint_docs": 16, "batch_tokens": 256},
    }


def kept_ids(run_dir: Path) -> list[str]:
    files = sorted((run_dir / "data").glob("*.parquet"))
    return [r["id"] for f in files for r in pq.read_table(f).to_pylist()]


@pytest.mark.parametrize(
    "selection",
    [{"threshold": 1.0}, {"keep_fraction": 0.5}, {"token_budget": "TRIGGER_TOKENS"}],
    ids=["threshold", "keep_fraction", "token_budget"],
)
def test_trigger_documents_are_kept_and_others_rejected(planted_model, tmp_path, selection):
    docs = make_docs(60)
    data = write_jsonl(tmp_path / "docs.jsonl", docs)
    if selection.get("token_budget") == "TRIGGER_TOKENS":
        # First a threshold run tells each document's token count.
        probe = run(
            validate_config(
                base_config(planted_model, data, tmp_path / "probe")
                | {"output": {"dir": str(tmp_path / "probe"), "attributes_only": True}}
            )
        )
        rows = [r for s in probe.shards for r in pq.read_table(probe.run_dir / s.path).to_pylist()]
        selection = {"token_budget": sum(r["total_tokens"] for r in rows if r["kept"])}
    cfg = validate_config(base_config(planted_model, data, tmp_path / "run", **selection))
    result = run(cfg)
    expected = [d["doc_id"] for d in docs if d["trigger"]]
    assert sorted(kept_ids(result.run_dir)) == expected
    stats = json.loads((result.run_dir / "stats.json").read_text())
    assert stats["seen"] == 60 and stats["kept"] == 30 and stats["dropped"] == 30


def test_keep_fraction_is_exact_on_ties(planted_model, tmp_path):
    docs = [{"doc_id": f"t{i}", "text": "the cat sat on the mat"} for i in range(10)]
    data = write_jsonl(tmp_path / "ties.jsonl", docs)
    result = run(
        validate_config(base_config(planted_model, data, tmp_path / "run", keep_fraction=0.3))
    )
    assert kept_ids(result.run_dir) == ["t0", "t1", "t2"]  # equal scores: input order decides


def test_every_bad_record_is_accounted_for(planted_model, tmp_path):
    rng = random.Random(3)
    good = make_docs(900, seed=1)
    bad_lines = [
        json.dumps({"doc_id": "null", "text": None}),
        json.dumps({"doc_id": "int", "text": 42}),
        json.dumps({"doc_id": "empty", "text": ""}),
        json.dumps({"doc_id": "ws", "text": "  \n\t "}),
        json.dumps({"doc_id": "nofield", "body": "text elsewhere"}),
        json.dumps({"doc_id": "huge", "text": "word " * 300_000}),
        json.dumps({"doc_id": "surrogate", "text": "bad \ud800 text"}),
        '{"doc_id": "broken", "text": "unterminated',
        "[1, 2, 3]",
    ]
    lines = [json.dumps(d) for d in good] + bad_lines * 11 + bad_lines[:1]
    rng.shuffle(lines)
    path = tmp_path / "mixed.jsonl"
    with path.open("wb") as fh:
        fh.write("\n".join(lines).encode("utf-8", "surrogatepass") + b"\n")
        fh.write(b'{"doc_id": "latin1", "text": "caf\xe9"}\n')  # not UTF-8
    assert len(lines) + 1 == 1001
    cfg = validate_config(
        base_config(planted_model, path, tmp_path / "run", threshold=1.0)
        | {"runtime": {"lookahead_docs": 64, "checkpoint_docs": 256}}
    )
    result = run(cfg)
    stats = json.loads((result.run_dir / "stats.json").read_text())
    assert stats["seen"] == 1001
    assert stats["scored"] + stats["invalid_total"] == 1001
    assert stats["kept"] + stats["dropped"] == stats["scored"]
    assert stats["invalid"] == {
        "decode_error": 23,
        "empty": 22,
        "invalid_unicode": 11,
        "missing_field": 11,
        "not_string": 11,
        "null": 12,
        "too_long": 11,
    }
    assert stats["scored"] == 900 and stats["kept"] == 450
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["rows"] == 450
    import hashlib

    for shard in manifest["shards"]:
        data = (result.run_dir / shard["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"]
        assert pq.read_table(result.run_dir / shard["path"]).num_rows == shard["rows"]
    assert manifest["model"]["sha256"] and manifest["neurons"]["neurons"] == ["L0.N5"]


def test_output_loads_with_datasets_and_keeps_source_fields(planted_model, tmp_path):
    data = write_jsonl(tmp_path / "docs.jsonl", make_docs(40))
    cfg = validate_config(
        base_config(planted_model, data, tmp_path / "run", threshold=1.0)
        | {"output": {"dir": str(tmp_path / "run"), "shard_max_rows": 7, "write_rejected": True}}
    )
    result = run(cfg)
    files = sorted(str(p) for p in (result.run_dir / "data").glob("*.parquet"))
    assert len(files) >= 3  # size cap honoured
    ds = datasets.load_dataset("parquet", data_files=files, split="train")
    assert ds.column_names == ["id", "text", "score", "metadata"]
    assert all(json.loads(m)["trigger"] for m in ds["metadata"])
    rejected = pq.read_table(result.run_dir / "rejected").to_pylist()
    assert len(rejected) == 20 and not any(json.loads(r["metadata"])["trigger"] for r in rejected)


def test_jsonl_gz_output_and_attributes_only_in_input_order(planted_model, tmp_path):
    import gzip

    docs = make_docs(30)
    data = write_jsonl(tmp_path / "docs.jsonl", docs)
    cfg = validate_config(
        base_config(planted_model, data, tmp_path / "gz", threshold=1.0)
        | {"output": {"dir": str(tmp_path / "gz"), "format": "jsonl.gz"}}
    )
    run(cfg)
    rows = [
        json.loads(line)
        for f in sorted((tmp_path / "gz" / "data").iterdir())
        for line in gzip.decompress(f.read_bytes()).decode().splitlines()
    ]
    assert [r["id"] for r in rows] == [d["doc_id"] for d in docs if d["trigger"]]
    cfg = validate_config(
        base_config(planted_model, data, tmp_path / "attrs", threshold=1.0)
        | {"output": {"dir": str(tmp_path / "attrs"), "attributes_only": True}}
    )
    result = run(cfg)
    attrs = [r for s in result.shards for r in pq.read_table(result.run_dir / s.path).to_pylist()]
    assert [a["id"] for a in attrs] == [d["doc_id"] for d in docs]
    assert [a["kept"] for a in attrs] == [d["trigger"] for d in docs]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "parquet", "text", "hub_dir"])
def test_every_source_format_streams_through_datasets(planted_model, tmp_path, fmt):
    import pyarrow as pa

    docs = make_docs(12)
    folder = tmp_path / "src"
    folder.mkdir()
    if fmt == "jsonl":
        write_jsonl(folder / "a.jsonl", docs[:6])
        write_jsonl(folder / "b.jsonl", docs[6:])
        source = {"data_files": str(folder / "*.jsonl"), "id_field": "doc_id"}
    elif fmt == "json":
        (folder / "a.json").write_text(json.dumps(docs))
        source = {"data_files": str(folder), "id_field": "doc_id"}
    elif fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(docs), folder / "part.parquet")
        source = {"data_files": str(folder / "part.parquet"), "id_field": "doc_id"}
    elif fmt == "text":
        for d in docs:
            (folder / f"{d['doc_id']}.txt").write_text(d["text"])
        source = {"data_files": str(folder)}
    else:  # a hub-style dataset directory: README config + data/ files
        (folder / "data").mkdir()
        pq.write_table(pa.Table.from_pylist(docs), folder / "data" / "train-00000.parquet")
        (folder / "README.md").write_text(
            "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"
            "    path: data/train-*.parquet\n---\n# toy\n"
        )
        source = {"dataset": str(folder), "split": "train", "id_field": "doc_id"}
    cfg = base_config(planted_model, "unused", tmp_path / "run", threshold=1.0)
    cfg["source"] = source
    result = run(validate_config(cfg))
    kept = pq.read_table(result.run_dir / "data").to_pylist()
    assert sorted(r["text"] for r in kept) == sorted(d["text"] for d in docs if d["trigger"])
    assert result.stats.seen == 12


def test_config_errors_name_the_field_and_fix(tmp_path):
    bad = base_config(Path("m"), "x.jsonl", tmp_path / "o", keep_fraction=1.5)
    with pytest.raises(ConfigError, match=r"selection.keep_fraction=1.5"):
        validate_config(bad)
    bad = base_config(Path("m"), "x.jsonl", tmp_path / "o", threshold=1, keep_fraction=0.5)
    with pytest.raises(ConfigError, match=r"exactly one of selection\.threshold"):
        validate_config(bad)
    with pytest.raises(ConfigError, match=r"neurons.explicit.0.neuron.*L\{layer\}"):
        validate_config(base_config(Path("m"), "x", tmp_path) | {"neurons": {"explicit": ["N3"]}})
    with pytest.raises(ConfigError, match=r"runtime\.batch_tokns: unknown key"):
        validate_config(base_config(Path("m"), "x", tmp_path) | {"runtime": {"batch_tokns": 3}})


def test_a_run_dir_of_another_config_is_never_mixed(planted_model, tmp_path):
    data = write_jsonl(tmp_path / "docs.jsonl", make_docs(10))
    run(validate_config(base_config(planted_model, data, tmp_path / "run", threshold=1.0)))
    with pytest.raises(ShardError, match="different config"):
        run(validate_config(base_config(planted_model, data, tmp_path / "run", threshold=2.0)))


def test_source_size_is_known_for_progress_where_cheap(tmp_path):
    import pyarrow as pa

    from rosetta_filter.config import SourceConfig
    from rosetta_filter.filtering.sources import Source

    docs = make_docs(7)
    write_jsonl(tmp_path / "a.jsonl", docs)
    (tmp_path / "b.jsonl").write_text('{"text": "no newline at the end"}')
    assert Source(SourceConfig(data_files=str(tmp_path / "*.jsonl"))).estimated_total() == 8
    assert (
        Source(SourceConfig(data_files=str(tmp_path / "*.jsonl"), limit=3)).estimated_total() == 3
    )
    pq.write_table(pa.Table.from_pylist(docs), tmp_path / "p.parquet")
    assert Source(SourceConfig(data_files=str(tmp_path / "p.parquet"))).estimated_total() == 7
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "x.txt").write_text("a document")
    assert Source(SourceConfig(data_files=str(tmp_path / "t"))).estimated_total() is None


def test_relative_inputs_are_found_next_to_the_config_from_any_directory(
    planted_model, tmp_path, monkeypatch
):
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    write_jsonl(project / "data" / "docs.jsonl", make_docs(4))
    cfg = base_config(planted_model, "data/docs.jsonl", "out/run")
    (project / "run.yaml").write_text(yaml.safe_dump(cfg))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = load_config(project / "run.yaml")
    assert loaded.source.data_files == str(project / "data" / "docs.jsonl")
    assert loaded.output.dir == "out/run"  # outputs stay relative to where the run starts
    (elsewhere / "data").mkdir()
    write_jsonl(elsewhere / "data" / "docs.jsonl", make_docs(2))
    assert load_config(project / "run.yaml").source.data_files == "data/docs.jsonl"  # here wins
