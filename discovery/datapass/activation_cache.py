"""Activation caches: one model's span activations on disk, written in chunks, read in batches.

Discovery reads every span's activations several times (moments, candidates, exact values), and
~33k spans x 46k neurons do not fit in memory in fp32 (DESIGN.md: 24 GiB ran out). A cache is a
raw row-major float16 file (``<name>.bin``, spans x columns) plus ``<name>.json`` holding the
row count, dtype and the model's :class:`ColumnLayout`. The JSON is written last, on
:meth:`ActivationCacheWriter.close`, so a half-written cache cannot be opened. Reads go through
``np.memmap``: a batch of rows is a view, and slicing its columns touches only those pages.

Public API::

    with ActivationCacheWriter(path, layout, model="smollm") as writer:
        writer.append(span_acts)             # (n_spans_in_chunk, layout.n_columns), any float
    cache = ActivationCache.open(path)
    cache.array                              # (n_rows, n_columns) read-only float16 memmap
    source = paired_source(cache_x, cache_y, batch_size=1024)   # -> correlation's SpanSource
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

import numpy as np
import torch

from discovery.datapass.layout import ColumnLayout
from discovery.errors import DiscoveryError

CacheDtype = Literal["float16", "float32"]
SpanBatch = tuple[np.ndarray, np.ndarray]
_FORMAT_VERSION = 1
_FLOAT16_MAX = float(np.finfo(np.float16).max)


def _paths(path: str | Path) -> tuple[Path, Path]:
    """``<base>.bin`` and ``<base>.json``; suffixes are appended, not replaced, so model ids
    with dots ("Qwen2.5-Coder-0.5B") keep distinct names. ``path`` may name either file."""
    base = Path(path)
    if base.suffix in (".bin", ".json"):
        base = base.with_suffix("")
    return base.parent / f"{base.name}.bin", base.parent / f"{base.name}.json"


class ActivationCacheWriter:
    """Appends span activation rows to a cache file; :meth:`close` makes it readable."""

    def __init__(
        self,
        path: str | Path,
        layout: ColumnLayout,
        model: str = "",
        dtype: CacheDtype = "float16",
    ) -> None:
        self.data_path, self.meta_path = _paths(path)
        self.layout, self.model, self.dtype = layout, model, np.dtype(dtype)
        self.n_rows = 0
        self.meta_path.unlink(missing_ok=True)
        self.data_path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.data_path, "wb")  # noqa: SIM115 - closed in close()

    def append(self, rows: np.ndarray | torch.Tensor) -> None:
        if isinstance(rows, torch.Tensor):
            rows = rows.detach().to("cpu", torch.float32).numpy()
        rows = np.asarray(rows)
        if rows.ndim != 2 or rows.shape[1] != self.layout.n_columns:
            raise DiscoveryError(
                f"cache {self.data_path.name} holds rows of {self.layout.n_columns} columns, "
                f"got shape {rows.shape}",
                field="rows",
                value=rows.shape,
            )
        if self.dtype == np.float16 and rows.size and np.abs(rows).max() > _FLOAT16_MAX:
            raise DiscoveryError(
                f"activations of {self.model or 'the model'} exceed the float16 range "
                f"(max |x| = {float(np.abs(rows).max()):.4g}): write this cache with "
                "dtype='float32'",
                field="dtype",
                value="float16",
            )
        self._file.write(np.ascontiguousarray(rows, dtype=self.dtype).tobytes())
        self.n_rows += rows.shape[0]

    def close(self) -> ActivationCache:
        self._file.close()
        meta = {
            "format_version": _FORMAT_VERSION,
            "model": self.model,
            "n_rows": self.n_rows,
            "dtype": self.dtype.name,
            "layer_sizes": list(self.layout.layer_sizes),
        }
        self.meta_path.write_text(json.dumps(meta, indent=1))
        return ActivationCache.open(self.data_path)

    def __enter__(self) -> ActivationCacheWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType
    ) -> None:
        if exc_type is None:
            self.close()
        else:  # leave no file that looks complete
            self._file.close()


@dataclass(frozen=True)
class ActivationCache:
    """A finished cache: (n_rows, n_columns) activations of one model, memory-mapped."""

    data_path: Path
    model: str
    layout: ColumnLayout
    array: np.ndarray  # (n_rows, n_columns) read-only np.memmap

    @classmethod
    def open(cls, path: str | Path) -> ActivationCache:
        data_path, meta_path = _paths(path)
        if not meta_path.exists() or not data_path.exists():
            raise DiscoveryError(
                f"no finished activation cache at {data_path} (missing {meta_path.name}): "
                "the writer was not closed; re-run the activation pass",
                field="path",
                value=str(path),
            )
        meta = json.loads(meta_path.read_text())
        layout = ColumnLayout.of(meta["layer_sizes"])
        shape = (int(meta["n_rows"]), layout.n_columns)
        if shape[0] == 0:
            array = np.zeros(shape, dtype=meta["dtype"])
        else:
            array = np.memmap(data_path, dtype=meta["dtype"], mode="r", shape=shape)
        return cls(data_path, meta["model"], layout, array)

    @property
    def n_rows(self) -> int:
        return int(self.array.shape[0])

    def batches(self, batch_size: int, rows: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """Consecutive row batches (views); with ``rows``, those rows in that order (copies)."""
        if rows is None:
            for r0 in range(0, self.n_rows, batch_size):
                yield self.array[r0 : r0 + batch_size]
        else:
            for r0 in range(0, len(rows), batch_size):
                yield self.array[np.asarray(rows[r0 : r0 + batch_size])]


def paired_source(
    x: ActivationCache,
    y: ActivationCache,
    batch_size: int = 1024,
    y_rows: np.ndarray | None = None,
) -> Callable[[], Iterable[SpanBatch]]:
    """A re-iterable source of (X_batch, Y_batch) span batches for correlation.

    ``y_rows`` (a permutation of the span ids) pairs span i of x with span ``y_rows[i]`` of y:
    the shuffled-span null baseline.
    """
    if x.n_rows != y.n_rows:
        raise DiscoveryError(
            f"caches {x.data_path.name} ({x.n_rows} spans) and {y.data_path.name} "
            f"({y.n_rows} spans) do not hold the same spans: write both from one span alignment",
            field="n_rows",
            value=(x.n_rows, y.n_rows),
        )
    if y_rows is not None and not np.array_equal(np.sort(y_rows), np.arange(y.n_rows)):
        raise DiscoveryError(
            "y_rows must be a permutation of the span ids", field="y_rows", value=len(y_rows)
        )

    def batches() -> Iterator[SpanBatch]:
        yield from zip(x.batches(batch_size), y.batches(batch_size, y_rows), strict=True)

    return batches
