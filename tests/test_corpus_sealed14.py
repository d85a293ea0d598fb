"""The fourteenth sealed set of the labelled corpus (session 28, for rule 26): its families read
from tiny planted packages (what each keeps and what it cuts), the cleaners they brought
(FreeFEM's licence banners and run lines, MiniZinc's includes), the pins (only the folders read
are unpacked) and the config roles. Offline: no package is fetched and no family text is
scored."""

from __future__ import annotations

import pytest
from labelled_roles import family_roles
from planted_packages import assert_gathers, assert_pinned_deb, first_text

from discovery.corpus.families import is_minizinc_variant
from discovery.corpus.library_pages import ppl_manual_text
from discovery.corpus.sources import freefem_script, strip_gretl_listings, strip_minizinc_includes

SEALED14 = {
    "freefem-scripts": "code",
    "dealii-tutorials": "code",
    "minizinc-globals": "code",
    "gretl-econometrics": "math",
    "ppl-polyhedra-manual": "math",
}
PINS = {  # family -> (package, version, architecture, what is unpacked)
    "freefem-scripts": (
        "freefem++-doc",
        "4.11+dfsg1-3",
        "all",
        ("usr/share/doc/freefem++/examples/",),
    ),
    "dealii-tutorials": (
        "libdeal.ii-doc",
        "9.4.1-1",
        "all",
        ("usr/share/doc/libdeal.ii-doc/examples/",),
    ),
    "minizinc-globals": ("minizinc", "2.6.4+dfsg1-1", "amd64", ("usr/share/minizinc/std/",)),
    "gretl-econometrics": ("gretl-doc", "2022c-1", "all", ("usr/share/doc/gretl/doc/tex/",)),
    "ppl-polyhedra-manual": (
        "libppl-doc",
        "1:1.2-8.1",
        "all",
        ("usr/share/doc/libppl-doc/html/user-manual/",),
    ),
}
_FREEFEM = "usr/share/doc/freefem++/examples"
_DEALII = "usr/share/doc/libdeal.ii-doc/examples"
_MINIZINC = "usr/share/minizinc/std"
_GRETL = "usr/share/doc/gretl/doc/tex"
_PPL = "usr/share/doc/libppl-doc/html/user-manual"
_BANNER = (
    "/****************************************************************************/\n"
    "/* This file is part of FreeFEM.                                            */\n"
    "/* FreeFEM is free software: under the GNU Lesser General Public License.   */\n"
    "/****************************************************************************/\n"
)
_HEAT = (
    _BANNER + "// NBPROC 4\n// PARAM -n 5\n\n// Parameters: the heat equation on a square\n"
    "real dt = 0.1;\nmesh Th = square(10, 10);\nfespace Vh(Th, P1);\nVh u, v;\n"
    "problem Heat(u, v) = int2d(Th)(u*v/dt + dx(u)*dx(v));\n"
)
_STEP = (
    "/* ---------------------------------------------------------------------\n *\n"
    " * Copyright (C) 2000 - 2021 by the deal.II authors\n * under the GNU LGPL.\n"
    " * ---------------------------------------------------------------------\n\n"
    " *\n * Author: Wolfgang Bangerth, 2000\n */\n\n\n// @sect3{Include files}\n\n"
    "// The weak form reads $(\\nabla u, \\nabla v) = (f, v)$ for all test functions $v$.\n"
    "#include <deal.II/base/quadrature_lib.h>\n\nint main()\n{\n  return 0;\n}\n"
)
_CUMULATIVE = (
    'include "disjunctive.mzn";\ninclude "fzn_cumulative.mzn";\n\n'
    "/** @group globals.scheduling\n  Requires that a set of tasks given by start times \\a s\n"
    "  never require more than a resource bound \\a b at any one time.\n*/\n"
    "predicate cumulative(array[int] of var int: s, var int: b) =\n  fzn_cumulative(s, b);\n"
)
_GMM = (
    "\\chapter{GMM estimation}\n\nSuppose we wish to estimate $\\theta$ from $x_1, \\ldots, x_T$:\n"
    "\\begin{equation}\n  E[x_t - g(\\theta)] = 0\n\\end{equation}\n\n"
    "\\begin{code}\ngmm e = y - x*b\n  orthog e ; x\nend gmm\n\\end{code}\n\n\n"
    "\\begin{scodebit}\nols y 0 x\n\\end{scodebit}\nThe estimator minimises $e'We$.\n"
)
_MANUAL = (
    '<html><div id="nav">Main Page Classes</div><div class="contents">'
    '<div class="textblock"><h1><a class="anchor" id="preamble"></a>Convex Polyhedra</h1>'
    '<p>A set <img class="formulaInl" alt="$\\cP \\sseq \\Rset^n$" src="form_3.png"/> '
    "is a convex polyhedron if it is an intersection of half-spaces.</p>"
    '<div class="fragment"><div class="line">C_Polyhedron ph(2);</div></div><!-- fragment -->'
    "<p>Each &lt;generator&gt; is a point, ray or line.</p>"
    '<h1><a class="anchor" id="use_of_library"></a>Using the Library</h1><p>Link with -lppl.</p>'
    '<h1><a class="anchor" id="bibliography"></a>Bibliography</h1><dl><dt>[Wey35]</dt></dl>'
    "</div></div></html>"
)
_FILES = {
    f"{_FREEFEM}/examples/Heat.edp": _HEAT,
    f"{_FREEFEM}/tutorial/membrane.edp": "// the membrane\nmesh Th = square(5, 5);\n",
    f"{_FREEFEM}/hpddm/diffusion-2d.edp": "// a parallel variant\nmesh Th = square(5, 5);\n",
    f"{_FREEFEM}/bug/fail.edp": "// a regression test\n",
    f"{_DEALII}/step-6/step-6.cc": _STEP,
    f"{_DEALII}/step-6/CMakeLists.txt": "PROJECT(step-6)\n",
    f"{_DEALII}/doxygen/step_3_mixed.cc": "int main() {}\n",
    f"{_MINIZINC}/cumulative.mzn": _CUMULATIVE,
    f"{_MINIZINC}/fzn_cumulative.mzn": "predicate fzn_cumulative(array[int] of var int: s);\n",
    f"{_MINIZINC}/fzn_cumulative_reif.mzn": "predicate fzn_cumulative_reif(var bool: b);\n",
    f"{_MINIZINC}/cumulative.mzn.deprecated.mzn": "% deprecated\n",
    f"{_MINIZINC}/stdlib/stdlib_math.mzn": "function int: abs(int: x) = max(x, -x);\n",
    f"{_GRETL}/gmm.tex.gz": _GMM,
    f"{_GRETL}/hp-hello.tex.gz": "\\chapter{Hello, world!}\n",  # the hansl primer
    f"{_GRETL}/datafiles.tex.gz": "\\chapter{Data files}\n",  # software, not econometrics
    f"{_PPL}/index.html": _MANUAL,
    f"{_PPL}/classParma__Polyhedra__Library_1_1Grid.html": "<html>class reference</html>",
}


