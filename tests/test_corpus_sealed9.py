"""The ninth sealed set of the labelled corpus (session 18, held out since it was scored in
session 21): its five families read from tiny planted packages, calc's page list and trailer
cut, the pins and the config roles. Offline: no package is fetched and no family text is
scored."""

from __future__ import annotations

import re

import pytest
from labelled_roles import family_roles
from planted_packages import planted_package

from discovery.corpus.calc import CALC_MATH_PAGES, is_calc_math_page, strip_calc_trailer
from discovery.corpus.families import ARB_META_PAGES, DEVREF_SKIPPED_PAGES, FAMILIES
from discovery.corpus.fetch import PACKAGES

SEALED9 = {
    "singular-libraries": "code",
    "yacas-scripts": "code",
    "arb-manual": "math",
    "calc-math-help": "math",
    "debian-developers-reference": "prose",
}
PINS = {  # family -> (package, version)
    "singular-libraries": ("singular-data", "1:4.3.1-p3+ds-2"),
    "yacas-scripts": ("yacas", "1.3.6-2.1"),
    "arb-manual": ("libflint-arb-doc", "1:2.23.0-1"),
    "calc-math-help": ("calc-common", "2.12.7.2-4"),
    "debian-developers-reference": ("developers-reference", "12.18"),
}
_LIB = "usr/share/singular/LIB"
_YACAS = "usr/share/yacas/scripts"
_ARB = "usr/share/doc/libflint-arb-dev/html/_sources"
_DEVREF = "usr/share/developers-reference/_sources"
_CALC = "usr/share/calc/help"

# A Singular library as the package ships it: header strings, a procedure with its help string
_SINGULAR = """////////////////////////////////////////////////////////////////////////////
version="version planted.lib 4.2.0.0 Dec_2020 ";
category="Commutative Algebra";
info="
LIBRARY:  planted.lib  Radicals of planted ideals
PROCEDURES:
 rad(I);   the radical of I
";

proc rad (ideal I)
"USAGE:   rad(I);  I ideal
RETURN:  the radical of I
"
{
  return(radical(I));
}
"""
# An Arb page: a link target (dropped), a heading, a function directive and its text (kept)
_ARB_PAGE = """.. _arb-hypgeom:

**arb_hypgeom.h** -- hypergeometric functions of real variables
===============================================================================

.. contents::
   :local:

.. function:: void arb_hypgeom_rising_ui(arb_t res, const arb_t x, ulong n, slong prec)

    Computes the rising factorial `(x)_n`.
"""
_ARB_CLEAN = """**arb_hypgeom.h** -- hypergeometric functions of real variables
===============================================================================

.. function:: void arb_hypgeom_rising_ui(arb_t res, const arb_t x, ulong n, slong prec)

    Computes the rising factorial `(x)_n`."""
_CALC_PAGE = """NAME
    gcd - greatest common divisor

SYNOPSIS
    gcd(x1, x2, ...)

SEE ALSO
    lcm

"""
_CALC_TRAILER = """## Copyright (C) 1999  Landon Curt Noll
##
## Calc is open software; you can redistribute it and/or modify it under
## the terms of the version 2.1 of the GNU Lesser General Public License
##
## Share and enjoy!  :-)
"""
_DEVREF_PAGE = """.. _upload:

Uploading a package
===================

Before you upload your package, you should do basic testing on it.
"""

_FILES = {
    # Singular: every *.lib file, nothing else of the folder
    f"{_LIB}/planted.lib": _SINGULAR,
    f"{_LIB}/all.lib": 'LIB "planted.lib";\n',
    f"{_LIB}/README": "not a library",
    # Yacas: the library's *.ys files, not their *.ys.def name lists or the examples
    f"{_YACAS}/univar.rep/sturm.ys": "SturmSequence(_p) <-- [ Local(result); result; ];\n",
    f"{_YACAS}/univar.rep/sturm.ys.def": "SturmSequence\n}\n",
    f"{_YACAS}/stdfuncs.ys": "10 # Abs(_x) <-- If(x<0, -x, x);\n",
    f"{_YACAS}/examples/queens.ys": "Queens(_n) <-- [];\n",
    # Arb: the library's pages, not the project's meta pages
    f"{_ARB}/arb_hypgeom.rst.txt": _ARB_PAGE,
    f"{_ARB}/history.rst.txt": "History and changes\n===================\n",
    f"{_ARB}/index.rst.txt": ".. toctree::\n\n   arb_hypgeom\n",
    # calc: the pages on mathematics only
    f"{_CALC}/gcd": _CALC_PAGE + _CALC_TRAILER,
    f"{_CALC}/fopen": "NAME\n    fopen - open a file\n" + _CALC_TRAILER,
    f"{_CALC}/full": "NAME\n    gcd - greatest common divisor\n" * 9,
    # the Developer's Reference: its chapters, not the title page
    f"{_DEVREF}/pkgs.rst.txt": _DEVREF_PAGE,
    f"{_DEVREF}/index.rst.txt": "Copyright 2023 Planter\n\nThis manual is free software.\n",
}


