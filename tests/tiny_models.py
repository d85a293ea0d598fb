"""Tiny models of every supported family, built in-process from configs (no network), saved
as ordinary Hugging Face directories so tests exercise the real loading path."""

from __future__ import annotations

from pathlib import Path

import torch
import transformers as tf
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

CORPUS = [
    "def add(a, b):\n    return a + b\n",
    "import numpy as np\nx = np.zeros(3)\n",
    "The licensee shall indemnify the licensor against all claims.",
    "This agreement is governed by the laws of the State.",
    "The cat sat on the mat and looked at the moon.",
    "She walked along the river, thinking of summer évenings in Köln 日本 🙂.",
    "Let x be a real number such that x^2 = 2; then x is irrational.",
    "The patient presented with fever, cough and elevated white cell count.",
]

VOCAB = 300
HIDDEN, HEADS, LAYERS, D_MLP = 32, 4, 3, 64

FAMILIES = ("gpt2", "gpt_neox", "opt", "llama", "qwen2", "gemma3_text", "bert")


def build_tokenizer(bert: bool = False) -> tf.PreTrainedTokenizerFast:
    """A byte-level BPE trained on CORPUS; BERT-style [CLS] ... [SEP] or a BOS prefix."""
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["[PAD]", "[CLS]", "[SEP]"] if bert else ["<pad>", "<s>"]
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS * 4, trainer)
    if bert:
        cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
        )
        return tf.PreTrainedTokenizerFast(
            tokenizer_object=tok, pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
        )
    bos = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", bos)]
    )
    return tf.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>")


def build_config(family: str, layers: int = LAYERS) -> tf.PretrainedConfig:
    common = {"vocab_size": VOCAB}
    if family == "gpt2":
        return tf.GPT2Config(
            n_layer=layers,
            n_embd=HIDDEN,
            n_head=HEADS,
            n_inner=D_MLP,
            n_positions=2048,
            bos_token_id=1,
            eos_token_id=1,
            **common,
        )
    if family == "gpt_neox":
        return tf.GPTNeoXConfig(
            num_hidden_layers=layers,
            hidden_size=HIDDEN,
            num_attention_heads=HEADS,
            intermediate_size=D_MLP,
            max_position_embeddings=2048,
            bos_token_id=1,
            eos_token_id=1,
            **common,
        )
    if family == "opt":
        return tf.OPTConfig(
            num_hidden_layers=layers,
            hidden_size=HIDDEN,
            num_attention_heads=HEADS,
            ffn_dim=D_MLP,
            word_embed_proj_dim=HIDDEN,
            max_position_embeddings=2048,
            bos_token_id=1,
            eos_token_id=1,
            pad_token_id=0,
            **common,
        )
    if family in ("llama", "qwen2"):
        cls = tf.LlamaConfig if family == "llama" else tf.Qwen2Config
        return cls(
            num_hidden_layers=layers,
            hidden_size=HIDDEN,
            num_attention_heads=HEADS,
            num_key_value_heads=2,
            intermediate_size=D_MLP,
            max_position_embeddings=2048,
            bos_token_id=1,
            eos_token_id=1,
            pad_token_id=0,
            **common,
        )
    if family == "gemma3_text":
        return tf.Gemma3TextConfig(
            num_hidden_layers=layers,
            hidden_size=HIDDEN,
            num_attention_heads=HEADS,
            num_key_value_heads=2,
            head_dim=8,
            intermediate_size=D_MLP,
            max_position_embeddings=2048,
            sliding_window=16,
            bos_token_id=1,
            eos_token_id=1,
            pad_token_id=0,
            **common,
        )
    if family == "bert":
        return tf.BertConfig(
            num_hidden_layers=layers,
            hidden_size=HIDDEN,
            num_attention_heads=HEADS,
            intermediate_size=D_MLP,
            max_position_embeddings=2048,
            pad_token_id=0,
            **common,
        )
    raise ValueError(family)


def save_tiny_model(family: str, root: Path, seed: int = 0, layers: int = LAYERS) -> Path:
    """Build, randomly initialise (seeded) and save a tiny model + tokenizer; return its dir."""
    torch.manual_seed(seed)
    model = tf.AutoModel.from_config(build_config(family, layers))
    # Non-zero biases and norms so a wrong tap or wrong masking cannot pass by accident.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    out = root / f"{family}-{seed}"
    model.save_pretrained(out)
    build_tokenizer(bert=family == "bert").save_pretrained(out)
    return out
