"""Selection arms: each one is a ``rosetta-filter run`` over the pool under the same token
budget, so what the study compares is the shards a user would get.

The three Rosetta arms run the real pipeline with the study's run config (the committed bank):
the default domain filter, its early-exit head, and the single best Rosetta Neuron. The
baselines (``cpt.baselines``) pass their own :class:`DocumentScorer` to the same pipeline.
A finished arm (its ``summary.json`` written after the run) is not run again; an interrupted
one resumes through the pipeline's own checkpoints.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from cpt.baselines import (
    BaselineScorer,
    dsir_scores,
    oracle_scores,
    random_scores,
    read_records,
    tfidf_scores,
)
from cpt.config import ArmName, CptConfig
from rosetta_filter.config import RunConfig, load_config
from rosetta_filter.errors import BankError
from rosetta_filter.files import write_json_atomic
from rosetta_filter.filtering.pipeline import run
from rosetta_filter.filtering.progress import Progress
from rosetta_filter.scoring.bank import bank_digest

log = logging.getLogger(__name__)
SUMMARY = "summary.json"

# neurons.* overrides of the run config per Rosetta arm ({layer}: arms.early_exit_layer)
_ROSETTA_NEURONS: dict[str, list[str]] = {
    "rosetta": [],
    # one depth for every document: the fixed early exit this arm measures, not a cascade's
    "rosetta_early_exit": [
        "neurons.mode=head",
        "neurons.max_layer={layer}",
        "neurons.cascade=false",
    ],
    "rosetta_single": [
        "neurons.relative=false",  # one neuron: nothing to compare across domain heads
        "neurons.cascade=false",
        "neurons.mode=top_k",
        "neurons.top_k=1",
        "neurons.rosetta_only=true",
        "neurons.max_layer=null",
    ],
}


@dataclass(frozen=True)
class Pool:
    """The study's pool: its file, records (for labels) and total tokens."""

    path: Path
    records: list[dict[str, Any]]
    tokens: int


def arm_run_config(cfg: CptConfig, arm: ArmName, pool: Pool, budget: int, target: str):
    """The run config of ``arm``: the study's run config pointed at the pool and the budget."""
    overrides = [
        *cfg.arms.run_overrides,
        f"source.data_files={pool.path}",
        "source.id_field=id",
        f"neurons.domain={target}",
        "selection.keep_fraction=null",
        "selection.threshold=null",
        f"selection.token_budget={budget}",
        f"output.dir={arm_dir(cfg, arm)}",
        "output.write_rejected=false",
    ]
    extra = _ROSETTA_NEURONS.get(arm, [])
    return load_config(
        cfg.arms.run_config,
        [*overrides, *(o.format(layer=cfg.arms.early_exit_layer) for o in extra)],
    )


def arm_dir(cfg: CptConfig, arm: str) -> Path:
    return cfg.out_dir / "arms" / arm


def baseline_scorer(
    cfg: CptConfig, arm: ArmName, run_cfg: RunConfig, pool: Pool, target: str, tokenizer: Any
) -> BaselineScorer:
    """The scorer of a baseline arm (fitted here: the classifier and DSIR on the probe)."""
    seed = cfg.arms.seed
    probe = read_records(cfg.arms.probe) if arm in ("tfidf", "dsir") else []
    if arm == "tfidf":
        score_fn, info = tfidf_scores(probe, target), {"probe": str(cfg.arms.probe)}
    elif arm == "dsir":
        cache = cfg.out_dir / "cache" / "dsir"
        score_fn = dsir_scores(probe, pool.path, target, seed, cache)
        info = {"probe": str(cfg.arms.probe), "seed": seed}
    elif arm == "random":
        score_fn, info = random_scores(seed), {"seed": seed}
    else:
        score_fn, info = oracle_scores(pool.records, target, seed), {"seed": seed}
    return BaselineScorer(arm, score_fn, tokenizer, run_cfg.scoring.tokens.max_tokens, info)


