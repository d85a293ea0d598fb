"""GGUF -> Hugging Face directory, checked: dequantise once to fp32 safetensors (loading a
GGUF costs 20-60 s of dequantising every time), reload the saved copy and require the same
tokens and logits as the GGUF-loaded model; and a load check for models already in HF form."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from rosetta_filter.errors import ModelError

# Short mixed code/prose input for the GGUF -> safetensors equality check.
_PROBE_TEXT = "def add(a, b):\n    return a + b  # The quick brown fox, 42 times."
# Loaded fp32 weights are bit-identical, so logits should agree exactly; the slack only absorbs
# a kernel choice that differs between two loads.
_LOGITS_ATOL = 1e-4


def _adopt_weights(loaded: Any) -> Any:
    """A plain (serialisable) copy of a GGUF-loaded model that shares its tensors.

    ``save_pretrained`` refuses GGUF-quantised models, so build the same architecture on the
    meta device (no memory, no random init) and ``assign`` the loaded tensors into it; strict
    loading proves no key is missing. Non-persistent buffers (rotary frequencies) are not in the
    state dict, so they are taken over from the loaded model.
    """
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(loaded.config, dtype=torch.float32)
    try:
        model.load_state_dict(loaded.state_dict(), strict=True, assign=True)
    except RuntimeError as err:
        raise ModelError(f"GGUF weights do not fit {type(model).__name__}: {err}") from err
    loaded_buffers = dict(loaded.named_buffers())
    for name, buf in list(model.named_buffers()):
        if buf.is_meta:
            owner, _, attr = name.rpartition(".")
            model.get_submodule(owner).register_buffer(attr, loaded_buffers[name], persistent=False)
    model.tie_weights()
    # the weights are dequantised now: a GGUF quantization entry left in the saved config makes
    # transformers mark the copy quantized and warn about casts that never happen
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model.eval()


def convert_gguf(gguf_path: Path, out_dir: Path) -> dict[str, Any]:
    """Dequantise a GGUF to fp32 and save a Hugging Face directory (model + tokenizer).

    Reloads the saved directory and checks tokens and logits against the GGUF-loaded model on a
    short input; returns the check's numbers for the provenance.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src_dir, name = str(gguf_path.parent), gguf_path.name
    loaded = AutoModelForCausalLM.from_pretrained(src_dir, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(src_dir, gguf_file=name)
    ids = tokenizer(_PROBE_TEXT, return_tensors="pt").input_ids  # (1, tokens)
    with torch.inference_mode():
        reference = loaded(input_ids=ids).logits  # (1, tokens, vocab)
    model = _adopt_weights(loaded)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    del model, loaded
    gc.collect()  # free the first copy before loading the second (6 GB each for 1.5B params)

    reloaded = AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32).eval()
    ids_again = AutoTokenizer.from_pretrained(out_dir)(_PROBE_TEXT, return_tensors="pt").input_ids
    if not torch.equal(ids, ids_again):
        raise ModelError(f"the saved tokenizer of {name} tokenises differently from the GGUF one")
    with torch.inference_mode():
        diff = (reloaded(input_ids=ids).logits - reference).abs().max().item()
    if not diff <= _LOGITS_ATOL:
        raise ModelError(
            f"logits of the converted {name} differ from the GGUF-loaded model by {diff:.3g} "
            f"(> {_LOGITS_ATOL}); the conversion is not faithful, nothing was installed"
        )
    return {"probe_tokens": ids.shape[1], "logits_max_abs_diff": diff}


def check_hf_dir(model_dir: Path) -> dict[str, Any]:
    """Load an already-HF model directory once: every weight present, outputs finite."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    model, info = AutoModel.from_pretrained(
        model_dir, dtype=torch.float32, output_loading_info=True
    )
    if info["missing_keys"]:
        raise ModelError(f"{model_dir} lacks weights: {sorted(info['missing_keys'])[:5]}")
    ids = AutoTokenizer.from_pretrained(model_dir)(_PROBE_TEXT, return_tensors="pt").input_ids
    with torch.inference_mode():
        hidden = model.eval()(input_ids=ids).last_hidden_state  # (1, tokens, d_model)
    if not torch.isfinite(hidden).all():
        raise ModelError(f"{model_dir} produces non-finite activations")
    return {"probe_tokens": ids.shape[1]}
