"""The tenth sealed set of the labelled corpus (session 21, held out since rule 14 scored it):
its four families read from tiny planted packages, the pins (only the folders read are unpacked)
and the config roles. Offline: no package is fetched and no family text is scored."""

from __future__ import annotations

import gzip
import re

import pytest
from labelled_roles import family_roles, labelled_config
from planted_packages import planted_package

from discovery.corpus.families import FAMILIES
from discovery.corpus.fetch import PACKAGES

SEALED10 = {
    "vim-runtime-scripts": "code",
    "scilab-macros": "code",
    "hap-tutorial": "math",
    "jargon-file": "prose",
}
PINS = {  # family -> (package, version, what is unpacked)
    "vim-runtime-scripts": ("vim-runtime", "2:9.0.1378-2+deb12u2", ("usr/share/vim/vim90/",)),
    "scilab-macros": ("scilab-data", "6.1.1+dfsg2-6", ("usr/share/scilab/modules/",)),
    "hap-tutorial": ("gap-hap", "1.47-1", ("usr/share/gap/pkg/HAP/tutorial/",)),
    "jargon-file": ("dict-jargon", "4.4.7-3.1", ()),
}
_VIM = "usr/share/vim/vim90"
_SCILAB = "usr/share/scilab/modules"
_HAP = "usr/share/gap/pkg/HAP/tutorial"
_CHAPTER = (
    "<html><body><div class='chlinktop'>Goto Chapter: Top 1 2</div>"
    "<h3>1 Simplicial complexes</h3><p>The homology of a simplicial complex K ...</p>"
    "</body></html>"
)
_FILES = {
    # Vim: every *.vim file of the runtime, in any folder
    f"{_VIM}/ftplugin/python.vim": '" Vim filetype plugin\nsetlocal expandtab\n',
    f"{_VIM}/autoload/dist/ft.vim": "func dist#ft#Check()\nendfunc\n",
    f"{_VIM}/doc/help.txt": "*help.txt* not a script",
    # Scilab: the library's macros, not its tests' or demos' scripts
    f"{_SCILAB}/statistics/macros/meanf.sci": "function [m]=meanf(val,fre)\nendfunction\n",
    f"{_SCILAB}/statistics/tests/unit_tests/meanf.sci": "// a test\n",
    f"{_SCILAB}/statistics/demos/demo.sce": "// a demo\n",
    # HAP's tutorial: the chapters, not the title page, bibliography, index or MathJax copies
    f"{_HAP}/chap1.html": _CHAPTER,
    f"{_HAP}/chap1_mj.html": _CHAPTER,
    f"{_HAP}/chap0.html": "<html><body>HAP tutorial, title page</body></html>",
    f"{_HAP}/chapBib.html": "<html><body>References</body></html>",
    f"{_HAP}/chapInd.html": "<html><body>Index</body></html>",
}


@pytest.mark.parametrize(
    ("family", "sources"),
    [
        ("vim-runtime-scripts", ["autoload/dist/ft.vim", "ftplugin/python.vim"]),
        ("scilab-macros", ["statistics/macros/meanf.sci"]),
        ("hap-tutorial", ["tutorial/chap1.html"]),
    ],
)
def test_each_family_reads_its_files_of_the_planted_package(monkeypatch, tmp_path, family, sources):
    planted_package(monkeypatch, tmp_path, _FILES)
    texts, provenance = FAMILIES[family].gather(tmp_path)
    package, version, _ = PINS[family]
    assert [t.source for t in texts] == [f"{package}@{version}/{s}" for s in sources]
    assert provenance == [{"name": package, "version": version}]


def test_the_hap_chapter_is_text_without_navigation(monkeypatch, tmp_path):
    planted_package(monkeypatch, tmp_path, _FILES)
    (chapter,), _ = FAMILIES["hap-tutorial"].gather(tmp_path)
    assert "Simplicial complexes" in chapter.text and "homology of a simplicial" in chapter.text
    assert "<" not in chapter.text


def test_the_jargon_file_is_one_text_per_entry(monkeypatch, tmp_path):
    entries = "hack\nn.\n    A quick job.\n", "kluge\nn.\n    A clever workaround.\n"
    data = "".join(entries).encode()
    index = "".join(
        f"{word}\t{_b64(offset)}\t{_b64(len(entry.encode()))}\n"
        for word, offset, entry in (
            ("hack", 0, entries[0]),
            ("kluge", len(entries[0].encode()), entries[1]),
        )
    )
    planted_package(monkeypatch, tmp_path, {"usr/share/dictd/jargon.index": index})
    (tmp_path / "usr/share/dictd/jargon.dict.dz").write_bytes(gzip.compress(data))
    texts, _ = FAMILIES["jargon-file"].gather(tmp_path)
    assert [t.text for t in texts] == ["hack\nn.\nA quick job.", "kluge\nn.\nA clever workaround."]


def _b64(number: int) -> str:
    """dictd's base-64 numbers (A-Z a-z 0-9 + /, most significant digit first)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    digits = ""
    while True:
        number, digit = divmod(number, 64)
        digits = alphabet[digit] + digits
        if number == 0:
            return digits


@pytest.mark.parametrize("family", sorted(SEALED10))
def test_sealed10_family_is_registered_and_pinned(family):
    assert FAMILIES[family].domain == SEALED10[family]
    name, version, members = PINS[family]
    package = PACKAGES[name]
    assert (package.manager, package.version, package.members) == ("apt", version, members)
    assert package.filename == f"{name}_{version.replace(':', '%3a')}_all.deb"
    assert re.fullmatch(r"[0-9a-f]{64}", package.sha256)


def test_the_tenth_set_was_scored_once_and_is_held_out_now() -> None:
    """Session 21 sealed these four families before rule 14 was written and scored them once
    for it; scored families are held out (the next set: tests/test_corpus_sealed11.py)."""
    roles = family_roles()
    assert {name: roles[name] for name in SEALED10} == {
        name: (domain, "heldout") for name, domain in SEALED10.items()
    }
    assert labelled_config().docs_per_family["heldout"] == 120
