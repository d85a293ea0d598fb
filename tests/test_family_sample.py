"""bench.family_sample: the per-family cut is fixed by the ids alone."""

from __future__ import annotations

import hashlib
import json

from bench.family_sample import family_sample


def _line(doc_id: str, family: str) -> str:
    return json.dumps({"id": doc_id, "family": family, "text": doc_id}) + "\n"


def test_each_family_keeps_its_smallest_hashes_in_input_order():
    lines = [_line(f"{fam}/{i}", fam) for i in range(10) for fam in ("b", "a", "c")][:-2]
    kept = family_sample(lines, per_family=3)
    by_family = {}
    for line in kept:
        record = json.loads(line)
        by_family.setdefault(record["family"], []).append(record["id"])
    assert list(by_family) == ["a", "b", "c"]  # families in name order
    for family, ids in by_family.items():
        pool = [json.loads(x)["id"] for x in lines if json.loads(x)["family"] == family]
        smallest = sorted(pool, key=lambda i: hashlib.sha256(i.encode()).hexdigest())[:3]
        assert ids == [i for i in pool if i in smallest]  # input order kept
    shuffled = lines[::-1]
    assert sorted(family_sample(shuffled, 3)) == sorted(kept)  # the ids decide, not the order
