"""The sixteenth sealed set of the labelled corpus (session 30, for rule 28): its families read
from tiny planted packages (what each keeps and what it cuts), the cleaners they brought
(Haddock's source pages, Fortran licence notices, Minlog's session set-up and commented-out
forms, the mathematical sections of POD), the pins (only the folders read are unpacked) and the
config roles. Offline: no package is fetched and no family text is scored."""

from __future__ import annotations

import pytest
from labelled_roles import family_roles
from planted_packages import (
    assert_gathers,
    assert_pinned_deb,
    assert_pinned_sdist,
    first_text,
    planted_package,
    planted_packages,
)

from discovery.corpus.families import FAMILIES, is_netlib_routine_file
from discovery.corpus.fetch import NETLIB_FORTRAN
from discovery.corpus.library_pages import haddock_source
from discovery.corpus.sources import (
    is_minlog_proof_file,
    pod_sections,
    strip_commented_forms,
    strip_fortran_licences,
)

SEALED16 = {
    "haskell-numerics": "code",
    "netlib-fortran": "code",
    "minlog-proofs": "math",
    "planepath-pod": "math",
}
PINS = {  # family -> (package, version, architecture, what is unpacked)
    "minlog-proofs": (
        "minlog",
        "4.0.99.20100221-7",
        "all",
        ("usr/share/minlog/lib/", "usr/share/doc/minlog/examples/"),
    ),
    "planepath-pod": ("libmath-planepath-perl", "129-1", "all", ("usr/share/perl5/Math/",)),
}
HASKELL_PINS = {  # the packages of haskell-numerics: package -> (version, architecture, unpacked)
    "libghc-math-functions-doc": (
        "0.3.4.2-1",
        "all",
        ("usr/share/doc/libghc-math-functions-doc/html/src/",),
    ),
    "libghc-statistics-doc": (
        "0.16.1.0-1",
        "all",
        ("usr/share/doc/libghc-statistics-doc/html/src/",),
    ),
}
_SCIPY = "scipy-1.10.1/scipy"
_ARPACK = f"{_SCIPY}/sparse/linalg/_eigen/arpack/ARPACK/SRC"
_MATH = "usr/share/perl5/Math"
_HADDOCK_PAGE = (
    '<html><head><script src="highlight.js"></script></head><body><pre>'
    '<span class="hs-comment">-- |</span>\n'
    '<span class="hs-comment">-- Module    : Numeric.SpecFunctions</span>\n'
    '<span class="hs-comment">-- Copyright : (c) 2009, 2011 Bryan O\'Sullivan</span>\n'
    '<span class="hs-comment">--             (c) 2012 Aleksey Khudyakov</span>\n'
    '<span class="hs-comment">-- License   : BSD3</span>\n'
    '<span class="hs-comment">-- Maintainer  : bos@serpentine.com</span>\n'
    '<span class="hs-comment">-- | Error function, \\[ \\operatorname{erf}(x) &lt; 1 \\]</span>\n'
    '<span class="annot"><span class="annottext">erf :: Double -&gt; Double\n</span>'
    '<a href="#erf"><span class="hs-identifier">erf</span></a></span> '
    '<span class="hs-glyph">::</span> <span class="hs-identifier">Double</span> '
    '<span class="hs-glyph">-&gt;</span> <span class="hs-identifier">Double</span>\n'
    "</pre></body></html>"
)
_QUADPACK = (
    "      subroutine dqk15(f,a,b,result,abserr)\n"
    "c***purpose  to compute i = integral of f over (a,b), with error\n"
    "c                           estimate j = integral of abs(f) over (a,b)\n"
    "      double precision a,b,result\n      result = 0.0d+00\n      return\n      end\n"
)
_SLSQP = (
    "C\nC      ALGORITHM 733, COLLECTED ALGORITHMS FROM ACM.\n"
    "C      the ACM hereby releases this code under the BSD license.\nC\n\n"
    "      SUBROUTINE slsqp (m, meq, la, n, x)\n"
    "C***********************************************************************\n"
    "C*  SOLVES THE NONLINEAR PROGRAMMING PROBLEM  MIN F(X)  S.T. C(X) >= 0 *\n"
    "C***********************************************************************\n"
    "C*  Copyright 1991: Dieter Kraft, FHM                                  *\n"
    "C***********************************************************************\n"
    "      INTEGER m, meq\n      END\n"
)
_NAT = (
    "; $Id: nat.scm 2156 2008-01-25 13:25:12Z schwicht $\n"
    '(load "~/minlog/init.scm")\n(set! COMMENT-FLAG #f)\n; (libload "nat.scm")\n\n'
    '; "NatPlusComm"\n(set-goal "all nat1,nat2 nat1+nat2=nat2+nat1")\n(assume "nat1")\n'
    '(ind)\n  (use "Truth-Axiom")\n; (define (old-proof x)\n;   (ind x))\n'
    '; Proof finished.\n(save "NatPlusComm")\n'
)
_SIMPREAL = "(define (simp-real x)\n  (car x))\n(define (real-to-string x) x)\n"
_SQUARE_SPIRAL = (
    "package Math::PlanePath::SquareSpiral;\nuse 5.004;\nsub n_to_xy {\n  return (0,0);\n}\n"
    "1;\n__END__\n\n=for stopwords Ryde Math-PlanePath\n  Ulam\n\n=head1 NAME\n\n"
    "Math::PlanePath::SquareSpiral -- integer points drawn around a square\n\n"
    "=head1 SYNOPSIS\n\n use Math::PlanePath::SquareSpiral;\n\n=head1 DESCRIPTION\n\n"
    "This path makes a square spiral,\n\n    5---4---3\n    |       |\n    6   1---2\n\n"
    "=head2 Corners\n\nN=2,3,5 are the corners, N=k^2+1.\n\n=cut\n\n# X = (sqrt(N)-1)/2\n\n"
    "=pod\n\n=begin comment\n\nnot for the reader\n\n=end comment\n\n"
    "=head1 FUNCTIONS\n\n=over\n\n=item C<$path-E<gt>n_to_xy ($n)>\n\n=back\n\n"
    "=head1 FORMULAS\n\n=for GP-Test  2*3 == 6\n\nThe X,Y of N is X = ceil(sqrt(N)/2).\n\n"
    "=head1 LICENSE\n\nMath-PlanePath is free software; GNU General Public License.\n\n=cut\n"
)
_FILES = {
    f"{_SCIPY}/integrate/quadpack/dqk15.f": _QUADPACK,
    f"{_SCIPY}/optimize/slsqp/slsqp_optmz.f": _SLSQP,
    f"{_SCIPY}/optimize/lbfgsb_src/linpack.f": "      subroutine dpofa(a)\n      end\n",
    f"{_ARPACK}/dsaupd.f": "c\\Name: dsaupd\nc  Reverse communication interface\n      end\n",
    f"{_ARPACK}/ssaupd.f": "c\\Name: ssaupd\nc  Reverse communication interface\n      end\n",
    "usr/share/minlog/lib/nat.scm": _NAT,
    "usr/share/minlog/lib/simpreal.scm": _SIMPREAL,  # the system's machinery, no goal
    "usr/share/doc/minlog/examples/prop/prop.scm": '(set-goal (pf "A -> A"))\n(prop)\n',
    f"{_MATH}/PlanePath/SquareSpiral.pm": _SQUARE_SPIRAL,
    f"{_MATH}/NumSeq/OEIS/Catalogue/Plugin/PlanePath.pm": "package X;\n1;\n",  # no POD
}


