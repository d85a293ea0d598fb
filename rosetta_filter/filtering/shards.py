"""The one place that writes shards. A writer owns naming (``{unit:05d}_{seq:05d}.ext``),
rotation at a row or byte cap, atomic publication (temp name, fsync, rename) and the
per-shard sha256; the format subclasses only turn buffered rows into bytes.

Resume support: :meth:`ShardWriter.flush` closes the open shard at a checkpoint, and
:func:`remove_orphans` deletes shards published after the last checkpoint of a killed run.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rosetta_filter.errors import ShardError
from rosetta_filter.files import write_bytes_atomic


@dataclass(frozen=True, slots=True)
class ShardInfo:
    path: str  # relative to the run directory
    rows: int
    bytes: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ShardWriter(ABC):
    extension: str

    def __init__(
        self,
        run_dir: Path,
        subdir: str,
        schema: pa.Schema,
        *,
        unit: int = 0,
        seq: int = 0,
        max_rows: int = 50_000,
        max_bytes: int = 256 << 20,
    ) -> None:
        self.run_dir, self.subdir, self.schema = run_dir, subdir, schema
        self.unit, self.seq = unit, seq
        self.max_rows, self.max_bytes = max_rows, max_bytes
        self.rows: list[dict[str, Any]] = []
        self.buffered_bytes = 0
        self.published: list[ShardInfo] = []
        (run_dir / subdir).mkdir(parents=True, exist_ok=True)

    def write(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        text = row.get("text")
        self.buffered_bytes += (
            len(text.encode("utf-8", "surrogatepass")) if isinstance(text, str) else 16
        )
        if len(self.rows) >= self.max_rows or self.buffered_bytes >= self.max_bytes:
            self.flush()

    def flush(self) -> ShardInfo | None:
        """Publish the buffered rows as one shard (nothing when empty)."""
        if not self.rows:
            return None
        name = f"{self.unit:05d}_{self.seq:05d}.{self.extension}"
        data = self.encode(self.rows)
        write_bytes_atomic(self.run_dir / self.subdir / name, data)
        info = ShardInfo(
            f"{self.subdir}/{name}", len(self.rows), len(data), hashlib.sha256(data).hexdigest()
        )
        self.published.append(info)
        self.seq += 1
        self.rows, self.buffered_bytes = [], 0
        return info

    @abstractmethod
    def encode(self, rows: list[dict[str, Any]]) -> bytes: ...


class ParquetShardWriter(ShardWriter):
    extension = "parquet"

    def __init__(self, *args: Any, compression: str = "zstd", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.compression = None if compression == "none" else compression

    def encode(self, rows: list[dict[str, Any]]) -> bytes:
        table = pa.Table.from_pylist(rows, schema=self.schema)
        sink = io.BytesIO()
        pq.write_table(table, sink, compression=self.compression)
        return sink.getvalue()


class JsonlGzShardWriter(ShardWriter):
    extension = "jsonl.gz"

    def encode(self, rows: list[dict[str, Any]]) -> bytes:
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        # mtime=0: identical rows give identical bytes, so resumed runs hash the same.
        return gzip.compress(lines.encode("utf-8", "surrogatepass"), mtime=0)


def make_writer(
    fmt: str, run_dir: Path, subdir: str, schema: pa.Schema, **kwargs: Any
) -> ShardWriter:
    if fmt == "parquet":
        return ParquetShardWriter(run_dir, subdir, schema, **kwargs)
    kwargs.pop("compression", None)
    if fmt == "jsonl.gz":
        return JsonlGzShardWriter(run_dir, subdir, schema, **kwargs)
    raise ShardError(f"unknown shard format {fmt!r}", field="output.format", value=fmt)


def remove_orphans(run_dir: Path, subdir: str, unit: int, keep: set[str]) -> list[str]:
    """Delete this unit's shards in ``subdir`` not listed in ``keep`` (paths relative to
    ``run_dir``) and its leftover temp files: the tail of a unit killed after its last
    checkpoint. Other units' files are never touched: they may be being written right now."""
    removed = []
    folder = run_dir / subdir
    if not folder.is_dir():
        return removed
    prefix = f"{unit:05d}_"
    for path in sorted(folder.iterdir()):
        rel = f"{subdir}/{path.name}"
        is_tmp = path.name.startswith(f".{prefix}") and path.name.endswith(".tmp")
        if is_tmp or (path.name.startswith(prefix) and rel not in keep):
            path.unlink()
            removed.append(rel)
    return removed


def read_shard_rows(run_dir: Path, info: ShardInfo | dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of one published shard, checking its sha256 first."""
    meta = info if isinstance(info, dict) else info.to_dict()
    data = (run_dir / meta["path"]).read_bytes()
    if hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise ShardError(
            f"shard {meta['path']} does not match its recorded sha256: the run directory was "
            "modified; delete it and run again",
            field="output.dir",
        )
    if meta["path"].endswith(".parquet"):
        return pq.read_table(io.BytesIO(data)).to_pylist()
    return [json.loads(line) for line in gzip.decompress(data).decode().splitlines()]
