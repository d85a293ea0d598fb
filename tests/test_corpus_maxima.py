"""The candidate code family ``maxima-share-code`` (session 17): Maxima's share library without
comments, tests and generated data. The comment cutter and the file filter on planted text, the
reader on a planted package, the pin, and that the corpus of record does not list the family.
Offline: no package is fetched."""

from __future__ import annotations

import re

import pytest
from labelled_roles import family_roles
from planted_packages import planted_package

from discovery.corpus.families import FAMILIES, is_maxima_code_file, strip_maxima_comments
from discovery.corpus.fetch import PACKAGES

_SHARE = "usr/share/maxima/5.46.0/share"


@pytest.mark.parametrize(
    ("code", "cut"),
    [
        # a comment alone on its line goes with the line
        ("a: 1;\n/* a note */\nb: 2;", "a: 1;\nb: 2;"),
        # so do comments over several lines, and several comments on one line
        ("a: 1;\n/* one\n   two */\nb: 2;", "a: 1;\nb: 2;"),
        ("a: 1;\n  /* x */ /* y */\nb: 2;", "a: 1;\nb: 2;"),
        # beside code: the comment and its blanks go, indentation stays
        ("f(x) := x^2; /* square */\ng;", "f(x) := x^2;\ng;"),
        ("  /* lead */ x: 1;", "  x: 1;"),
        ("x; /* a */ /* b */\ny;", "x;\ny;"),
        # between code one space stays: Maxima reads a comment as whitespace
        ("p: 1; /* x */ q: 2;", "p: 1; q: 2;"),
        ("a/*b*/c;", "a c;"),
        ("a: 1; /* spans\n lines */ b: 2;", "a: 1; b: 2;"),
        # comments nest: the first */ does not close an outer /*
        ("/* a /* b */ c */ d;", "d;"),
        ("/* /* */ x */ y;", "y;"),
        ("e: 1; /* outer /* inner */ still comment */ f: 2;", "e: 1; f: 2;"),
        ("/***/z;", "z;"),
        ("/* ** / * */ z;", "z;"),
        # a /* inside a string is no comment, nor is one after an escaped quote in it
        ('x: "/* not a comment */"; /* one */ y;', 'x: "/* not a comment */"; y;'),
        ('s: "a\\"/*"; /* c */ t;', 's: "a\\"/*"; t;'),
        ('u: "*/"; v;', 'u: "*/"; v;'),
        ('m: "line one\n/* still the string */";', 'm: "line one\n/* still the string */";'),
        # a " inside a comment opens no string
        ('/* say "hi */ w: "/*";', 'w: "/*";'),
        # a backslash escapes a character of an identifier
        ("a\\/\\*b;", "a\\/\\*b;"),
        # an unclosed comment runs to the end
        ("k: 1;\n/* unclosed\nk: 2;", "k: 1;"),
        # the blank runs a cut leaves are collapsed, and the text's ends trimmed
        ("f: 1;\n\n\n\n/* x */\n\n\ng: 2;\n", "f: 1;\n\ng: 2;"),
        ("/* licence\n   header */\n\n\nh(x) := x;", "h(x) := x;"),
        # code without comments is untouched
        ("h(x) := block([y],\n  y: x^2,\n  y + 1)$", "h(x) := block([y],\n  y: x^2,\n  y + 1)$"),
    ],
)
def test_comments_are_cut_and_strings_kept(code, cut):
    assert strip_maxima_comments(code) == cut


def test_a_licence_header_and_a_doc_block_leave_the_code_alone():
    code = (
        "/*  Copyright (C) 2008 A. Planter\n"
        " *  This program is free software; you can redistribute it under the GPL.\n"
        " */\n"
        "\n"
        "/* Usage: planted(x) returns x^2 + 1.\n"
        "   Example: planted(2); => 5 */\n"
        "planted(x) := block([y],  /* the square */\n"
        '    y: x^2,               /* y is "x squared */\n'
        '    print("/* kept */"),\n'
        "    y + 1)$\n"
    )
    assert strip_maxima_comments(code) == (
        'planted(x) := block([y],\n    y: x^2,\n    print("/* kept */"),\n    y + 1)$'
    )


