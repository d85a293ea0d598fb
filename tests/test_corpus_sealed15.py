"""The fifteenth sealed set of the labelled corpus (session 29, for rule 27): its families read
from tiny planted packages (what each keeps and what it cuts), the cleaners they brought
(Frama-C's boxed licence banner, gnuplot's pauses, the mathematical sections of scikit-learn's
user guide, R vignettes' bodies), the pins (only the folders read are unpacked) and the config
roles. Offline: no package is fetched and no family text is scored."""

from __future__ import annotations

import pytest
from labelled_roles import family_roles
from planted_packages import (
    assert_gathers,
    assert_pinned_deb,
    assert_pinned_sdist,
    first_text,
    planted_packages,
)

from discovery.corpus.families import FAMILIES
from discovery.corpus.library_pages import sklearn_math_sections
from discovery.corpus.sources import gnuplot_demo, r_vignette_body, strip_boxed_licence

SEALED15 = {
    "frama-c-acsl": "code",
    "gnuplot-demos": "code",
    "sklearn-user-guide": "math",
    "r-model-vignettes": "math",
}
PINS = {  # family -> (package, version, architecture, what is unpacked)
    "frama-c-acsl": (
        "frama-c-base",
        "20220511-manganese-3+b4",
        "amd64",
        ("usr/share/frama-c/libc/",),
    ),
    "gnuplot-demos": (
        "gnuplot-doc",
        "5.4.4+dfsg1-2",
        "all",
        ("usr/share/doc/gnuplot/examples/",),
    ),
}
R_PINS = {  # the R packages of r-model-vignettes: package -> (version, architecture, unpacked)
    "r-cran-actuar": ("3.3-2-1", "amd64", ("usr/lib/R/site-library/actuar/doc/",)),
    "r-cran-lme4": ("1.1-31-1", "amd64", ("usr/lib/R/site-library/lme4/doc/",)),
    "r-cran-mixtools": ("2.0.0-1", "amd64", ("usr/lib/R/site-library/mixtools/doc/",)),
    "r-cran-sandwich": ("3.0-2-1", "all", ("usr/lib/R/site-library/sandwich/doc/",)),
    "r-cran-strucchange": ("1.5-3-1", "amd64", ("usr/lib/R/site-library/strucchange/doc/",)),
}
_LIBC = "usr/share/frama-c/libc"
_GNUPLOT = "usr/share/doc/gnuplot/examples"
_SKLEARN = "scikit_learn-1.5.2/doc/modules"
_BANNER = (
    "/**************************************************************************/\n"
    "/*                                                                        */\n"
    "/*  This file is part of Frama-C.                                         */\n"
    "/*  Copyright (C) 2007-2022 CEA                                           */\n"
    "/*  GNU Lesser General Public License, version 2.1.                       */\n"
    "/**************************************************************************/\n"
)
_STRING_H = (
    _BANNER + "\n/* ISO C: 7.21 */\n#ifndef __FC_STRING\n#define __FC_STRING\n\n"
    "/*@ requires valid_string_s: valid_read_string(s);\n"
    "  assigns \\result \\from indirect:s[0..];\n"
    "  ensures acsl_c_equiv: \\result == strlen(s);\n*/\nextern size_t strlen(const char *s);\n"
    "#endif\n"
)
_BIVARIATE = (
    "# the integral of f(x) from 0 to x by Simpson's rule\n"
    "integral_f(x) = (x>0)?int1a(x,x/ceil(x/delta)):-int1b(x,-x/ceil(-x/delta))\n"
    "f(x) = exp(-x**2)\nplot [-5:5] f(x), 2/sqrt(pi)*integral_f(x)\n"
    'pause -1 "Hit return to continue"\n\n\n'
    "f(x)=cos(x)\nplot [-5:5] f(x), integral_f(x)\n    pause mouse close\nreset\n"
)
_GUIDE = (
    ".. _sgd:\n\n===========================\nStochastic Gradient Descent\n"
    "===========================\n\n.. currentmodule:: sklearn.linear_model\n\n"
    ":class:`SGDClassifier` fits linear models; use it as a pipeline step.\n\n"
    "Classification\n==============\n\nFit the model with two arrays::\n\n"
    "    >>> clf = SGDClassifier(loss='hinge')\n    >>> clf.fit(X, y)\n\n"
    ".. figure:: ../auto_examples/images/plot_sgd.png\n   :scale: 75\n\n"
    "Mathematical formulation\n========================\n\n"
    "Given training examples :math:`(x_1, y_1), \\ldots, (x_n, y_n)` with\n"
    ":math:`x_i \\in \\mathbf{R}^m`, we learn a scoring function :math:`f(x) = w^T x + b`\n"
    "by minimizing the regularized training error\n\n.. math::\n\n"
    "    E(w,b) = \\frac{1}{n}\\sum_{i=1}^{n} L(y_i, f(x_i)) + \\alpha R(w)\n\n"
    ">>> SGDClassifier().loss\n'hinge'\n\n"
    ".. dropdown:: Mathematical details\n\n  The hinge loss is :math:`\\max(0, 1 - y f(x))`.\n\n"
    ".. dropdown:: References\n\n  * Bottou, L. Stochastic gradient learning.\n\n"
    ".. rubric:: Examples\n\n* :ref:`sphx_glr_auto_examples_plot_sgd.py`\n"
    "  and its variants\n\n"
    "The update is :math:`w \\leftarrow w - \\eta \\nabla E`.\n"
)
_THEORY = (
    "%\\VignetteIndexEntry{Computational Methods}\n\\documentclass{article}\n"
    "\\usepackage{amsmath}\n\\newcommand{\\bc}[1]{\\mathcal{#1}}\n\\title{lme4}\n"
    "\\begin{document}\n\\maketitle\n%\\VignetteEngine{Sweave}\n\\SweaveOpts{engine=R}\n\n"
    "A mixed-effects model incorporates two random variables, $\\bc{Y}$ and $\\bc{B}$.\n"
    "<<fit, echo=FALSE>>=\nfm1 <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy)\n@\n\n\n"
    "\\begin{Schunk}\n\\begin{Sinput}\nR> summary(fm1)\n\\end{Sinput}\n\\end{Schunk}\n"
    "\\begin{equation}\n"
    "  \\bc{Y} | \\bc{B} = b \\sim N(X\\beta + Zb, \\sigma^2 I)\n\\end{equation}\n"
    "\\end{document}\n"
)
_FILES = {
    f"{_LIBC}/string.h": _STRING_H,
    f"{_LIBC}/__fc_define_size_t.h": _BANNER + "typedef unsigned long size_t;\n",  # no ACSL
    f"{_GNUPLOT}/bivariat.dem": _BIVARIATE,
    f"{_GNUPLOT}/stat.inc": "# statistical functions\nnormal(x,mu,sigma)=exp(-(x-mu)**2/2)\n",
    f"{_GNUPLOT}/all.dem": 'load "bivariat.dem"\nreset\n',  # runs the other demos
    f"{_GNUPLOT}/image2.dem": "plot '-' binary\n\x00\x00\x00?\n",  # inline binary data
    f"{_GNUPLOT}/1.dat": "1 2\n",
    f"{_SKLEARN}/sgd.rst": _GUIDE,
    f"{_SKLEARN}/unsupervised_reduction.rst": "Unsupervised dimensionality reduction\n"
    "======================================\n\nReduce with :class:`PCA` before a classifier.\n",
}


