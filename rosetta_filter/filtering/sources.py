"""The one place that reads documents: Hugging Face ``datasets`` with ``streaming=True`` over
a hub id, a local dataset directory, or local files (jsonl, json, parquet, txt; globs and
directories).

Records that cannot be scored are not errors: each is yielded with a ``problem`` (a skip reason
counted in the stats). JSON Lines are read line by line through the ``text`` builder and
parsed here, so one malformed line is a counted ``decode_error`` instead of a crashed run.
The stream's position can be saved and restored (``datasets`` state dicts), which is how a
killed run resumes inside a file rather than from its start.
"""

from __future__ import annotations

import codecs
import copy
import glob
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rosetta_filter.activations.tokenize import text_problem
from rosetta_filter.config import SourceConfig
from rosetta_filter.errors import SourceError
from rosetta_filter.filtering.units import WHOLE_SOURCE, Piece, WorkUnit

log = logging.getLogger(__name__)

SKIP_MISSING_FIELD = "missing_field"
SKIP_DECODE_ERROR = "decode_error"
SKIP_TOO_LONG = "too_long"
SKIP_INVALID_FIELD = "invalid_field"  # an id or kept field that no UTF-8 shard can hold
_BOM = "\ufeff"
# Bytes that are not UTF-8 are decoded as this noncharacter (never in real text, and, unlike a
# lone surrogate, storable by pyarrow inside ``datasets``), so their lines are decode errors.
_BAD_BYTES_MARK = "\U0010fffe"
_BAD_BYTES_HANDLER = "rosetta_filter.mark_bad_bytes"
codecs.register_error(
    _BAD_BYTES_HANDLER, lambda err: (_BAD_BYTES_MARK * (err.end - err.start), err.end)
)

_FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".txt": "text",
    ".text": "text",
}
_COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst")
COUNT_LINES_MAX_BYTES = 1 << 30


@dataclass(slots=True)
class SourceRecord:
    index: int  # position in this work unit's stream
    id: str
    text: Any  # raw value; ``problem`` or :func:`text_problem` says if it is usable
    fields: dict[str, Any] = field(default_factory=dict)  # the record's other fields
    problem: str | None = None
    # The stream position after this record, on records that end a checkpoint interval
    # (``index + 1`` a multiple of ``snapshot_every``): resuming from it yields record index + 1.
    position: dict | None = None


def expand_files(patterns: str | list[str]) -> list[str]:
    """Files named by paths, directories (recursively) and globs, sorted, each once."""
    files: list[str] = []
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        path = Path(pattern).expanduser()
        if path.is_dir():
            found = [str(p) for p in sorted(path.rglob("*")) if p.is_file() and _fmt_of(p)]
        else:
            found = sorted(glob.glob(str(path), recursive=True))
        if not found:
            raise SourceError(
                f"source.data_files: {pattern!r} matches no file",
                field="source.data_files",
                value=pattern,
            )
        files.extend(found)
    return list(dict.fromkeys(files))


def _count_lines(path: Path) -> int:
    """Records of a JSON Lines file: its lines, counting a last line without a newline."""
    count, last = 0, b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _fmt_of(path: Path) -> str | None:
    suffixes = path.suffixes
    if suffixes and suffixes[-1] in _COMPRESSIONS:
        suffixes = suffixes[:-1]
    return _FORMATS.get(suffixes[-1]) if suffixes else None


def detect_format(files: list[str], fmt: str) -> str:
    if fmt != "auto":
        return fmt
    kinds = {_fmt_of(Path(f)) for f in files}
    if None in kinds or len(kinds) != 1:
        raise SourceError(
            f"cannot tell one format from the extensions of {files[:5]}: set source.format "
            "(jsonl, json, parquet or text) and give files of one format",
            field="source.format",
        )
    return kinds.pop()


