"""The eleventh sealed set of the labelled corpus (session 23; scored once for rule 20 in
session 25): its five families read from tiny planted packages, the pins (only the folders
read are unpacked) and the config roles. Offline: no package is fetched and no family text
is scored."""

from __future__ import annotations

import pytest
from labelled_roles import family_roles
from planted_packages import assert_gathers, assert_pinned_deb, planted_package

from discovery.corpus.families import FAMILIES

SEALED11 = {
    "racket-collects": "code",
    "ntl-interfaces": "code",
    "polycyclic-manual": "math",
    "singular-manual": "math",
    "debian-faq": "prose",
}
PINS = {  # family -> (package, version, architecture, what is unpacked)
    "racket-collects": ("racket-common", "8.7+dfsg1-1", "all", ("usr/share/racket/collects/",)),
    "ntl-interfaces": (
        "libntl-dev",
        "11.5.1-1+b2",
        "amd64",
        ("usr/share/doc/libntl-dev/NTL/",),
    ),
    "polycyclic-manual": (
        "gap-polycyclic",
        "2.16-2",
        "all",
        ("usr/share/gap/pkg/Polycyclic/doc/",),
    ),
    "singular-manual": ("singular-doc", "1:4.3.1-p3+ds-2", "all", ("usr/share/info/",)),
    "debian-faq": ("debian-faq", "11.1", "all", ()),
}
_RACKET = "usr/share/racket/collects"
_NTL = "usr/share/doc/libntl-dev/NTL"
_PCP = "usr/share/gap/pkg/Polycyclic/doc"
_FAQ = "usr/share/doc/debian/FAQ"
_CHAPTER = (
    "<html><body><div class='chlinktop'>Goto Chapter: Top 1 2</div>"
    "<h3>2 Collectors</h3><p>A collector describes a polycyclic presentation ...</p>"
    "</body></html>"
)
_FAQ_PAGE = (
    "<html><body><h1>Chapter 1. Definitions and overview</h1>"
    "<p>Debian is an operating system made by volunteers.</p>"
    "<p>The Debian GNU/Linux FAQ  Chapter 2. Getting and installing Debian GNU/Linux</p>"
    "</body></html>"
)
_FILES = {
    # Racket: every *.rkt of the collects tree, in any folder
    f"{_RACKET}/racket/list.rkt": "#lang racket/base\n(provide first)\n",
    f"{_RACKET}/syntax/private/util.rkt": "#lang racket/base\n(define x 1)\n",
    f"{_RACKET}/racket/compiled/list_rkt.zo": "compiled, not source",
    # NTL: the module interfaces, not the licence, version or build notes
    f"{_NTL}/ZZ_pX.txt": "\n/****\\\n\nMODULE: ZZ_pX\n\nSUMMARY:\n\nPolynomials mod p.\n",
    f"{_NTL}/copying.txt": "COPYRIGHT NOTICE\n\nNTL is free software.\n",
    f"{_NTL}/version.txt": "11.5.1\n",
    f"{_NTL}/ZZ_pX.cpp.html": "<html>the module as HTML</html>",
    # Polycyclic's manual: the chapters, not the title page, appendix, bibliography or index
    f"{_PCP}/chap2.html": _CHAPTER,
    f"{_PCP}/chap2_mj.html": _CHAPTER,
    f"{_PCP}/chap0.html": "<html><body>Polycyclic, title page</body></html>",
    f"{_PCP}/chapA.html": "<html><body>Obsolete functions</body></html>",
    f"{_PCP}/chapBib.html": "<html><body>References</body></html>",
    f"{_PCP}/chapInd.html": "<html><body>Index</body></html>",
    # the Debian FAQ: its chapters in English, not the contents page or the credits
    f"{_FAQ}/basic-defs.en.html": _FAQ_PAGE,
    f"{_FAQ}/index.en.html": "<html><body>Table of contents</body></html>",
    f"{_FAQ}/faqinfo.en.html": "<html><body>Authors and licence</body></html>",
    # Singular's manual: one text per info node, not the index nodes
    "usr/share/info/singular.info": (
        "\x1f\nFile: singular.info,  Node: Groebner bases,  Next: Index,  Up: Top\n\n"
        "A Groebner basis of an ideal is a generating set with nice properties.\n"
        "\x1f\nFile: singular.info,  Node: Index,  Prev: Groebner bases,  Up: Top\n\n"
        "* Menu:\n"
    ),
}


@pytest.mark.parametrize(
    ("family", "sources"),
    [
        ("racket-collects", ["racket/list.rkt", "syntax/private/util.rkt"]),
        ("ntl-interfaces", ["ZZ_pX.txt"]),
        ("polycyclic-manual", ["doc/chap2.html"]),
        ("singular-manual", ["singular.info#Groebner bases"]),
        ("debian-faq", ["basic-defs.en.html"]),
    ],
)
def test_each_family_reads_its_files_of_the_planted_package(monkeypatch, tmp_path, family, sources):
    assert_gathers(monkeypatch, tmp_path, _FILES, family, PINS[family], sources)


def test_the_manual_and_the_faq_are_text_without_navigation(monkeypatch, tmp_path):
    planted_package(monkeypatch, tmp_path, _FILES)
    (chapter,), _ = FAMILIES["polycyclic-manual"].gather(tmp_path)
    assert "A collector describes a polycyclic presentation" in chapter.text
    assert "<" not in chapter.text and "Goto Chapter" not in chapter.text
    (page,), _ = FAMILIES["debian-faq"].gather(tmp_path)
    assert "Debian is an operating system made by volunteers." in page.text
    assert "Chapter 2. Getting" not in page.text and "<" not in page.text


@pytest.mark.parametrize("family", sorted(SEALED11))
def test_sealed11_family_is_registered_and_pinned(family):
    assert_pinned_deb(family, SEALED11[family], PINS[family])


def test_the_eleventh_set_was_scored_once_and_is_held_out_now() -> None:
    """Session 23 sealed these five families before any rule that they would judge was
    written; session 25 scored them once for rule 20, and scored families are held out."""
    roles = family_roles()
    assert {name: roles[name] for name in SEALED11} == {
        name: (domain, "heldout") for name, domain in SEALED11.items()
    }
