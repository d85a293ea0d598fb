"""Canonical byte spans: the common sample unit of models with different tokenizers.

Two models cut a document into different tokens, so their token activations cannot be paired
directly. We cut the document only where *every* model has a token boundary, and pool each
model's tokens inside each piece: one piece (a canonical span) is one sample for correlation.

Rules, applied per document:

1. Offsets are character offsets into ``text`` (what a Hugging Face fast tokenizer returns with
   ``return_offsets_mapping=True``); they are converted to UTF-8 byte offsets, so é is 2
   bytes, 日 3 and an emoji 4. Tokens with ``start >= end`` (special tokens, offsets (0, 0))
   are ignored.
2. Whitespace is trimmed from both ends of every token's range before taking boundaries.
   Tokenizers disagree on where a space goes: byte-level BPE and SentencePiece put it at the
   start of the next token (" world", "▁world"), WordPiece skips it (offsets of "world" only),
   some offset trimmers drop it. Trimming makes all of them agree on the boundaries of the
   visible text. Tokens that are whitespace only ("\\n", "▁", indentation) have no visible text:
   they set no boundary and are not pooled (span id -1), since not every model has them.
3. A *cut* is a byte position that is a (trimmed) token boundary of every model and lies strictly
   inside no token of any model. Byte-level tokenizers may split one multi-byte character into
   several tokens that all report the character's range (identical ranges are fine) or
   overlapping ranges; a boundary inside such an overlap is not a cut, so every token lies in
   exactly one piece between consecutive cuts.
4. A canonical span is a piece ``[cut_i, cut_{i+1})`` that contains at least one token of every
   model. Pieces missing some model (a gap of whitespace another model skipped) are dropped, as
   are tokens before the first or after the last cut (e.g. the tail one model truncated).

Public API::

    alignment = align_spans(text, {"smollm": offsets_a, "gemma": offsets_b})
    alignment.spans               # (n_spans, 2) int64 UTF-8 byte [start, end)
    alignment.token_spans["gemma"]  # (n_tokens_b,) int64 span id per token, -1 = not pooled
    pooled = pool_tokens_to_spans(acts_b, alignment.token_spans["gemma"], alignment.n_spans)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from discovery.errors import DiscoveryError

Offsets = Sequence[tuple[int, int]] | np.ndarray


@dataclass(frozen=True)
class SpanAlignment:
    """Canonical spans of one document and, per model, the span each token pools into."""

    spans: np.ndarray  # (n_spans, 2) int64 UTF-8 byte offsets [start, end), ordered, disjoint
    token_spans: dict[str, np.ndarray]  # model -> (n_tokens,) int64 span id, -1 = not pooled

    @property
    def n_spans(self) -> int:
        return int(self.spans.shape[0])


def utf8_offsets(text: str) -> np.ndarray:
    """(len(text) + 1,) int64: the UTF-8 byte offset of every character position."""
    # UTF-32 gives one code point per character; "surrogatepass" keeps lone surrogates that
    # Python strings may hold (they take 3 bytes in UTF-8 with the same handler).
    code_points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    lengths = (
        1 + (code_points >= 0x80) + (code_points >= 0x800) + (code_points >= 0x10000)
    ).astype(np.int64)
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def trimmed_byte_ranges(text: str, offsets: Offsets, model: str = "model") -> np.ndarray:
    """(n_tokens, 2) int64 byte ranges with edge whitespace trimmed; (-1, -1) for tokens that
    are special (start >= end) or whitespace only."""
    char_ranges = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)  # (n_tokens, 2)
    n_chars = len(text)
    if char_ranges.size and (char_ranges.min() < 0 or char_ranges.max() > n_chars):
        raise DiscoveryError(
            f"token offsets of {model} reach outside the document ({n_chars} characters): "
            "pass the offsets the tokenizer returned for this very text",
            field="offsets",
            value=model,
        )
    is_space = np.fromiter((c.isspace() for c in text), dtype=bool, count=n_chars)
    positions = np.arange(n_chars, dtype=np.int64)
    # next_visible[i]: first non-space character at or after i (n_chars if none).
    next_visible = np.where(is_space, n_chars, positions)
    next_visible = np.minimum.accumulate(next_visible[::-1])[::-1]
    next_visible = np.concatenate([next_visible, [n_chars]])
    # visible_end[i]: end of the last non-space character before position i (0 if none).
    visible_end = np.where(is_space, 0, positions + 1)
    visible_end = np.concatenate([[0], np.maximum.accumulate(visible_end)])

    starts = next_visible[char_ranges[:, 0]]
    ends = visible_end[char_ranges[:, 1]]
    keep = (char_ranges[:, 0] < char_ranges[:, 1]) & (starts < ends)
    to_bytes = utf8_offsets(text)
    out = np.full_like(char_ranges, -1)
    out[keep, 0] = to_bytes[starts[keep]]
    out[keep, 1] = to_bytes[ends[keep]]
    return out


def align_spans(
    text: str, offsets_by_model: Mapping[str, Offsets], doc_id: str | None = None
) -> SpanAlignment:
    """Canonical spans of ``text`` shared by all models (see the module docstring for the rules).

    Raises :class:`DiscoveryError` naming the models when they share no span.
    """
    if len(offsets_by_model) < 1:
        raise DiscoveryError("span alignment needs the offsets of at least one model")
    n_bytes = int(utf8_offsets(text)[-1])
    ranges = {m: trimmed_byte_ranges(text, o, m) for m, o in offsets_by_model.items()}

    # Cuts: boundaries common to every model, not strictly inside any model's token.
    shared: np.ndarray | None = None
    inside = np.zeros(n_bytes + 2, dtype=np.int64)  # difference array of token interiors
    for r in ranges.values():
        valid = r[r[:, 0] >= 0]
        bounds = np.unique(valid.ravel())
        shared = bounds if shared is None else np.intersect1d(shared, bounds)
        np.add.at(inside, valid[:, 0] + 1, 1)
        np.add.at(inside, valid[:, 1], -1)
    interior = np.cumsum(inside)[: n_bytes + 1] > 0  # interior[b]: some token has s < b < e
    assert shared is not None
    cuts = shared[~interior[shared]]

    # Piece of every token: the last cut at or before its start, if it also ends by the next.
    pieces: dict[str, np.ndarray] = {}
    n_pieces = max(len(cuts) - 1, 0)
    has_model = np.ones(n_pieces, dtype=bool)
    for model, r in ranges.items():
        piece = np.searchsorted(cuts, r[:, 0], side="right") - 1
        ok = (r[:, 0] >= 0) & (piece >= 0) & (piece < n_pieces)
        ok[ok] &= r[ok, 1] <= cuts[piece[ok] + 1]
        piece = np.where(ok, piece, -1)
        pieces[model] = piece
        has_model &= np.bincount(piece[ok], minlength=n_pieces)[:n_pieces] > 0

    if not has_model.any():
        where = f" in document {doc_id!r}" if doc_id is not None else ""
        raise DiscoveryError(
            f"models {sorted(offsets_by_model)} share no canonical span{where}: their token "
            "boundaries never coincide (check that all offsets come from the same text, and "
            "that the document is not empty or whitespace only)",
            field="models",
            value=sorted(offsets_by_model),
        )
    # Renumber kept pieces 0..n_spans-1; dropped pieces map to -1.
    renumber = np.where(has_model, np.cumsum(has_model) - 1, -1)
    spans = np.stack([cuts[:-1][has_model], cuts[1:][has_model]], axis=1).astype(np.int64)
    token_spans = {
        m: np.where(p >= 0, renumber[np.maximum(p, 0)], -1).astype(np.int64)
        for m, p in pieces.items()
    }
    return SpanAlignment(spans=spans, token_spans=token_spans)


def pool_tokens_to_spans(
    acts: np.ndarray | torch.Tensor,
    span_ids: np.ndarray | torch.Tensor,
    n_spans: int,
    how: Literal["mean", "max"] = "mean",
) -> np.ndarray | torch.Tensor:
    """Pool token activations (n_tokens, d) into span activations (n_spans, d).

    Tokens with span id -1 are skipped. Sums in float32; returns the input's type (numpy or
    torch) and float dtype. Every span must have at least one token, which
    :func:`align_spans` guarantees.
    """
    as_numpy = not isinstance(acts, torch.Tensor)
    values = torch.from_numpy(np.asarray(acts)) if as_numpy else acts
    ids = torch.as_tensor(np.asarray(span_ids) if not torch.is_tensor(span_ids) else span_ids)
    ids = ids.to(device=values.device, dtype=torch.int64)
    if values.ndim != 2 or ids.shape != (values.shape[0],):
        raise DiscoveryError(
            f"pooling needs acts (n_tokens, d) and span ids (n_tokens,), got "
            f"{tuple(values.shape)} and {tuple(ids.shape)}",
            field="acts",
            value=tuple(values.shape),
        )
    keep = ids >= 0
    ids, rows = ids[keep], values[keep]  # (n_kept,), (n_kept, d)
    counts = torch.bincount(ids, minlength=n_spans)[:n_spans]
    out_of_range = bool(ids.numel()) and int(ids.max()) >= n_spans
    if out_of_range or bool((counts == 0).any()):
        raise DiscoveryError(
            f"span ids do not cover 0..{n_spans - 1} with at least one token each: pass the "
            "span ids and n_spans of one SpanAlignment",
            field="span_ids",
            value=n_spans,
        )
    dtype = values.dtype if values.is_floating_point() else torch.float32
    rows = rows.to(torch.float32)  # sum in float32 even for half-precision activations
    out = torch.zeros(n_spans, values.shape[1], dtype=torch.float32, device=values.device)
    if how == "mean":
        out.index_add_(0, ids, rows)
        out /= counts.to(torch.float32).unsqueeze(1)
    elif how == "max":
        index = ids.unsqueeze(1).expand_as(rows)  # (n_kept, d)
        out.scatter_reduce_(0, index, rows, reduce="amax", include_self=False)
    else:
        raise DiscoveryError(
            f"pooling how={how!r} is not supported: use 'mean' or 'max'", field="how", value=how
        )
    out = out.to(dtype)
    return out.numpy() if as_numpy else out
