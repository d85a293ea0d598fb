"""Run statistics: every input record is accounted for (``seen == scored + invalid`` and
``scored == kept + dropped``); stats of ranks and of resumed segments add with ``+``."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RunStats:
    seen: int = 0
    scored: int = 0
    invalid: Counter = field(default_factory=Counter)  # skip reason -> count
    truncated: int = 0
    deferred: int = 0  # scored by a cascade's full-depth head (neurons.cascade)
    tokens_scored: int = 0  # tokens that went through the model
    tokens_in: int = 0  # tokens of all scored documents (untruncated)
    kept: int = 0
    dropped: int = 0
    tokens_kept: int = 0
    bucket_docs: Counter = field(default_factory=Counter)  # mixture bucket -> kept docs
    bucket_tokens: Counter = field(default_factory=Counter)  # mixture bucket -> kept tokens
    score_seconds: float = 0.0
    write_seconds: float = 0.0

    def __add__(self, other: RunStats) -> RunStats:
        merged = RunStats()
        for name in self.__dataclass_fields__:
            setattr(merged, name, getattr(self, name) + getattr(other, name))
        return merged

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["invalid"] = dict(sorted(self.invalid.items()))
        out["bucket_docs"] = dict(sorted(self.bucket_docs.items()))
        out["bucket_tokens"] = dict(sorted(self.bucket_tokens.items()))
        out["invalid_total"] = sum(self.invalid.values())
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunStats:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for name in ("invalid", "bucket_docs", "bucket_tokens"):
            known[name] = Counter(known.get(name, {}))
        return cls(**known)

    def summary(self) -> dict[str, Any]:
        """The stats.json payload: counts plus rates."""
        out = self.to_dict()
        secs = max(self.score_seconds, 1e-9)
        out["docs_per_s"] = round(self.seen / secs, 2)
        out["tokens_per_s"] = round(self.tokens_scored / secs, 2)
        out["kept_fraction"] = round(self.kept / self.scored, 6) if self.scored else 0.0
        out["wall_seconds"] = round(self.score_seconds + self.write_seconds, 3)
        return out