@pytest.mark.parametrize(
    ("family", "pin", "sources"),
    [
        (
            "netlib-fortran",
            ("scipy", "1.10.1"),
            [
                "integrate/quadpack/dqk15.f",
                "optimize/slsqp/slsqp_optmz.f",
                "sparse/linalg/_eigen/arpack/ARPACK/SRC/dsaupd.f",
            ],
        ),
        (
            "minlog-proofs",
            PINS["minlog-proofs"],
            ["doc/minlog/examples/prop/prop.scm", "minlog/lib/nat.scm"],
        ),
        (  # a module without the sections gives an empty text, which makes no document
            "planepath-pod",
            PINS["planepath-pod"],
            ["NumSeq/OEIS/Catalogue/Plugin/PlanePath.pm", "PlanePath/SquareSpiral.pm"],
        ),
    ],
)
def test_each_family_reads_its_files_of_the_planted_package(
    monkeypatch, tmp_path, family, pin, sources
):
    assert_gathers(monkeypatch, tmp_path, _FILES, family, pin, sources)


def test_the_fortran_keeps_routines_and_loses_licence_notices(monkeypatch, tmp_path):
    quadpack = first_text(monkeypatch, tmp_path, _FILES, "netlib-fortran")
    assert quadpack == _QUADPACK.strip("\n")
    slsqp = strip_fortran_licences(_SLSQP)
    assert slsqp.startswith("      SUBROUTINE slsqp") and "MIN F(X)  S.T. C(X) >= 0" in slsqp
    for cut in ("ALGORITHM 733", "BSD license", "Copyright", "Kraft"):
        assert cut not in slsqp
    assert slsqp.endswith("      INTEGER m, meq\n      END")