@pytest.mark.parametrize(
    ("family", "pin", "sources"),
    [
        ("frama-c-acsl", PINS["frama-c-acsl"], ["string.h"]),
        ("gnuplot-demos", PINS["gnuplot-demos"], ["bivariat.dem", "stat.inc"]),
        (  # a page without mathematics gives an empty text, which makes no document
            "sklearn-user-guide",
            ("scikit-learn", "1.5.2"),
            ["sgd.rst", "unsupervised_reduction.rst"],
        ),
    ],
)
def test_each_family_reads_its_files_of_the_planted_package(
    monkeypatch, tmp_path, family, pin, sources
):
    assert_gathers(monkeypatch, tmp_path, _FILES, family, pin, sources)


def _text(monkeypatch, tmp_path, family: str) -> str:
    return first_text(monkeypatch, tmp_path, _FILES, family)


def test_code_keeps_specifications_and_scripts_and_loses_licences_and_pauses(monkeypatch, tmp_path):
    acsl = _text(monkeypatch, tmp_path, "frama-c-acsl")
    assert acsl.startswith("/* ISO C: 7.21 */") and "ensures acsl_c_equiv:" in acsl
    assert "Copyright" not in acsl and "Lesser General" not in acsl and "****" not in acsl
    demo = _text(monkeypatch, tmp_path, "gnuplot-demos")
    assert "pause" not in demo and "\n\n\n" not in demo
    assert demo.startswith("# the integral of f(x)") and demo.endswith("integral_f(x)\nreset")


def test_the_guide_keeps_the_mathematical_sections_and_loses_usage_and_markup(
    monkeypatch, tmp_path
):
    guide = _text(monkeypatch, tmp_path, "sklearn-user-guide")
    assert guide.startswith("Mathematical formulation\n========================\n\nGiven")
    assert "E(w,b) = \\frac{1}{n}" in guide and ".. dropdown:: Mathematical details" in guide
    assert "The hinge loss is :math:`\\max(0, 1 - y f(x))`." in guide
    assert guide.endswith("The update is :math:`w \\leftarrow w - \\eta \\nabla E`.")
    for cut in ("pipeline step", "two arrays", ">>>", "'hinge'", "figure", "Bottou", "sphx_glr"):
        assert cut not in guide
    assert "\n\n\n" not in guide
    assert sklearn_math_sections(_FILES[f"{_SKLEARN}/unsupervised_reduction.rst"]) == ""


