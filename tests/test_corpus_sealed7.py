"""The seventh sealed set of the labelled corpus (session 15): the statute reader on planted
rows, the Lance path where pylance is installed, its pin and its config. Offline: no package is
fetched and no family text is scored. pylance is an optional extra (``corpus-lance``), so only
the tests that write a Lance dataset need it."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from itertools import pairwise

import pytest
from labelled_roles import ROOT, family_roles, labelled_config
from planted_packages import planted_package

from discovery.corpus.families import FAMILIES
from discovery.corpus.fetch import PACKAGES
from discovery.corpus.sources import (
    ARS_CHUNK_OVERLAP,
    LANCE_EXTRA,
    clean_scraped_statute,
    join_overlapping_chunks,
    read_lance_statutes,
    read_statute_chunks,
    statute_sections,
)
from rosetta_filter.errors import SourceError

SEALED7 = {"arizona-statutes": "legal"}
HAS_LANCE = importlib.util.find_spec("lance") is not None

# A section as its web page was scraped: the page title, then the section's own heading and its
# subsections, with a carriage return, no-break spaces and symbol-font quotes
_PAGE = (
    "25-999 - Planted section; definitions\r\n\n"
    "25-999. Planted section; definitions\n"
    "A. The court shall consider every factor.\u00a0 \n"
    'B. "\uf041Party"\uf040 means a person who is a party to the proceeding and who '
    + "is bound by the order of the court. "
    * 8
    + "\n\n\n"
    "C. A legal decision\x1emaking order is final."
)
_SECTION = (
    "25-999. Planted section; definitions\n"
    "A. The court shall consider every factor.\n"
    'B. "Party" means a person who is a party to the proceeding and who '
    + ("is bound by the order of the court. " * 8).rstrip()
    + "\n\n"
    "C. A legal decision-making order is final."
)


def _chunks(text: str, cuts: list[int], overlap: int = ARS_CHUNK_OVERLAP) -> list[str]:
    """``text`` cut like ``ars25/ingestion/chunker.py``: each chunk after the first repeats
    the previous chunk's last ``overlap`` characters, and every chunk is stripped."""
    bounds = [0, *cuts, len(text)]
    pieces = [text[a:b] for a, b in pairwise(bounds)]
    chunks, current = [], ""
    for number, piece in enumerate(pieces):
        current = (current[-overlap:] if number else "") + piece
        chunks.append(current.strip())
    return chunks


def _rows(page: str = _PAGE, section: str = "25-999") -> list[dict[str, object]]:
    cut = page.index("\nB.")
    chunks = _chunks(page, [cut, page.index("\n\n\nC.")])
    return [
        {"section": section, "chunk_index": index, "text": chunk}
        for index, chunk in enumerate(chunks)
    ]


def test_overlapping_chunks_join_to_the_whole_text():
    text = "".join(f"\n{letter}. " + "word " * 70 for letter in "ABCDE")
    chunks = _chunks(text, [text.index(f"\n{letter}.") for letter in "BCDE"])
    assert all(len(chunk) > ARS_CHUNK_OVERLAP for chunk in chunks)
    assert chunks[0][-100:] in chunks[1]  # they do overlap
    assert join_overlapping_chunks(chunks, ARS_CHUNK_OVERLAP) == text.strip()


def test_chunks_without_an_overlap_follow_on_a_new_line():
    assert join_overlapping_chunks(["A. First.", "B. Second."], 200) == "A. First.\nB. Second."
    assert join_overlapping_chunks(["only"], 200) == "only"


def test_a_scraped_section_loses_its_page_title_and_scraping_noise():
    assert clean_scraped_statute("25-999", _PAGE) == _SECTION
    # a first line that is not this section's page title stays
    assert clean_scraped_statute("25-1", "25-10 - Other\nText") == "25-10 - Other\nText"