@pytest.mark.parametrize(
    ("family", "sources"),
    [
        ("singular-libraries", ["all.lib", "planted.lib"]),
        ("yacas-scripts", ["stdfuncs.ys", "univar.rep/sturm.ys"]),
        ("arb-manual", ["arb_hypgeom.rst.txt"]),
        ("calc-math-help", ["gcd"]),
        ("debian-developers-reference", ["pkgs.rst.txt"]),
    ],
)
def test_each_family_reads_its_files_of_the_planted_package(monkeypatch, tmp_path, family, sources):
    planted_package(monkeypatch, tmp_path, _FILES)
    texts, provenance = FAMILIES[family].gather(tmp_path)
    package, version = PINS[family]
    assert [t.source for t in texts] == [f"{package}@{version}/{s}" for s in sources]
    assert {t.subdomain for t in texts} == {family}
    assert provenance == [{"name": package, "version": version}]


def test_singular_code_stays_whole_with_its_help_strings(monkeypatch, tmp_path):
    """A Singular library is code by register, its help strings included, as the held-out
    fricas-algebra keeps its ``++`` descriptions; nothing in the file is cut."""
    planted_package(monkeypatch, tmp_path, _FILES)
    texts, _ = FAMILIES["singular-libraries"].gather(tmp_path)
    assert texts[1].text == _SINGULAR


def test_the_sphinx_pages_lose_only_their_textless_markup(monkeypatch, tmp_path):
    planted_package(monkeypatch, tmp_path, _FILES)
    (arb,), _ = FAMILIES["arb-manual"].gather(tmp_path)
    assert arb.text == _ARB_CLEAN
    (devref,), _ = FAMILIES["debian-developers-reference"].gather(tmp_path)
    assert devref.text.startswith("Uploading a package\n===")


def test_calc_pages_lose_their_licence_trailer(monkeypatch, tmp_path):
    planted_package(monkeypatch, tmp_path, _FILES)
    (page,), _ = FAMILIES["calc-math-help"].gather(tmp_path)
    assert page.text == _CALC_PAGE.rstrip()
    assert strip_calc_trailer("a\n## b\nc\n") == "a\n## b\nc"  # only the closing run goes


@pytest.mark.parametrize(
    ("page", "read"),
    [
        ("jacobi", True),
        ("sin", True),
        ("mattrans", True),
        ("fopen", False),  # files
        ("strlen", False),  # strings
        ("isint", False),  # a type test
        ("xor", False),  # bit-level
        ("srandom", False),  # a random-number generator
        ("full", False),  # every page in one
    ],
)
def test_only_calc_pages_on_mathematics_are_read(page, read):
    assert is_calc_math_page(page) is read


def test_the_calc_page_list_is_names_not_paths():
    assert len(CALC_MATH_PAGES) == 125
    assert all(re.fullmatch(r"[a-z0-9]+", page) for page in CALC_MATH_PAGES)


def test_the_skipped_pages_are_page_names():
    assert all(page.endswith(".rst.txt") for page in ARB_META_PAGES + DEVREF_SKIPPED_PAGES)
    assert "index.rst.txt" in ARB_META_PAGES


# ---- registration, pins and config
@pytest.mark.parametrize("family", sorted(SEALED9))
def test_sealed9_family_is_registered_and_pinned(family):
    assert FAMILIES[family].domain == SEALED9[family]
    name, version = PINS[family]
    package = PACKAGES[name]
    assert (package.manager, package.version) == ("apt", version)
    arch = "amd64" if name == "yacas" else "all"  # the scripts ship with the binary
    assert package.filename == f"{name}_{version.replace(':', '%3a')}_{arch}.deb"
    assert re.fullmatch(r"[0-9a-f]{64}", package.sha256)
    assert package.members == ()  # small packages: unpacked whole


def test_the_ninth_set_was_scored_once_and_is_held_out_now() -> None:
    """Session 18 sealed these five families; session 21 scored them once (rule 11's gate 3),
    and scored families are held out (the tenth set is sealed now: test_corpus_sealed10.py)."""
    roles = family_roles()
    assert {name: roles[name] for name in SEALED9} == {
        name: (domain, "heldout") for name, domain in SEALED9.items()
    }
