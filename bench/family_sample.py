"""A fixed few documents of every family: a labelled file cut down for a screen that cannot
afford the whole corpus (a larger anchor model on two CPU cores, say).

Keeps the ``--per-family`` documents of each family whose ``id`` has the smallest sha256, so the
sample depends on the ids alone: the same input gives the same bytes, and a family that grows
keeps its earlier picks unless a new document's hash sorts before them. Families are written in
name order, each family's documents in input order.

    python -m bench.family_sample out/labelled/choose.jsonl out/labelled-sub16/choose.jsonl \\
        --per-family 16
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import defaultdict
from pathlib import Path

from rosetta_filter.files import atomic_path


def family_sample(lines: list[str], per_family: int, family_field: str = "family") -> list[str]:
    """The sampled lines (see the module docstring)."""
    by_family: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for position, line in enumerate(lines):
        by_family[json.loads(line)[family_field]].append((position, line))

    def rank(item: tuple[int, str]) -> str:
        return hashlib.sha256(json.loads(item[1])["id"].encode()).hexdigest()

    kept = []
    for family in sorted(by_family):
        picks = sorted(by_family[family], key=rank)[:per_family]
        kept.extend(line for _, line in sorted(picks))
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="labelled JSONL (id, family per line)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-family", type=int, required=True)
    parser.add_argument("--family-field", default="family")
    args = parser.parse_args()
    lines = [line for line in args.source.read_text().splitlines(keepends=True) if line.strip()]
    kept = family_sample(lines, args.per_family, args.family_field)
    with atomic_path(args.out) as tmp:
        tmp.write_text("".join(kept))
    print(f"{args.out}: {len(kept)} of {len(lines)} documents")


if __name__ == "__main__":
    main()