@pytest.mark.parametrize(
    ("family", "sources"),
    [
        ("freefem-scripts", ["examples/Heat.edp", "tutorial/membrane.edp"]),
        ("dealii-tutorials", ["step-6/step-6.cc"]),
        ("minizinc-globals", ["cumulative.mzn", "stdlib/stdlib_math.mzn"]),
        ("gretl-econometrics", ["gmm.tex.gz"]),
        ("ppl-polyhedra-manual", ["index.html"]),
    ],
)
def test_each_family_reads_its_files_of_the_planted_package(monkeypatch, tmp_path, family, sources):
    assert_gathers(monkeypatch, tmp_path, _FILES, family, PINS[family], sources)


def _text(monkeypatch, tmp_path, family: str) -> str:
    return first_text(monkeypatch, tmp_path, _FILES, family)


def test_code_keeps_the_code_and_its_commentary_and_loses_licences(monkeypatch, tmp_path):
    freefem = _text(monkeypatch, tmp_path, "freefem-scripts")
    assert freefem.startswith("// Parameters: the heat equation") and "int2d(Th)" in freefem
    for cut in ("FreeFEM", "License", "NBPROC", "PARAM -n"):
        assert cut not in freefem
    step = _text(monkeypatch, tmp_path, "dealii-tutorials")
    assert "Copyright" not in step and "LGPL" not in step and "Bangerth" not in step
    assert "$(\\nabla u, \\nabla v) = (f, v)$" in step and "int main()" in step
    minizinc = _text(monkeypatch, tmp_path, "minizinc-globals")
    assert minizinc.startswith("/** @group globals.scheduling") and "include" not in minizinc
    assert "predicate cumulative(" in minizinc


