"""Plant ground truth in tiny models: a neuron wired to fire on one token."""

from __future__ import annotations

from pathlib import Path

import torch
import transformers as tf


def plant_trigger_neuron(
    model_dir: Path,
    out_dir: Path,
    token_id: int,
    layer: int = 0,
    index: int = 5,
    strength: float = 8.0,
) -> Path:
    """Copy a tiny llama-family model so that neuron ``L{layer}.N{index}`` fires strongly on
    ``token_id`` and stays near zero elsewhere.

    The last residual dimension is reserved as a trigger channel: only the trigger token's
    embedding writes to it, no attention or MLP output writes to it, and the neuron's gate and
    up projections read only it (so act(gate) * up is large exactly at that token).
    """
    model = tf.AutoModel.from_pretrained(model_dir)
    tokenizer = tf.AutoTokenizer.from_pretrained(model_dir)
    channel = model.config.hidden_size - 1
    with torch.no_grad():
        emb = model.embed_tokens.weight
        emb[:, channel] = 0.0
        emb[token_id, channel] = strength
        for block in model.layers:
            block.self_attn.o_proj.weight[channel, :] = 0.0
            block.mlp.down_proj.weight[channel, :] = 0.0
        mlp = model.layers[layer].mlp
        mlp.gate_proj.weight[index, :] = 0.0
        mlp.up_proj.weight[index, :] = 0.0
        mlp.gate_proj.weight[index, channel] = 4.0
        mlp.up_proj.weight[index, channel] = 4.0
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def permute_mlp_neurons(model_dir: Path, out_dir: Path, seed: int) -> tuple[Path, list]:
    """Copy a llama-family model with the MLP neurons of every layer permuted (gate/up rows
    and down_proj columns together): the same function, neurons in another order.

    Returns the directory and, per layer, ``perm`` with new neuron ``j`` = old ``perm[j]``.
    """
    model = tf.AutoModel.from_pretrained(model_dir)
    tokenizer = tf.AutoTokenizer.from_pretrained(model_dir)
    generator = torch.Generator().manual_seed(seed)
    perms = []
    with torch.no_grad():
        for block in model.layers:
            mlp = block.mlp
            perm = torch.randperm(mlp.gate_proj.out_features, generator=generator)
            mlp.gate_proj.weight.copy_(mlp.gate_proj.weight[perm])
            mlp.up_proj.weight.copy_(mlp.up_proj.weight[perm])
            mlp.down_proj.weight.copy_(mlp.down_proj.weight[:, perm])
            perms.append(perm.numpy())
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir, perms
