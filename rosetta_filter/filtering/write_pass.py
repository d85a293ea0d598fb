"""The write pass: re-read one work unit's records beside its attributes, apply the selection rule
and write the kept (and optionally rejected) documents as shards, checkpointed. In
attributes-only mode it writes (id, score, tokens, kept) per record in input order instead,
without reading the source again."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from rosetta_filter.config import RunConfig
from rosetta_filter.errors import ShardError
from rosetta_filter.filtering.checkpoint import StageState, checkpoint, load_state
from rosetta_filter.filtering.progress import NullProgress, Progress
from rosetta_filter.filtering.score_pass import checkpoint_every, set_columns
from rosetta_filter.filtering.selection import MixtureRule, SelectionRule
from rosetta_filter.filtering.shards import (
    ShardInfo,
    make_writer,
    read_shard_rows,
    remove_orphans,
)
from rosetta_filter.filtering.sources import Source
from rosetta_filter.filtering.units import WHOLE_SOURCE, WorkUnit

STAGE = "write"
KEPT_DIR, REJECTED_DIR = "data", "rejected"

OUTPUT_ATTRIBUTE_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("score", pa.float64()),
        ("n_tokens", pa.int64()),
        ("total_tokens", pa.int64()),
        ("kept", pa.bool_()),
        ("skip_reason", pa.string()),
    ]
)


def document_schema(keep_fields: bool, set_scores: list[str] = ()) -> pa.Schema:
    fields = [("id", pa.string()), ("text", pa.string()), ("score", pa.float64())]
    fields += [(column, pa.float64()) for column in set_scores]
    if keep_fields:  # the source's other fields, as one JSON object (schemas vary by record)
        fields.append(("metadata", pa.string()))
    return pa.schema(fields)


def output_schema(cfg: RunConfig) -> pa.Schema:
    """The schema of the run's output shards: documents, or attributes only; a tagged
    domain's score per ``score__{domain}`` column, and the mixture ``bucket`` kept in."""
    set_scores = set_columns(cfg)
    if cfg.output.attributes_only:
        schema = OUTPUT_ATTRIBUTE_SCHEMA
        for column in set_scores:
            schema = schema.insert(2, pa.field(column, pa.float64()))
    else:
        schema = document_schema(cfg.output.keep_fields, set_scores)
    if cfg.selection.mixture is not None:
        schema = schema.insert(3, pa.field("bucket", pa.string()))
    return schema


def iter_attributes(run_dir: Path, shards: list[ShardInfo], start: int) -> Iterator[dict]:
    """Attribute rows of one unit in input order, from record ``start`` on."""
    seen = 0
    for shard in shards:
        if seen + shard.rows <= start:
            seen += shard.rows
            continue
        for row in read_shard_rows(run_dir, shard):
            if seen >= start:
                yield row
            seen += 1


def write_unit(
    cfg: RunConfig,
    rule: SelectionRule | MixtureRule,
    attribute_shards: list[ShardInfo],
    run_dir: Path,
    unit: WorkUnit = WHOLE_SOURCE,
    progress: Progress | None = None,
) -> StageState:
    """Write ``unit``'s kept (and rejected) documents, resuming from its checkpoint."""
    progress = progress or NullProgress()
    state = load_state(run_dir, STAGE, unit.id)
    if state.complete:
        return state
    out = cfg.output
    keep = {s.path for s in state.shards}
    for subdir in (KEPT_DIR, REJECTED_DIR):
        remove_orphans(run_dir, subdir, unit.id, keep)
    schema = output_schema(cfg)
    set_scores = set_columns(cfg)
    mixture = cfg.selection.mixture is not None
    writers = {
        subdir: make_writer(
            out.format,
            run_dir,
            subdir,
            schema,
            unit=unit.id,
            seq=state.seqs.get(subdir, 0),
            max_rows=out.shard_max_rows,
            max_bytes=out.shard_max_bytes,
            compression=out.compression,
        )
        for subdir in ((KEPT_DIR, REJECTED_DIR) if out.write_rejected else (KEPT_DIR,))
    }
    writers[KEPT_DIR].published.extend(s for s in state.shards if s.path.startswith(KEPT_DIR))
    if REJECTED_DIR in writers:
        writers[REJECTED_DIR].published.extend(
            s for s in state.shards if s.path.startswith(REJECTED_DIR)
        )
    every = checkpoint_every(cfg)
    attributes = iter_attributes(run_dir, attribute_shards, state.records_done)
    if out.attributes_only:
        records: Iterator[Any] = (None for _ in iter(int, 1))
    else:
        records = Source(cfg.source, unit).records(state.source_state, state.records_done, every)
    stats = state.stats
    progress.start("write", sum(s.rows for s in attribute_shards), state.records_done)
    started = time.perf_counter()
    for attr, record in zip(attributes, records, strict=False):
        if record is not None and (record.index != attr["index"] or record.id != attr["id"]):
            raise ShardError(
                f"record {record.index} ({record.id!r}) does not match its score "
                f"({attr['index']}, {attr['id']!r}): the source changed since the score pass; "
                "re-run into a new output.dir",
                field="source",
            )
        kept, bucket = rule.decide(attr, unit.id)
        if attr["score"] is not None:
            stats.kept += kept
            stats.dropped += not kept
            stats.tokens_kept += attr["total_tokens"] if kept else 0
            if bucket is not None:
                stats.bucket_docs[bucket] += 1
                stats.bucket_tokens[bucket] += attr["total_tokens"]
        if out.attributes_only:
            row = {**{k: attr[k] for k in schema.names if k in attr}, "kept": kept}
            writers[KEPT_DIR].write(row | ({"bucket": bucket} if mixture else {}))
        elif attr["score"] is not None and (kept or out.write_rejected):
            row = {"id": record.id, "text": record.text, "score": attr["score"]}
            row |= {column: attr.get(column) for column in set_scores}
            if mixture:
                row["bucket"] = bucket
            if out.keep_fields:
                row["metadata"] = json.dumps(record.fields, ensure_ascii=False, default=str)
            writers[KEPT_DIR if kept else REJECTED_DIR].write(row)
        progress.advance(1, attr["n_tokens"], int(kept))
        done = attr["index"] + 1
        if done % every == 0:
            position = None if record is None else record.position
            checkpoint(run_dir, STAGE, unit.id, state, writers, done, position)
    stats.write_seconds += time.perf_counter() - started
    checkpoint(
        run_dir,
        STAGE,
        unit.id,
        state,
        writers,
        state.records_done,
        state.source_state,
        complete=True,
    )
    progress.finish()
    return state