def test_mathematics_keeps_the_derivations_and_loses_listings_and_furniture(monkeypatch, tmp_path):
    gretl = _text(monkeypatch, tmp_path, "gretl-econometrics")
    assert gretl.startswith("\\chapter{GMM estimation}") and "E[x_t - g(\\theta)] = 0" in gretl
    assert gretl.endswith("The estimator minimises $e'We$.")
    assert "orthog" not in gretl and "ols y" not in gretl and "\n\n\n" not in gretl
    manual = _text(monkeypatch, tmp_path, "ppl-polyhedra-manual")
    assert manual.startswith("Convex Polyhedra\n\nA set $\\cP \\sseq \\Rset^n$ is a convex")
    assert "Each <generator> is a point" in manual
    for cut in ("Main Page", "C_Polyhedron ph", "Using the Library", "-lppl", "Wey35"):
        assert cut not in manual


def test_a_ppl_page_without_the_manuals_chapters_is_read_whole():
    page = '<p>Formula <img class="formulaDsp" alt="\\[ x \\geq 0 \\]" src="f.png"/>.</p>'
    assert ppl_manual_text(page) == "Formula \\[ x \\geq 0 \\]."


def test_gretl_listings_go_and_other_environments_stay():
    chapter = (
        "Text.\n\\begin{script}\nols y x\n\\end{script}\n\\begin{align*} a &= b \\end{align*}\n"
    )
    assert strip_gretl_listings(chapter) == "Text.\n\\begin{align*} a &= b \\end{align*}"


def test_freefem_cleaning_keeps_comments_that_only_mention_parameters():
    code = (
        "// THE COMPUTATIONAL PARAMETERS: Begin\nreal h = 0.1;\n"
        "// run with MPI:  ff-mpirun -np 4 script.edp\n"
    )
    assert freefem_script(code) == "// THE COMPUTATIONAL PARAMETERS: Begin\nreal h = 0.1;"
    assert (
        freefem_script("//Copyright 2012 Caltech.\n//All rights reserved.\nreal x;\n") == "real x;"
    )


def test_minizinc_includes_go_and_the_word_include_stays_elsewhere():
    model = 'include "globals.mzn";\n% include the bounds\nconstraint x > 0;\n'
    assert strip_minizinc_includes(model) == "% include the bounds\nconstraint x > 0;"


@pytest.mark.parametrize(
    ("rel", "variant"),
    [
        ("cumulative.mzn", False),
        ("stdlib/stdlib_math.mzn", False),
        ("fzn_cumulative.mzn", True),
        ("fzn_cumulative_reif.mzn", True),
        ("all_different_int.mzn.deprecated.mzn", True),
        ("ide/vis.mzn", False),
    ],
)
def test_minizinc_variants_are_told_from_front_files(rel, variant):
    assert is_minizinc_variant(rel) is variant


@pytest.mark.parametrize("family", sorted(SEALED14))
def test_sealed14_family_is_registered_and_pinned(family):
    assert_pinned_deb(family, SEALED14[family], PINS[family])


def test_the_fourteenth_set_was_scored_once_and_is_held_out_now() -> None:
    """Session 28 sealed these families after rule 26 was written and before any model, scorer
    or classifier read them; rule 26 scored them once (session 29), and scored families are
    held out (what is sealed now: tests/test_corpus_sealed15.py)."""
    roles = family_roles()
    assert {name: roles[name] for name in SEALED14} == {
        name: (domain, "heldout") for name, domain in SEALED14.items()
    }
