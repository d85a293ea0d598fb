"""Cutting source texts into documents: at paragraph boundaries where possible, else at line
ends, else at spaces, into chunks of bounded length (so every probe document fits a model's
window and no domain is represented by a few huge files)."""

from __future__ import annotations

import math
import re
from itertools import chain


def chunk_text(
    text: str, min_chars: int, max_chars: int, target_chars: int | None = None
) -> list[str]:
    """Cut ``text`` into chunks of at most ``max_chars``, at paragraph boundaries where possible,
    else line boundaries, else whitespace; chunks shorter than ``min_chars`` are dropped.

    A text needing n chunks is cut into n of about equal size (not n-1 full ones and a scrap),
    so little text is lost to ``min_chars``. n is set by ``target_chars`` (default
    ``max_chars``): a lower target gives more, shorter chunks that may still grow past it, by
    whole paragraphs, up to ``max_chars``.
    """
    budget = min(target_chars or max_chars, max_chars)
    pieces = [piece for para in _paragraphs(text) for piece in _fit(para, max_chars, budget)]
    if not pieces:
        return []
    total = sum(map(len, pieces)) + 2 * (len(pieces) - 1)
    target = total / math.ceil(total / budget)
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for piece in pieces:
        grown = size + len(piece) + (2 if current else 0)
        if current and (grown > max_chars or size >= target):
            chunks.append("\n\n".join(current))
            current, grown = [], len(piece)
        current.append(piece)
        size = grown
    chunks.append("\n\n".join(current))
    return [chunk for chunk in chunks if len(chunk) >= min_chars]


def _paragraphs(text: str) -> list[str]:
    # strip only newlines at the start: leading spaces are indentation in code
    parts = re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n"))
    return [part.strip("\n").rstrip() for part in parts if part.strip()]


def _fit(paragraph: str, max_chars: int, piece_chars: int) -> list[str]:
    """Split a paragraph over ``max_chars`` into pieces of at most ``piece_chars`` at line ends
    (``piece_chars <= max_chars``); a shorter paragraph stays whole."""
    if len(paragraph) <= max_chars:
        return [paragraph]
    pieces: list[str] = []
    current = ""
    for line in chain.from_iterable(_split_line(ln, piece_chars) for ln in paragraph.split("\n")):
        if current and len(current) + 1 + len(line) > piece_chars:
            pieces.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    pieces.append(current)
    return [piece for piece in pieces if piece.strip()]


def _split_line(line: str, max_chars: int) -> list[str]:
    parts = []
    while len(line) > max_chars:
        cut = line.rfind(" ", 0, max_chars + 1)
        cut = cut if cut > 0 else max_chars
        parts.append(line[:cut])
        line = line[cut:].lstrip(" ")
    return [*parts, line]
