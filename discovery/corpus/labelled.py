"""The family-labelled corpus: choose neurons on some source families, validate on others.

Every document carries its ``domain`` and ``family``; every family has a role, ``choose``
(its documents may be used to choose neurons or heads), ``heldout`` (evaluation only) or
``sealed`` (kept apart for the one evaluation that will confirm a future choice: a family added
before the choice it tests, scored once, then moved to ``heldout``). Sealed families go to their
own file, so a routine evaluation of ``heldout.jsonl`` (``make evaluate``) cannot spend them.
The build gathers each configured family (``discovery.corpus.families``), cuts its texts into
documents, drops duplicates (across all families, choose-side families first, so an evaluation
document never repeats a choose-side one), and takes a seeded sample per family that is balanced
across the family's source units (files, chapters, licences). It writes ``choose.jsonl``,
``heldout.jsonl``, ``sealed.jsonl`` and ``manifest.json``; the same settings and sources give
byte-identical files.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from discovery.corpus.build import _file_record, unit_hash
from discovery.corpus.chunks import chunk_text
from discovery.corpus.families import FAMILIES
from discovery.corpus.fetch import sources_home
from discovery.corpus.sources import SourceText, text_fingerprint
from discovery.errors import DiscoveryError
from rosetta_filter.files import write_text_atomic

log = logging.getLogger(__name__)

LABELLED_VERSION = "1"
Role = Literal["choose", "heldout", "sealed"]
ROLES: tuple[Role, ...] = ("choose", "heldout", "sealed")
REQUIRED_ROLES: tuple[Role, ...] = ("choose", "heldout")  # every domain has both
MANIFEST_FILE = "manifest.json"


class Chunking(Protocol):
    """How texts are cut into documents (settings shared by the corpora built from families)."""

    min_chars: int
    max_chars: int
    target_chars: int


class FamilySpec(BaseModel):
    """A family's role and, optionally, its own document count (else ``docs_per_family``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    docs: int | None = Field(None, ge=1, description="documents to sample (default by role)")