def run_arm(
    cfg: CptConfig,
    arm: ArmName,
    pool: Pool,
    budget: int,
    target: str,
    tokenizer: Any,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Select with ``arm`` (or reuse its finished run) and return its summary: documents and
    tokens kept, precision and recall of the target against the pool's labels, seconds, and
    the layers the model ran (0 for a baseline)."""
    out = arm_dir(cfg, arm)
    run_cfg = arm_run_config(cfg, arm, pool, budget, target)
    if (out / SUMMARY).is_file():
        _check_same_bank(out, arm, run_cfg)
        return json.loads((out / SUMMARY).read_text())
    scorer = (
        None
        if arm in _ROSETTA_NEURONS
        else baseline_scorer(cfg, arm, run_cfg, pool, target, tokenizer)
    )
    start = time.perf_counter()
    result = run(run_cfg, progress=progress, scorer=scorer)
    seconds = time.perf_counter() - start
    manifest = json.loads((out / "manifest.json").read_text())
    summary = {
        "arm": arm,
        **label_metrics(out, manifest, pool, target),
        "budget_tokens": budget,
        "seconds": round(seconds, 1),
        "resumed": result.resumed,
        "layers_run": (manifest["neurons"]["deepest_layer"] + 1) if manifest["neurons"] else 0,
        "neurons": (manifest["neurons"] or {}).get("neurons"),
    }
    write_json_atomic(out / SUMMARY, summary)
    return summary


def _check_same_bank(out: Path, arm: ArmName, run_cfg: RunConfig) -> None:
    """A finished Rosetta arm is reused only if the bank it selected with is still the
    configured one: a bank rebuilt since would otherwise leave the study reporting the old
    bank's data (baseline arms never read the bank)."""
    if arm not in _ROSETTA_NEURONS or not run_cfg.neurons.bank:
        return
    recorded = (json.loads((out / "manifest.json").read_text()).get("bank") or {}).get(
        "contents_sha256"
    )
    if recorded != bank_digest(run_cfg.neurons.bank):
        raise BankError(
            f"arm {out.name} in {out} was selected with another version of bank "
            f"{run_cfg.neurons.bank} (or before banks were fingerprinted): delete {out} to "
            "select it again with the current bank",
            field="neurons.bank",
            value=run_cfg.neurons.bank,
        )


def kept_texts(run_dir: Path) -> list[str]:
    """The kept documents of a run directory, in shard order (its manifest's order)."""
    manifest = json.loads((run_dir / "manifest.json").read_text())
    texts: list[str] = []
    for shard in manifest["shards"]:
        if shard["path"].startswith("data/"):
            texts += pq.read_table(run_dir / shard["path"], columns=["text"])["text"].to_pylist()
    return texts


def label_metrics(
    run_dir: Path, manifest: dict[str, Any], pool: Pool, target: str
) -> dict[str, Any]:
    ids: list[str] = []
    for shard in manifest["shards"]:
        if shard["path"].startswith("data/"):
            ids += pq.read_table(run_dir / shard["path"], columns=["id"])["id"].to_pylist()
    domain = {r["id"]: r["domain"] for r in pool.records}
    tokens = {r["id"]: r["tokens"] for r in pool.records}
    kept_target = [i for i in ids if domain[i] == target]
    target_tokens = sum(t for i, t in tokens.items() if domain[i] == target)
    kept_tokens = sum(tokens[i] for i in ids)
    return {
        "kept_docs": len(ids),
        "kept_tokens": kept_tokens,
        "precision_docs": len(kept_target) / len(ids) if ids else 0.0,
        "precision_tokens": sum(tokens[i] for i in kept_target) / kept_tokens if ids else 0.0,
        "recall_tokens": sum(tokens[i] for i in kept_target) / target_tokens,
        "kept_domains": {
            d: sum(domain[i] == d for i in ids) for d in sorted({domain[i] for i in ids})
        },
    }
