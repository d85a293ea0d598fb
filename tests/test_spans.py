"""Canonical byte spans: hand-made tokenizations with known cuts, and real trained tokenizers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from discovery.datapass.spans import (
    align_spans,
    pool_tokens_to_spans,
    trimmed_byte_ranges,
    utf8_offsets,
)
from discovery.errors import DiscoveryError

# 'hello world, café 日本 🎉!': é is 2 bytes, 日/本 3 each, 🎉 4.
TEXT = "hello world, café 日本 🎉!"


def test_utf8_offsets_count_multibyte_characters():
    offsets = utf8_offsets(TEXT)
    assert offsets[-1] == len(TEXT.encode("utf-8"))
    for i in range(len(TEXT) + 1):
        assert offsets[i] == len(TEXT[:i].encode("utf-8"))


def test_cuts_are_shared_boundaries_in_utf8_bytes():
    # Model a: BPE-like, spaces lead tokens (" world", " 日本"), a BOS (0, 0), a lone space
    # token before the emoji, and it truncated the final "!".
    a = [(0, 0), (0, 5), (5, 11), (11, 12), (12, 17), (17, 20), (20, 21), (21, 22)]
    # Model b: WordPiece-like, skips spaces, splits "café" and "日本", and splits the emoji
    # into two byte tokens that both report the emoji's character range.
    b = [(0, 5), (6, 11), (11, 12), (13, 16), (16, 17), (18, 19), (19, 20), (21, 22), (21, 22),
         (22, 23)]  # fmt: skip
    alignment = align_spans(TEXT, {"a": a, "b": b})
    spans = [TEXT.encode()[s:e].decode() for s, e in alignment.spans]
    assert spans == ["hello", "world", ",", "café", "日本", "🎉"]
    assert alignment.spans.tolist() == [[0, 5], [6, 11], [11, 12], [13, 18], [19, 25], [26, 30]]
    assert alignment.token_spans["a"].tolist() == [-1, 0, 1, 2, 3, 4, -1, 5]
    assert alignment.token_spans["b"].tolist() == [0, 1, 2, 3, 3, 4, 4, 5, 5, -1]


def test_boundary_inside_an_overlapping_token_is_not_a_cut():
    text = "abcd"
    # a: "ab" + "cd"; b: byte-fallback style overlap (0, 3) and (2, 4): 2 is a boundary of
    # both models only through b's second token, but lies inside b's first token.
    alignment = align_spans(text, {"a": [(0, 2), (2, 4)], "b": [(0, 3), (2, 4)]})
    assert alignment.spans.tolist() == [[0, 4]]
    assert alignment.token_spans["b"].tolist() == [0, 0]


def test_no_shared_span_names_the_models():
    with pytest.raises(DiscoveryError, match=r"\['gemma', 'smollm'\] share no canonical span"):
        align_spans("   ", {"smollm": [(0, 1)], "gemma": [(0, 3)]})


def test_offsets_from_another_text_are_rejected():
    with pytest.raises(DiscoveryError, match="outside the document"):
        align_spans("ab", {"a": [(0, 5)]})


def test_mean_and_max_pooling_skip_unpooled_tokens():
    acts = np.array([[100.0, 0.0], [1.0, 2.0], [3.0, 6.0], [5.0, -1.0]], dtype=np.float32)
    ids = np.array([-1, 0, 0, 1])
    mean = pool_tokens_to_spans(acts, ids, 2)
    assert isinstance(mean, np.ndarray)
    np.testing.assert_allclose(mean, [[2.0, 4.0], [5.0, -1.0]])
    peak = pool_tokens_to_spans(torch.from_numpy(acts), torch.from_numpy(ids), 2, how="max")
    assert isinstance(peak, torch.Tensor)
    np.testing.assert_allclose(peak.numpy(), [[3.0, 6.0], [5.0, -1.0]])


def test_pooling_rejects_an_empty_span():
    with pytest.raises(DiscoveryError, match="at least one token"):
        pool_tokens_to_spans(np.ones((2, 3)), np.array([0, 0]), 2)


# --- real tokenizers trained in-process ------------------------------------------------------

CORPUS = [
    "def parse(text: str) -> dict:\n    return {'key': text.strip()}\n",
    "The licensee shall not sublicense the café's 日本語 software without written consent.",
    "Naïve résumés 🎉 arrived; the jury's verdict was unanimous — guilty on all counts.",
    "for i in range(10):\n\tprint(i ** 2)  # squares\n",
    "Emoji 🚀🔥 and accents àéîõü mix with CJK 漢字かな and tabs\tand  double  spaces.",
] * 20


def _byte_level_bpe() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<s>"],
    )  # fmt: skip
    tok.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>")


def _wordpiece() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=["[UNK]", "[CLS]"])
    tok.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", cls_token="[CLS]")


def _metaspace_unigram() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=200, special_tokens=["<unk>"], unk_token="<unk>")
    tok.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>")


def test_real_tokenizers_share_ordered_disjoint_spans_with_every_model():
    tokenizers = {
        "bpe": _byte_level_bpe(),
        "wordpiece": _wordpiece(),
        "unigram": _metaspace_unigram(),
    }
    for text in CORPUS[:5]:
        offsets = {
            name: tok(text, return_offsets_mapping=True)["offset_mapping"]
            for name, tok in tokenizers.items()
        }
        alignment = align_spans(text, offsets)
        spans = alignment.spans
        assert alignment.n_spans > 3
        assert (spans[:, 0] < spans[:, 1]).all()
        assert (spans[1:, 0] >= spans[:-1, 1]).all()  # ordered and disjoint
        raw = text.encode("utf-8")
        for span_start, span_end in spans:
            assert not raw[span_start:span_end].decode("utf-8").isspace()
        for name, ids in alignment.token_spans.items():
            assert np.bincount(ids[ids >= 0], minlength=alignment.n_spans).min() >= 1
            # Each span starts at its first token's (trimmed) start and ends at its last
            # token's end, in every model: a span is a union of whole tokens of each model.
            ranges = trimmed_byte_ranges(text, offsets[name])
            pooled = ids >= 0
            first = np.full(alignment.n_spans, np.iinfo(np.int64).max)
            last = np.zeros(alignment.n_spans, dtype=np.int64)
            np.minimum.at(first, ids[pooled], ranges[pooled, 0])
            np.maximum.at(last, ids[pooled], ranges[pooled, 1])
            np.testing.assert_array_equal(first, spans[:, 0])
            np.testing.assert_array_equal(last, spans[:, 1])
            # Tokens left out are whitespace-only, special, or beyond the shared cuts.
            assert (
                (ranges[~pooled, 0] < 0)
                | (ranges[~pooled, 0] >= spans[-1, 1])
                | (ranges[~pooled, 1] <= spans[0, 0])
            ).all()
        # The pooled activations of every model have one row per span.
        for ids in alignment.token_spans.values():
            acts = torch.randn(len(ids), 4)
            assert pool_tokens_to_spans(acts, ids, alignment.n_spans).shape == (
                alignment.n_spans,
                4,
            )