class LabelledCorpusConfig(BaseModel):
    """Settings of one labelled-corpus build; all of them but ``out_dir`` shape the output."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    families: dict[str, dict[str, FamilySpec]] = Field(
        description="domain -> family -> role (`choose`/`heldout`/`sealed`) or {role, docs}"
    )
    docs_per_family: dict[Role, int] = Field(
        {"choose": 80, "heldout": 120, "sealed": 120},
        description="documents per family, by role (sealed: as heldout unless given)",
    )
    min_chars: int = Field(200, ge=1, description="shorter documents are dropped")
    max_chars: int = Field(3000, ge=200, description="no document is longer")
    target_chars: int = Field(2000, ge=1, description="texts are cut into chunks of about this")
    seed: int = Field(0, description="seed of the sampling and the order")
    out_dir: Path = Field(Path("out/labelled"), description="where the files are written")

    @field_validator("families", mode="before")
    @classmethod
    def _roles_as_specs(cls, families: Any) -> Any:
        """Accept a bare role (``lodash: choose``) for ``{role: choose}``."""
        if not isinstance(families, dict):
            return families
        return {
            domain: {
                name: {"role": spec} if isinstance(spec, str) else spec
                for name, spec in (members or {}).items()
            }
            if isinstance(members, dict) or members is None
            else members
            for domain, members in families.items()
        }

    @field_validator("families")
    @classmethod
    def _known_families(
        cls, families: dict[str, dict[str, FamilySpec]]
    ) -> dict[str, dict[str, FamilySpec]]:
        for domain, members in families.items():
            for name in members:
                family = FAMILIES.get(name)
                if family is None:
                    raise ValueError(
                        f"families.{domain}.{name}: unknown family; known: {sorted(FAMILIES)}"
                    )
                if family.domain != domain:
                    raise ValueError(
                        f"families.{domain}.{name}: the family belongs to domain "
                        f"{family.domain!r}; list it under {family.domain}"
                    )
            roles = {spec.role for spec in members.values()}
            if not roles >= set(REQUIRED_ROLES):
                raise ValueError(
                    f"families.{domain}: needs at least one `choose` and one `heldout` family "
                    f"(has {sorted(roles) or 'none'})"
                )
        if not families:
            raise ValueError("families: list at least one domain")
        return families

    @field_validator("docs_per_family")
    @classmethod
    def _positive_counts(cls, counts: dict[Role, int]) -> dict[Role, int]:
        if not set(counts) >= set(REQUIRED_ROLES) or min(counts.values()) < 1:
            raise ValueError(f"docs_per_family={counts}: give choose and heldout, each >= 1")
        return {"sealed": counts["heldout"], **counts}

    @model_validator(mode="after")
    def _chars_ordered(self) -> LabelledCorpusConfig:
        if not self.min_chars <= self.target_chars <= self.max_chars:
            raise ValueError(
                f"min_chars={self.min_chars}, target_chars={self.target_chars}, "
                f"max_chars={self.max_chars}: need min_chars <= target_chars <= max_chars"
            )
        return self

    def role_of(self, family: str) -> Role:
        return next(m[family].role for m in self.families.values() if family in m)

    def wanted(self, family: str) -> int:
        spec = next(m[family] for m in self.families.values() if family in m)
        return spec.docs or self.docs_per_family[spec.role]

    def ordered_families(self) -> list[str]:
        """Choose-side families first (they keep a duplicate), each role in config order."""
        listed = [name for members in self.families.values() for name in members]
        return [name for role in ROLES for name in listed if self.role_of(name) == role]


def describe_labelled(cfg: LabelledCorpusConfig) -> str:
    """One line for ``rosetta-filter validate``."""
    counts = {role: sum(cfg.role_of(f) == role for f in cfg.ordered_families()) for role in ROLES}
    return (
        f"domains {', '.join(cfg.families)}; {counts['choose']} choose, "
        f"{counts['heldout']} held-out and {counts['sealed']} sealed families"
    )


@dataclass(frozen=True, slots=True)
class LabelledDoc:
    """One document of the labelled corpus (the row layout of choose/heldout.jsonl)."""

    id: str
    text: str
    domain: str
    family: str
    source: str


@dataclass(frozen=True, slots=True)
class LabelledBuild:
    files: dict[Role, Path]
    manifest_path: Path
    manifest: dict[str, Any]


# ---------------------------------------------------------------------------------------------
# assembly (pure)
def assemble_labelled(
    texts_by_family: Mapping[str, Sequence[SourceText]], cfg: LabelledCorpusConfig
) -> tuple[dict[Role, list[LabelledDoc]], dict[str, dict[str, int]]]:
    """Cut, de-duplicate and sample every configured family; returns the documents of each
    role (in seeded order) and per-family statistics. Raises :class:`DiscoveryError` for a
    family that yields no documents."""
    seen: set[str] = set()
    docs: dict[Role, list[LabelledDoc]] = {role: [] for role in ROLES}
    stats: dict[str, dict[str, int]] = {}
    for name in cfg.ordered_families():
        texts = texts_by_family.get(name, ())
        pool, duplicates = family_documents(name, texts, cfg, seen)
        wanted = cfg.wanted(name)
        if len(pool) < wanted:
            log.warning("family %s: only %d documents (asked for %d)", name, len(pool), wanted)
        sample = sample_across_units(pool, wanted, cfg.seed)
        docs[cfg.role_of(name)] += sample
        stats[name] = {
            "source_units": len(texts),
            "units_sampled": len({doc.source for doc in sample}),
            "pool": len(pool),
            "duplicates": duplicates,
            "docs": len(sample),
            "chars": sum(len(doc.text) for doc in sample),
        }
    ordered = {role: _shuffled(docs[role], cfg.seed) for role in ROLES}
    return ordered, stats


def family_documents(
    name: str, texts: Sequence[SourceText], chunking: Chunking, seen: set[str]
) -> tuple[list[LabelledDoc], int]:
    """Every new document of family ``name`` (its texts cut into chunks, a chunk whose
    fingerprint is in ``seen`` dropped, ``seen`` updated) and the number of duplicates dropped.
    Raises :class:`DiscoveryError` when nothing is left."""
    domain = FAMILIES[name].domain
    docs: list[LabelledDoc] = []
    duplicates = 0
    for text in texts:
        chunks = chunk_text(
            text.text, chunking.min_chars, chunking.max_chars, chunking.target_chars
        )
        for k, chunk in enumerate(chunks):
            fingerprint = text_fingerprint(chunk)
            if fingerprint in seen:
                duplicates += 1
                continue
            seen.add(fingerprint)
            docs.append(LabelledDoc(f"{name}/{text.source}#{k}", chunk, domain, name, text.source))
    if not docs:
        raise DiscoveryError(
            f"family {name!r} ({domain}) has no documents: its {len(texts)} source texts "
            f"gave no new chunk of at least min_chars={chunking.min_chars}; check its package "
            f"in {sources_home()} or drop it from the config",
            field=f"families.{domain}.{name}",
            value=name,
        )
    return docs, duplicates


def sample_across_units(docs: Sequence[LabelledDoc], n: int, seed: int) -> list[LabelledDoc]:
    """``n`` docs taken round-robin over source units visited in seeded order, each unit's docs
    in seeded order: every unit gives one document before any gives two."""
    units: dict[str, list[LabelledDoc]] = {}
    for doc in docs:
        units.setdefault(doc.source, []).append(doc)
    ranked = [
        sorted(units[source], key=lambda d: (unit_hash(seed, "sample", d.id), d.id))
        for source in sorted(units, key=lambda s: (unit_hash(seed, "unit", s), s))
    ]
    return [doc for row in zip_longest(*ranked) for doc in row if doc is not None][:n]


def _shuffled(docs: Sequence[LabelledDoc], seed: int) -> list[LabelledDoc]:
    return sorted(docs, key=lambda d: (unit_hash(seed, "order", d.id), d.id))


# ---------------------------------------------------------------------------------------------
# building (fetch + assemble + write)
def build_labelled(cfg: LabelledCorpusConfig, cache: Path | None = None) -> LabelledBuild:
    """Fetch (or reuse cached) packages of every configured family, assemble, and write
    ``choose.jsonl``, ``heldout.jsonl``, ``sealed.jsonl`` and ``manifest.json`` under
    ``cfg.out_dir``."""
    texts, sources = gather_families(cfg.ordered_families(), cache)
    docs, stats = assemble_labelled(texts, cfg)
    return write_labelled(docs, cfg, sources, stats)


def gather_families(
    names: Sequence[str], cache: Path | None = None
) -> tuple[dict[str, list[SourceText]], dict[str, list[dict[str, object]]]]:
    """The source texts and package provenance of every family in ``names`` (fetched into, or
    reused from, ``cache``)."""
    cache = cache or sources_home()
    texts: dict[str, list[SourceText]] = {}
    sources: dict[str, list[dict[str, object]]] = {}
    for name in names:
        texts[name], sources[name] = FAMILIES[name].gather(cache)
        log.info("family %s: %d source texts", name, len(texts[name]))
    return texts, sources


def write_docs(path: Path, docs: Sequence[LabelledDoc]) -> dict[str, object]:
    """``docs`` as JSON lines at ``path`` (atomically); returns the manifest's file record."""
    lines = "".join(json.dumps(asdict(d), ensure_ascii=False) + "\n" for d in docs)
    write_text_atomic(path, lines)
    return _file_record(path, len(docs))


