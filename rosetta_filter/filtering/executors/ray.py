"""The Ray executor: the score pass on Ray Data (read -> ``map_batches`` over a pool of stateful
scorer actors), with the same records, scores, shards and checkpoints as the local executor.

Records come from :class:`~rosetta_filter.filtering.sources.Source`, the one reader, in a single
read task that runs on the driver's node, so ids, skip reasons and input order are the local ones.
One Ray row is one read-ahead chunk of ``runtime.lookahead_docs`` records: Ray may split or bundle
blocks as it likes, yet an actor always scores whole chunks that start at multiples of the read-
ahead, which is exactly how the local engine forms its batches, so the scores are bit-identical.
Actors return scored chunks in any order; the driver puts them back in input order and writes
attribute shards and checkpoints through the same
:func:`~rosetta_filter.filtering.score_pass.write_attributes` as the local pass. A killed run
resumes from the last checkpoint (every ``runtime.checkpoint_docs`` records) with either executor.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import ray
from ray.data import ActorPoolStrategy, Datasource, ReadTask
from ray.data.block import BlockMetadata

from rosetta_filter.config import ModelConfig, RunConfig
from rosetta_filter.errors import ConfigError, RosettaError, ShardError
from rosetta_filter.files import write_json_atomic
from rosetta_filter.filtering.checkpoint import StageState, load_state
from rosetta_filter.filtering.executors import ScorePassResult, description_path
from rosetta_filter.filtering.progress import Progress
from rosetta_filter.filtering.score_pass import (
    STAGE,
    AttributeRow,
    attribute_schema,
    checkpoint_every,
    score_records,
    write_attributes,
)
from rosetta_filter.filtering.sources import Source, SourceRecord
from rosetta_filter.scoring.scorer import Scorer

log = logging.getLogger(__name__)

CHUNK_SCHEMA = pa.schema(
    [
        ("start", pa.int64()),  # index of the chunk's first record
        ("index", pa.list_(pa.int64())),
        ("id", pa.list_(pa.string())),
        ("text", pa.list_(pa.large_string())),  # null where ``problem`` is set
        ("problem", pa.list_(pa.string())),
        ("source_state", pa.string()),  # JSON position after the chunk, at checkpoints only
    ]
)


def scored_chunk_schema(attributes: pa.Schema) -> pa.Schema:
    """A scored chunk: its start, one list per attribute column, position and description."""
    return pa.schema(
        [("start", pa.int64())]
        + [(f.name, pa.list_(f.type)) for f in attributes]
        + [("source_state", pa.string()), ("described", pa.string())]
    )


def actor_resources(model: ModelConfig, cluster_gpus: float) -> dict[str, float]:
    """Ray resources of one scorer actor: one GPU when the model may run on one and the cluster
    has any, else one CPU per torch thread (``model.threads``, default 1)."""
    if model.device == "cuda" and cluster_gpus == 0:
        raise ConfigError(
            "model.device=cuda but the Ray cluster has no GPU: add GPU nodes, or set "
            "model.device=auto (GPUs when present) or cpu",
            field="model.device",
            value="cuda",
        )
    if model.device != "cpu" and cluster_gpus > 0:
        return {"num_cpus": 1, "num_gpus": 1}
    return {"num_cpus": model.threads or 1, "num_gpus": 0}


@contextlib.contextmanager
def ray_session(address: str | None) -> Iterator[None]:
    """Use the Ray this process is already connected to, or connect to ``address`` (None: the
    cluster named by RAY_ADDRESS, else a new local one) and disconnect afterwards."""
    if ray.is_initialized():
        if address:
            log.info("Ray is already initialised here; runtime.ray_address=%s is not used", address)
        yield
        return
    try:
        ray.init(address=address)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"cannot connect to Ray at {address or 'RAY_ADDRESS / a new local cluster'}: {exc}. "
            "Give runtime.ray_address as ray://host:10001, host:6379 or auto (a running "
            "cluster), or leave it unset to start a local Ray",
            field="runtime.ray_address",
            value=address,
        ) from exc
    try:
        yield
    finally:
        ray.shutdown()


class SourceDatasource(Datasource):
    """Our :class:`Source` as one Ray Data read task yielding read-ahead chunks, from a saved
    position on. One task, because ids and order are those of a single stream."""

    def __init__(self, cfg: RunConfig, state: StageState) -> None:
        super().__init__()
        self.cfg, self.state = cfg, state
        Source(cfg.source)  # fail here, in the driver, on a missing file or unknown format

    @property
    def supports_distributed_reads(self) -> bool:
        # Run the read on the driver's node: the source then only needs to be readable where
        # `rosetta-filter run` runs, as it must be anyway for the write pass.
        return False

    def estimate_inmemory_data_size(self) -> int | None:
        return None

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
    ) -> list[ReadTask]:
        cfg, state = self.cfg, self.state
        metadata = BlockMetadata(num_rows=None, size_bytes=None, input_files=None, exec_stats=None)
        return [ReadTask(lambda: read_chunks(cfg, state), metadata, schema=CHUNK_SCHEMA)]


def read_chunks(cfg: RunConfig, state: StageState) -> Iterator[pa.Table]:
    """One block per checkpoint interval, one row per read-ahead chunk."""
    every, size = checkpoint_every(cfg), cfg.runtime.batching.lookahead_docs
    records = Source(cfg.source).records(state.source_state, state.records_done, every)
    rows = []
    while chunk := list(islice(records, size)):
        end = chunk[-1].index + 1
        position = chunk[-1].position  # present exactly when ``end`` is a checkpoint
        rows.append(
            {
                "start": chunk[0].index,
                "index": [r.index for r in chunk],
                "id": [r.id for r in chunk],
                "text": [r.text if r.problem is None else None for r in chunk],
                "problem": [r.problem for r in chunk],
                "source_state": None if position is None else json.dumps(position),
            }
        )
        if end % every == 0:
            yield pa.Table.from_pylist(rows, schema=CHUNK_SCHEMA)
            rows = []
    if rows:
        yield pa.Table.from_pylist(rows, schema=CHUNK_SCHEMA)


class ScorerActor:
    """Loads the model once per actor and scores batches of chunks with the local per-batch
    function."""

    def __init__(self, cfg: RunConfig) -> None:
        self.error: RosettaError | None = None
        self.attributes = attribute_schema(cfg)
        try:
            self.scorer = Scorer.from_config(
                cfg.model, cfg.neurons, cfg.scoring, cfg.runtime.batching
            )
        except RosettaError as exc:
            # Ray reports an actor that fails to start without its exception (and retries
            # it); raised from a call instead, it reaches the driver as itself.
            self.error = exc
            return
        self.described = json.dumps(self.scorer.describe())

    def __call__(self, batch: pa.Table) -> pa.Table:
        if self.error is not None:
            raise self.error
        # Only the stream's last chunk is short: sorted, every chunk but possibly the last is
        # full, so the engine's read-ahead chunks coincide with ours.
        chunks = sorted(batch.to_pylist(), key=lambda c: c["start"])
        records = (
            SourceRecord(index, rid, text, problem=problem)
            for c in chunks
            for index, rid, text, problem in zip(
                c["index"], c["id"], c["text"], c["problem"], strict=True
            )
        )
        rows = [row.values for row in score_records(self.scorer, records)]
        scored, at = [], 0
        for c in chunks:
            part, at = rows[at : at + len(c["index"])], at + len(c["index"])
            scored.append(
                {
                    "start": c["start"],
                    **{name: [r.get(name) for r in part] for name in self.attributes.names},
                    "source_state": c["source_state"],
                    "described": self.described,
                }
            )
        return pa.Table.from_pylist(scored, schema=scored_chunk_schema(self.attributes))


def in_order(chunks: Iterable[dict[str, Any]], start: int) -> Iterator[dict[str, Any]]:
    """Scored chunks in input order (from record ``start``), whatever order they arrive in."""
    waiting: dict[int, dict[str, Any]] = {}
    expected = start
    for chunk in chunks:
        waiting[chunk["start"]] = chunk
        while expected in waiting:
            chunk = waiting.pop(expected)
            yield chunk
            expected += len(chunk["index"])
    if waiting:
        raise ShardError(
            f"Ray returned scored chunks {sorted(waiting)[:5]} but never the one at record "
            f"{expected}: the run cannot be completed in order; run it again to resume",
            field="runtime.executor",
            value="ray",
        )


def scoring_dataset(cfg: RunConfig, state: StageState) -> ray.data.Dataset:
    """Source chunks from ``state`` on -> a fixed pool of scorer actors -> scored chunks."""
    resources = actor_resources(cfg.model, ray.cluster_resources().get("GPU", 0))
    log.info("scoring on Ray: %d actors with %s each", cfg.runtime.ray_actors, resources)
    dataset = ray.data.read_datasource(
        SourceDatasource(cfg, state),
        override_num_blocks=1,
        num_cpus=0,  # one light streaming read: the CPUs are left to the scorer actors
    ).map_batches(
        ScorerActor,
        fn_constructor_kwargs={"cfg": cfg},
        batch_size=checkpoint_every(cfg) // cfg.runtime.batching.lookahead_docs,  # in chunks
        batch_format="pyarrow",
        compute=ActorPoolStrategy(size=cfg.runtime.ray_actors),
        **resources,
    )
    context = dataset.context  # this dataset's own copy
    context.enable_progress_bars = False  # the driver reports progress through `Progress`
    # One chunk per block instead of the read's output merged up to 128 MiB, so work reaches
    # every actor as soon as a checkpoint interval has been read.
    context.target_max_block_size = 1
    context.raise_original_map_exception = True  # an actor's RosettaError reaches the driver
    return dataset


def attribute_rows(
    chunks: Iterable[dict[str, Any]], start: int, description: Path, names: list[str]
) -> Iterator[AttributeRow]:
    """Attribute rows in input order from scored chunks in any order; a chunk's last row
    carries the chunk's checkpoint position. Writes the actors' model description at
    ``description`` once."""
    for chunk in in_order(chunks, start):
        if not description.exists():
            write_json_atomic(description, json.loads(chunk["described"]))
        columns = [chunk[name] for name in names]
        rows = [dict(zip(names, v, strict=True)) for v in zip(*columns, strict=True)]
        for row in rows[:-1]:
            yield AttributeRow(row)
        if rows:
            position = chunk["source_state"]
            yield AttributeRow(rows[-1], None if position is None else json.loads(position))


def score_on_ray(cfg: RunConfig, run_dir: Path, progress: Progress) -> ScorePassResult:
    """Run (or resume) the score pass of ``cfg`` on Ray. The model description for the
    manifest comes from the actors: the driver never loads the model."""
    description = description_path(run_dir)
    state = load_state(run_dir, STAGE, 0)
    if not state.complete:
        with ray_session(cfg.runtime.ray_address):
            dataset = scoring_dataset(cfg, state)
            batches = iter(dataset.iter_batches(batch_size=None, batch_format="pyarrow"))
            chunks = (chunk for table in batches for chunk in table.to_pylist())
            rows = attribute_rows(
                chunks, state.records_done, description, attribute_schema(cfg).names
            )
            try:
                state = write_attributes(cfg, run_dir, state, rows, progress=progress)
            except ray.exceptions.RayTaskError as exc:
                if isinstance(exc.cause, RosettaError):
                    raise exc.cause from None
                raise
            finally:
                batches.close()  # stop the pipeline and its actors now, also after a failure
    described = json.loads(description.read_text()) if description.exists() else None
    return ScorePassResult(state, described)
