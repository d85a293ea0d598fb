"""Work units: the pieces of a source that ranks read, score and write independently.

A run's input is cut into units by file and, for parquet, by row group, so one huge parquet file
still spreads over many ranks (datatrove and NeMo Curator split by file only). Consecutive
pieces are packed into one unit until it holds ``runtime.unit_bytes``, so a corpus of many small
files does not become as many tiny shards. The plan depends only on the files and
``unit_bytes``, never on how many ranks or actors run it: every record has the global position
``(unit, index within unit)``, which is the order of a single stream over the sorted files, so
selection ties, checkpoints, shard names and ids are the same for 1 rank, N local ranks or M Ray
actors. Units are scheduled dynamically (the next free rank takes the next unit), which balances
uneven units without changing any result.

A source that cannot be split this way (a Hugging Face dataset id or directory, or a run with
``source.limit``, which means "the first N records in order") is one unit.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rosetta_filter.config import SourceConfig
from rosetta_filter.errors import ShardError
from rosetta_filter.files import write_json_atomic


@dataclass(frozen=True, slots=True)
class Piece:
    """A whole file, or the listed row groups of one parquet file."""

    file: str
    row_groups: tuple[int, ...] | None = None
    rows: int | None = None  # known for parquet pieces (footer metadata)


@dataclass(frozen=True, slots=True)
class WorkUnit:
    """Unit ``id`` of a plan of ``of`` units: its pieces in input order (None: the whole
    source, as one stream) and their size in bytes (parquet: uncompressed row-group bytes)."""

    id: int
    of: int
    pieces: tuple[Piece, ...] | None
    bytes: int = 0

    @property
    def files(self) -> list[str] | None:
        return None if self.pieces is None else list(dict.fromkeys(p.file for p in self.pieces))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkUnit:
        pieces = data["pieces"]
        return cls(
            data["id"],
            data["of"],
            None
            if pieces is None
            else tuple(
                Piece(
                    p["file"],
                    None if p["row_groups"] is None else tuple(p["row_groups"]),
                    p["rows"],
                )
                for p in pieces
            ),
            data["bytes"],
        )


WHOLE_SOURCE = WorkUnit(0, 1, None)


def _file_pieces(files: list[str], fmt: str) -> list[tuple[Piece, int]]:
    """Each file as one piece, or each parquet row group as one, with its size in bytes."""
    if fmt != "parquet":
        return [(Piece(f), Path(f).stat().st_size) for f in files]
    import pyarrow.parquet as pq

    pieces = []
    for f in files:
        meta = pq.ParquetFile(f).metadata
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            pieces.append((Piece(f, (g,), group.num_rows), group.total_byte_size))
    return pieces


def plan_units(source: SourceConfig, unit_bytes: int) -> list[WorkUnit]:
    """Cut the source into units of about ``unit_bytes`` (at least one piece each)."""
    from rosetta_filter.filtering.sources import detect_format, expand_files

    if source.data_files is None or source.limit is not None:
        return [WHOLE_SOURCE]
    files = expand_files(source.data_files)
    groups: list[list[tuple[Piece, int]]] = [[]]
    for piece, size in _file_pieces(files, detect_format(files, source.format)):
        current = groups[-1]
        if current and sum(s for _, s in current) + size > unit_bytes:
            groups.append(current := [])
        current.append((piece, size))
    return [
        WorkUnit(i, len(groups), _merge(p for p, _ in group), sum(s for _, s in group))
        for i, group in enumerate(groups)
    ]


def _merge(pieces) -> tuple[Piece, ...]:
    """Consecutive row groups of one parquet file as one piece (fewer file opens)."""
    merged: list[Piece] = []
    for piece in pieces:
        last = merged[-1] if merged else None
        if last is not None and piece.row_groups and last.row_groups and last.file == piece.file:
            merged[-1] = Piece(
                last.file, last.row_groups + piece.row_groups, (last.rows or 0) + (piece.rows or 0)
            )
        else:
            merged.append(piece)
    return tuple(merged)


def units_path(run_dir: Path) -> Path:
    from rosetta_filter.filtering.run_dir import STATE_DIR

    return run_dir / STATE_DIR / "units.json"


def claim_units(run_dir: Path, source: SourceConfig, unit_bytes: int) -> list[WorkUnit]:
    """The run's unit plan: made and saved on the first attempt, and on a resume checked against
    the files as they are now (a changed input would mix two corpora in one run)."""
    planned = plan_units(source, unit_bytes)
    path = units_path(run_dir)
    if path.exists():
        saved = [WorkUnit.from_dict(u) for u in json.loads(path.read_text())["units"]]
        if saved != planned:
            raise ShardError(
                f"the source files changed since this run started in {run_dir} (its work units "
                "differ): restore them, or run into a new output.dir (or --overwrite)",
                field="source.data_files",
            )
        return saved
    write_json_atomic(path, {"units": [u.to_dict() for u in planned]})
    return planned
