"""The neuron bank: the contract between discovery (which writes it) and filtering (which reads
it). A directory holding ``bank.json`` (format version, models, probe corpus, settings),
``neurons.parquet`` (one row per kept neuron), ``pairs.parquet`` (best-buddy pairs) and, from
format 2, ``heads.json`` (per-domain heads and depth tables, :mod:`rosetta_filter.scoring.heads`).

Per-domain values are flat columns, ``auroc__{domain}`` and ``domain_mean__{domain}``, so the
table stays readable in any parquet tool; the scorer's normalisation statistics are
``norm_mean__{pooling}`` and ``norm_std__{pooling}`` (of the document-pooled activation).
Format 2 adds the source-disjoint statistics ``lofo_worst__{domain}`` (worst held-out source
family's AUROC), ``lofo_mean__{domain}`` and ``dprime__{domain}``; ``neurons.mode: top_k`` ranks
by ``lofo_worst`` where the bank has it. A format-1 bank still loads (no heads, top_k by the
probe AUROC).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from rosetta_filter.errors import BankError
from rosetta_filter.files import sha256_file
from rosetta_filter.neuron import Neuron

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
HEADS_FILE = "heads.json"
Pool = bool | Literal["consistent"]  # neurons.rosetta_only once "auto" is resolved
POOL_WORDS: dict[Pool, str] = {True: "Rosetta ", False: "", "consistent": "consistent Rosetta "}
REQUIRED_NEURON_COLUMNS = ("model", "layer", "index", "is_rosetta", "preferred_domain")
PAIR_COLUMNS = ("model_a", "neuron_a", "model_b", "neuron_b", "r")


def auroc_column(domain: str) -> str:
    return f"auroc__{domain}"


def domain_mean_column(domain: str) -> str:
    return f"domain_mean__{domain}"


def norm_columns(pooling: str) -> tuple[str, str]:
    return f"norm_mean__{pooling}", f"norm_std__{pooling}"


def lofo_worst_column(domain: str) -> str:
    return f"lofo_worst__{domain}"


def ranking_column(bank: NeuronBank, domain: str) -> str:
    """The column ``top_k`` ranks by: the source-disjoint one where the bank has it."""
    lofo = lofo_worst_column(domain)
    return lofo if lofo in bank.neurons.column_names else auroc_column(domain)


@dataclass
class NeuronBank:
    path: Path
    meta: dict[str, Any]
    neurons: pa.Table
    pairs: pa.Table
    heads: dict[str, Any] | None = None

    @property
    def domains(self) -> list[str]:
        return list(self.meta.get("probe_corpus", {}).get("domains", []))

    @property
    def model_ids(self) -> list[str]:
        return [m["id"] for m in self.meta.get("models", [])]

    def model_meta(self, model_id: str) -> dict[str, Any]:
        for model in self.meta.get("models", []):
            if model["id"] == model_id:
                return model
        raise BankError(
            f"bank {self.path} has no model {model_id!r}; it holds {self.model_ids}: "
            "set neurons.bank_model to one of them or run discovery for this model",
            field="neurons.bank_model",
            value=model_id,
        )

    def rows(self, model_id: str) -> list[dict[str, Any]]:
        """All neuron rows of one model as dicts."""
        return [r for r in self.neurons.to_pylist() if r["model"] == model_id]


def write_bank(
    path: Path | str,
    meta: dict[str, Any],
    neurons: pa.Table,
    pairs: pa.Table,
    heads: dict[str, Any] | None = None,
) -> Path:
    """Write a bank directory atomically: built beside the target, then renamed into place."""
    path = Path(path)
    missing = [c for c in REQUIRED_NEURON_COLUMNS if c not in neurons.column_names]
    if missing:
        raise BankError(f"neurons table lacks columns {missing}", field="neurons")
    _replaceable(path.resolve())
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    (staging / "bank.json").write_text(
        json.dumps({"format_version": FORMAT_VERSION, **meta}, indent=2, sort_keys=True)
    )
    pq.write_table(neurons, staging / "neurons.parquet", compression="zstd")
    pq.write_table(pairs, staging / "pairs.parquet", compression="zstd")
    if heads is not None:
        (staging / HEADS_FILE).write_text(json.dumps(heads, indent=1, sort_keys=True))
    if path.exists():
        old = path.with_name(f".{path.name}.old")
        os.replace(path, old)
        os.replace(staging, path)
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    else:
        os.replace(staging, path)
    return path


SCORING_FILES = ("bank.json", "neurons.parquet", HEADS_FILE)  # what a scorer reads of a bank
BANK_FILES = ("bank.json", "neurons.parquet", "pairs.parquet", HEADS_FILE)  # all a bank holds


def _replaceable(path: Path) -> None:
    """Refuse to write a bank over anything but a bank: a new bank replaces an old one whole
    (its files are deleted), so an ``out`` that names a folder of other files, or a file,
    would lose them."""
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        return
    others = sorted(p.name for p in path.iterdir()) if path.is_dir() else [path.name]
    others = [name for name in others if name not in BANK_FILES]
    if not path.is_dir() or not (path / "bank.json").is_file() or others:
        raise BankError(
            f"{path} exists and is not a neuron bank (it holds {others[:5] or 'no bank.json'}): "
            "a bank is written over an older bank only; choose a new or empty output path",
            field="out",
            value=str(path),
        )


def bank_digest(path: Path | str) -> str | None:
    """sha256 over the files of the bank at ``path`` that scoring reads (None when there is no
    bank there): a bank rebuilt in place, heads refit or a depth rule changed, is a different
    bank, so a run that resumes, or its manifest, must be able to tell."""
    root = Path(path).expanduser()
    files = [root / name for name in SCORING_FILES if (root / name).is_file()]
    return sha256_file(files) if files else None


def load_bank(path: Path | str) -> NeuronBank:
    path = Path(path)
    if not (path / "bank.json").is_file():
        raise BankError(
            f"no neuron bank at {path} (bank.json missing; relative paths are read from the "
            f"directory you run in, {Path.cwd()}): run from the project root, give an absolute "
            "path, or run `rosetta-filter discover` to make a bank",
            field="neurons.bank",
            value=str(path),
        )
    meta = json.loads((path / "bank.json").read_text())
    version = meta.get("format_version")
    if version not in READABLE_VERSIONS:
        raise BankError(
            f"bank {path} has format_version={version}, this rosetta-filter reads "
            f"{READABLE_VERSIONS}: re-run discovery with this version",
            field="neurons.bank",
            value=str(path),
        )
    neurons = pq.read_table(path / "neurons.parquet")
    pairs_file = path / "pairs.parquet"
    pairs = (
        pq.read_table(pairs_file)
        if pairs_file.exists()
        else pa.table({c: [] for c in PAIR_COLUMNS})
    )
    heads_file = path / HEADS_FILE
    heads = json.loads(heads_file.read_text()) if heads_file.exists() else None
    return NeuronBank(path, meta, neurons, pairs, heads)


def select_neurons(
    bank: NeuronBank,
    model_id: str,
    domain: str,
    *,
    top_k: int,
    rosetta_only: Pool = True,
    max_layer: int | None = None,
    min_auroc: float = 0.5,
    rank_by: str | None = None,
) -> list[dict[str, Any]]:
    """The ``top_k`` neuron rows of ``model_id`` most specialised to ``domain``: by the worst
    held-out family's AUROC in a format-2 bank, else by the probe AUROC (``rank_by``: a column
    of the caller's choice, e.g. the probe AUROC for an ablation)."""
    bank.model_meta(model_id)
    if domain not in bank.domains:
        raise BankError(
            f"domain {domain!r} is not in bank {bank.path}; it has {bank.domains}",
            field="neurons.domain",
            value=domain,
        )
    column = rank_by or ranking_column(bank, domain)
    rows = [
        r
        for r in bank.rows(model_id)
        if in_pool(r, rosetta_only)
        and (max_layer is None or r["layer"] <= max_layer)
        and r.get(column) is not None
        and r[column] > min_auroc
    ]
    rows.sort(key=lambda r: (-r[column], r["layer"], r["index"]))
    if not rows:
        raise BankError(
            f"bank {bank.path} has no {POOL_WORDS[rosetta_only]}neuron of {model_id} "
            f"with AUROC > {min_auroc} for {domain!r}"
            + (f" at layer <= {max_layer}" if max_layer is not None else "")
            + ": relax neurons.max_layer / neurons.rosetta_only, or pick another domain",
            field="neurons.domain",
            value=domain,
        )
    return rows[:top_k]


def in_pool(row: dict[str, Any], pool: Pool) -> bool:
    """Whether a neuron row belongs to a pool: all neurons, Rosetta Neurons, or Rosetta
    Neurons of a group that matched in every model (``consistent``)."""
    if pool == "consistent":
        return bool(row["is_rosetta"] and row.get("consistent"))
    return bool(row["is_rosetta"] or not pool)


def neuron_of(row: dict[str, Any]) -> Neuron:
    return Neuron(int(row["layer"]), int(row["index"]))
