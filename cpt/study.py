"""The whole study, resumable at every stage: pool -> arms -> training runs -> results.json.

Stages and what makes each one skip or resume:
- pool: built by ``corpus build`` semantics from ``pool_config`` unless its manifest has the same
  settings;
- arms: one run directory each (``cpt.arms``), finished ones reused;
- base evaluation: the untrained model on both evaluation sets, once per evaluation-set content
  (``train/base-<sha>.json``);
- learning rate: with ``train.lr_candidates``, the random arm's first seed trains once per
  candidate and the lowest target bits per byte wins (those runs are reused as training runs);
- training: one directory per (arm, seed) named by the hash of everything its result depends on
  (:func:`run_identity`), with checkpoints (``cpt.train``);
- ``results.json``: everything above, rewritten after every finished training run, so a study cut
  short still reports what it has.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
import yaml
from transformers import AutoModelForCausalLM, AutoTokenizer

from cpt.arms import Pool, kept_texts, run_arm
from cpt.baselines import read_records
from cpt.bpb import bits_per_byte
from cpt.config import CptConfig
from cpt.train import StudyError, pack, train
from discovery.corpus.pool import MANIFEST_FILE, PARTS, PoolCorpusConfig, build_pool
from rosetta_filter.activations.models import locate_model
from rosetta_filter.activations.precision import resolve_dtype
from rosetta_filter.config import ModelConfig
from rosetta_filter.files import sha256_file, write_json_atomic
from rosetta_filter.filtering.progress import Progress

log = logging.getLogger(__name__)
RESULTS = "results.json"
Say = Callable[[str], None]


def load_pool_config(cfg: CptConfig) -> PoolCorpusConfig:
    return PoolCorpusConfig.model_validate(yaml.safe_load(cfg.pool_config.read_text()))


def ensure_pool(pool_cfg: PoolCorpusConfig) -> dict[str, Path]:
    """The pool's files, built unless a build with the same settings is there."""
    manifest = pool_cfg.out_dir / MANIFEST_FILE
    settings = pool_cfg.model_dump(mode="json", exclude={"out_dir"})
    if not (manifest.is_file() and json.loads(manifest.read_text())["settings"] == settings):
        build_pool(pool_cfg)
    return {part: pool_cfg.out_dir / f"{part}.jsonl" for part in PARTS}


def model_dir(name: str) -> str:
    return locate_model(ModelConfig(name=name))[0]


def load_pool(path: Path, tokenizer) -> Pool:
    records = read_records(path)
    counts = tokenizer([r["text"] for r in records], add_special_tokens=False)["input_ids"]
    for record, ids in zip(records, counts, strict=True):
        record["tokens"] = len(ids)
    return Pool(path, records, sum(r["tokens"] for r in records))


def run_study(
    cfg: CptConfig, *, say: Say = log.info, progress: Progress | None = None
) -> dict[str, Any]:
    """Run (or resume) every stage; returns the results (also in ``out_dir/results.json``)."""
    pool_cfg = load_pool_config(cfg)
    target = pool_cfg.target
    files = ensure_pool(pool_cfg)
    location = model_dir(cfg.model)
    tokenizer = AutoTokenizer.from_pretrained(location)
    pool = load_pool(files["pool"], tokenizer)
    budget = math.floor(cfg.arms.budget_fraction * pool.tokens)
    say(f"pool: {len(pool.records)} documents, {pool.tokens:,} tokens; budget {budget:,} tokens")

    arms = {}
    for arm in cfg.arms.names:
        arms[arm] = run_arm(cfg, arm, pool, budget, target, tokenizer, progress)
        a = arms[arm]
        say(
            f"arm {arm}: {a['kept_docs']} docs, {a['kept_tokens']:,} tokens, precision "
            f"{a['precision_tokens']:.3f}, {a['seconds']:.0f} s, {a['layers_run']} layers"
        )

    dtype = resolve_dtype(cfg.train.dtype, torch.device("cpu"))
    eval_sets = {name: read_records(files[f"{name}_eval"]) for name in ("target", "general")}

    def evaluate(model: torch.nn.Module) -> dict[str, Any]:
        """Bits per byte on each evaluation set, and per source family of each."""
        out: dict[str, Any] = {}
        for name, records in eval_sets.items():
            measured = bits_per_byte(
                model,
                tokenizer,
                [r["text"] for r in records],
                window=cfg.train.seq_len,
                batch_size=cfg.eval.batch_size,
                dtype=dtype,
                groups=[r["family"] for r in records],
            )
            out[f"{name}_bpb"] = measured.bpb
            out[f"{name}_bpb_by_family"] = measured.by_group
        return out

    train_dir = cfg.out_dir / "train"
    eval_print = files_fingerprint(files["target_eval"], files["general_eval"])
    base = _cached(
        train_dir / f"base-{eval_print[:12]}.json", lambda: evaluate(_load_model(location))
    )
    say(f"before training: target {base['target_bpb']:.4f}, general {base['general_bpb']:.4f} bpb")
    steps = training_steps(arms.values(), cfg.train.seq_len * cfg.train.batch_size)
    texts = {arm: kept_texts(cfg.out_dir / "arms" / arm) for arm in cfg.arms.names}
    runs: dict[str, dict[str, Any]] = {}

    def train_arm(arm: str, seed: int, lr: float) -> dict[str, Any]:
        """One training run, in a directory named by everything that determines its result."""
        identity = run_identity(cfg, texts[arm], seed=seed, lr=lr, steps=steps, evals=eval_print)
        start = time.perf_counter()
        result = train(
            _load_model(location),
            pack(texts[arm], tokenizer, cfg.train.seq_len, seed),
            cfg.train.model_copy(update={"lr": lr}),
            steps,
            train_dir / f"{arm}-seed{seed}-{identity[:12]}",
            evaluate=evaluate,
            dtype=dtype,
            progress=progress,
        )
        last = result["curve"][-1]
        say(
            f"{arm}/seed{seed} (lr {lr:g}): target {last['target_bpb']:.4f}, "
            f"general {last['general_bpb']:.4f} bpb"
        )
        return result | {"lr": lr, "last_call_seconds": round(time.perf_counter() - start, 1)}

    lr, search = cfg.train.lr, {}
    if cfg.train.lr_candidates:  # picked on the random arm only, on its first seed
        lr, search = pick_learning_rate(
            cfg.train.lr_candidates,
            lambda c: train_arm("random", cfg.train.seeds[0], c)["curve"][-1]["target_bpb"],
        )
        say(f"learning rate {lr:g}, the lowest random-arm target bpb of {search}")
    study = {"steps": steps, "base": base, "lr": lr, "lr_search": search}
    results = _results(cfg, target, pool, budget, arms, runs, dtype, study)
    for seed in cfg.train.seeds:  # every arm's first seed before any arm's second
        for arm in cfg.arms.names:
            runs[f"{arm}/seed{seed}"] = train_arm(arm, seed, lr)
            results = _results(cfg, target, pool, budget, arms, runs, dtype, study)
    return results


