"""The score pass: stream one work unit's records through the scorer and write attribute shards
(``attributes/``: index, id, score, tokens, skip reason) in input order, checkpointed per unit.

This is the expensive pass and the only one that runs the model; selection and the write pass
read its attributes.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from rosetta_filter.config import RunConfig
from rosetta_filter.filtering.checkpoint import StageState, checkpoint, load_state
from rosetta_filter.filtering.progress import NullProgress, Progress
from rosetta_filter.filtering.shards import ParquetShardWriter, remove_orphans
from rosetta_filter.filtering.sources import Source, SourceRecord
from rosetta_filter.filtering.units import WHOLE_SOURCE, WorkUnit
from rosetta_filter.scoring.document import DocumentScorer

log = logging.getLogger(__name__)

STAGE = "score"
ATTRIBUTES_DIR = "attributes"
ATTRIBUTE_SCHEMA = pa.schema(
    [
        ("index", pa.int64()),
        ("id", pa.string()),
        ("score", pa.float64()),
        ("n_tokens", pa.int64()),
        ("total_tokens", pa.int64()),
        ("truncated", pa.bool_()),
        ("skip_reason", pa.string()),
    ]
)
SET_SCORE_PREFIX = "score__"


def set_columns(cfg: RunConfig) -> list[str]:
    """The per-set score columns of a run (``neurons.domains`` and ``neurons.sets``):
    ``score__{name}``."""
    return [SET_SCORE_PREFIX + name for name in cfg.neurons.tagged()]


def attribute_schema(cfg: RunConfig) -> pa.Schema:
    """``ATTRIBUTE_SCHEMA`` plus one float column per tagged set, and with ``neurons.cascade``
    whether the full-depth head scored the document (``deferred``)."""
    schema = ATTRIBUTE_SCHEMA
    if cfg.neurons.cascade:
        schema = schema.append(pa.field("deferred", pa.bool_()))
    for column in set_columns(cfg):
        schema = schema.append(pa.field(column, pa.float64()))
    return schema


@dataclass(slots=True)
class AttributeRow:
    """One ``ATTRIBUTE_SCHEMA`` row, with the source position after its record where that
    record ends a checkpoint interval (see :attr:`SourceRecord.position`)."""

    values: dict[str, Any]
    position: dict | None = None


def checkpoint_every(cfg: RunConfig) -> int:
    """Checkpoint spacing rounded up to whole read-ahead chunks (see ``checkpoint.py``)."""
    chunk = cfg.runtime.batching.lookahead_docs
    return -(-cfg.runtime.checkpoint_docs // chunk) * chunk


def score_unit(
    cfg: RunConfig,
    scorer: DocumentScorer,
    run_dir: Path,
    unit: WorkUnit = WHOLE_SOURCE,
    progress: Progress | None = None,
) -> StageState:
    """Score every record of ``unit`` (resuming from its checkpoint) and return its state."""
    state = load_state(run_dir, STAGE, unit.id)
    if state.complete:
        return state
    source = Source(cfg.source, unit)
    records = source.records(state.source_state, state.records_done, checkpoint_every(cfg))
    rows = score_records(scorer, records)
    return write_attributes(
        cfg, run_dir, state, rows, unit=unit.id, total=source.estimated_total(), progress=progress
    )


def score_records(
    scorer: DocumentScorer, records: Iterable[SourceRecord]
) -> Iterator[AttributeRow]:
    """One attribute row per record, in order: the per-batch function
    both executors run. Records that start at a multiple of ``runtime.lookahead_docs`` form
    the same engine chunks, hence bit-identical scores, wherever they are scored."""
    pending: collections.deque[SourceRecord] = collections.deque()

    def texts() -> Iterator[object]:
        for record in records:
            pending.append(record)
            yield record.text if record.problem is None else None

    for doc in scorer.score(texts()):
        record = pending.popleft()
        reason = record.problem or doc.skip_reason
        values = {
            "index": record.index,
            "id": record.id,
            "score": doc.score if reason is None else None,
            "n_tokens": doc.n_tokens,
            "total_tokens": doc.total_tokens,
            "truncated": doc.truncated,
            "skip_reason": reason,
            "deferred": doc.deferred,  # written where the schema has it (a cascade's run)
        }
        for name, score in (doc.scores or {}).items():
            values[SET_SCORE_PREFIX + name] = score if reason is None else None
        yield AttributeRow(values, record.position)


def write_attributes(
    cfg: RunConfig,
    run_dir: Path,
    state: StageState,
    rows: Iterable[AttributeRow],
    *,
    unit: int = 0,
    total: int | None = None,
    progress: Progress | None = None,
) -> StageState:
    """Account for and write attribute rows (input order, from ``state.records_done`` on) as
    checkpointed shards; the row that ends a checkpoint interval carries the source position."""
    progress = progress or NullProgress()
    removed = remove_orphans(run_dir, ATTRIBUTES_DIR, unit, {s.path for s in state.shards})
    if removed or state.records_done:
        log.info(
            "resuming score pass at record %d (removed %d partial shards)",
            state.records_done,
            len(removed),
        )
    every = checkpoint_every(cfg)
    writer = ParquetShardWriter(
        run_dir,
        ATTRIBUTES_DIR,
        attribute_schema(cfg),
        unit=unit,
        seq=state.seqs.get(ATTRIBUTES_DIR, 0),
        max_rows=1 << 40,
        max_bytes=1 << 60,  # attribute shards close at checkpoints only
    )
    writer.published.extend(state.shards)
    stats = state.stats
    progress.start("score", total, state.records_done)
    started = time.perf_counter()
    writers = {ATTRIBUTES_DIR: writer}
    for attribute in rows:
        row = attribute.values
        reason = row["skip_reason"]
        stats.seen += 1
        if reason is None:
            stats.scored += 1
            stats.tokens_scored += row["n_tokens"]
            stats.tokens_in += row["total_tokens"]
            stats.truncated += row["truncated"]
            stats.deferred += row["deferred"]
        else:
            stats.invalid[reason] += 1
        writer.write(row)
        progress.advance(1, row["n_tokens"])
        done = row["index"] + 1
        if done % every == 0:
            stats.score_seconds += time.perf_counter() - started
            started = time.perf_counter()
            if attribute.position is None:  # a producer bug, never a user's: fail loudly
                raise RuntimeError(f"row {done - 1} ends a checkpoint but has no position")
            checkpoint(run_dir, STAGE, unit, state, writers, done, attribute.position)
    stats.score_seconds += time.perf_counter() - started
    checkpoint(run_dir, STAGE, unit, state, writers, stats.seen, state.source_state, complete=True)
    progress.finish()
    return state
