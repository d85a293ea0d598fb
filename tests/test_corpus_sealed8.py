"""The eighth sealed set of the labelled corpus (session 16): the SageMath tutorial reader on
planted reST sources, the unpacking of a pinned part of a .deb (on a tiny planted package), the
pin and the config. Offline: no package is fetched and no family text is scored."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from labelled_roles import family_roles, labelled_config
from planted_packages import planted_package

from discovery.corpus.families import FAMILIES
from discovery.corpus.fetch import PACKAGES, Package, fetch
from discovery.corpus.sources import (
    SAGE_MATH_TUTORIALS,
    clean_sphinx_source,
    is_sage_math_tutorial,
    read_sage_tutorials,
)
from rosetta_filter.files import sha256_file

SEALED8 = {"sage-thematic-tutorials": "math"}
_SOURCES = "usr/share/doc/sagemath/html/en/thematic_tutorials/_sources"
HAS_DPKG_DEB = shutil.which("dpkg-deb") is not None

# A tutorial page as Sphinx ships its source: an Emacs coding line, a link target, a table of
# contents with options, a picture with options, doctest markers, and the text around them
_PAGE = """.. -*- coding: utf-8 -*-
.. _planted_lie:

================
Planted Lie Page
================

.. MODULEAUTHOR:: A. Planter

.. contents:: Table of contents
   :depth: 2

.. linkall

If `g \\in GL(n,\\CC)`, then `g` may be uniquely factored as `g_1 g_2`.



.. image:: ../media/planted.png
   :scale: 50
   :align: center

A subgroup is called a *torus* if it is connected and abelian:

.. MATH::

    T = \\{ \\mathrm{diag}(t_1, t_2) \\}

.. link

::

    sage: WeylCharacterRing("A2")
    The Weyl Character Ring of Type A2 with Integer Ring coefficients

.. NOTE::

    A note stays.

    .. image:: inner.png
       :scale: 10

    So does the rest of it.

.. toctree::
   :maxdepth: 1

   lie/one
   lie/two
"""
_CLEAN = """================
Planted Lie Page
================

.. MODULEAUTHOR:: A. Planter

If `g \\in GL(n,\\CC)`, then `g` may be uniquely factored as `g_1 g_2`.

A subgroup is called a *torus* if it is connected and abelian:

.. MATH::

    T = \\{ \\mathrm{diag}(t_1, t_2) \\}

::

    sage: WeylCharacterRing("A2")
    The Weyl Character Ring of Type A2 with Integer Ring coefficients