def test_a_fortran_header_without_licence_words_stays():
    header = "C  COMPUTES THE BESSEL FUNCTION J(FNU,Z)\n\n      SUBROUTINE ZBESJ\n      END\n"
    assert strip_fortran_licences(header) == header.strip("\n")


def test_only_double_precision_arpack_and_the_libraries_own_routines_are_read():
    arpack = "sparse/linalg/_eigen/arpack/ARPACK/SRC"
    assert is_netlib_routine_file(f"{arpack}/dnaupd.f")
    for other in ("snaupd.f", "cnaupd.f", "znaupd.f"):
        assert not is_netlib_routine_file(f"{arpack}/{other}")
    assert not is_netlib_routine_file("odr/odrpack/d_lpk.f")
    assert is_netlib_routine_file("odr/odrpack/d_odr.f")
    assert is_netlib_routine_file("special/amos/zbesj.f")


def test_the_proofs_lose_session_set_up_and_commented_out_code(monkeypatch, tmp_path):
    prop, nat = FAMILIES["minlog-proofs"].gather(_planted(monkeypatch, tmp_path))[0]
    assert prop.text == '(set-goal (pf "A -> A"))\n(prop)'
    proof = nat.text
    assert proof.startswith('; "NatPlusComm"\n(set-goal "all nat1,nat2 nat1+nat2=nat2+nat1")')
    assert proof.endswith('(use "Truth-Axiom")\n; Proof finished.\n(save "NatPlusComm")')
    for cut in ("$Id", "init.scm", "COMMENT-FLAG", "libload", "old-proof", "(ind x)"):
        assert cut not in proof


def _planted(monkeypatch, tmp_path):
    planted_package(monkeypatch, tmp_path, _FILES)
    return tmp_path


def test_a_minlog_file_is_proofs_when_its_goals_outnumber_its_definitions():
    assert is_minlog_proof_file('(set-goal "all n n=n")\n(define eterm 1)\n')
    assert not is_minlog_proof_file(_SIMPREAL)
    assert not is_minlog_proof_file('; (set-goal "all n n=n")\n')  # a goal commented out
    assert not is_minlog_proof_file('(set-goal "A")\n(define a 1)\n(define b 2)\n')


def test_a_comment_in_words_after_a_commented_form_stays():
    scheme = "; (dnp)\n;   (search)\n; Indeed, efq suffices.\n;\n(prop)"
    assert strip_commented_forms(scheme) == "; Indeed, efq suffices.\n;\n(prop)"


