"""Cross-fitting: the quality, on families nobody fitted on, of a bank fitted on *every* family.

A bank fitted on the choose families is measured on the held-out ones. More source families is
the surest cure for the source-specific choices this project keeps finding, but a bank fitted on
the held-out families too has nothing left to be measured on. Cross-fitting measures the
procedure instead of the one bank:

- The held-out families are dealt into ``folds`` by :func:`deal_families`: per domain, in the
  order of their names' sha256, round-robin, so nobody picks which families share a fold and
  every fold holds about as many families of each domain.
- For each fold a bank is fitted with the bank's own ``domains`` config on the choose families
  plus every *other* fold's families, and scores only its fold's families
  (``rosetta-filter evaluate`` with the TF-IDF baseline trained on the same documents).
- Every held-out document is then scored by a bank that never saw its family; the out-of-fold
  scores, pooled, estimate what the bank fitted on all families does on families it has not
  seen. Pooling mixes ``folds`` heads' calibrations, which can only lower a pooled AUROC against
  what one bank would give: the estimate errs low.

Each fold's bank and scores are written when complete (atomically), so a killed run resumes at
the fold it was in.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from discovery.domain.job import DomainsConfig, build_domain_bank
from discovery.errors import DiscoveryError
from rosetta_filter.config import RunConfig
from rosetta_filter.evaluation.evaluate import BASELINE, CONFIGURED, DomainResult, evaluate
from rosetta_filter.evaluation.labelled import LabelledSet, read_labelled
from rosetta_filter.evaluation.metrics import auroc
from rosetta_filter.evaluation.report import write_evaluation
from rosetta_filter.evaluation.uncertainty import grouped_auroc
from rosetta_filter.files import atomic_path, write_json_atomic, write_text_atomic

log = logging.getLogger(__name__)
SCORES_FILE = "scores.parquet"  # every variant's out-of-fold score (the evaluation's name)


def deal_families(by_domain: Mapping[str, Iterable[str]], folds: int) -> list[list[str]]:
    """Each fold's families: every domain's families in sha256 order of their names, dealt
    round-robin with one count running over the domains (sorted), so folds differ in size by
    at most one family and no choice of ours decides which families share a fold."""
    if folds < 2:
        raise DiscoveryError(f"folds={folds}: cross-fitting needs at least 2", field="folds")
    dealt: list[list[str]] = [[] for _ in range(folds)]
    count = 0
    for domain in sorted(by_domain):
        for family in sorted(set(by_domain[domain]), key=_digest):
            dealt[count % folds].append(family)
            count += 1
    if any(not fold for fold in dealt):
        raise DiscoveryError(
            f"{count} held-out families cannot fill {folds} folds: use fewer folds",
            field="folds",
        )
    return dealt


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


@dataclass(frozen=True)
class Crossfit:
    """The plan: the bank's ``domains`` config, the run config whose ``neurons`` section is
    scored, the held-out file and where each fold goes."""

    domains: DomainsConfig
    run: RunConfig
    heldout: Path
    out: Path
    folds: int = 4
    cache_dir: Path | None = None

    def fold_dir(self, fold: int) -> Path:
        return self.out / f"fold-{fold}"


def run_crossfit(
    plan: Crossfit,
    done: Callable[[int, str], None] = lambda fold, step: None,
    stage: Callable[[str, int], None] = lambda name, total: None,
    advance: Callable[[int], None] = lambda n: None,
) -> pa.Table:
    """Fit and score every fold (skipping those already complete), then pool the out-of-fold
    scores into ``plan.out / scores.parquet`` (one row per held-out document, a
    ``{domain}/{variant}`` column per variant every fold has) and return them. Progress:
    ``done(fold, step)`` after each fold's fit and scoring, ``stage(name, total)`` when a
    fold's pooled pass, fit or scoring opens, ``advance(n)`` as each counts."""
    fields = plan.domains.labelled
    heldout = read_labelled(plan.heldout)
    choose = read_labelled(
        choose_paths(fields.path, plan.heldout),
        text_field=fields.text_field,
        label_field=fields.domain_field,
        family_field=fields.family_field,
    )
    overlap = set(heldout.families.tolist()) & set(choose.families.tolist())
    if overlap:
        raise DiscoveryError(
            f"families {sorted(overlap)} are in both the choose corpus and {plan.heldout}: a "
            "fold would fit on the family it scores",
            field="labelled.path",
        )
    by_domain: dict[str, set[str]] = {}
    for label, family in zip(heldout.labels.tolist(), heldout.families.tolist(), strict=True):
        by_domain.setdefault(label, set()).add(family)
    dealt = deal_families(by_domain, plan.folds)
    write_json_atomic(plan.out / "folds.json", {"heldout": str(plan.heldout), "folds": dealt})
    tables = []
    progress = _FoldProgress(done, stage, advance)
    for fold, held in enumerate(dealt):
        tables.append(_fold_scores(plan, fold, held, choose, heldout, progress))
    columns = set.intersection(*(set(t.column_names) for t in tables))
    pooled = pa.concat_tables([t.select(sorted(columns)) for t in tables])
    with atomic_path(plan.out / SCORES_FILE) as tmp:
        pq.write_table(pooled, tmp)
    return pooled


