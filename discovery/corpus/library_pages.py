"""Reference pages of numerical libraries as families of the labelled corpus: SLICOT's routine
documentation (Fortran, code by register) and SciPy's sheets of probability distributions
(mathematics by register; session 26, twelfth sealed set), the Parma Polyhedra Library's manual
(mathematics by register; session 28, fourteenth sealed set), all HTML, and scikit-learn's user
guide (reST, its mathematical sections; session 29, fifteenth sealed set), and the Haskell
sources of two numerical libraries as Haddock's hyperlinked pages (code by register; session
30, sixteenth sealed set). What each page holds beyond its text (navigation, an example program
with its data, a "previous / next" footer, a bibliography, usage sessions, type tooltips) is
cut here, so a page is what its register says it is.
"""

from __future__ import annotations

import html
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


# scikit-learn's user guide (reST): explicit markup kept for its text (formulas, notes, the
# dropdowns that hold a model's derivation); every other directive, a comment, a link target,
# a citation or a substitution (pictures) goes with its indented body, and so does any block
# titled "References"
_RST_MARKUP = re.compile(r"[ \t]*\.\. ")
_RST_KEPT_MARKUP = re.compile(r"[ \t]*\.\. (?:math|note|warning|topic|dropdown)::(?! *References)")
_RST_RUBRIC = re.compile(r"[ \t]*\.\. rubric::")  # a rubric heads a list: examples, references
_RST_BULLET = re.compile(r"[ \t]*[-*+] ")
_RST_ADORNMENT = re.compile(r"([=\-~^\"'`#*+])\1+[ \t]*")
_RST_MATH = re.compile(r":math:`|\.\. math::")
# a section is kept when it states at least this many formulas (inline or displayed), and at
# least this many per 1,000 characters: a long section on a class's usage that names three
# symbols in passing is not mathematics
_SKLEARN_MIN_FORMULAS = 3
_SKLEARN_FORMULAS_PER_1000_CHARS = 1.5
_BLANK_RUN = re.compile(r"\n{3,}")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _rst_prose_and_math(rst: str) -> list[str]:
    """The lines of a reST page that hold its text: without the markup of
    :data:`_RST_MARKUP` that is not :data:`_RST_KEPT_MARKUP`, rubrics and the lists under them,
    literal blocks (the indented block after a ``::`` line, whose ``::`` becomes ``:``) and
    doctest paragraphs (from a ``>>>`` line to the next blank line)."""
    kept: list[str] = []
    deeper_than: int | None = None  # skipping a block's lines indented more than this
    rubric_at: int | None = None  # skipping a rubric's list at this indent
    in_doctest = False
    for line in rst.splitlines():
        indent = _indent(line)
        if in_doctest and line.strip():
            continue
        in_doctest = False
        if not line.strip():  # a blank line keeps paragraphs apart, whatever was cut
            kept.append("")
            continue
        if deeper_than is not None:
            if indent > deeper_than:
                continue
            deeper_than = None
        if rubric_at is not None:
            if indent > rubric_at or _RST_BULLET.match(line):
                continue
            rubric_at = None
        if _RST_RUBRIC.match(line):
            rubric_at = indent
        elif _RST_KEPT_MARKUP.match(line):
            kept.append(line.rstrip())
        elif _RST_MARKUP.match(line):
            deeper_than = indent
        elif line.lstrip().startswith(">>>"):
            in_doctest = True
        elif line.rstrip().endswith("::"):
            if line.strip() != "::":
                kept.append(line.rstrip()[:-1])
            deeper_than = indent
        else:
            kept.append(line.rstrip())
    return kept


def _rst_sections(lines: list[str]) -> list[list[str]]:
    """``lines`` cut before each section title (a line underlined, and perhaps overlined, by a
    run of one punctuation character at least as long as the title)."""
    sections: list[list[str]] = [[]]
    for i, line in enumerate(lines):
        below = lines[i + 1] if i + 1 < len(lines) else ""
        is_title = (
            bool(line.strip())
            and not _RST_ADORNMENT.fullmatch(line)
            and _RST_ADORNMENT.fullmatch(below) is not None
            and len(below.rstrip()) >= len(line.rstrip())
        )
        if is_title:
            above = (
                sections[-1].pop()
                if sections[-1] and _RST_ADORNMENT.fullmatch(sections[-1][-1])
                else None
            )
            sections.append([above] if above else [])
        sections[-1].append(line)
    return sections


def sklearn_math_sections(rst: str) -> str:
    """The sections of a page of scikit-learn's user guide that state the mathematics of a
    method (:func:`_states_mathematics`): the objective functions, losses, kernels, metrics and
    update rules, with the prose between them, as reST. Not the sections on a class's
    parameters and usage, the doctest sessions and literal code blocks, pictures, link targets,
    example lists and references: the page of a library's guide is half API prose, and a
    document labelled mathematics that kept that half would be mostly about software. A page
    without such a section gives an empty text (no document)."""
    texts = ["\n".join(section).strip("\n") for section in _rst_sections(_rst_prose_and_math(rst))]
    dense = [text for text in texts if _states_mathematics(text)]
    return _BLANK_RUN.sub("\n\n", "\n\n".join(dense))


def _states_mathematics(section: str) -> bool:
    """Whether a section has at least :data:`_SKLEARN_MIN_FORMULAS` formulas (``:math:``
    roles, ``.. math::`` displays), and :data:`_SKLEARN_FORMULAS_PER_1000_CHARS` per 1,000
    characters."""
    formulas = len(_RST_MATH.findall(section))
    return (
        formulas >= _SKLEARN_MIN_FORMULAS
        and formulas * 1000 >= _SKLEARN_FORMULAS_PER_1000_CHARS * len(section)
    )


# Haddock's hyperlinked source: the module's text in one ``<pre>``, every identifier a link, and
# beside each use a tooltip (``annottext``) that prints its inferred type, which is not in the
# source; and the fields of a module's header that are licence and bookkeeping, not code
_HADDOCK_SOURCE = re.compile(r"<pre>(.*)</pre>", re.S)
_HADDOCK_TOOLTIP = re.compile(r'<span class="annottext">.*?</span>', re.S)
_TAG = re.compile(r"<[^>]*>")
_HASKELL_HEADER_FIELD = re.compile(
    r"^--[ \t]*(?:Copyright|License|Licence|Maintainer|Stability|Portability)[ \t]*:[^\n]*"
    r"(?:\n--[ \t]{4,}\S[^\n]*)*(?:\n|\Z)",
    re.M,
)


def haddock_source(page: str) -> str:
    """The Haskell source of a module from its Haddock hyperlinked page: the ``<pre>`` text
    without the type tooltips (each would repeat a type beside every identifier) and tags, the
    entities decoded, and without the header's copyright, licence, maintainer, stability and
    portability fields (with their continuation lines). A page without a ``<pre>`` gives an
    empty text (no document)."""
    source = _HADDOCK_SOURCE.search(page)
    if source is None:
        return ""
    text = html.unescape(_TAG.sub("", _HADDOCK_TOOLTIP.sub("", source.group(1))))
    return _HASKELL_HEADER_FIELD.sub("", text).strip("\n")
