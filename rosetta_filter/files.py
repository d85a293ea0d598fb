"""File utilities every subsystem shares: atomic writes (write to a temporary name in the same
directory, fsync, rename, so a killed process never leaves a half file under the real name) and
content hashes (sha256, streamed)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_HASH_BLOCK = 1 << 22


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer that wants a file name (parquet, numpy);
    renamed onto ``path`` after the block, removed if it raises."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: Path, text: str) -> None:
    """UTF-8, ``\\n`` line ends on every platform (byte-reproducible files)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, payload: Any) -> None:
    write_bytes_atomic(path, json.dumps(payload, indent=2, sort_keys=True, default=str).encode())


def sha256_file(paths: Path | Iterable[Path]) -> str:
    """sha256 of a file, or one hash over several files' bytes in the given order."""
    digest = hashlib.sha256()
    for path in [paths] if isinstance(paths, Path) else paths:
        with open(path, "rb") as fh:
            while block := fh.read(_HASH_BLOCK):
                digest.update(block)
    return digest.hexdigest()
