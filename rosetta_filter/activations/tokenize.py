"""The one place that turns text into model inputs: validation of raw records, tokenisation with
character offsets, and the long-document policy (truncate to ``max_tokens`` or cut into windows).

Special tokens (BOS, CLS/SEP) are added per window exactly as the tokenizer adds them to a
whole text, and are marked so pooling can exclude them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the type only: sources.py uses text_problem without loading transformers
    from transformers import PreTrainedTokenizerBase

from rosetta_filter.errors import ModelError

LongDocPolicy = Literal["truncate", "windows"]

# Skip reasons for records that cannot be scored; they are counted, never raised.
SKIP_NULL = "null"
SKIP_NOT_STRING = "not_string"
SKIP_EMPTY = "empty"
SKIP_INVALID_UNICODE = "invalid_unicode"

# When truncating, tokenise at most this many characters per kept token first: a 1 MB document
# should not be tokenised whole to keep its first 512 tokens.
_CHARS_PER_TOKEN_PROBE = 16


def text_problem(value: Any) -> str | None:
    """Why ``value`` cannot be scored (a skip reason), or None when it is usable text."""
    if value is None:
        return SKIP_NULL
    if not isinstance(value, str):
        return SKIP_NOT_STRING
    if not value.strip():
        return SKIP_EMPTY
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot reach a tokenizer
        return SKIP_INVALID_UNICODE
    return None


@dataclass(slots=True)
class Window:
    """One forward-pass row: ``ids = prefix + content + suffix``; offsets cover content only."""

    doc: int
    part: int  # window number within the document
    ids: list[int]
    offsets: list[tuple[int, int]]  # (start_char, end_char) of each content token
    content_start: int  # index in ids of the first content token

    @property
    def n_content(self) -> int:
        return len(self.offsets)


@dataclass(slots=True)
class TokenizedDoc:
    windows: list[Window]
    n_tokens: int  # content tokens kept (all windows)
    total_tokens: int  # content tokens of the whole text
    truncated: bool


class TextTokenizer:
    """Wraps a fast Hugging Face tokenizer with the project's long-document policy."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        *,
        max_tokens: int,
        long_docs: LongDocPolicy = "truncate",
        count_all: bool = True,
    ) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise ModelError(
                f"{type(tokenizer).__name__} is not a fast tokenizer: token offsets need one "
                "(install `tokenizers` and load with use_fast=True)",
                field="model.tokenizer",
            )
        self.tokenizer = tokenizer
        self.long_docs = long_docs
        self.count_all = count_all  # count every token of a truncated text (token budgets)
        self.prefix, self.suffix = _special_affixes(tokenizer)
        self.budget = max_tokens - len(self.prefix) - len(self.suffix)
        if self.budget < 1:
            raise ModelError(
                f"max_tokens={max_tokens} leaves no room next to {len(self.prefix)} + "
                f"{len(self.suffix)} special tokens: raise it",
                field="scoring.max_tokens",
                value=max_tokens,
            )
        self.pad_id = tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0

    def encode(
        self, texts: Sequence[str], doc_ids: Sequence[int] | None = None
    ) -> list[TokenizedDoc]:
        """Tokenise valid texts; ``Window.doc`` is the text's entry in ``doc_ids`` (default:
        its position)."""
        if not texts:  # a read-ahead chunk of only unscorable records
            return []
        if self.long_docs == "truncate":
            cap = self.budget * _CHARS_PER_TOKEN_PROBE
            probe = [t[:cap] for t in texts]
        else:
            probe = list(texts)
        encoded = self._encode(probe)
        totals = [len(ids) for ids, _ in encoded]
        for i, text in enumerate(texts):
            if len(probe[i]) == len(text):
                continue
            # A probe cut can only change the tokens near the cut: redo the rare doc where
            # the probe did not yield comfortably more tokens than kept.
            if len(encoded[i][0]) <= self.budget + 8:
                encoded[i] = self._encode([text])[0]
                totals[i] = len(encoded[i][0])
            elif self.count_all:
                totals[i] = len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        doc_ids = range(len(texts)) if doc_ids is None else doc_ids
        return [
            self._windows(doc, ids, offs, total)
            for doc, (ids, offs), total in zip(doc_ids, encoded, totals, strict=True)
        ]

    def _encode(self, texts: list[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
        batch = self.tokenizer(
            texts, add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )
        return list(zip(batch["input_ids"], batch["offset_mapping"], strict=True))

    def _windows(self, doc: int, ids: list[int], offsets: list, total: int) -> TokenizedDoc:
        step = self.budget
        starts = [0] if self.long_docs == "truncate" else range(0, max(len(ids), 1), step)
        windows = [
            Window(
                doc=doc,
                part=part,
                ids=self.prefix + ids[s : s + step] + self.suffix,
                offsets=[tuple(o) for o in offsets[s : s + step]],
                content_start=len(self.prefix),
            )
            for part, s in enumerate(starts)
        ]
        kept = sum(w.n_content for w in windows)
        return TokenizedDoc(windows, kept, max(total, kept), truncated=kept < total)


def _special_affixes(tokenizer: PreTrainedTokenizerBase) -> tuple[list[int], list[int]]:
    """The special ids the tokenizer puts before and after a text (BOS; CLS ... SEP)."""
    probe = "hello world"
    bare = tokenizer(probe, add_special_tokens=False)["input_ids"]
    full = tokenizer(probe, add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return list(full[:start]), list(full[start + len(bare) :])
    return [], []