def test_sections_are_reassembled_deduplicated_and_kept_in_order():
    rows = _rows()
    assert len(rows) == 3
    other = {"section": "25-101", "chunk_index": 0, "text": "25-101 - Short\n\n25-101. Short"}
    shuffled = [rows[2], other, rows[0], dict(rows[0]), rows[1], dict(rows[2])]
    assert statute_sections(shuffled, ARS_CHUNK_OVERLAP) == {
        "25-999": _SECTION,
        "25-101": "25-101. Short",
    }


def test_statute_chunks_become_one_text_per_section():
    empty = {"section": "25-000", "chunk_index": 0, "text": "25-000 - Repealed\n"}
    texts = read_statute_chunks([*_rows(), empty], "ars-25-mcp@0.1.0", "x.lance", "ars")
    assert [(t.source, t.subdomain, t.text) for t in texts] == [
        ("ars-25-mcp@0.1.0/x.lance#25-999", "ars", _SECTION)
    ]


@pytest.mark.skipif(HAS_LANCE, reason="pylance is installed")
def test_without_pylance_the_reader_names_the_extra(tmp_path):
    with pytest.raises(SourceError, match=re.escape(f".[{LANCE_EXTRA}]")):
        read_lance_statutes(tmp_path / "missing.lance", "ars-25-mcp@0.1.0", "ars")


def test_the_extra_pins_pylance():
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(rf'^{LANCE_EXTRA} = \["pylance==[0-9.]+"\]$', text, re.M)


def _write_lance(dataset, rows: list[dict[str, object]]) -> None:
    """A Lance dataset of ``rows`` (with a vector column, like the package's), written in a
    child process so that this test session never holds Lance's threads."""
    script = (
        "import json, sys, lance, pyarrow as pa\n"
        "rows = json.loads(sys.argv[2])\n"
        "table = pa.table({k: [r[k] for r in rows] for k in rows[0]})\n"
        "table = table.append_column('vector', pa.array([[0.0, 1.0]] * len(rows),"
        " pa.list_(pa.float32(), 2)))\n"
        "lance.write_dataset(table, sys.argv[1])\n"
    )
    subprocess.run([sys.executable, "-c", script, str(dataset), json.dumps(rows)], check=True)


@pytest.mark.skipif(not HAS_LANCE, reason=f"needs pylance (extra {LANCE_EXTRA})")
def test_arizona_family_reads_the_planted_lance_dataset(monkeypatch, tmp_path):
    planted_package(monkeypatch, tmp_path, {})
    rows = [*_rows(), {"section": "25-101", "chunk_index": 0, "text": "25-101. Short"}]
    _write_lance(tmp_path / "ars25/data/lancedb/ars25_chunks.lance", rows)
    texts, provenance = FAMILIES["arizona-statutes"].gather(tmp_path)
    assert [(t.source, t.subdomain, t.text) for t in texts] == [
        ("ars-25-mcp@0.1.0/ars25_chunks.lance#25-999", "arizona-statutes", _SECTION),
        ("ars-25-mcp@0.1.0/ars25_chunks.lance#25-101", "arizona-statutes", "25-101. Short"),
    ]
    assert provenance == [{"name": "ars-25-mcp", "version": "0.1.0"}]


# ---- registration, pin and config
def test_sealed7_family_is_registered_and_pinned():
    for name, domain in SEALED7.items():
        assert FAMILIES[name].domain == domain
    package = PACKAGES["ars-25-mcp"]
    assert re.fullmatch(r"[0-9a-f]{64}", package.sha256)
    assert (package.manager, package.version) == ("pypi", "0.1.0")
    assert package.members == ("ars25/data/lancedb/ars25_chunks.lance/",)
    assert package.python_version == "3.12"  # the wheel requires Python >= 3.12


def test_the_seventh_set_moved_to_heldout_once_scored() -> None:
    """Session 15 scored the seventh sealed set once (docs/DISCOVERY.md) and moved it to
    heldout; the next set keeps the sealed document count."""
    roles = family_roles()
    assert {name: roles[name] for name in SEALED7} == {
        name: (domain, "heldout") for name, domain in SEALED7.items()
    }
    assert labelled_config().docs_per_family["sealed"] == 120
