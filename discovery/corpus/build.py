"""The multi-domain probe corpus: build it deterministically, and load it back.

A probe corpus is the labelled text discovery runs models over to find domain-specialised
Rosetta Neurons. Building it is: gather source texts per domain (``corpus_sources``), cut them
into documents at paragraph/line boundaries, drop duplicates, assign each document a ``split``
("probe" or "heldout") by a seeded hash of its source unit, and take a seeded, subdomain-balanced
sample per domain and split. Same settings and sources give byte-identical files. Held-out
documents never share a source unit with probe documents, so filtering can be evaluated on unseen
text; a mixed-domain demo corpus is drawn from them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from discovery.corpus.chunks import chunk_text
from discovery.corpus.fetch import sources_home
from discovery.corpus.sources import GATHERERS, SourceText, gather_domain, text_fingerprint
from discovery.errors import DiscoveryError
from rosetta_filter.errors import SourceError
from rosetta_filter.files import atomic_path, sha256_file, write_text_atomic

log = logging.getLogger(__name__)

BUILDER_VERSION = "1"
SPLITS = ("probe", "heldout")
CORPUS_FILE, DEMO_FILE, PARQUET_FILE, PROVENANCE_FILE = (
    "corpus.jsonl",
    "demo.jsonl",
    "corpus.parquet",
    "provenance.json",
)


class CorpusConfig(BaseModel):
    """Settings of one probe-corpus build; all of them but ``out_dir`` shape the output bytes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    domains: tuple[str, ...] = Field(tuple(GATHERERS), description="domains to build, in order")
    docs_per_domain: int = Field(80, ge=1, description="probe-split documents per domain")
    heldout_per_domain: int = Field(60, ge=0, description="held-out documents per domain")
    heldout_fraction: float = Field(
        0.3, gt=0, lt=1, description="share of source units (files, licences...) held out"
    )
    min_chars: int = Field(1500, ge=1, description="shorter documents are dropped")
    max_chars: int = Field(4000, ge=200, description="longer texts are cut at paragraphs/lines")
    seed: int = Field(0, description="seed of the split, the sampling and the order")
    demo_docs: int = Field(300, ge=0, description="held-out documents in demo.jsonl (0: none)")
    parquet: bool = Field(False, description="also write corpus.parquet")
    out_dir: Path = Field(Path("out/corpus"), description="where the files are written")

    @field_validator("domains")
    @classmethod
    def _known_domains(cls, domains: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [d for d in domains if d not in GATHERERS]
        if unknown or not domains or len(set(domains)) != len(domains):
            raise ValueError(
                f"corpus.domains={list(domains)}: must be distinct names from {list(GATHERERS)}"
            )
        return domains

    @model_validator(mode="after")
    def _chars_ordered(self) -> CorpusConfig:
        if self.min_chars > self.max_chars:
            raise ValueError(
                f"corpus.min_chars={self.min_chars} exceeds corpus.max_chars={self.max_chars}: "
                "lower min_chars or raise max_chars"
            )
        return self


@dataclass(frozen=True, slots=True)
class ProbeDoc:
    """One labelled document of a probe corpus (also the row layout of ``corpus.jsonl``)."""

    id: str
    text: str
    domain: str
    subdomain: str = ""
    source: str = ""
    split: str = "probe"


@dataclass(frozen=True, slots=True)
class CorpusBuild:
    """Where a build wrote its files, and its provenance record."""

    corpus: Path
    demo: Path | None
    parquet: Path | None
    provenance_path: Path
    provenance: dict[str, Any]


# ---------------------------------------------------------------------------------------------
# split, sampling, order: all by seeded hashes of stable keys, so a document's fate depends on
# its own key and the seed only, never on which other documents exist.
def unit_hash(seed: int, purpose: str, key: str) -> float:
    """A uniform number in [0, 1) from ``(seed, purpose, key)``."""
    digest = hashlib.sha256(f"{seed}\0{purpose}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_split(key: str, seed: int, heldout_fraction: float) -> str:
    return "heldout" if unit_hash(seed, "split", key) < heldout_fraction else "probe"


def _balanced_sample(docs: Sequence[ProbeDoc], n: int, seed: int, by: str) -> list[ProbeDoc]:
    """``n`` docs taken round-robin over the groups of field ``by``, each in seeded order."""
    groups: dict[str, list[ProbeDoc]] = defaultdict(list)
    for doc in docs:
        groups[getattr(doc, by)].append(doc)
    ranked = [
        sorted(groups[name], key=lambda d: unit_hash(seed, "sample", d.id))
        for name in sorted(groups)
    ]
    interleaved = [doc for row in zip_longest(*ranked) for doc in row if doc is not None]
    return interleaved[:n]


def _shuffled(docs: Sequence[ProbeDoc], seed: int) -> list[ProbeDoc]:
    return sorted(docs, key=lambda d: (unit_hash(seed, "order", d.id), d.id))


# ---------------------------------------------------------------------------------------------
# assembly (pure) and building (fetch + assemble + write)
def assemble_corpus(
    texts_by_domain: Mapping[str, Sequence[SourceText]], cfg: CorpusConfig
) -> tuple[list[ProbeDoc], dict[str, dict[str, int]]]:
    """Chunk, de-duplicate, split and sample; returns the documents (probe first, each split in
    seeded order) and per-domain pool statistics. Raises :class:`DiscoveryError` for a domain
    that yields no probe documents."""
    seen: set[str] = set()
    docs: list[ProbeDoc] = []
    pool_stats: dict[str, dict[str, int]] = {}
    for domain in cfg.domains:
        texts = texts_by_domain.get(domain, ())
        pools: dict[str, list[ProbeDoc]] = {split: [] for split in SPLITS}
        stats = Counter(source_texts=len(texts), chunks=0, duplicates=0)
        for text in texts:
            for k, chunk in enumerate(chunk_text(text.text, cfg.min_chars, cfg.max_chars)):
                stats["chunks"] += 1
                fingerprint = text_fingerprint(chunk)
                if fingerprint in seen:
                    stats["duplicates"] += 1
                    continue
                seen.add(fingerprint)
                doc_id = f"{domain}/{text.source}#{k}"
                split_key = text.source if text.split_by == "text" else doc_id
                split = assign_split(split_key, cfg.seed, cfg.heldout_fraction)
                pools[split].append(
                    ProbeDoc(doc_id, chunk, domain, text.subdomain, text.source, split)
                )
        stats.update({f"{split}_pool": len(pools[split]) for split in SPLITS})
        pool_stats[domain] = dict(sorted(stats.items()))
        if not pools["probe"]:
            raise DiscoveryError(
                _empty_domain_message(domain, stats, cfg), field="domains", value=domain
            )
        wanted = {"probe": cfg.docs_per_domain, "heldout": cfg.heldout_per_domain}
        for split in SPLITS:
            if len(pools[split]) < wanted[split]:
                log.warning(
                    "domain %s: only %d %s documents (asked for %d)",
                    domain,
                    len(pools[split]),
                    split,
                    wanted[split],
                )
            docs += _balanced_sample(pools[split], wanted[split], cfg.seed, "subdomain")
    ordered = [_shuffled([d for d in docs if d.split == split], cfg.seed) for split in SPLITS]
    return ordered[0] + ordered[1], pool_stats


def _empty_domain_message(domain: str, stats: Counter, cfg: CorpusConfig) -> str:
    if stats["source_texts"] == 0:
        return (
            f"domain {domain!r} has no documents: its sources yielded no text; check that "
            f"they were fetched (cache {sources_home()}) or drop it from corpus.domains"
        )
    if stats["chunks"] == stats["duplicates"]:
        return (
            f"domain {domain!r} has no documents: its {stats['source_texts']} source texts "
            f"gave no chunk of at least corpus.min_chars={cfg.min_chars} characters that is "
            "not a duplicate; lower corpus.min_chars"
        )
    return (
        f"domain {domain!r} has no probe documents: all {stats['heldout_pool']} of them fell "
        f"in the held-out split; lower corpus.heldout_fraction={cfg.heldout_fraction} or "
        "change corpus.seed"
    )


def make_demo(docs: Sequence[ProbeDoc], n_docs: int, seed: int) -> list[ProbeDoc]:
    """A mixed-domain filtering demo: ``n_docs`` held-out docs, balanced over domains."""
    heldout = [doc for doc in docs if doc.split == "heldout"]
    if len(heldout) < n_docs:
        log.warning("demo: only %d held-out documents (asked for %d)", len(heldout), n_docs)
    return _shuffled(_balanced_sample(heldout, n_docs, seed, "domain"), seed)


def build_corpus(cfg: CorpusConfig, cache: Path | None = None) -> CorpusBuild:
    """Fetch (or reuse cached) sources, assemble the corpus and write it under ``cfg.out_dir``."""
    cache = cache or sources_home()
    texts_by_domain: dict[str, list[SourceText]] = {}
    sources: dict[str, list[dict[str, object]]] = {}
    for domain in cfg.domains:
        texts_by_domain[domain], sources[domain] = gather_domain(domain, cache)
    docs, pool_stats = assemble_corpus(texts_by_domain, cfg)
    return write_corpus(docs, cfg, sources, pool_stats)


def write_corpus(
    docs: Sequence[ProbeDoc],
    cfg: CorpusConfig,
    sources: Mapping[str, Sequence[dict[str, object]]],
    pool_stats: Mapping[str, Mapping[str, int]],
) -> CorpusBuild:
    """Write corpus.jsonl, demo.jsonl, corpus.parquet (optional) and provenance.json."""
    out = cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, object]] = {}
    corpus = write_jsonl(docs, out / CORPUS_FILE)
    files[CORPUS_FILE] = _file_record(corpus, len(docs))
    demo = parquet = None
    if cfg.demo_docs:
        demo_docs = make_demo(docs, cfg.demo_docs, cfg.seed)
        demo = write_jsonl(demo_docs, out / DEMO_FILE)
        files[DEMO_FILE] = _file_record(demo, len(demo_docs))
    if cfg.parquet:
        parquet = out / PARQUET_FILE
        table = pa.Table.from_pylist([asdict(doc) for doc in docs])
        with atomic_path(parquet) as tmp:
            pq.write_table(table, tmp, compression="zstd")
        files[PARQUET_FILE] = _file_record(parquet, len(docs))
    provenance = {
        "builder_version": BUILDER_VERSION,
        "settings": cfg.model_dump(mode="json", exclude={"out_dir"}),
        "sources": sources,
        "counts": _counts(docs, cfg.domains),
        "total_docs": len(docs),
        "total_chars": sum(len(doc.text) for doc in docs),
        "pools": pool_stats,
        "files": files,
    }
    provenance_path = out / PROVENANCE_FILE
    text = json.dumps(provenance, indent=2, ensure_ascii=False) + "\n"
    write_text_atomic(provenance_path, text)
    log.info("wrote %d documents to %s", len(docs), corpus)
    return CorpusBuild(corpus, demo, parquet, provenance_path, provenance)