def pick_learning_rate(
    candidates: list[float], target_bpb: Callable[[float], float]
) -> tuple[float, dict[str, float]]:
    """The candidate whose training gives the lowest target bits per byte (the first on a tie),
    and every candidate's value: the selection is visible in results, not just its winner."""
    measured = {f"{lr:g}": target_bpb(lr) for lr in candidates}
    return min(candidates, key=lambda lr: measured[f"{lr:g}"]), measured


def files_fingerprint(*paths: Path) -> str:
    """sha256 over the bytes of ``paths`` in order (what an evaluation measures on)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def run_identity(
    cfg: CptConfig, texts: list[str], *, seed: int, lr: float, steps: int, evals: str
) -> str:
    """sha256 of everything a training run's result depends on: the kept texts, the training
    settings (with the learning rate actually used), the seed, the step count, the model and the
    evaluation sets. A changed setting trains in a new directory instead of reusing a stale one."""
    settings = cfg.train.model_dump(
        mode="json", exclude={"seeds", "checkpoint_every", "lr_candidates"}
    )
    digest = hashlib.sha256()
    for text in texts:
        digest.update(hashlib.sha256(text.encode()).digest())
    payload = {
        "texts": digest.hexdigest(),
        "train": settings | {"lr": lr},
        "seed": seed,
        "steps": steps,
        "model": cfg.model,
        "eval": evals,
        "eval_batch": cfg.eval.batch_size,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def training_steps(arms: Iterable[dict[str, Any]], tokens_per_step: int) -> int:
    """Optimiser steps every arm can fill: the packed stream of an arm is its kept tokens plus
    one EOS per document, and the poorest arm sets the count, so all arms train on exactly
    the same number of tokens."""
    packed = min(a["kept_tokens"] + a["kept_docs"] for a in arms)
    steps = packed // tokens_per_step
    if steps < 1:
        raise StudyError(
            f"the smallest arm packs {packed} tokens, less than one step of {tokens_per_step}: "
            "raise arms.budget_fraction or lower train.batch_size / train.seq_len"
        )
    return steps


def _load_model(location: str) -> torch.nn.Module:
    return AutoModelForCausalLM.from_pretrained(location, dtype=torch.float32)


def _cached(path: Path, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    if path.is_file():
        return json.loads(path.read_text())
    value = compute()
    write_json_atomic(path, value)
    return value


def _results(
    cfg: CptConfig,
    target: str,
    pool: Pool,
    budget: int,
    arms: dict[str, Any],
    runs: dict[str, Any],
    dtype: torch.dtype,
    study: dict[str, Any],
) -> dict[str, Any]:
    results = {
        "target": target,
        "model": cfg.model,
        "pool": {"docs": len(pool.records), "tokens": pool.tokens, "path": str(pool.path)},
        "budget_tokens": budget,
        "train_steps": study["steps"],
        "train_tokens": study["steps"] * cfg.train.batch_size * cfg.train.seq_len,
        "lr": study["lr"],
        "lr_search": study["lr_search"],
        "dtype": str(dtype).removeprefix("torch."),
        "config": cfg.model_dump(mode="json"),
        "base": study["base"],
        "arms": arms,
        "runs": runs,
    }
    write_json_atomic(cfg.out_dir / RESULTS, results)
    return results
