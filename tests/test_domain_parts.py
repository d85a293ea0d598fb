"""A domain's setup and parts on worker processes give what one process gives, parts in order,
each domain reported done once, after its last part; a failing part fails the map."""

from __future__ import annotations

import numpy as np
import pytest

from discovery.domain.workers import map_domain_parts


def column_sums(matrices: dict) -> np.ndarray:
    return np.asarray(matrices["acts"]).sum(axis=0)


def setup(state: np.ndarray, domain: str) -> float:
    return float(state[ord(domain[0]) % len(state)])


def part(state: np.ndarray, domain: str, name: str, shared: float) -> str:
    if name == "broken":
        raise RuntimeError(f"part {name} of {domain} failed")
    return f"{domain}/{name}:{shared + len(name):.1f}"


@pytest.mark.parametrize("workers", [1, 2])
def test_parts_follow_their_setup_in_the_order_given(workers: int) -> None:
    acts = np.arange(64 * 8, dtype=np.float32).reshape(64, 8)
    finished: list[str] = []
    got = map_domain_parts(
        {"acts": acts}, column_sums, setup, part, ["code", "math", "prose"], ["all", "rosetta"],
        workers=workers, done=finished.append,
    )  # fmt: skip
    sums = acts.sum(axis=0)
    for domain in ["code", "math", "prose"]:
        shared = float(sums[ord(domain[0]) % 8])
        assert got[domain] == (
            shared,
            {
                "all": f"{domain}/all:{shared + 3:.1f}",
                "rosetta": f"{domain}/rosetta:{shared + 7:.1f}",
            },
        )
        assert list(got[domain][1]) == ["all", "rosetta"]
    assert sorted(finished) == ["code", "math", "prose"]


def test_a_failing_part_fails_the_map() -> None:
    with pytest.raises(RuntimeError, match="part broken of"):
        map_domain_parts(
            {"acts": np.ones((4, 2), np.float32)}, column_sums, setup, part, ["a", "b"],
            ["fine", "broken"], workers=2,
        )  # fmt: skip
