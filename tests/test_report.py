"""The scaling report renders from tiny banks that discovery builds in the test."""

from __future__ import annotations

import base64
import json
import re
import shutil

import pytest
from planting import permute_mlp_neurons
from test_discovery_pipeline import config
from typer.testing import CliRunner

from discovery.errors import DiscoveryError
from discovery.pipeline import discover
from discovery.report.data import load_runs
from discovery.report.html import write_report
from rosetta_filter.cli import app

_IMG = re.compile(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">')


@pytest.fixture(scope="module")
def two_runs(planted_model, tmp_path_factory):
    """The planted model and twin1 each as the anchor, one shared data pass."""
    root = tmp_path_factory.mktemp("report")
    partners = {
        name: permute_mlp_neurons(planted_model, root / name, seed)[0]
        for name, seed in (("twin1", 1), ("twin2", 2))
    }
    first = config(root, planted_model, partners).model_copy(update={"keep_caches": True})
    discover(first)
    second = first.model_copy(
        update={
            "anchor": "twin1",
            "partners": ["anchor", "twin2"],
            "bank": first.bank.model_copy(update={"dir": str(root / "bank-twin1")}),
            "work_dir": f"{first.bank.dir}.work",
        }
    )
    discover(second)
    return root / "bank", root / "bank-twin1"


def _pngs(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in _IMG.findall(page)]


def test_report_holds_every_section_and_its_figures(two_runs, tmp_path):
    page_path, table_path = write_report(list(two_runs), tmp_path / "report")
    page = page_path.read_text()
    for section in ("runs", "scaling", "polarization", "specialisation", "neurons"):
        assert f'<h2 id="{section}">' in page
    runs = load_runs(list(two_runs))
    domains = runs[0].domains
    # 5 scaling/polarization/specialisation figures + one bar chart per run and domain.
    images = _pngs(page)
    assert len(images) == 5 + len(runs) * len(domains)
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in images)
    # The five study figures are also files, byte-identical to the inlined ones.
    files = sorted((page_path.parent / "figures").glob("*.png"))
    assert len(files) == 5 and {f.read_bytes() for f in files} <= set(images)
    # The planted trigger neuron leads its domain, with partners, r and a highlighted " x".
    assert "L0.N5" in page and "<mark>x</mark>" in page  # its span (snippets from the cache)
    assert "twin1 L0." in page and "(r 1.00)" in page
    # Same size twice: no power law to fit, and the page says so.
    assert "needs runs of at least two anchor sizes" in page
    # The two anchors have different partner sets, and the page warns about pooling them.
    assert "partner sets (2 different)" in page
    table = json.loads(table_path.read_text())
    assert table["power_law"] is None
    assert [r["anchor"] for r in table["runs"]] == sorted(["anchor", "twin1"])
    assert all(r["rosetta"] > 0.9 * 3 * 64 for r in table["runs"])


def test_report_fits_a_power_law_over_two_sizes(two_runs, tmp_path):
    bigger = tmp_path / "bigger"
    shutil.copytree(two_runs[0], bigger)
    meta_path = bigger / "bank.json"
    meta = json.loads(meta_path.read_text())
    for model in meta["models"]:
        if model["id"] == "anchor":
            model["parameters"] *= 8
    meta_path.write_text(json.dumps(meta))
    page_path, table_path = write_report([two_runs[0], bigger], tmp_path / "report")
    fit = json.loads(table_path.read_text())["power_law"]
    assert fit is not None and fit["ci"][0] <= fit["exponent"] <= fit["ci"][1]
    page = page_path.read_text()
    assert "all runs: Rosetta count" in page
    # Same family, same partners, two sizes: a like-for-like group with its own fit.
    groups = json.loads(table_path.read_text())["power_law_by_group"]
    assert list(groups) == ["llama vs twin1, twin2"]
    assert "llama vs twin1, twin2: Rosetta count" in page


def test_report_cli_writes_files_and_names_bad_runs(two_runs, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["report", str(two_runs[0]), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "report.html").exists() and (tmp_path / "r" / "scaling.json").exists()
    missing = runner.invoke(app, ["report", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert missing.exit_code != 0
    assert "nope" in missing.output
    with pytest.raises(DiscoveryError, match="at least one"):
        load_runs([])
