"""Hostile records never crash a run, every record is accounted for, and a run over them that
is killed with SIGKILL resumes to the identical shards; damaged files fail naming the file."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_pipeline import WORDS, base_config
from test_resume import _output, assert_resumes_identically

from rosetta_filter.config import validate_config
from rosetta_filter.errors import SourceError
from rosetta_filter.filtering.pipeline import run

# Lines that are not a JSON object at all, or not UTF-8, or too deep or too big to parse.
# (No raw line-break characters such as \r or U+2028: the reader splits lines on them too.)
RAW_LINES = [
    b"\xff\xfe\x00garbage",
    b'{"id": "u", "text": "unterminated',
    b'{"id": "b", "text": "a \\\xff b"}',
    b"\xef\xbb\xbf" + json.dumps({"id": "bom", "text": "the cat x"}).encode(),
    b'{"id": "deep", "text": "ok", "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    b'{"id": "num", "text": "ok", "n": ' + b"9" * 5000 + b"}",
    b"[1, 2, 3]",
    b'"just a string"',
    b"null",
    b"{}",
    b'{"text": "\\u0000 nul \\u0000 x"}',
]
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
texts = st.one_of(
    st.lists(st.sampled_from([*WORDS[:12], "x", "é", "字"]), max_size=30).map(" ".join),
    st.text(alphabet=st.one_of(st.characters(), surrogates), max_size=20),
    st.sampled_from(["", "   ", "\n\n"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
records = st.builds(
    lambda rid, text, extra, drop_text: {
        **({"id": rid} if rid is not None else {}),
        **({} if drop_text else {"text": text}),
        **extra,
    },
    st.one_of(st.none(), st.integers(), texts, json_values),
    st.one_of(texts, json_values),
    st.dictionaries(st.sampled_from(["meta", "n", "tags"]), json_values, max_size=2),
    st.booleans(),
)
lines = st.lists(
    st.one_of(records.map(lambda r: json.dumps(r).encode()), st.sampled_from(RAW_LINES)),
    min_size=20,
    max_size=120,
)


def _config(model: Path, data: Path, out: Path) -> dict:
    cfg = base_config(model, data, out, keep_fraction=0.5)
    cfg["source"]["id_field"] = "id"
    cfg["output"].update(write_rejected=True, shard_max_rows=16)
    cfg["runtime"].update(checkpoint_docs=16, lookahead_docs=8)
    return cfg


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(lines)
def test_hostile_records_are_counted_never_fatal(planted_model, tmp_path_factory, batch):
    root = tmp_path_factory.mktemp("hostile")
    data = root / "docs.jsonl"
    data.write_bytes(b"\n".join(batch) + b"\n")
    result = run(validate_config(_config(planted_model, data, root / "run")))
    stats = result.stats.summary()
    assert stats["seen"] == len(batch)
    assert stats["seen"] == stats["scored"] + stats["invalid_total"]
    assert stats["scored"] == stats["kept"] + stats["dropped"]
    rows = sum(pq.read_metadata(root / "run" / s.path).num_rows for s in result.shards)
    assert rows == stats["scored"]  # every scored record is in data/ or rejected/
    assert not list((root / "run").glob(".*.tmp")) and not list((root / "run").rglob("*.tmp"))


def test_a_killed_run_over_hostile_records_resumes_to_identical_shards(planted_model, tmp_path):
    rng = random.Random(3)
    rows = []
    for i in range(400):
        if i % 7 == 0:
            rows.append(RAW_LINES[i % len(RAW_LINES)])
            continue
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 25)))
        record = {"id": f"d{i}", "text": words + (" x" if i % 3 == 0 else ""), "n": i}
        if i % 11 == 0:
            record["id"] = "\ud800"  # a lone surrogate: no shard can hold it
        if i % 13 == 0:
            record["meta"] = "\udc80 bad"
        rows.append(json.dumps(record).encode())
    data = tmp_path / "docs.jsonl"
    data.write_bytes(b"\n".join(rows) + b"\n")

    points = [("score", 16), ("score", 200), ("write", 1), ("write", 300)]
    kills = assert_resumes_identically(
        tmp_path, lambda out: _config(planted_model, data, out), points
    )
    assert kills >= 3
    counts = _output(tmp_path / "reference")[1]
    assert counts["seen"] == 400 and counts["invalid"]["invalid_field"] >= 40


def test_damaged_files_fail_naming_the_file(planted_model, tmp_path):
    whole = gzip.compress(b"".join(b'{"text": "the cat sat x"}\n' for _ in range(3000)))
    good = tmp_path / "a.jsonl.gz"
    good.write_bytes(gzip.compress(b'{"text": "fine"}\n'))
    broken = tmp_path / "b.jsonl.gz"
    broken.write_bytes(whole[: len(whole) // 2])
    cfg = _config(planted_model, tmp_path / "*.jsonl.gz", tmp_path / "run")
    cfg["source"]["id_field"] = None
    with pytest.raises(SourceError, match=r"cannot read file .*b\.jsonl\.gz: EOFError"):
        run(validate_config(cfg))