@pytest.mark.parametrize(
    ("rel", "read"),
    [
        ("algebra/solver/Solver.mac", True),
        ("contrib/integration/abs_integrate.mac", True),
        ("cobyla/ex/ex8.mac", True),  # a worked example is hand-written code
        ("diff_form/hodge_test3.mac", True),  # diff_form's implementation, despite its name
        ("diff_form/f_star_test4.mac", True),
        ("contrib/latest.mac", True),  # "test" inside a word is no test
        ("to_poly_solve/rtest_to_poly_solve.mac", False),  # inputs and expected outputs
        ("ezunits/rtestezunits.mac", False),
        ("algebra/charsets/test.mac", False),  # test drivers
        ("orthopoly/test_orthopoly.mac", False),
        ("contrib/Zeilberger/testZeilberger.mac", False),
        ("contrib/diag_test.mac", False),
        ("solve_rec/simplify_sum_test.mac", False),
        ("contrib/diffequations/tests/setup_tests.mac", False),  # test folders
        ("contrib/gentran/test/det.mac", False),
        ("simplex/Tests/netlib.mac", False),
        ("test_batch_encodings/foo-ISO-8859-1.mac", False),  # encoding fixtures
        ("contrib/fresnel/fresnel_linear_values.mac", False),  # generated data
        ("contrib/fresnel/randi.mac", False),
        ("contrib/elliptic_curves/curve_parameters.mac", False),
        ("draw/worldmap.mac", False),
        ("contrib/fresnel/fresnel.mac", True),  # its code stays
    ],
)
def test_only_hand_written_code_is_read(rel, read):
    assert is_maxima_code_file(rel) is read


_FILES = {
    f"{_SHARE}/linearalgebra/planted.mac": "/* GPL header */\nplanted(m) := transpose(m) . m$\n",
    f"{_SHARE}/linearalgebra/rtest_planted.mac": "planted(1);\n1$\n",
    f"{_SHARE}/contrib/fresnel/randi.mac": "randi: 1 + 2 + 3$\n",
    f"{_SHARE}/algebra/a.mac": 'a(x) := "/* a */" /* b */ $\n',
    f"{_SHARE}/algebra/notes.txt": "Not a .mac file.\n",
}


def test_maxima_family_reads_the_planted_package(monkeypatch, tmp_path):
    planted_package(monkeypatch, tmp_path, _FILES)
    texts, provenance = FAMILIES["maxima-share-code"].gather(tmp_path)
    assert [(t.source, t.text) for t in texts] == [
        ("maxima-share@5.46.0-11/algebra/a.mac", 'a(x) := "/* a */" $'),
        ("maxima-share@5.46.0-11/linearalgebra/planted.mac", "planted(m) := transpose(m) . m$"),
    ]
    assert {t.subdomain for t in texts} == {"maxima-share-code"}
    assert provenance == [{"name": "maxima-share", "version": "5.46.0-11"}]


def test_maxima_family_is_registered_and_pinned():
    assert FAMILIES["maxima-share-code"].domain == "code"
    package = PACKAGES["maxima-share"]
    assert (package.manager, package.version) == ("apt", "5.46.0-11")
    assert package.filename == "maxima-share_5.46.0-11_all.deb"
    assert package.sha256 == "8dff78e1cecf9e39cfcd9b3a32a6707688c172297aad61fc2503365d5b0b1df8"
    assert re.fullmatch(r"[0-9a-f]{64}", package.sha256)
    assert package.members == ()  # unpacked whole: its .mac files lie all over the share tree


def test_the_corpus_of_record_does_not_list_the_candidate():
    """A candidate: it enters configs/labelled.yaml only if a pre-registered test accepts it."""
    assert "maxima-share-code" not in family_roles()