def choose_paths(paths: str | list[str], heldout: Path) -> list[str]:
    """The corpus files a fold's bank fits on besides the other folds' families: the domains
    config's, without the held-out file itself (a bank fitted on every family, such as the
    default's, lists it; its folds deal that file's families instead)."""
    listed = [paths] if isinstance(paths, str) else list(paths)
    kept = [p for p in listed if Path(p).resolve() != heldout.resolve()]
    if not kept:
        raise DiscoveryError(
            f"labelled.path lists only the held-out file {heldout}: the folds need choose "
            "families besides it",
            field="labelled.path",
        )
    return kept


@dataclass(frozen=True)
class _FoldProgress:
    done: Callable[[int, str], None]
    stage: Callable[[str, int], None]
    advance: Callable[[int], None]


def _fold_scores(
    plan: Crossfit,
    fold: int,
    held: list[str],
    choose: LabelledSet,
    heldout: LabelledSet,
    progress: _FoldProgress,
) -> pa.Table:
    """One fold: its training corpus, its bank, its evaluation; each reused when complete."""
    root = plan.fold_dir(fold)
    scores = root / SCORES_FILE
    if scores.exists():
        progress.done(fold, "reused")
        return pq.read_table(scores)
    train = root / "train.jsonl"
    if not train.exists():
        _write_corpus(train, [choose, heldout], exclude=set(held))
    bank = root / "bank"
    if not bank.exists():
        cfg = plan.domains.model_copy(
            update={
                "labelled": plan.domains.labelled.model_copy(update={"path": str(train)}),
                "out": str(bank),
                "cache_dir": str(plan.cache_dir) if plan.cache_dir else plan.domains.cache_dir,
            }
        )
        fold_stage = lambda name, total: progress.stage(f"fold {fold}: {name}", total)  # noqa: E731
        build_domain_bank(cfg, stage=fold_stage, advance=progress.advance)
        progress.done(fold, "fitted")
    run = plan.run.model_copy(
        update={"neurons": plan.run.neurons.model_copy(update={"bank": str(bank)})}
    )
    data = read_labelled(plan.heldout, only_families=held)
    progress.stage(f"fold {fold}: scoring its families", len(data))
    results = evaluate(
        run, data, read_labelled(train), advance=progress.advance, cache_dir=plan.cache_dir
    )
    meta = {
        "labels": str(plan.heldout),
        "families": held,
        "docs": len(data),
        "docs_per_domain": data.counts(),
        "baseline_train": str(train),
        "activations": f"pooled cache {plan.cache_dir}" if plan.cache_dir else "scorer",
        "fold": fold,
    }
    write_evaluation(results, data, root / "evaluation", meta)
    table = variant_table(results, data)
    table = table.append_column("fold", pa.array([fold] * table.num_rows, pa.int64()))
    with atomic_path(scores) as tmp:
        pq.write_table(table, tmp)
    progress.done(fold, "scored")
    return table


def _write_corpus(path: Path, sets: list[LabelledSet], exclude: set[str]) -> None:
    """The fold's training corpus as JSON lines: every record of ``sets`` outside ``exclude``,
    role ``choose`` (it is what this fold's bank chooses on)."""
    lines = [
        json.dumps(
            {"id": i, "text": t, "domain": d, "family": f, "role": "choose"}, ensure_ascii=False
        )
        for s in sets
        for i, t, d, f in zip(s.ids, s.texts, s.labels.tolist(), s.families.tolist(), strict=True)
        if f not in exclude
    ]
    write_text_atomic(path, "\n".join(lines) + "\n")


def variant_table(results: Mapping[str, DomainResult], data: LabelledSet) -> pa.Table:
    """Every document's score under every variant (``{domain}/{variant}``), with its id, label
    and family: the columns :class:`bench.compare_evaluations.Scores` reads."""
    columns: dict[str, object] = {"id": data.ids, "label": data.labels, "family": data.families}
    for domain, result in results.items():
        for name, values in result.scores.items():
            columns[f"{domain}/{name}"] = values
    return pa.table(columns)


def pooled_aurocs(
    table: pa.Table, variants: Iterable[str] = (CONFIGURED, BASELINE)
) -> dict[str, dict[str, dict[str, float]]]:
    """Per domain and variant, AUROC of domain vs rest over the out-of-fold scores: ``pooled``
    (every pair of documents, though two folds' banks score on scales that need not agree: it
    errs low) and ``within_fold`` (only pairs scored by the same bank: the estimate of what one
    bank does; :func:`~rosetta_filter.evaluation.uncertainty.grouped_auroc`)."""
    data = table.to_pydict()
    labels = np.asarray(data["label"], dtype=object)
    folds = np.asarray(data["fold"])
    out: dict[str, dict[str, dict[str, float]]] = {}
    for column in table.column_names:
        if "/" not in column:
            continue
        domain, name = column.split("/", 1)
        if name in variants:
            positive = labels == domain
            values = np.asarray(data[column], dtype=np.float64)
            out.setdefault(domain, {})[name] = {
                "pooled": float(auroc(values, positive)[0]),
                "within_fold": grouped_auroc(values, positive, folds),
            }
    return out
