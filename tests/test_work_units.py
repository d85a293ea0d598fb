"""Work units and parallel ranks: a source cut by file and parquet row group, read, scored and
written by N rank processes, gives the kept set, scores, shards and stats of one rank; a rank
killed with SIGKILL resumes to the identical result."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from test_pipeline import base_config, kept_ids, make_docs
from test_resume import _output, _start

from rosetta_filter.config import SourceConfig, validate_config
from rosetta_filter.errors import ShardError
from rosetta_filter.filtering.pipeline import run
from rosetta_filter.filtering.sources import ParquetRows, Source
from rosetta_filter.filtering.units import WHOLE_SOURCE, Piece, claim_units, plan_units
from rosetta_filter.scoring.document import ScoredDoc


def write_parquet_corpus(folder: Path, docs: list[dict], files: int, row_group: int) -> Path:
    """``docs`` over ``files`` parquet files of ``row_group``-row groups."""
    folder.mkdir(parents=True, exist_ok=True)
    per_file = -(-len(docs) // files)
    for f in range(files):
        part = docs[f * per_file : (f + 1) * per_file]
        pq.write_table(pa.Table.from_pylist(part), folder / f"part-{f:03d}.parquet", row_group)
    return folder


def test_one_big_parquet_file_spreads_over_units_by_row_group(tmp_path):
    folder = write_parquet_corpus(tmp_path / "big", make_docs(100), files=1, row_group=10)
    source = SourceConfig(data_files=str(folder))
    meta = pq.ParquetFile(folder / "part-000.parquet").metadata
    sizes = [meta.row_group(g).total_byte_size for g in range(meta.num_row_groups)]
    assert [[p.row_groups for p in u.pieces] for u in plan_units(source, 1)] == [
        [(g,)] for g in range(10)
    ]
    units = plan_units(source, unit_bytes=3 * max(sizes))  # consecutive groups share a unit
    assert 3 <= len(units) <= 5 and all(u.of == len(units) for u in units)
    assert all(len(u.pieces) == 1 for u in units)  # one piece: one file opened per unit
    assert [g for u in units for g in u.pieces[0].row_groups] == list(range(10))
    # Read unit by unit, the records are the file's rows in order, each exactly once.
    texts = [r.text for u in units for r in Source(source, u).records()]
    assert texts == [d["text"] for d in make_docs(100)]
    assert sum(Source(source, u).estimated_total() for u in units) == 100
    # One unit when everything fits, as before units existed.
    assert len(plan_units(source, unit_bytes=1 << 30)) == 1


def test_small_files_are_packed_and_unsplittable_sources_are_one_unit(tmp_path):
    for i in range(6):
        (tmp_path / f"f{i}.jsonl").write_text(json.dumps({"text": "a" * 90}) + "\n")
    source = SourceConfig(data_files=str(tmp_path / "*.jsonl"))
    units = plan_units(source, unit_bytes=250)  # ~100 bytes per file: two files per unit
    assert [len(u.files) for u in units] == [2, 2, 2]
    assert [r.id[:6] for u in units for r in Source(source, u).records()][:2] == ["u00000"] * 2
    limited = SourceConfig(data_files=str(tmp_path / "*.jsonl"), limit=3)
    assert plan_units(limited, unit_bytes=250) == [WHOLE_SOURCE]


def test_parquet_rows_resume_from_a_position_without_the_rows_before(tmp_path):
    folder = write_parquet_corpus(tmp_path / "p", make_docs(50), files=2, row_group=7)
    pieces = tuple(Piece(str(f)) for f in sorted(folder.iterdir()))
    rows = ParquetRows(pieces, batch_rows=3)
    everything = list(rows)
    for at in (0, 6, 7, 24, 25, 49, 50):
        resumed = ParquetRows(pieces, batch_rows=3)
        resumed.load_state_dict({"parquet_rows": at})
        assert list(resumed) == everything[at:]


def test_a_changed_source_is_refused_on_resume(tmp_path):
    folder = write_parquet_corpus(tmp_path / "p", make_docs(20), files=2, row_group=5)
    source = SourceConfig(data_files=str(folder))
    claim_units(tmp_path / "run", source, 1)
    write_parquet_corpus(folder, make_docs(30), files=3, row_group=5)
    with pytest.raises(ShardError, match="source files changed"):
        claim_units(tmp_path / "run", source, 1)


def _config(model: Path, data: Path, out: Path, ranks: int, unit_bytes: int) -> dict:
    cfg = base_config(model, data, out, keep_fraction=0.3)
    cfg["output"].update(write_rejected=True, shard_max_rows=7)
    cfg["runtime"].update(ranks=ranks, unit_bytes=unit_bytes)
    return cfg


def _attributes(run_dir: Path) -> dict[str, float]:
    rows = pq.read_table(run_dir / "attributes").to_pylist()
    return {r["id"]: r["score"] for r in rows}


def test_two_ranks_keep_what_one_rank_and_one_unit_keep(planted_model, tmp_path):
    docs = make_docs(180, seed=3)
    data = write_parquet_corpus(tmp_path / "data", docs, files=3, row_group=12)
    group = pq.ParquetFile(data / "part-000.parquet").metadata.row_group(0).total_byte_size
    results = {}
    for name, ranks, unit_bytes in (("one-unit", 1, 1 << 30), ("1", 1, group), ("2", 2, group)):
        cfg = _config(planted_model, data, tmp_path / name, ranks, unit_bytes)
        results[name] = run(validate_config(cfg))
    one_unit, one, two = (results[k].run_dir for k in ("one-unit", "1", "2"))

    manifest = json.loads((two / "manifest.json").read_text())
    assert len(manifest["units"]) == 15  # 3 files x 5 row groups of 12 rows
    expected = kept_ids(one_unit)
    assert len(expected) == 54 and all(int(i[1:]) % 2 == 0 for i in expected)
    assert kept_ids(one) == kept_ids(two) and sorted(kept_ids(two)) == sorted(expected)
    assert _attributes(two) == _attributes(one) == _attributes(one_unit)  # bit-identical
    assert results["2"].rule.cut_score == results["one-unit"].rule.cut_score
    # The same units, whoever ran them: byte-identical shards and identical counts.
    assert _output(two) == _output(one)
    assert _output(two)[1] == _output(one_unit)[1]


def _reference_run_and_config(model: Path, tmp_path: Path, seed: int) -> Path:
    """Two ranks over 10 row-group units: run ``reference`` to the end in a subprocess and
    return the config file of an identical run into ``resumed`` (for the test to interrupt)."""
    docs = make_docs(400, seed=seed)
    data = write_parquet_corpus(tmp_path / "data", docs, files=2, row_group=40)
    group = pq.ParquetFile(data / "part-000.parquet").metadata.row_group(0).total_byte_size

    def config(name: str) -> Path:
        path = tmp_path / f"{name}.yaml"
        cfg = _config(model, data, tmp_path / name, ranks=2, unit_bytes=group)
        cfg["runtime"].update(checkpoint_docs=8)
        path.write_text(yaml.safe_dump(cfg))
        return path

    reference = _start(config("reference"))
    assert reference.wait() == 0, reference.stderr.read().decode()[-2000:]
    return config("resumed")


def _rank_processes(driver: psutil.Process) -> list[psutil.Process]:
    return [c for c in driver.children(recursive=True) if "spawn_main" in " ".join(c.cmdline())]


def test_a_killed_rank_resumes_to_the_identical_result(planted_model, tmp_path):
    resumed = _reference_run_and_config(planted_model, tmp_path, seed=9)
    proc = _start(resumed)
    state_dir = tmp_path / "resumed" / ".state"
    deadline = time.monotonic() + 180
    killed = None
    while killed is None and time.monotonic() < deadline and proc.poll() is None:
        checkpoints = [json.loads(p.read_text()) for p in state_dir.glob("score-*.json")]
        if any(c["records_done"] and not c["complete"] for c in checkpoints):
            ranks = _rank_processes(psutil.Process(proc.pid))
            if ranks:
                killed = ranks[0]
                killed.send_signal(signal.SIGKILL)
        time.sleep(0.01)
    assert killed is not None, "no rank was caught mid-unit"
    assert proc.wait() != 0
    assert "a rank process died" in proc.stderr.read().decode()
    finished = [json.loads(p.read_text())["complete"] for p in state_dir.glob("score-*.json")]
    assert not all(finished) or len(finished) < 10  # the kill left work undone

    final = _start(resumed)
    assert final.wait() == 0, final.stderr.read().decode()[-2000:]
    assert _output(tmp_path / "resumed") == _output(tmp_path / "reference")
    assert kept_ids(tmp_path / "resumed") == kept_ids(tmp_path / "reference")


class TriggerCounter:
    """A scorer without a model (picklable, so it can be shipped to rank processes): the share
    of words that are the trigger word, and one token per word."""

    def describe(self) -> dict:
        return {"model": None, "neurons": None, "scorer": {"name": "trigger-counter"}}

    def score(self, texts):
        for index, text in enumerate(texts):
            if text is None:
                yield ScoredDoc(index, None, skip_reason="invalid")
                continue
            words = text.split()
            yield ScoredDoc(index, words.count("x") / len(words), len(words), len(words))


def test_a_scorer_given_by_the_caller_runs_in_every_rank(tmp_path):
    """... and a driver allowed to sort only 5 scores in memory (``runtime.select_rows``) finds
    the same cut in passes over the attribute shards."""
    docs = make_docs(120, seed=4)
    data = write_parquet_corpus(tmp_path / "data", docs, files=4, row_group=10)
    outputs = {}
    for ranks in (1, 2):
        cfg = _config(Path("unused"), data, tmp_path / f"r{ranks}", ranks, unit_bytes=1)
        cfg["runtime"]["select_rows"] = 5 if ranks == 2 else 1 << 20
        result = run(validate_config(cfg), scorer=TriggerCounter())
        outputs[ranks] = (kept_ids(result.run_dir), _output(result.run_dir))
        manifest = json.loads((result.run_dir / "manifest.json").read_text())
        assert manifest["scorer"] == {"name": "trigger-counter"} and len(manifest["units"]) == 12
    assert outputs[1] == outputs[2]
    assert all(int(i[1:]) % 2 == 0 for i in outputs[2][0]) and len(outputs[2][0]) == 36


def test_a_killed_driver_takes_its_ranks_with_it_and_resumes_identically(planted_model, tmp_path):
    """Ranks orphaned by a killed driver would go on writing into the run directory while a
    resumed run writes the same units: they must die with the driver."""
    resumed = _reference_run_and_config(planted_model, tmp_path, seed=12)
    proc = _start(resumed)
    driver = psutil.Process(proc.pid)
    state_dir = tmp_path / "resumed" / ".state"
    deadline = time.monotonic() + 180
    ranks: list[psutil.Process] = []
    while time.monotonic() < deadline and proc.poll() is None:
        checkpoints = [json.loads(p.read_text()) for p in state_dir.glob("score-*.json")]
        ranks = _rank_processes(driver)
        if ranks and any(c["records_done"] and not c["complete"] for c in checkpoints):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    assert proc.wait() == -signal.SIGKILL and ranks, "the driver was not caught mid-run"

    def files() -> dict[str, int]:
        run_dir = tmp_path / "resumed"
        return {str(p): p.stat().st_mtime_ns for p in run_dir.rglob("*") if p.is_file()}

    at_kill = files()
    _, alive = psutil.wait_procs(ranks, timeout=5)
    assert not alive, f"ranks outlived their driver: {alive}"
    time.sleep(1)
    assert files() == at_kill  # nothing was written after the driver died

    final = _start(resumed)
    assert final.wait() == 0, final.stderr.read().decode()[-2000:]
    assert _output(tmp_path / "resumed") == _output(tmp_path / "reference")
