"""Reference pages of numerical libraries as families of the labelled corpus: SLICOT's routine
documentation (Fortran, code by register) and SciPy's sheets of probability distributions
(mathematics by register; session 26, twelfth sealed set), the Parma Polyhedra Library's manual
(mathematics by register; session 28, fourteenth sealed set). All are HTML; what each page
holds beyond its text (navigation, an example program with its data, a "previous / next"
footer, a bibliography) is cut here, so a page is what its register says it is.
"""

from __future__ import annotations

import re

from discovery.corpus.sources import html_text, html_to_text

# SLICOT: everything from the example section on (a driver program, its input data and the
# results it prints: tables of numbers), and the links that open and close each page
_SLICOT_EXAMPLE = re.compile(r"<a\s+name\s*=\s*\"?Example", re.I)
_SLICOT_TEXT = html_text(drop=r"(\[[A-Za-z ]+\]\s*)+|Return to index")


def slicot_routine_text(page: str) -> str:
    """A SLICOT routine's documentation: purpose, Fortran specification, arguments, method,
    references and numerical aspects; not its example program, data and results."""
    return _SLICOT_TEXT(_SLICOT_EXAMPLE.split(page, maxsplit=1)[0])


_MAIN = re.compile(r"<main\b[^>]*>(.*?)</main>", re.S | re.I)
_SPHINX_FOOTER = re.compile(r"\n\s*previous\s*\n.*\Z", re.S)


def scipy_distribution_text(page: str) -> str:
    """A distribution's sheet from SciPy's statistics tutorial: its definition and formulas
    (MathJax LaTeX as written), without the site's header, sidebars, the headings' pilcrows and
    the "previous / next" links."""
    main = _MAIN.search(page)
    text = html_to_text(main.group(1) if main else page).replace("\u00b6", "")
    return _SPHINX_FOOTER.sub("", text).strip()


# PPL's manual: its text block from the first section up to "Using the Library" (advice on the
# C++ interface) and the bibliography after it; Doxygen draws each formula as an image whose
# ``alt`` is the formula's LaTeX, and sets code examples in ``fragment`` blocks
_PPL_BODY = re.compile(
    r'<div class="textblock">(.*?)<h1><a class="anchor" id="use_of_library">', re.S
)
_DOXYGEN_FORMULA = re.compile(r'<img class="formula(?:Inl|Dsp)" alt="([^"]*)"[^>]*>')
_DOXYGEN_FRAGMENT = re.compile(r'<div class="fragment">.*?</div><!-- fragment -->', re.S)


def ppl_manual_text(page: str) -> str:
    """The mathematical chapters of the Parma Polyhedra Library's manual (convex polyhedra,
    their representations and operations, boxes, weakly relational shapes, grids, powersets,
    floating-point abstractions), each formula as its LaTeX; not the viewer's navigation, the
    code examples, the chapter on using the C++ library or the bibliography. A page without
    that chapter structure is read whole."""
    body = _PPL_BODY.search(page)
    markup = _DOXYGEN_FRAGMENT.sub("", body.group(1) if body else page)
    return html_to_text(_DOXYGEN_FORMULA.sub(lambda formula: formula.group(1), markup))