def write_labelled(
    docs: Mapping[Role, Sequence[LabelledDoc]],
    cfg: LabelledCorpusConfig,
    sources: Mapping[str, Sequence[dict[str, object]]],
    stats: Mapping[str, Mapping[str, int]],
) -> LabelledBuild:
    out = cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    files: dict[Role, Path] = {}
    records: dict[str, dict[str, object]] = {}
    for role in ROLES:
        files[role] = out / f"{role}.jsonl"
        records[files[role].name] = write_docs(files[role], docs[role])
    manifest = {
        "builder_version": LABELLED_VERSION,
        "settings": cfg.model_dump(mode="json", exclude={"out_dir"}),
        "counts": _counts(docs, cfg),
        "families": {
            name: {
                "domain": FAMILIES[name].domain,
                "role": cfg.role_of(name),
                **stats[name],
                "packages": list(sources[name]),
            }
            for name in cfg.ordered_families()
        },
        "files": records,
    }
    manifest_path = out / MANIFEST_FILE
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    write_text_atomic(manifest_path, text)
    for role in ROLES:
        log.info("wrote %d %s documents to %s", len(docs[role]), role, files[role])
    return LabelledBuild(files, manifest_path, manifest)


def _counts(
    docs: Mapping[Role, Sequence[LabelledDoc]], cfg: LabelledCorpusConfig
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{role: {domain: {docs, chars, families: {family: docs}}}}`` in config order."""
    counts: dict[str, dict[str, dict[str, Any]]] = {}
    for role in ROLES:
        counts[role] = {}
        for domain, members in cfg.families.items():
            names = [name for name, spec in members.items() if spec.role == role]
            chosen = [d for d in docs[role] if d.domain == domain]
            counts[role][domain] = {
                "docs": len(chosen),
                "chars": sum(len(d.text) for d in chosen),
                "families": {n: sum(d.family == n for d in chosen) for n in names},
            }
    return counts
