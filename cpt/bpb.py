"""Bits per byte of a causal language model on a set of documents.

Bits per byte (total negative log-likelihood in bits over the documents' UTF-8 bytes) compares
models and tokenizers fairly and is what the study reports. Each document is scored as training
sees it: after the separator token (EOS) that packing puts between documents, every one of its
tokens predicted once. A document longer than a window is cut into windows that overlap by one
token (the last token of a window is the context of the next one).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class BitsPerByte:
    bpb: float
    nats: float  # total negative log-likelihood
    tokens: int  # tokens predicted
    bytes: int  # UTF-8 bytes of the documents
    by_group: dict[str, float] = field(default_factory=dict)  # bpb per group of documents


def separator_id(tokenizer) -> int:
    """The token put between packed documents (and in front of a scored one): EOS, else BOS."""
    for token in (tokenizer.eos_token_id, tokenizer.bos_token_id):
        if token is not None:
            return token
    raise ValueError("the tokenizer has neither an EOS nor a BOS token to separate documents")


def document_windows(ids: Sequence[int], window: int, separator: int) -> list[list[int]]:
    """Input windows of at most ``window`` tokens that predict every token of ``ids`` once:
    ``[separator, *ids]`` cut with one token of overlap."""
    if window < 2:
        raise ValueError(f"window={window}: need at least 2 tokens (one context, one target)")
    sequence = [separator, *ids]
    return [sequence[start : start + window] for start in range(0, len(sequence) - 1, window - 1)]


def autocast(dtype: torch.dtype) -> AbstractContextManager:
    """CPU autocast to ``dtype`` (no-op for float32)."""
    if dtype == torch.float32:
        return nullcontext()
    return torch.autocast("cpu", dtype=dtype)


@torch.no_grad()
def bits_per_byte(
    model: torch.nn.Module,
    tokenizer,
    texts: Sequence[str],
    *,
    window: int,
    batch_size: int = 4,
    dtype: torch.dtype = torch.float32,
    groups: Sequence[str] | None = None,
) -> BitsPerByte:
    """Bits per byte of ``model`` on ``texts`` (model put in eval mode; restore it after), and
    per group when ``groups`` labels each text (e.g. its source family)."""
    separator = separator_id(tokenizer)
    encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    windows = [
        (doc, w)
        for doc, ids in enumerate(encoded)
        for w in document_windows(ids, window, separator)
    ]
    windows.sort(key=lambda item: len(item[1]))  # similar lengths batch together: less padding
    model.eval()
    doc_nats = [0.0] * len(encoded)
    tokens = 0
    for start in range(0, len(windows), batch_size):
        batch = windows[start : start + batch_size]
        width = max(len(w) for _, w in batch)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (_, w) in enumerate(batch):
            ids[row, : len(w)] = torch.tensor(w)
            mask[row, : len(w)] = 1
        with autocast(dtype):
            logits = model(input_ids=ids, attention_mask=mask).logits
        targets = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
        nll = F.cross_entropy(
            logits[:, :-1].float().transpose(1, 2), targets, ignore_index=-100, reduction="none"
        ).sum(dim=1)
        for (doc, _), value in zip(batch, nll.tolist(), strict=True):
            doc_nats[doc] += value
        tokens += int((targets != -100).sum())
    doc_bytes = [len(t.encode("utf-8")) for t in texts]
    nats, n_bytes = sum(doc_nats), sum(doc_bytes)
    by_group = {}
    for group in sorted(set(groups or ())):
        members = [i for i, g in enumerate(groups) if g == group]
        by_group[group] = (
            sum(doc_nats[i] for i in members) / math.log(2) / sum(doc_bytes[i] for i in members)
        )
    return BitsPerByte(nats / math.log(2) / n_bytes, nats, tokens, n_bytes, by_group)
