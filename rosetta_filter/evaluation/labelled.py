"""Labelled documents for evaluation and for fitting domain heads, read through the one source
reader (:class:`rosetta_filter.filtering.sources.Source`), so any format a run reads works here.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rosetta_filter.config import SourceConfig
from rosetta_filter.errors import SourceError
from rosetta_filter.filtering.sources import Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelledSet:
    """Parallel columns of the usable labelled records (text present and scorable, label set)."""

    ids: list[str]
    texts: list[str]
    labels: np.ndarray  # (docs,) str: the domain
    families: np.ndarray  # (docs,) str: source family ("" where the file has none)
    roles: np.ndarray  # (docs,) str: "choose" / "heldout" of a labelled corpus ("" if none)

    def __len__(self) -> int:
        return len(self.texts)

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.labels.tolist()).items()))


def read_labelled(
    path: str | Path | Sequence[str | Path],
    *,
    text_field: str = "text",
    label_field: str = "domain",
    family_field: str = "family",
    role_field: str = "role",
    id_field: str | None = "id",
    only_families: Collection[str] | None = None,
) -> LabelledSet:
    """Every record of ``path`` (one file, or several read in order as one set) with a text and
    a label (only those of ``only_families``, when given: a sealed subset scored on its own);
    the others are counted in the log."""
    files = str(path) if isinstance(path, str | Path) else [str(p) for p in path]
    source = Source(SourceConfig(data_files=files, text_field=text_field, id_field=id_field))
    ids, texts, labels, families, roles = [], [], [], [], []
    skipped: Counter = Counter()
    seen_families: set[str] = set()
    for record in source.records():
        label = record.fields.get(label_field)
        if record.problem is not None or not isinstance(label, str) or not label:
            skipped[record.problem or f"no {label_field}"] += 1
            continue
        family = str(record.fields.get(family_field) or "")
        seen_families.add(family)
        if only_families is not None and family not in only_families:
            continue
        ids.append(record.id)
        texts.append(record.text)
        labels.append(label)
        families.append(family)
        roles.append(str(record.fields.get(role_field) or ""))
    if skipped:
        log.warning("%s: skipped %s", path, dict(skipped))
    missing = sorted(set(only_families or ()) - seen_families)
    if missing:
        raise SourceError(
            f"{path} has no family {', '.join(missing)} in field {family_field!r}; it has "
            f"{', '.join(sorted(seen_families - {''}))}: check --family / --family-field",
            field="family",
            value=missing[0],
        )
    if not texts:
        raise SourceError(
            f"{path} has no record with a {text_field!r} text and a {label_field!r} label: "
            "check --label-field / the file",
            field="labels",
            value=str(path),
        )
    return LabelledSet(ids, texts, np.asarray(labels), np.asarray(families), np.asarray(roles))
