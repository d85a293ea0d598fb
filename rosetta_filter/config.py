"""Validated configuration: one pydantic model per concept, composed into the job configs.

Defaults live only here. Every model forbids unknown keys, so a typo fails with the field named.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(Strict):
    """Which model to load and where to run it."""

    name: str = Field(
        description="offline registry name (e.g. smollm2-135m), local directory, .gguf file "
        "or Hugging Face hub id"
    )
    revision: str | None = Field(None, description="hub revision (branch, tag or commit)")
    gguf_file: str | None = Field(None, description="GGUF file inside a directory or hub repo")
    backend: Literal["hf", "vllm"] = "hf"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    threads: int | None = Field(None, ge=1, description="torch CPU threads (default: all cores)")


class TokensConfig(Strict):
    """How a document becomes tokens: the cap and the long-document policy."""

    max_tokens: int = Field(512, ge=2, description="tokens per window, special tokens included")
    long_docs: Literal["truncate", "windows"] = Field(
        "truncate", description="truncate: score the first max_tokens; windows: score them all"
    )


class BatchingConfig(Strict):
    """How windows are packed into forward passes."""

    batch_tokens: int = Field(
        8192, ge=16, description="padded tokens per forward pass (rows x longest row)"
    )
    max_batch_docs: int = Field(64, ge=1, description="rows per forward pass")
    lookahead_docs: int = Field(
        256, ge=1, description="documents read ahead and sorted by length before packing"
    )
