"""The twelfth sealed set of the labelled corpus (session 26, for rule 21): its five families
read from tiny planted packages (what each keeps and what it cuts), the pins (only the folders
read are unpacked) and the config roles. Offline: no package is fetched and no family text is
scored."""

from __future__ import annotations

import pytest
from labelled_roles import family_roles
from planted_packages import assert_gathers, assert_pinned_deb, first_text

SEALED12 = {
    "gap-library-code": "code",
    "polymake-cpp": "code",
    "slicot-routines": "code",
    "acl2-nonstd-analysis": "math",
    "scipy-distributions": "math",
}
PINS = {  # family -> (package, version, architecture, what is unpacked)
    "gap-library-code": ("gap-libs", "4.12.1-2", "all", ("usr/share/gap/lib/",)),
    "polymake-cpp": ("polymake-common", "4.6-5", "all", ("usr/share/polymake/",)),
    "slicot-routines": (
        "libslicot-doc",
        "5.0+20101122-4",
        "all",
        ("usr/share/doc/libslicot-dev/doc/",),
    ),
    "acl2-nonstd-analysis": (
        "acl2-books-source",
        "8.5dfsg-5",
        "all",
        ("usr/share/acl2-8.5dfsg/books/nonstd/",),
    ),
    "scipy-distributions": (
        "python-scipy-doc",
        "1.10.1-2",
        "all",
        ("usr/share/doc/python-scipy-doc/html/tutorial/stats/",),
    ),
}
_GAP = "usr/share/gap/lib"
_PM = "usr/share/polymake"
_SLICOT = "usr/share/doc/libslicot-dev/doc"
_ACL2 = "usr/share/acl2-8.5dfsg/books/nonstd"
_STATS = "usr/share/doc/python-scipy-doc/html/tutorial/stats"
_GAP_METHOD = (
    "#############################################################################\n"
    "##\n##  This file is part of GAP, a system for computational discrete algebra.\n"
    "##  Copyright of GAP belongs to its developers.\n"
    "##  SPDX-License-Identifier: GPL-2.0-or-later\n##\n\n"
    "InstallMethod( IsCyclic, true, [IsGroup and HasGeneratorsOfGroup], 0,\n"
    "    function( G ) return Length( GeneratorsOfGroup( G ) ) = 1; end );\n"
)
_POLYMAKE_SOURCE = (
    "/* Copyright (c) 1997-2021\n   Ewgenij Gawrilow, Michael Joswig\n\n"
    "   This program is free software; under the GNU General Public License.\n*/\n\n"
    '#include "polymake/client.h"\n'
    'BigObject associahedron(Int d) { return BigObject("Polytope"); }\n'
)
_SLICOT_PAGE = (
    '<HTML><BODY><H2>SB04ND</H2>\n<A HREF="#Specification"><B>[Specification]</B></A>\n'
    '<A HREF="#Example"><B>[Example]</B></A>\n<P><B>Purpose</B><PRE>\n'
    "  To solve for X the continuous-time Sylvester equation AX + XB = C.\n</PRE>\n"
    "<PRE>\n      SUBROUTINE SB04ND( ABSCHU, N, M, A, LDA, INFO )\n</PRE>\n"
    '<A name="Example"><B>Example</B></A><PRE>\n      PROGRAM TSB04ND\n'
    "   1.0  2.0  3.0\n</PRE>\n<A HREF=../libindex.html><B>Return to index</B></A></BODY>\n"
)
_ACL2_BOOK = (
    "; Circumference of a circle\n;\n; Copyright (C) 2021 University of Wyoming\n"
    '; License: A 3-clause BSD license.\n\n(in-package "ACL2")\n\n'
    "(defthm x*x-<-y*y (implies (and (realp x) (realp y)) (equal (< (* x x) (* y y)) (< x y))))\n"
)
_SHEET = (
    "<html><body><nav>Site navigation</nav><main role='main'>"
    "<h1>Beta Distribution<a class='headerlink'>\u00b6</a></h1>"
    "<p>There are two shape parameters \\(a,b &gt; 0\\).</p>"
    "<p>Implementation: scipy.stats.beta</p>"
    "<p>previous</p><p>Arcsine Distribution</p><p>next</p><p>Beta Prime</p>"
    "</main><footer>Copyright 2008-2022</footer></body></html>"
)
_FILES = {
    f"{_GAP}/grp.gi": _GAP_METHOD,
    f"{_GAP}/grp.gd": 'DeclareProperty( "IsCyclic", IsGroup );\n',  # the manual's source
    f"{_PM}/apps/polytope/src/associahedron.cc": _POLYMAKE_SOURCE,
    f"{_PM}/apps/polytope/src/perl/wrap-associahedron.cc": "// generated wrapper\n",
    f"{_PM}/apps/polytope/include/helpers.cc": "int helper();\n",  # not an app's src/
    f"{_SLICOT}/SB04ND.html": _SLICOT_PAGE,
    f"{_SLICOT}/support.html": "<html>support routines index</html>",
    f"{_ACL2}/circles/circumference.lisp": _ACL2_BOOK,
    f"{_ACL2}/circles/circumference.acl2": "(certify-book)",
    f"{_STATS}/continuous_beta.html": _SHEET,
    f"{_STATS}/discrete_poisson.html": _SHEET.replace("Beta", "Poisson"),
    f"{_STATS}/continuous.html": "<html><main>Continuous Statistical Distributions</main></html>",
    f"{_STATS}/resampling.html": "<html><main>&gt;&gt;&gt; import numpy</main></html>",
}


