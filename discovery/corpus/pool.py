"""A crawl-like training pool with source-disjoint evaluation sets, for the CPT study.

A continued-pretraining study needs what a user would filter: a mixed pool in which the target
domain is a minority (5-20 %), every document labelled with its domain and family (for
measuring, never for selecting), and evaluation sets whose families never occur in the pool, so
that a lower loss on them means the model learned the domain, not the pool's sources.

``pool`` takes up to ``N`` documents from each listed family (all of a family's documents when
it has fewer: the proportions are the sources' own, capped so that no single source dominates);
``target_eval`` and ``general_eval`` take ``N`` documents per family. Documents are cut and
de-duplicated as the labelled corpus does (pool families first, so an evaluation document never
repeats a pool one) and sampled round-robin over source units. Writes ``pool.jsonl``,
``target_eval.jsonl``, ``general_eval.jsonl`` and ``manifest.json``; byte-reproducible.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from discovery.corpus.build import unit_hash
from discovery.corpus.families import FAMILIES
from discovery.corpus.labelled import (
    LabelledDoc,
    family_documents,
    gather_families,
    sample_across_units,
    write_docs,
)
from discovery.corpus.sources import SourceText
from rosetta_filter.files import write_text_atomic

log = logging.getLogger(__name__)

POOL_VERSION = "1"
PARTS = ("pool", "target_eval", "general_eval")
MANIFEST_FILE = "manifest.json"


class PoolCorpusConfig(BaseModel):
    """Settings of one pool build; all but ``out_dir`` shape the output."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str = Field(description="the domain the study selects for (its share is reported)")
    pool: dict[str, int] = Field(description="family -> most documents taken into the pool")
    target_eval: dict[str, int] = Field(description="family -> documents (target domain only)")
    general_eval: dict[str, int] = Field(description="family -> documents (any other domain)")
    min_chars: int = Field(200, ge=1, description="shorter documents are dropped")
    max_chars: int = Field(3000, ge=200, description="no document is longer")
    target_chars: int = Field(2000, ge=1, description="texts are cut into chunks of about this")
    seed: int = Field(0, description="seed of the sampling and the order")
    out_dir: Path = Field(Path("out/cpt/corpus"), description="where the files are written")

    @field_validator("pool", "target_eval", "general_eval")
    @classmethod
    def _known(cls, families: dict[str, int]) -> dict[str, int]:
        for name, count in families.items():
            if name not in FAMILIES:
                raise ValueError(f"{name}: unknown family; known: {sorted(FAMILIES)}")
            if count < 1:
                raise ValueError(f"{name}: {count} documents; give at least 1")
        if not families:
            raise ValueError("list at least one family")
        return families

    @model_validator(mode="after")
    def _disjoint(self) -> PoolCorpusConfig:
        for part in ("target_eval", "general_eval"):
            shared = sorted(set(getattr(self, part)) & set(self.pool))
            if shared:
                raise ValueError(
                    f"{part}: {shared} also in pool; evaluation families must never be in the "
                    "pool (that would measure memorised sources, not the domain)"
                )
        for name in self.target_eval:
            if FAMILIES[name].domain != self.target:
                raise ValueError(
                    f"target_eval.{name}: a {FAMILIES[name].domain} family, not {self.target}"
                )
        for name in self.general_eval:
            if FAMILIES[name].domain == self.target:
                raise ValueError(f"general_eval.{name}: a {self.target} family; use another")
        if not any(FAMILIES[name].domain == self.target for name in self.pool):
            raise ValueError(f"pool: no {self.target} family; the target must be in the pool")
        if not self.min_chars <= self.target_chars <= self.max_chars:
            raise ValueError("need min_chars <= target_chars <= max_chars")
        return self

    def ordered(self) -> list[tuple[str, str, int]]:
        """(part, family, documents): pool families first (they keep a duplicate)."""
        return [(part, name, n) for part in PARTS for name, n in getattr(self, part).items()]


@dataclass(frozen=True, slots=True)
class PoolBuild:
    files: dict[str, Path]
    manifest_path: Path
    manifest: dict[str, Any]


def assemble_pool(
    texts_by_family: Mapping[str, Sequence[SourceText]], cfg: PoolCorpusConfig
) -> tuple[dict[str, list[LabelledDoc]], dict[str, dict[str, int]]]:
    """The documents of each part (seeded order) and per-family statistics."""
    seen: set[str] = set()
    docs: dict[str, list[LabelledDoc]] = {part: [] for part in PARTS}
    stats: dict[str, dict[str, int]] = {}
    for part, name, wanted in cfg.ordered():
        available, duplicates = family_documents(name, texts_by_family.get(name, ()), cfg, seen)
        sample = sample_across_units(available, wanted, cfg.seed)
        docs[part] += sample
        stats[name] = {
            "available": len(available),
            "duplicates": duplicates,
            "docs": len(sample),
            "chars": sum(len(d.text) for d in sample),
        }
    shuffled = {
        part: sorted(rows, key=lambda d: (unit_hash(cfg.seed, "order", d.id), d.id))
        for part, rows in docs.items()
    }
    return shuffled, stats


def build_pool(cfg: PoolCorpusConfig, cache: Path | None = None) -> PoolBuild:
    """Fetch (or reuse cached) packages of every listed family, assemble and write the parts."""
    texts, sources = gather_families([name for _, name, _ in cfg.ordered()], cache)
    docs, stats = assemble_pool(texts, cfg)
    return write_pool(docs, cfg, sources, stats)


def write_pool(
    docs: Mapping[str, Sequence[LabelledDoc]],
    cfg: PoolCorpusConfig,
    sources: Mapping[str, Sequence[dict[str, object]]],
    stats: Mapping[str, Mapping[str, int]],
) -> PoolBuild:
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    files, records = {}, {}
    for part in PARTS:
        files[part] = cfg.out_dir / f"{part}.jsonl"
        records[files[part].name] = write_docs(files[part], docs[part])
    pool_chars = Counter[str]()
    for doc in docs["pool"]:
        pool_chars[doc.domain] += len(doc.text)
    total = sum(pool_chars.values()) or 1
    manifest = {
        "builder_version": POOL_VERSION,
        "settings": cfg.model_dump(mode="json", exclude={"out_dir"}),
        "pool_domain_share_chars": {d: round(c / total, 4) for d, c in sorted(pool_chars.items())},
        "parts": {
            part: {
                "docs": len(docs[part]),
                "chars": sum(len(d.text) for d in docs[part]),
                "families": sorted(getattr(cfg, part)),
            }
            for part in PARTS
        },
        "families": {
            name: {"domain": FAMILIES[name].domain, "part": part, **stats[name]}
            | {"packages": list(sources[name])}
            for part, name, _ in cfg.ordered()
        },
        "files": records,
    }
    manifest_path = cfg.out_dir / MANIFEST_FILE
    write_text_atomic(manifest_path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return PoolBuild(files, manifest_path, manifest)