.. NOTE::

    A note stays.

    So does the rest of it."""


def test_sphinx_markup_without_text_is_dropped_and_the_rest_stays():
    assert clean_sphinx_source(_PAGE) == _CLEAN
    # a directive's body ends at the first line that is not indented under it
    text = ".. toctree::\n   a\n\n   b\nText after.\n"
    assert clean_sphinx_source(text) == "Text after."
    assert clean_sphinx_source("Trailing spaces   \n.. skip\nstay text") == (
        "Trailing spaces\nstay text"
    )


@pytest.mark.parametrize(
    ("page", "read"),
    [
        ("lie/lie_basics.rst.txt", True),
        ("lie.rst.txt", True),
        ("explicit_methods_in_number_theory/nf_orders.rst.txt", True),
        ("group_theory.rst.txt", True),
        ("geometry/polyhedra_tutorial.rst.txt", True),
        ("vector_calculus/vector_calc_plane.rst.txt", True),
        ("explicit_methods_in_number_theory/index.rst.txt", False),  # contents
        ("lie/bibliography.rst.txt", False),  # references
        ("index.rst.txt", False),
        ("tutorial-programming-python.rst.txt", False),  # programming Sage
        ("coercion_and_categories.rst.txt", False),
        ("structures_in_coding_theory.rst.txt", False),
        ("numerical_sage/f2py.rst.txt", False),
        ("geometry/polyhedra_quickref.rst.txt", False),  # method tables
        ("linear_programming.rst.txt", False),
        ("sandpile.rst.txt", False),
        ("lie_planted.rst.txt", False),  # "lie" is no bare prefix
    ],
)
def test_only_the_tutorials_on_mathematics_are_read(page, read):
    assert is_sage_math_tutorial(page) is read


def test_every_pinned_prefix_names_a_page_or_a_folder():
    assert all(p.endswith(("/", ".rst.txt")) for p in SAGE_MATH_TUTORIALS)


_FILES = {
    f"{_SOURCES}/lie/lie_basics.rst.txt": _PAGE,
    f"{_SOURCES}/group_theory.rst.txt": "Group Theory and Sage\n=====================\n\n"
    + "A group is a set with an associative operation. " * 6,
    f"{_SOURCES}/index.rst.txt": ".. toctree::\n\n   group_theory\n",
    f"{_SOURCES}/profiling.rst.txt": "Profiling in Sage\n=================\n\nNot read.\n",
    f"{_SOURCES}/lie/bibliography.rst.txt": ".. [Bump2004] D. Bump, *Lie groups*.\n",
}


def test_the_reader_reads_the_math_pages_in_path_order(tmp_path):
    for rel, text in _FILES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    texts = read_sage_tutorials(tmp_path / _SOURCES, "sagemath-doc@9.5-6", "sage")
    assert [(t.source, t.subdomain) for t in texts] == [
        ("sagemath-doc@9.5-6/group_theory.rst.txt", "sage"),
        ("sagemath-doc@9.5-6/lie/lie_basics.rst.txt", "sage"),
    ]
    assert texts[1].text == _CLEAN


def test_sage_family_reads_the_planted_package(monkeypatch, tmp_path):
    planted_package(monkeypatch, tmp_path, _FILES)
    texts, provenance = FAMILIES["sage-thematic-tutorials"].gather(tmp_path)
    assert [t.source for t in texts] == [
        "sagemath-doc@9.5-6/group_theory.rst.txt",
        "sagemath-doc@9.5-6/lie/lie_basics.rst.txt",
    ]
    assert {t.subdomain for t in texts} == {"sage-thematic-tutorials"}
    assert provenance == [{"name": "sagemath-doc", "version": "9.5-6"}]


# ---- a pinned part of a .deb: only the members under the pinned prefixes are unpacked
def _planted_deb(tmp_path, files: dict[str, str]) -> tuple[str, str]:
    """A tiny .deb built by ``dpkg-deb --build`` into ``tmp_path/cache/downloads``; returns
    its file name and sha256."""
    tree = tmp_path / "tree"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN/control").write_text(
        "Package: planted-doc\nVersion: 1.0-1\nArchitecture: all\n"
        "Maintainer: Planter <planter@example.org>\nDescription: planted\n"
    )
    for rel, text in files.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text)
    (tree / "usr/share/doc/planted/html/link.rst.txt").symlink_to("a.rst.txt")
    downloads = tmp_path / "cache/downloads"
    downloads.mkdir(parents=True)
    deb = downloads / "planted-doc_1.0-1_all.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(tree), str(deb)],
        check=True,
        capture_output=True,
    )
    return deb.name, sha256_file(deb)


_DEB_FILES = {
    "usr/share/doc/planted/html/a.rst.txt": "wanted a",
    "usr/share/doc/planted/html/sub/b.rst.txt": "wanted b",
    "usr/share/doc/planted/other.txt": "not wanted",
    "usr/bin/tool": "not wanted",
}


@pytest.mark.skipif(not HAS_DPKG_DEB, reason="needs dpkg-deb")
def test_a_deb_with_members_unpacks_only_their_regular_files(tmp_path):
    name, digest = _planted_deb(tmp_path, _DEB_FILES)
    package = Package(
        "apt", "planted-doc", "1.0-1", name, digest, members=("usr/share/doc/planted/html/",)
    )
    fetched = fetch(package, tmp_path / "cache")  # cached: no client is run
    files = sorted(
        p.relative_to(fetched.root).as_posix() for p in fetched.root.rglob("*") if p.is_file()
    )
    assert files == [
        ".complete",
        "usr/share/doc/planted/html/a.rst.txt",
        "usr/share/doc/planted/html/sub/b.rst.txt",
    ]
    assert (fetched.root / "usr/share/doc/planted/html/sub/b.rst.txt").read_text() == "wanted b"
    assert not (fetched.root / "usr/share/doc/planted/html/link.rst.txt").exists()
    assert fetched.provenance["sha256"] == digest


@pytest.mark.skipif(not HAS_DPKG_DEB, reason="needs dpkg-deb")
def test_a_deb_without_members_still_unpacks_whole(tmp_path):
    name, digest = _planted_deb(tmp_path, _DEB_FILES)
    fetched = fetch(Package("apt", "planted-doc", "1.0-1", name, digest), tmp_path / "cache")
    for rel, text in _DEB_FILES.items():
        assert (fetched.root / rel).read_text() == text
    assert (fetched.root / "usr/share/doc/planted/html/link.rst.txt").is_symlink()


# ---- registration, pin and config
def test_sealed8_family_is_registered_and_pinned():
    for name, domain in SEALED8.items():
        assert FAMILIES[name].domain == domain
    package = PACKAGES["sagemath-doc"]
    assert (package.manager, package.version) == ("apt", "9.5-6")
    assert package.filename == "sagemath-doc_9.5-6_all.deb"
    assert re.fullmatch(r"[0-9a-f]{64}", package.sha256)
    assert package.members == (f"{_SOURCES}/",)


def test_the_eighth_set_was_scored_once_and_is_held_out() -> None:
    """Session 16 sealed the eighth set; session 17 scored it once, for rule 6
    (docs/DISCOVERY.md), and moved it to heldout (the ninth set, sealed in session 18, is
    tests/test_corpus_sealed9.py's)."""
    roles = family_roles()
    assert {name: roles[name] for name in SEALED8} == {
        name: (domain, "heldout") for name, domain in SEALED8.items()
    }
    assert labelled_config().docs_per_family["sealed"] == 120