@pytest.mark.parametrize(
    ("family", "sources"),
    [
        ("gap-library-code", ["grp.gi"]),
        ("polymake-cpp", ["apps/polytope/src/associahedron.cc"]),
        ("slicot-routines", ["SB04ND.html"]),
        ("acl2-nonstd-analysis", ["circles/circumference.lisp"]),
        ("scipy-distributions", ["continuous_beta.html", "discrete_poisson.html"]),
    ],
)
def test_each_family_reads_its_files_of_the_planted_package(monkeypatch, tmp_path, family, sources):
    assert_gathers(monkeypatch, tmp_path, _FILES, family, PINS[family], sources)


def _text(monkeypatch, tmp_path, family: str) -> str:
    return first_text(monkeypatch, tmp_path, _FILES, family)


def test_code_keeps_the_code_and_loses_its_licence(monkeypatch, tmp_path):
    gap = _text(monkeypatch, tmp_path, "gap-library-code")
    assert gap.startswith("InstallMethod( IsCyclic") and "Copyright" not in gap
    cpp = _text(monkeypatch, tmp_path, "polymake-cpp")
    assert cpp.lstrip().startswith('#include "polymake/client.h"') and "License" not in cpp


def test_slicot_pages_keep_the_routine_and_lose_the_example_and_links(monkeypatch, tmp_path):
    page = _text(monkeypatch, tmp_path, "slicot-routines")
    assert "To solve for X the continuous-time Sylvester equation" in page
    assert "SUBROUTINE SB04ND( ABSCHU, N, M, A, LDA, INFO )" in page
    for cut in ("PROGRAM TSB04ND", "1.0  2.0", "[Specification]", "Return to index", "<"):
        assert cut not in page


def test_proofs_and_sheets_are_mathematics_without_furniture(monkeypatch, tmp_path):
    proof = _text(monkeypatch, tmp_path, "acl2-nonstd-analysis")
    assert proof.startswith('(in-package "ACL2")') and "License" not in proof
    sheet = _text(monkeypatch, tmp_path, "scipy-distributions")
    assert sheet.startswith("Beta Distribution\n") and "\u00b6" not in sheet
    assert sheet.endswith("Implementation: scipy.stats.beta")
    for cut in ("Site navigation", "previous", "Arcsine", "Copyright"):
        assert cut not in sheet


@pytest.mark.parametrize("family", sorted(SEALED12))
def test_sealed12_family_is_registered_and_pinned(family):
    assert_pinned_deb(family, SEALED12[family], PINS[family])


def test_the_twelfth_set_was_scored_once_and_is_held_out_now() -> None:
    """Session 26 sealed these five families before any rule that they would judge was
    written; rule 23 scored them once, and scored families are held out."""
    roles = family_roles()
    assert {name: roles[name] for name in SEALED12} == {
        name: (domain, "heldout") for name, domain in SEALED12.items()
    }