class ParquetRows:
    """The rows of parquet pieces (whole files or row groups), read with pyarrow one record
    batch at a time, with a position (rows read) that a resume skips to without decoding the
    row groups before it."""

    def __init__(self, pieces: tuple[Piece, ...], batch_rows: int = 1024) -> None:
        self.pieces, self.batch_rows = pieces, batch_rows
        self.done = 0  # rows yielded (or skipped) so far

    def state_dict(self) -> dict:
        return {"parquet_rows": self.done}

    def load_state_dict(self, state: dict) -> None:
        self.done = state["parquet_rows"]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        import pyarrow.parquet as pq

        skip = self.done
        for piece in self.pieces:
            file = pq.ParquetFile(piece.file)
            groups = piece.row_groups or tuple(range(file.metadata.num_row_groups))
            for group in groups:
                rows = file.metadata.row_group(group).num_rows
                if skip >= rows:  # before the resume position: not even decoded
                    skip -= rows
                    continue
                for batch in file.iter_batches(self.batch_rows, row_groups=[group]):
                    if skip >= batch.num_rows:
                        skip -= batch.num_rows
                        continue
                    for row in batch.slice(skip).to_pylist():
                        self.done += 1
                        yield row
                    skip = 0


class Source:
    """A re-openable stream of :class:`SourceRecord` over one work unit (default: the whole
    source as one stream); indexes count from 0 within the unit."""

    def __init__(self, cfg: SourceConfig, unit: WorkUnit = WHOLE_SOURCE) -> None:
        self.cfg, self.unit = cfg, unit
        if unit.pieces is not None:
            self.files = unit.files
        else:
            self.files = expand_files(cfg.data_files) if cfg.data_files is not None else None
        self.format = detect_format(self.files, cfg.format) if self.files else None

    def describe(self) -> dict[str, Any]:
        if self.files is not None:
            return {"files": self.files, "format": self.format}
        return {
            "dataset": self.cfg.dataset,
            "subset": self.cfg.subset,
            "split": self.cfg.split,
            "revision": self.cfg.revision,
        }

    def estimated_total(self) -> int | None:
        """Records this source will yield when that is cheap to know (progress ETA): parquet
        footers, or newline counts of uncompressed JSON Lines up to 1 GiB; else ``limit``."""
        total = None
        if self.files is not None:
            if self.format == "parquet":
                total = sum(p.rows or 0 for p in self._parquet_pieces())
            elif (
                self.format == "jsonl"
                and all(
                    Path(f).suffix == ".jsonl" or Path(f).suffix == ".ndjson" for f in self.files
                )
                and sum(Path(f).stat().st_size for f in self.files) <= COUNT_LINES_MAX_BYTES
            ):
                total = sum(_count_lines(Path(f)) for f in self.files)
        if self.cfg.limit is not None:
            total = self.cfg.limit if total is None else min(total, self.cfg.limit)
        return total

    def _open(self):
        from datasets import load_dataset

        cfg = self.cfg
        if self.format == "parquet":
            return ParquetRows(self._parquet_pieces())
        try:
            if self.files is not None:
                builder = {"jsonl": "text", "text": "text"}.get(self.format, self.format)
                kwargs: dict[str, Any] = {}
                if self.format == "jsonl":
                    # An undecodable byte becomes a mark no JSON line holds: exactly the
                    # lines holding one are counted as decode_error.
                    kwargs = {"sample_by": "line", "encoding_errors": _BAD_BYTES_HANDLER}
                elif self.format == "text":  # one file = one document; bad bytes -> U+FFFD
                    kwargs = {"sample_by": "document", "encoding_errors": "replace"}
                ds = load_dataset(
                    builder, data_files=self.files, split="train", streaming=True, **kwargs
                )
            else:
                ds = load_dataset(
                    cfg.dataset,
                    name=cfg.subset,
                    split=cfg.split,
                    revision=cfg.revision,
                    streaming=True,
                )
        except Exception as exc:  # datasets raises many types; name the source and the fix
            raise SourceError(
                f"cannot open source {self.describe()}: {exc}. For offline use give "
                "source.data_files (local files) or a local dataset directory",
                field="source",
            ) from exc
        return ds

    def _parquet_pieces(self) -> tuple[Piece, ...]:
        """This unit's parquet pieces; for the whole source, every row group of every file."""
        if self.unit.pieces is not None:
            return self.unit.pieces
        import pyarrow.parquet as pq

        return tuple(Piece(f, None, pq.ParquetFile(f).metadata.num_rows) for f in self.files)

    def records(
        self,
        state: dict | None = None,
        start_index: int = 0,
        snapshot_every: int = 0,
    ) -> Iterator[SourceRecord]:
        """Yield records from ``state`` (a saved position whose next record has index
        ``start_index``). With ``snapshot_every``, every record that ends a multiple of it
        carries the stream position after itself (``SourceRecord.position``), so a consumer
        checkpoints with the record in hand: no side channel to keep in step."""
        ds = self._open()
        if state is not None:
            ds.load_state_dict(state)
        index = start_index
        for raw in self._read(ds):
            if self.cfg.limit is not None and index >= self.cfg.limit:
                return
            record = self._record(index, raw)
            index += 1
            if snapshot_every and index % snapshot_every == 0:  # the state points past ``raw``
                record.position = copy.deepcopy(ds.state_dict())
            yield record

    def _read(self, ds: Any) -> Iterator[dict[str, Any]]:
        """The dataset's rows; a damaged file (truncated gzip, corrupt parquet) fails the run
        with the file named: its records cannot be counted, and silently losing part of a
        corpus is worse than stopping. Fix or remove the file and run again to resume."""
        rows = iter(ds)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except Exception as exc:  # gzip, zstd, pyarrow and datasets raise many types
                broken = self._first_unreadable_file()
                where = f"file {broken}" if broken else f"source {self.describe()}"
                cause = f"{type(exc).__name__}: {str(exc).rstrip('.')}"
                raise SourceError(
                    f"cannot read {where}: {cause}. The file looks damaged (truncated download "
                    "or copy?): repair or remove it, then run the same command again to resume",
                    field="source.data_files",
                    value=broken,
                ) from exc
            yield row

    def _first_unreadable_file(self) -> str | None:
        """The first source file that cannot be read to its end (checked only after a read
        failed, so the cost of reading every file again is paid only then)."""
        for name in self.files or []:
            try:
                if self.format == "parquet":
                    import pyarrow.parquet as pq

                    for _ in pq.ParquetFile(name).iter_batches(batch_size=1 << 16):
                        pass
                else:
                    import fsspec

                    with fsspec.open(name, "rb", compression="infer") as fh:
                        while fh.read(1 << 24):
                            pass
            except Exception:  # any failure names this file
                return name
        return None

    def _record(self, index: int, raw: dict[str, Any]) -> SourceRecord:
        if self.format == "jsonl":
            line = raw["text"].removeprefix(_BOM)  # a BOM opens some files' first line
            try:
                if _BAD_BYTES_MARK in line:
                    raise ValueError("bytes that are not UTF-8")
                raw = json.loads(line)
            except (ValueError, RecursionError):  # malformed, huge numbers, nesting too deep
                return SourceRecord(
                    index, self._derived_id(index, line), None, problem=SKIP_DECODE_ERROR
                )
            if not isinstance(raw, dict):
                return SourceRecord(
                    index, self._derived_id(index, line), None, problem=SKIP_DECODE_ERROR
                )
        text_field, id_field = self.cfg.text_field, self.cfg.id_field
        text = raw.get(text_field)
        fields = {k: v for k, v in raw.items() if k not in (text_field, id_field)}
        rid = raw.get(id_field) if id_field else None
        rid = str(rid) if rid is not None else self._derived_id(index, text)
        if not _writable(rid, fields):  # pyarrow would refuse the row: skip it, counted
            return SourceRecord(
                index, self._derived_id(index, text), None, problem=SKIP_INVALID_FIELD
            )
        if text_field not in raw:
            return SourceRecord(index, rid, None, fields, problem=SKIP_MISSING_FIELD)
        problem = text_problem(text)
        if problem is None and len(text) > self.cfg.max_chars:
            problem = SKIP_TOO_LONG
        return SourceRecord(index, rid, text, fields, problem=problem)

    def _derived_id(self, index: int, text: Any) -> str:
        """A stable id: stream position (rank-qualified) plus a short content hash."""
        payload = text if isinstance(text, str) else repr(text)
        digest = hashlib.sha1(payload.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        prefix = f"u{self.unit.id:05d}-" if self.unit.of > 1 else ""
        return f"{prefix}{index:010d}-{digest}"


def _writable(rid: str, fields: dict[str, Any]) -> bool:
    """Whether the id and the other fields survive UTF-8 (as shards store them): a lone
    surrogate anywhere would crash the write pass on this record, after the whole score pass."""
    try:
        rid.encode("utf-8")
        json.dumps(fields, ensure_ascii=False, default=str).encode("utf-8")
    except (UnicodeEncodeError, ValueError, RecursionError):
        return False
    return True
