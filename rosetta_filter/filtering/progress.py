"""Progress reporting as a small protocol: the library reports, only the CLI draws."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, stage: str, total: int | None, done: int = 0) -> None: ...

    def advance(self, docs: int, tokens: int = 0, kept: int = 0) -> None: ...

    def finish(self) -> None: ...


class NullProgress:
    def start(self, stage: str, total: int | None, done: int = 0) -> None:
        pass

    def advance(self, docs: int, tokens: int = 0, kept: int = 0) -> None:
        pass

    def finish(self) -> None:
        pass


class UnitProgress:
    """Forwards one work unit's advances to the run's progress and leaves its stage bar alone:
    the run starts and finishes each stage once, over all units."""

    def __init__(self, run: Progress) -> None:
        self.run = run

    def start(self, stage: str, total: int | None, done: int = 0) -> None:
        pass

    def advance(self, docs: int, tokens: int = 0, kept: int = 0) -> None:
        self.run.advance(docs, tokens, kept)

    def finish(self) -> None:
        pass