def _counts(
    docs: Sequence[ProbeDoc], domains: Sequence[str]
) -> dict[str, dict[str, dict[str, int]]]:
    """``{split: {domain: {docs, chars}}}`` in split and configured domain order."""
    counts = {split: {domain: {"docs": 0, "chars": 0} for domain in domains} for split in SPLITS}
    for doc in docs:
        counts[doc.split][doc.domain]["docs"] += 1
        counts[doc.split][doc.domain]["chars"] += len(doc.text)
    return counts


def _file_record(path: Path, rows: int) -> dict[str, object]:
    return {"rows": rows, "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def write_jsonl(docs: Sequence[ProbeDoc], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(asdict(doc), ensure_ascii=False) + "\n" for doc in docs)
    write_text_atomic(path, lines)
    return path


# ---------------------------------------------------------------------------------------------
# loading
def load_probe_corpus(
    path: str | Path,
    domain_field: str = "domain",
    text_field: str = "text",
    split: str | None = None,
    domains: Sequence[str] | None = None,
    id_field: str = "id",
) -> list[ProbeDoc]:
    """Read a labelled corpus (jsonl, json lines, jsonl.gz, parquet, or a directory of them).

    ``split`` keeps only rows whose ``split`` column equals it; ``domains`` keeps only those
    domains and fails if one has no documents. Rows with empty or non-string text, or no
    domain, are skipped and counted in the log. A row without an id gets one from its text.
    """
    rows, columns = _read_rows(Path(path))
    for field, option in ((text_field, "text_field"), (domain_field, "domain_field")):
        if field not in columns:
            raise DiscoveryError(
                f"{path} has no column {field!r} (columns: {sorted(columns)}); "
                f"pass {option}= naming the column that holds it",
                field=option,
                value=field,
            )
    if split is not None and "split" not in columns:
        raise DiscoveryError(
            f"{path} has no 'split' column, so split={split!r} cannot be selected; pass "
            "split=None, or build the corpus with `rosetta-filter corpus build`",
            field="split",
            value=split,
        )
    docs: list[ProbeDoc] = []
    skipped: Counter[str] = Counter()
    for row in rows:
        text, domain = row.get(text_field), row.get(domain_field)
        if not isinstance(text, str) or not text.strip():
            skipped["empty_text"] += 1
        elif domain is None or str(domain) == "":
            skipped["no_domain"] += 1
        elif split is None or row.get("split") == split:
            doc_id = row.get(id_field) or f"doc-{hashlib.sha256(text.encode()).hexdigest()[:16]}"
            docs.append(
                ProbeDoc(
                    str(doc_id),
                    text,
                    str(domain),
                    str(row.get("subdomain") or ""),
                    str(row.get("source") or ""),
                    str(row.get("split") or "probe"),
                )
            )
    if skipped:
        log.warning("%s: skipped %s", path, dict(skipped))
    found = Counter(doc.domain for doc in docs)
    if domains is not None:
        missing = [d for d in domains if not found[d]]
        if missing:
            where = f" in split {split!r}" if split else ""
            raise DiscoveryError(
                f"{path}: no documents{where} for domain(s) {missing}; domains present: "
                f"{dict(sorted(found.items()))}; choose among them or rebuild the corpus with "
                "those domains",
                field="domains",
                value=missing,
            )
        wanted = set(domains)
        docs = [doc for doc in docs if doc.domain in wanted]
    if not docs:
        raise DiscoveryError(
            f"{path}: no documents" + (f" in split {split!r}" if split else ""),
            field="split",
            value=split,
        )
    return docs


def _read_rows(path: Path) -> tuple[list[dict[str, Any]], set[str]]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if _reader_for(p) is not None)
        if not files:
            raise SourceError(
                f"{path} holds no .jsonl/.json/.jsonl.gz/.parquet files",
                field="path",
                value=str(path),
            )
    elif path.exists():
        files = [path]
    else:
        raise SourceError(
            f"probe corpus {path} does not exist; build one with `rosetta-filter corpus build`",
            field="path",
            value=str(path),
        )
    rows: list[dict[str, Any]] = []
    columns: set[str] = set()
    for file in files:
        reader = _reader_for(file)
        if reader is None:
            raise SourceError(
                f"{file}: unknown format; use .jsonl, .json (lines), .jsonl.gz or .parquet",
                field="path",
                value=str(file),
            )
        file_rows, file_columns = reader(file)
        rows += file_rows
        columns |= file_columns
    return rows, columns


def _reader_for(path: Path) -> Any:
    name = path.name
    if name.endswith(".parquet"):
        return _read_parquet
    if name.endswith((".jsonl", ".json", ".jsonl.gz", ".json.gz")):
        return _read_json_lines
    return None


def _read_parquet(path: Path) -> tuple[list[dict[str, Any]], set[str]]:
    table = pq.read_table(path)
    return table.to_pylist(), set(table.column_names)


def _read_json_lines(path: Path) -> tuple[list[dict[str, Any]], set[str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    rows: list[dict[str, Any]] = []
    with opener(path, "rt", encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise SourceError(
                    f"{path}:{number}: not a JSON object per line ({e.msg})",
                    field="path",
                    value=str(path),
                ) from e
            if not isinstance(row, dict):
                raise SourceError(
                    f"{path}:{number}: expected a JSON object, got {type(row).__name__}",
                    field="path",
                    value=str(path),
                )
            rows.append(row)
    return rows, set().union(*rows) if rows else set()
