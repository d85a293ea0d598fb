"""Settings of the continued-pretraining study (``configs/cpt.yaml``): what is selected from
which pool, how every arm trains, how it is measured. Every arm shares all of them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from rosetta_filter.config import Strict

ArmName = Literal[
    "rosetta", "rosetta_early_exit", "rosetta_single", "tfidf", "dsir", "random", "oracle"
]
ARMS: tuple[ArmName, ...] = (
    "rosetta",
    "rosetta_early_exit",
    "rosetta_single",
    "tfidf",
    "dsir",
    "random",
    "oracle",
)


class ArmsConfig(Strict):
    """How each arm selects from the pool."""

    names: list[ArmName] = Field(list(ARMS), description="arms to run, in this order")
    run_config: Path = Field(
        Path("configs/demo.yaml"),
        description="rosetta-filter run config whose model, bank and scoring the Rosetta arms use",
    )
    run_overrides: list[str] = Field(
        ["model.dtype=auto", "runtime.batch_tokens=4096"],
        description="`--set` overrides of run_config for every arm (bfloat16 where native)",
    )
    early_exit_layer: int = Field(
        7, ge=0, description="rosetta_early_exit: the domain head that stops at this layer"
    )
    probe: Path = Field(
        Path("out/labelled/choose.jsonl"),
        description="labelled documents the classifier and DSIR learn the target from "
        "(the ones the bank's heads were chosen on)",
    )
    budget_fraction: float = Field(
        0.04, gt=0, lt=1, description="tokens kept per arm, as a share of the pool's tokens"
    )
    seed: int = Field(0, description="seed of the random, oracle and DSIR arms")


class TrainConfig(Strict):
    """Continued pretraining, identical in every arm."""

    seq_len: int = Field(512, ge=8, description="tokens per packed training sequence")
    batch_size: int = Field(8, ge=1, description="sequences per optimiser step")
    lr: float = Field(1e-4, gt=0, description="peak learning rate (when lr_candidates is empty)")
    lr_candidates: list[float] = Field(
        [],
        description="peak learning rates to try on the random arm's first seed; the one with the "
        "lowest target bits per byte trains every arm (empty: use lr)",
    )
    warmup_fraction: float = Field(0.1, ge=0, lt=1, description="steps of linear warm-up")
    final_lr_fraction: float = Field(0.1, ge=0, le=1, description="cosine decays to lr x this")
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float = Field(1.0, gt=0, description="max gradient norm")
    seeds: list[int] = Field([0, 1], min_length=1, description="one training run per seed")
    evaluations: int = Field(3, ge=1, description="evaluations spread over training (+ start)")
    checkpoint_every: int = Field(4, ge=1, description="optimiser steps between checkpoints")
    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="autocast type (auto: bfloat16 where the CPU runs it natively)"
    )


class EvalConfig(Strict):
    batch_size: int = Field(4, ge=1, description="windows per forward pass")


class CptConfig(Strict):
    """The whole study; ``out_dir`` holds arms, training runs and results."""

    pool_config: Path = Field(
        Path("configs/cpt-pool.yaml"), description="`corpus build` config of pool and eval sets"
    )
    model: str = Field("smollm2-135m", description="model trained (registry name or directory)")
    arms: ArmsConfig = ArmsConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    out_dir: Path = Field(Path("out/cpt"), description="arms/, train/, results.json, figures/")

    @model_validator(mode="after")
    def _unique_arms(self) -> CptConfig:
        if len(set(self.arms.names)) != len(self.arms.names):
            raise ValueError(f"arms.names={self.arms.names}: an arm is listed twice")
        if self.train.lr_candidates and "random" not in self.arms.names:
            raise ValueError(
                "train.lr_candidates: the learning rate is picked on the random arm; add "
                "'random' to arms.names or set train.lr and lr_candidates: []"
            )
        if any(lr <= 0 for lr in self.train.lr_candidates):
            raise ValueError(f"train.lr_candidates={self.train.lr_candidates}: must be > 0")
        return self
