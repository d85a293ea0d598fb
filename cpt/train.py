"""Continued pretraining of one arm with one seed: packed sequences, AdamW, linear warm-up then
cosine decay, checkpoints that make a killed run resume to the same weights.

Determinism is what makes arms comparable and resumption exact: the sequence order is a
function of the seed, the model has no dropout in training mode here (SmolLM2 has none), and a
checkpoint holds model, optimiser, scheduler and the evaluation curve so far. The checkpoint is
written atomically after every ``checkpoint_every`` steps and removed once ``result.json`` is
written (it is ~1.6 GB for a 135M-parameter model with AdamW).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cpt.bpb import autocast, separator_id
from cpt.config import TrainConfig
from rosetta_filter.errors import RosettaError
from rosetta_filter.files import write_json_atomic
from rosetta_filter.filtering.progress import NullProgress, Progress

log = logging.getLogger(__name__)
CHECKPOINT = "checkpoint.pt"
RESULT = "result.json"

Evaluate = Callable[[torch.nn.Module], dict[str, Any]]


class StudyError(RosettaError):
    """The study cannot go on as configured (the message says what to change)."""


def pack(texts: Sequence[str], tokenizer, seq_len: int, seed: int) -> torch.Tensor:
    """(sequences, seq_len) token ids: documents in a seeded order, each followed by EOS (the
    separator, :func:`cpt.bpb.separator_id`),
    concatenated and cut into full sequences (the incomplete tail is dropped)."""
    encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    order = np.random.default_rng(seed).permutation(len(encoded))
    separator = separator_id(tokenizer)
    stream = [t for i in order for t in (*encoded[i], separator)]
    n = len(stream) // seq_len
    return torch.tensor(stream[: n * seq_len], dtype=torch.long).view(n, seq_len)


def lr_factor(step: int, total: int, warmup: int, final: float) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine from 1 to ``final`` at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def evaluation_steps(total: int, evaluations: int) -> list[int]:
    """Steps (1-based, after the update) at which the model is evaluated; the last is ``total``."""
    return sorted({max(1, round(total * k / evaluations)) for k in range(1, evaluations + 1)})


@dataclass
class TrainState:
    step: int
    curve: list[dict[str, Any]]


def train(
    model: torch.nn.Module,
    sequences: torch.Tensor,
    cfg: TrainConfig,
    steps: int,
    out_dir: Path,
    *,
    evaluate: Evaluate,
    dtype: torch.dtype = torch.float32,
    progress: Progress | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> dict[str, Any]:
    """Train ``model`` for ``steps`` optimiser steps on the first ``steps * batch_size``
    sequences, evaluating at :func:`evaluation_steps`; resume from ``out_dir``'s checkpoint.
    Returns (and writes) the result: the curve of evaluations with tokens seen."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if (out_dir / RESULT).is_file():
        finished = json.loads((out_dir / RESULT).read_text())
        if finished["steps"] != steps:
            raise StudyError(
                f"{out_dir} holds a run of {finished['steps']} steps, this study trains {steps}: "
                "remove that directory (or use another out_dir) to train again"
            )
        return finished
    needed = steps * cfg.batch_size
    if len(sequences) < needed:
        raise StudyError(
            f"{out_dir.name}: {len(sequences)} packed sequences, {needed} needed for {steps} "
            "steps (a bug: the study sizes steps to its smallest arm)"
        )
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    warmup = max(1, round(cfg.warmup_fraction * steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: lr_factor(s, steps, warmup, cfg.final_lr_fraction)
    )
    state = _resume(out_dir, model, optimiser, scheduler)
    checkpoints = set(evaluation_steps(steps, cfg.evaluations))
    progress = progress or NullProgress()
    progress.start(f"train {out_dir.name} (steps)", steps, state.step)
    model.train()
    losses: list[float] = []
    for step in range(state.step, steps):
        batch = sequences[step * cfg.batch_size : (step + 1) * cfg.batch_size]
        with autocast(dtype):
            loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimiser.step()
        scheduler.step()
        optimiser.zero_grad(set_to_none=True)
        losses.append(loss.item())
        done = step + 1
        if done in checkpoints:
            started = time.perf_counter()
            measured = evaluate(model)
            state.curve.append(
                {
                    "step": done,
                    "tokens": done * cfg.batch_size * sequences.shape[1],
                    "train_loss": float(np.mean(losses)),
                    **measured,
                    "eval_seconds": round(time.perf_counter() - started, 1),
                }
            )
            losses = []
            model.train()
        if done % cfg.checkpoint_every == 0 or done in checkpoints:
            _save(out_dir, model, optimiser, scheduler, TrainState(done, state.curve))
        progress.advance(1, tokens=batch.numel())
        if on_step is not None:
            on_step(done, losses[-1] if losses else float("nan"))
    progress.finish()
    result = {"steps": steps, "curve": state.curve}
    write_json_atomic(out_dir / RESULT, result)
    (out_dir / CHECKPOINT).unlink(missing_ok=True)
    return result


def _save(out_dir: Path, model, optimiser, scheduler, state: TrainState) -> None:
    tmp = out_dir / f".{CHECKPOINT}.tmp"
    torch.save(
        {
            "model": model.state_dict(),
            "optimiser": optimiser.state_dict(),
            "scheduler": scheduler.state_dict(),
            "step": state.step,
            "curve": state.curve,
        },
        tmp,
    )
    os.replace(tmp, out_dir / CHECKPOINT)


def _resume(out_dir: Path, model, optimiser, scheduler) -> TrainState:
    (out_dir / f".{CHECKPOINT}.tmp").unlink(missing_ok=True)  # a save cut short
    path = out_dir / CHECKPOINT
    if not path.is_file():
        return TrainState(0, [])
    saved = torch.load(path, weights_only=False)
    model.load_state_dict(saved["model"])
    optimiser.load_state_dict(saved["optimiser"])
    scheduler.load_state_dict(saved["scheduler"])
    log.info("%s: resuming at step %d", out_dir.name, saved["step"])
    return TrainState(saved["step"], saved["curve"])