def test_a_literal_block_goes_and_its_paragraph_keeps_one_colon():
    page = (
        "Ridge\n=====\n\nThe penalty is :math:`\\alpha ||w||_2^2` on :math:`w`, with :math:`X`"
        " the data, and the model stores them::\n\n    clf.coef_\n\nafter the fit.\n"
    )
    assert sklearn_math_sections(page) == (
        "Ridge\n=====\n\nThe penalty is :math:`\\alpha ||w||_2^2` on :math:`w`, with :math:`X`"
        " the data, and the model stores them:\n\nafter the fit."
    )


def test_a_long_section_that_names_a_few_symbols_in_passing_is_not_kept():
    usage = "The estimator takes :math:`X`, :math:`y` and :math:`w`. " + "Prose. " * 300
    assert sklearn_math_sections(f"Usage\n=====\n\n{usage}\n") == ""


def test_the_vignettes_of_each_r_package_are_read_as_their_latex_body(monkeypatch, tmp_path):
    site = "usr/lib/R/site-library"
    planted = {  # package -> its files
        "r-cran-lme4": {
            f"{site}/lme4/doc/Theory.Rnw": _THEORY,
            f"{site}/lme4/doc/lmerperf.Rmd": "---\ntitle: timings\n---\n",
        },
        "r-cran-sandwich": {
            f"{site}/sandwich/doc/sandwich.Rnw": "\\begin{document}\nHC0\n\\end{document}\n"
        },
    }
    planted_packages(monkeypatch, tmp_path, planted)
    texts, provenance = FAMILIES["r-model-vignettes"].gather(tmp_path)
    assert [t.source for t in texts] == [
        "r-cran-lme4@1.1-31-1/lme4/doc/Theory.Rnw",
        "r-cran-sandwich@3.0-2-1/sandwich/doc/sandwich.Rnw",
    ]
    assert [p["name"] for p in provenance] == list(R_PINS)
    theory = texts[0].text
    assert theory.startswith("\\maketitle\n\nA mixed-effects model incorporates")
    assert theory.endswith("\\sigma^2 I)\n\\end{equation}")
    for cut in ("Vignette", "SweaveOpts", "documentclass", "newcommand", "lmer(", "summary(fm1)"):
        assert cut not in theory
    assert "\n\n\n" not in theory
    assert texts[1].text == "HC0"


def test_a_vignette_without_a_document_environment_is_read_whole():
    assert r_vignette_body("Text $x$.\n<<>>=\n1 + 1\n@\nMore.\n") == "Text $x$.\nMore."


def test_the_boxed_banner_goes_only_when_it_names_a_licence():
    boxed = "/* ****** */\n/* Copyright CEA */\n/* ****** */\n\n/*@ assigns \\nothing; */\n"
    assert strip_boxed_licence(boxed) == "/*@ assigns \\nothing; */\n"
    plain = "/* ISO C: 7.12 */\n#define M_PI 3.14\n"
    assert strip_boxed_licence(plain) == plain


def test_gnuplot_keeps_words_that_only_contain_pause():
    script = "# pause between frames\npauses = 3\n  pause 0.5\nplot sin(x)\n"
    assert gnuplot_demo(script) == "# pause between frames\npauses = 3\nplot sin(x)"


@pytest.mark.parametrize("family", sorted(PINS))
def test_sealed15_deb_family_is_registered_and_pinned(family):
    assert_pinned_deb(family, SEALED15[family], PINS[family])


@pytest.mark.parametrize("package", sorted(R_PINS))
def test_each_r_package_of_the_vignettes_is_pinned(package):
    assert_pinned_deb("r-model-vignettes", "math", (package, *R_PINS[package]))


def test_the_guide_is_pinned_as_the_sdist_unpacking_only_its_modules():
    assert_pinned_sdist(
        "sklearn-user-guide",
        "math",
        (
            "scikit-learn",
            "1.5.2",
            "scikit_learn-1.5.2.tar.gz",
            ("scikit_learn-1.5.2/doc/modules/",),
            "b4237ed7b3fdd0a4882792e68ef2545d5baa50aca3bb45aa7df468138ad8f94d",
        ),
    )


def test_the_fifteenth_set_was_scored_once_and_is_held_out_now() -> None:
    """Session 29 sealed these families after rule 27 was written and before any model, scorer
    or classifier read them; rule 27 scored them once (session 29), and scored families are
    held out (what is sealed now: tests/test_corpus_sealed16.py)."""
    roles = family_roles()
    assert {name: roles[name] for name in SEALED15} == {
        name: (domain, "heldout") for name, domain in SEALED15.items()
    }
