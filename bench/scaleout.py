"""Scale-out of `rosetta-filter run` over work units: N local rank processes vs 1, and a
simulated cluster (many Ray actors over many files) that shows the driver's memory stays flat.

A stub scorer that costs ~0 (a checksum per document) makes reading, scoring bookkeeping and
writing what is measured: the I/O ceiling a model-bound run never reaches. With ``--model``,
the same comparison runs with the real model (its torch threads split between the ranks).
Every variant runs the full pipeline (plan units, score pass, selection, write pass, manifest)
into a fresh directory; variants alternate over rounds and the medians are compared.

    python -m bench.scaleout --docs 40000 --files 8 --rounds 3
    python -m bench.scaleout --docs 40000 --files 8 --rounds 1 --ray-actors 8 --model smollm2-135m
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import tempfile
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from bench.common import default_bank, median, rotated
from rosetta_filter.config import validate_config
from rosetta_filter.filtering.pipeline import run
from rosetta_filter.scoring.document import ScoredDoc

WORDS = (
    "data model token layer neuron filter corpus shard record budget score rank unit file "
    "parquet row group stream actor driver memory cluster python rust legal math prose"
).split()


SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string())])


class StubScorer:
    """A scorer that costs ~0: a checksum as the score, four characters per token."""

    def describe(self) -> dict[str, Any]:
        return {"model": None, "neurons": None, "scorer": {"name": "stub (crc32)"}}

    def score(self, texts: Iterable[Any]) -> Iterator[ScoredDoc]:
        for index, text in enumerate(texts):
            if text is None:
                yield ScoredDoc(index, None, skip_reason="invalid")
            else:
                tokens = max(1, len(text) // 4)
                yield ScoredDoc(index, zlib.crc32(text.encode()) / 2**32, tokens, tokens)


def write_corpus(
    folder: Path, docs: int, files: int, row_group: int, seed: int = 0, letters: bool = False
) -> int:
    """``docs`` documents of 200-3,000 characters over ``files`` parquet files, written one row
    group at a time (a multi-GB file never sits in memory); returns bytes. Documents are words
    of a small vocabulary (parquet compresses them ~3x), or with ``letters`` random letters and
    spaces, which barely compress, so a file's size on disk is about its text."""
    rng = random.Random(seed)
    alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz     ", dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    per_file = -(-docs // files)
    for f in range(files):
        first, end = f * per_file, min(docs, (f + 1) * per_file)
        with pq.ParquetWriter(folder / f"part-{f:04d}.parquet", SCHEMA) as writer:
            for start in range(first, end, row_group):
                rows = []
                for i in range(start, min(end, start + row_group)):
                    length = rng.randint(200, 3000)
                    if letters:
                        codes = np.random.default_rng([seed, i]).integers(0, 31, length)
                        text = alphabet[codes].tobytes().decode()
                    else:
                        text = " ".join(rng.choices(WORDS, k=length // 5))[:length]
                    rows.append({"id": f"d{i:08d}", "text": text})
                writer.write_table(pa.Table.from_pylist(rows, schema=SCHEMA))
    return sum(p.stat().st_size for p in folder.iterdir())


def config(data: Path, out: Path, *, model: str | None, **runtime: Any) -> dict[str, Any]:
    return {
        "source": {"data_files": str(data), "id_field": "id"},
        "model": {"name": model or "unused", "dtype": "auto"},
        "neurons": {"domain": "code", "bank": default_bank()} if model else {"explicit": ["L0.N0"]},
        "scoring": {"max_tokens": 256},
        "selection": {"keep_fraction": 0.1},
        "output": {"dir": str(out)},
        "runtime": {"checkpoint_docs": 2048, **runtime},
    }


class PeakRss:
    """This process's peak resident memory while the block runs (sampled every 20 ms)."""

    def __enter__(self) -> PeakRss:
        self.process, self.peak, self.stop = psutil.Process(), 0, threading.Event()
        self.base = self.process.memory_info().rss
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / 2**20


def timed_run(cfg: dict[str, Any], scorer: Any) -> tuple[float, int]:
    out = Path(cfg["output"]["dir"])
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    result = run(validate_config(cfg), scorer=scorer)
    return time.perf_counter() - start, result.stats.seen


def kept_digest(run_dir: Path) -> str:
    """sha256 of the sorted kept ids: equal digests mean the same kept set, however the
    shards were partitioned."""
    ids = sorted(
        i
        for path in (run_dir / "data").glob("*.parquet")
        for i in pq.read_table(path)["id"].to_pylist()
    )
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def local_ranks(
    data: Path, work: Path, rounds: int, ranks: list[int], model: str | None, unit_bytes: int
) -> dict[str, Any]:
    """docs/s of the full pipeline for each rank count, alternating over rounds."""
    names = [str(r) for r in ranks]
    walls: dict[str, list[float]] = {n: [] for n in names}
    digests: dict[str, str] = {}
    docs = 0
    scorer = None if model else StubScorer()
    cores = os.cpu_count() or 1
    for round_no in range(rounds):
        for name in rotated(names, round_no):
            r = int(name)
            threads = max(1, cores // r) if model else 1
            cfg = config(data, work / f"ranks-{name}", model=model, ranks=r, unit_bytes=unit_bytes)
            cfg["model"]["threads"] = threads
            wall, docs = timed_run(cfg, scorer)
            walls[name].append(wall)
            digests[name] = kept_digest(work / f"ranks-{name}")
            print(f"  round {round_no} ranks {r}: {docs / wall:,.0f} docs/s ({wall:.1f} s)")
    rates = {n: docs / median(w) for n, w in walls.items()}
    manifest = json.loads((work / f"ranks-{names[-1]}" / "manifest.json").read_text())
    return {
        "docs": docs,
        "units": len(manifest["units"]),
        "input_files": len({p["file"] for u in manifest["units"] for p in u["pieces"] or []}),
        "kept_ids_sha256": digests,
        "docs_per_s": rates,
        "speedup_vs_1": {n: rates[n] / rates[names[0]] for n in names},
    }


def ray_driver_memory(
    work: Path, docs: int, files: int, actors: int, unit_bytes: int, select_rows: int
) -> dict[str, Any]:
    """Driver peak RSS growth for a corpus and one 4x larger (4x the files), many actors.
    ``select_rows`` (``runtime.select_rows``) below the smaller corpus makes both cut their
    selection in passes, as a corpus beyond the default 2**20 documents would."""
    import ray

    ray.init(num_cpus=actors, include_dashboard=False, log_to_driver=False)
    try:
        out = {}
        for scale in (1, 4):
            data = work / f"ray-corpus-{scale}x"
            size = write_corpus(data, docs * scale, files * scale, row_group=1000, seed=scale)
            cfg = config(
                data,
                work / f"ray-{scale}x",
                model=None,
                executor="ray",
                ray_actors=actors,
                unit_bytes=unit_bytes,
                select_rows=select_rows,
            )
            with PeakRss() as rss:
                wall, seen = timed_run(cfg, StubScorer())
            units = len(json.loads((work / f"ray-{scale}x" / "manifest.json").read_text())["units"])
            out[f"{scale}x"] = {
                "docs": seen,
                "input_mb": round(size / 2**20, 1),
                "units": units,
                "docs_per_s": round(seen / wall),
                "driver_peak_growth_mb": round(rss.growth_mb, 1),
            }
            print(f"  ray {scale}x: {out[f'{scale}x']}")
        return out
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=40_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--unit-mb", type=float, default=8.0, help="runtime.unit_bytes in MiB")
    parser.add_argument("--model", default=None, help="also measure the real model (registry)")
    parser.add_argument("--model-docs", type=int, default=256)
    parser.add_argument("--ray-actors", type=int, default=0, help="0: skip the Ray simulation")
    parser.add_argument(
        "--select-rows", type=int, default=1 << 20, help="runtime.select_rows (Ray simulation)"
    )
    parser.add_argument("--letters", action="store_true", help="incompressible random letters")
    parser.add_argument("--row-group", type=int, default=2000, help="rows per parquet row group")
    args = parser.parse_args()
    unit_bytes = int(args.unit_mb * 2**20)
    results: dict[str, Any] = {"cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="scaleout-") as tmp:
        work = Path(tmp)
        size = write_corpus(
            work / "corpus", args.docs, args.files, args.row_group, letters=args.letters
        )
        print(f"corpus: {args.docs:,} docs, {args.files} parquet files, {size / 2**20:.1f} MiB")
        print("stub scorer (I/O bound):")
        stub = local_ranks(work / "corpus", work, args.rounds, args.ranks, None, unit_bytes)
        stub["input_mb_per_s_per_rank"] = {
            n: round(rate * size / args.docs / 2**20 / int(n), 1)
            for n, rate in stub["docs_per_s"].items()
        }
        results["stub"] = stub
        if args.model:
            model_data = work / "model-corpus"
            write_corpus(model_data, args.model_docs, max(args.ranks) * 2, row_group=16)
            print(f"{args.model} ({args.model_docs} docs):")
            results["model"] = local_ranks(
                model_data, work, args.rounds, args.ranks, args.model, unit_bytes=1
            )
        if args.ray_actors:
            print(f"Ray, {args.ray_actors} actors on a local cluster:")
            results["ray"] = ray_driver_memory(
                work, args.docs // 4, args.files * 2, args.ray_actors, unit_bytes, args.select_rows
            )
    print(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    main()
