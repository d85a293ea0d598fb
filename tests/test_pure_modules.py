"""Direct tests of the pure modules (no model): pooling, packing and selection.

End-to-end tests cover them too; these pin the contracts the rest builds on, each against a
reference written the slow, obvious way.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rosetta_filter.activations.batching import pack
from rosetta_filter.activations.pooling import POOLING_METHODS, pool
from rosetta_filter.activations.tokenize import Window
from rosetta_filter.config import BatchingConfig, SelectionConfig
from rosetta_filter.filtering.selection import build_rule


@pytest.mark.parametrize("method", POOLING_METHODS)
def test_pooling_ignores_padding_and_matches_a_loop(method):
    gen = torch.Generator().manual_seed(0)
    acts = torch.randn(3, 7, 4, generator=gen)
    lengths = [7, 3, 0]
    mask = torch.arange(7)[None, :] < torch.tensor(lengths)[:, None]
    pooled = pool(acts, mask, method, top_k=2, threshold=0.1)
    noisy = acts.masked_fill(~mask.unsqueeze(-1), 1e6)  # padding must never leak in
    assert torch.allclose(pool(noisy, mask, method, top_k=2, threshold=0.1), pooled)
    for row, n in enumerate(lengths):
        x = acts[row, :n]
        if n == 0:
            expected = torch.zeros(4)
        elif method == "mean":
            expected = x.mean(0)
        elif method == "max":
            expected = x.amax(0)
        elif method == "frac_active":
            expected = (x > 0.1).float().mean(0)
        else:
            expected = x.topk(min(2, n), dim=0).values.mean(0)
        assert torch.allclose(pooled[row], expected, atol=1e-6), (method, row)


def test_packing_respects_the_budget_and_loses_no_window():
    windows = [
        Window(i, 0, list(range(n)), [(0, 1)] * n, 0) for i, n in enumerate([5, 30, 9, 9, 2])
    ]
    cfg = BatchingConfig(batch_tokens=32, max_batch_docs=3)
    batches = list(pack(windows, cfg))
    assert sorted(w.doc for b in batches for w in b) == [0, 1, 2, 3, 4]
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or len(batch) * max(len(w.ids) for w in batch) <= 32
    assert len(batches[0][0].ids) == 30  # longest first


@pytest.mark.parametrize("fraction", [0.1, 0.5, 1.0])
def test_keep_fraction_rule_keeps_the_exact_top_with_ties_by_position(fraction):
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, 40).astype(np.float64)  # many ties
    ranks, indexes = np.zeros(40, np.int64), np.arange(40)
    rule = build_rule(SelectionConfig(keep_fraction=fraction), scores, ranks, indexes, indexes)
    kept = [i for i in range(40) if rule.keeps(scores[i], 0, i)]
    expected = sorted(range(40), key=lambda i: (-scores[i], i))[: int(fraction * 40 + 0.5)]
    assert kept == sorted(expected)


def test_token_budget_rule_keeps_the_longest_prefix_that_fits():
    scores = np.array([3.0, 2.0, 1.0, 0.0])
    tokens = np.array([10, 10, 5, 1])
    idx = np.arange(4)
    rule = build_rule(SelectionConfig(token_budget=24), scores, idx * 0, idx, tokens)
    assert [rule.keeps(s, 0, i) for i, s in enumerate(scores)] == [True, True, False, False]
    empty = build_rule(SelectionConfig(token_budget=5), scores, idx * 0, idx, tokens)
    assert empty.n_keep == 0 and not empty.keeps(3.0, 0, 0)


def test_sub_configs_are_held_and_their_keys_may_be_written_flat():
    from rosetta_filter.config import RuntimeConfig, ScoringConfig, validate_config
    from rosetta_filter.errors import ConfigError

    flat = ScoringConfig.model_validate({"max_tokens": 64, "pooling": "max"})
    nested = ScoringConfig.model_validate({"tokens": {"max_tokens": 64}, "pooling": "max"})
    assert flat == nested and flat.tokens.max_tokens == 64
    assert RuntimeConfig(batch_tokens=256).batching.batch_tokens == 256
    with pytest.raises(ConfigError, match="given both flat and under tokens"):
        validate_config({"tokens": {"max_tokens": 8}, "max_tokens": 9}, ScoringConfig)
    with pytest.raises(ConfigError, match="max_tokens"):
        validate_config({"max_tokens": 1}, ScoringConfig)  # the sub-config's own checks apply


def test_shard_writers_cap_rows_check_hashes_and_drop_orphans(tmp_path):
    import pyarrow as pa

    from rosetta_filter.errors import ShardError
    from rosetta_filter.filtering.shards import make_writer, read_shard_rows, remove_orphans

    schema = pa.schema([("id", pa.string()), ("text", pa.string())])
    for fmt in ("parquet", "jsonl.gz"):
        writer = make_writer(fmt, tmp_path, fmt, schema, max_rows=3)
        rows = [{"id": str(i), "text": "t" * i} for i in range(7)]
        for row in rows:
            writer.write(row)
        writer.flush()
        assert [s.rows for s in writer.published] == [3, 3, 1]
        assert [r for s in writer.published for r in read_shard_rows(tmp_path, s)] == rows
    first = writer.published[0]
    (tmp_path / first.path).write_bytes(b"tampered")
    with pytest.raises(ShardError, match="sha256"):
        read_shard_rows(tmp_path, first)
    (tmp_path / "parquet" / ".00000_00009.parquet.x.tmp").write_bytes(b"")
    removed = remove_orphans(tmp_path, "parquet", 0, {"parquet/00000_00000.parquet"})
    assert sorted(removed) == [
        "parquet/.00000_00009.parquet.x.tmp",
        "parquet/00000_00001.parquet",
        "parquet/00000_00002.parquet",
    ]


def test_a_checkpoint_lists_only_published_shards_and_round_trips(tmp_path):
    import pyarrow as pa

    from rosetta_filter.filtering.checkpoint import StageState, checkpoint, load_state
    from rosetta_filter.filtering.shards import make_writer

    writer = make_writer("parquet", tmp_path, "data", pa.schema([("id", pa.string())]))
    writer.write({"id": "a"})  # buffered: the checkpoint must publish it first
    state = StageState()
    checkpoint(tmp_path, "score", 0, state, {"data": writer}, 1, {"file": 0, "offset": 9})
    loaded = load_state(tmp_path, "score", 0)
    assert loaded.records_done == 1 and loaded.source_state == {"file": 0, "offset": 9}
    assert [s.path for s in loaded.shards] == ["data/00000_00000.parquet"]
    assert (tmp_path / loaded.shards[0].path).exists() and loaded.seqs == {"data": 1}
    assert load_state(tmp_path, "write", 0) == StageState()  # nothing saved: a fresh start


def test_the_tokenizer_truncates_or_windows_long_documents(tiny_model_dir):
    from transformers import AutoTokenizer

    from rosetta_filter.activations.tokenize import TextTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir("llama"))
    text = " ".join(["the cat sat on the mat"] * 20)
    cut = TextTokenizer(tokenizer, max_tokens=16).encode([text])[0]
    whole = TextTokenizer(tokenizer, max_tokens=16, long_docs="windows").encode([text])[0]
    assert cut.truncated and len(cut.windows) == 1 and cut.total_tokens == whole.total_tokens
    assert not whole.truncated and whole.n_tokens == whole.total_tokens > 16
    assert all(len(w.ids) <= 16 for w in whole.windows)
    assert [w.part for w in whole.windows] == list(range(len(whole.windows)))
    ends = [w.offsets[-1][1] for w in whole.windows]  # windows walk forward through the text
    assert ends == sorted(ends) and ends[-1] == len(text)
