"""The command line: thin commands over the library, errors as one line naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from test_pipeline import base_config, make_docs, write_jsonl
from typer.testing import CliRunner

from rosetta_filter.cli import app

runner = CliRunner()
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _config(tmp_path, model, **selection):
    path = tmp_path / "cfg.yaml"
    data = write_jsonl(tmp_path / "docs.jsonl", make_docs(20))
    path.write_text(yaml.safe_dump(base_config(model, data, tmp_path / "run", **selection)))
    return path


def test_help_lists_every_verb():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for verb in ("run", "validate", "score", "serve", "discover", "models", "corpus"):
        assert verb in result.output


def test_validate_names_the_bad_field(planted_model, tmp_path):
    cfg = _config(tmp_path, planted_model, threshold=1.0)
    assert runner.invoke(app, ["validate", str(cfg)]).exit_code == 0
    bad = runner.invoke(app, ["validate", str(cfg), "--set", "selection.keep_fraction=2"])
    assert bad.exit_code == 2
    assert "selection.keep_fraction=2" in bad.output


@pytest.mark.parametrize(
    ("config", "kind"),
    [
        ("demo.yaml", "run"),
        ("discover.yaml", "discover"),
        ("scaling.yaml", "discover"),
        ("serve.yaml", "serve"),
        ("corpus.yaml", "corpus"),
    ],
)
def test_validate_tells_every_committed_config_by_its_sections(config, kind):
    result = runner.invoke(app, ["validate", str(CONFIGS / config)])
    assert result.exit_code == 0, result.output
    assert f"valid {kind} config" in result.output


def test_validate_names_the_bad_field_of_a_discover_config():
    bad = runner.invoke(app, ["validate", str(CONFIGS / "scaling.yaml"), "--set", "anchor=nope"])
    said = " ".join(bad.output.split())  # rich wraps long lines
    assert bad.exit_code == 2
    assert "anchor='nope' is not one of the model ids" in said
    assert "checked as a discover config" in said
    forced = runner.invoke(app, ["validate", str(CONFIGS / "scaling.yaml"), "--kind", "run"])
    assert forced.exit_code == 2 and "source" in forced.output
    unknown = runner.invoke(app, ["validate", str(CONFIGS / "demo.yaml"), "--kind", "nope"])
    assert unknown.exit_code == 2 and "--kind='nope'" in unknown.output


def test_run_then_score_agree(planted_model, tmp_path):
    cfg = _config(tmp_path, planted_model, threshold=1.0)
    result = runner.invoke(app, ["run", str(cfg), "--quiet", "--json-log"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["seen"] == 20 and summary["kept"] == 10
    scored = runner.invoke(
        app, ["score", str(cfg), "--lines"], input="the cat sat x on a mat\nthe cat sat on a mat\n"
    )
    lines = [json.loads(line) for line in scored.output.strip().splitlines()]
    assert [line["score"] > 1.0 for line in lines] == [True, False]


def test_models_info_shows_taps(tiny_model_dir):
    result = runner.invoke(app, ["models", "info", str(tiny_model_dir("gpt_neox"))])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["family"] == "gpt_neox" and info["d_mlp"] == 64
    assert info["taps"][0] == "layers.0.mlp.dense_4h_to_h"


def test_models_list_names_the_registry():
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0
    assert "smollm2-135m" in result.output and "qwen2.5-coder-1.5b" in result.output


def test_hub_id_offline_suggests_local_paths(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = runner.invoke(app, ["models", "info", "someorg/somemodel"])
    assert result.exit_code == 2
    assert "HF_HUB_OFFLINE=1" in result.output and "smollm2-135m" in result.output