def test_the_pod_keeps_description_and_formulas_only(monkeypatch, tmp_path):
    texts, _ = FAMILIES["planepath-pod"].gather(_planted(monkeypatch, tmp_path))
    assert texts[0].text == ""
    pod = texts[1].text
    assert pod.startswith("=head1 DESCRIPTION\n\nThis path makes a square spiral,\n\n    5---4")
    assert "=head2 Corners\n\nN=2,3,5 are the corners, N=k^2+1." in pod
    assert pod.endswith("=head1 FORMULAS\n\nThe X,Y of N is X = ceil(sqrt(N)/2).")
    for cut in ("package", "sub n_to_xy", "stopwords", "Ulam", "SYNOPSIS", "sqrt(N)-1"):
        assert cut not in pod
    for cut in ("not for the reader", "=begin", "=pod", "n_to_xy", "GP-Test", "General Public"):
        assert cut not in pod
    assert "\n\n\n" not in pod


def test_pod_of_a_module_without_commands_is_empty():
    assert pod_sections("package X;\nsub f { 1 }\n1;\n") == ""


def test_the_haddock_page_gives_the_source_without_tooltips_and_licence_fields():
    source = haddock_source(_HADDOCK_PAGE)
    assert source == (
        "-- |\n-- Module    : Numeric.SpecFunctions\n"
        "-- | Error function, \\[ \\operatorname{erf}(x) < 1 \\]\n"
        "erf :: Double -> Double"
    )
    assert haddock_source("<html><body>no source</body></html>") == ""


def test_the_haskell_libraries_are_read_from_both_packages(monkeypatch, tmp_path):
    doc = "usr/share/doc"
    planted = {
        "libghc-math-functions-doc": {
            f"{doc}/libghc-math-functions-doc/html/src/Numeric.SpecFunctions.html": _HADDOCK_PAGE,
            f"{doc}/libghc-math-functions-doc/html/src/style.css": "pre { }\n",
        },
        "libghc-statistics-doc": {
            f"{doc}/libghc-statistics-doc/html/src/Statistics.Sample.html": "<pre>mean = 1\n</pre>",
        },
    }
    planted_packages(monkeypatch, tmp_path, planted)
    texts, provenance = FAMILIES["haskell-numerics"].gather(tmp_path)
    assert [t.source for t in texts] == [
        "libghc-math-functions-doc@0.3.4.2-1/libghc-math-functions-doc/html/src/"
        "Numeric.SpecFunctions.html",
        "libghc-statistics-doc@0.16.1.0-1/libghc-statistics-doc/html/src/Statistics.Sample.html",
    ]
    assert [p["name"] for p in provenance] == list(HASKELL_PINS)
    assert texts[1].text == "mean = 1"


@pytest.mark.parametrize(
    ("family", "pin"),
    [(family, pin) for family, pin in PINS.items()]
    + [("haskell-numerics", (package, *pin)) for package, pin in HASKELL_PINS.items()],
)
def test_each_deb_of_the_set_is_pinned_unpacking_only_what_is_read(family, pin):
    assert_pinned_deb(family, SEALED16[family], pin)


def test_the_fortran_is_pinned_as_the_sdist_unpacking_only_its_libraries():
    members = tuple(f"{_SCIPY}/{folder}/" for folder in NETLIB_FORTRAN)
    sha256 = "2cf9dfb80a7b4589ba4c40ce7588986d6d5cebc5457cad2c2880f6bc2d42f3a5"
    pin = ("scipy", "1.10.1", "scipy-1.10.1.tar.gz", members, sha256)
    assert_pinned_sdist("netlib-fortran", "code", pin)
    assert len(members) == 15 and "integrate/quadpack" in NETLIB_FORTRAN


def test_the_sixteenth_set_is_sealed_and_nothing_else_is() -> None:
    """Session 30 sealed these families after rule 28 was written and before any model, scorer
    or classifier read them; they wait for rule 28's gate 2, scored once, then held out."""
    roles = family_roles()
    sealed = {name: spec for name, spec in roles.items() if spec[1] == "sealed"}
    assert sealed == {name: (domain, "sealed") for name, domain in SEALED16.items()}
