"""Activation caches: chunked float16 writes, bounded batch reads, correlation from disk."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from discovery.correlate.correlation import correlate_exhaustive
from discovery.datapass.activation_cache import (
    ActivationCache,
    ActivationCacheWriter,
    paired_source,
)
from discovery.datapass.layout import ColumnLayout
from discovery.errors import DiscoveryError


def _write(path, rows, layout, chunk=37, dtype="float16"):
    with ActivationCacheWriter(path, layout, model="m", dtype=dtype) as writer:
        for r0 in range(0, len(rows), chunk):
            writer.append(rows[r0 : r0 + chunk])
    return ActivationCache.open(path)


def test_chunks_round_trip_through_float16_memmap(tmp_path):
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((250, 12)).astype(np.float32)
    layout = ColumnLayout.of([5, 7])
    cache = _write(tmp_path / "acts", torch.from_numpy(rows), layout)
    assert isinstance(cache.array, np.memmap) and cache.array.dtype == np.float16
    assert cache.n_rows == 250 and cache.layout == layout and cache.model == "m"
    np.testing.assert_array_equal(cache.array, rows.astype(np.float16))
    batches = list(cache.batches(100))
    assert [len(b) for b in batches] == [100, 100, 50]
    order = rng.permutation(250)
    np.testing.assert_array_equal(
        np.concatenate(list(cache.batches(64, order))), cache.array[order]
    )
    meta = json.loads((tmp_path / "acts.json").read_text())
    assert meta["n_rows"] == 250 and meta["layer_sizes"] == [5, 7]


def test_correlation_from_caches_equals_dense(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 10)).astype(np.float32)
    y = (x[:, ::-1][:, :8] + 0.5 * rng.standard_normal((300, 8))).astype(np.float32)
    cx = _write(tmp_path / "x", x, ColumnLayout.of([10]))
    cy = _write(tmp_path / "y", y, ColumnLayout.of([4, 4]), dtype="float32")
    result = correlate_exhaustive(paired_source(cx, cy, batch_size=64), k=1)
    x16 = x.astype(np.float16).astype(np.float64)
    r = np.corrcoef(x16.T, y.astype(np.float64).T)[:10, 10:]
    np.testing.assert_array_equal(result.partner_top.indices[:, 0], np.arange(9, 1, -1))
    np.testing.assert_allclose(result.partner_top.values[:, 0], r.max(0), atol=1e-5)


def test_dotted_model_names_get_distinct_files(tmp_path):
    layout = ColumnLayout.of([2])
    small = _write(tmp_path / "Qwen2.5-Coder-0.5B", np.zeros((3, 2)), layout)
    large = _write(tmp_path / "Qwen2.5-Coder-1.5B", np.ones((4, 2)), layout)
    assert small.data_path.name == "Qwen2.5-Coder-0.5B.bin"
    assert (small.n_rows, large.n_rows) == (3, 4)
    assert ActivationCache.open(large.data_path).n_rows == 4


def test_unfinished_cache_cannot_be_opened(tmp_path):
    layout = ColumnLayout.of([4])
    with pytest.raises(RuntimeError), ActivationCacheWriter(tmp_path / "c", layout) as writer:
        writer.append(np.ones((3, 4)))
        raise RuntimeError("activation pass died")
    with pytest.raises(DiscoveryError, match="writer was not closed"):
        ActivationCache.open(tmp_path / "c")


def test_float16_overflow_and_wrong_width_are_rejected(tmp_path):
    writer = ActivationCacheWriter(tmp_path / "c", ColumnLayout.of([2]))
    with pytest.raises(DiscoveryError, match="dtype='float32'"):
        writer.append(np.array([[1.0, 1e6]]))
    with pytest.raises(DiscoveryError, match="rows of 2 columns"):
        writer.append(np.ones((1, 3)))
    writer.close()


def test_paired_caches_must_hold_the_same_spans(tmp_path):
    a = _write(tmp_path / "a", np.ones((5, 2)), ColumnLayout.of([2]))
    b = _write(tmp_path / "b", np.ones((6, 2)), ColumnLayout.of([2]))
    with pytest.raises(DiscoveryError, match="do not hold the same spans"):
        paired_source(a, b)
    with pytest.raises(DiscoveryError, match="permutation"):
        paired_source(a, a, y_rows=np.array([0, 0, 1, 2, 3]))
