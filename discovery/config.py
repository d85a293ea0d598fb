"""``rosetta-filter discover`` configuration (pydantic, unknown keys rejected)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rosetta_filter.config import BatchingConfig, ModelConfig, Strict, TokensConfig


class DiscoveryModel(Strict):
    id: str = Field(description="short name used in the bank, e.g. smollm2")
    model: ModelConfig


class ProbeCorpusConfig(Strict):
    path: str = Field(description="jsonl / parquet file or directory with a domain per document")
    text_field: str = "text"
    domain_field: str = "domain"
    id_field: str = "id"
    split: str | None = Field("probe", description="only documents of this split (None: all)")
    domains: list[str] | None = Field(None, description="only these domains (default: all)")
    max_docs_per_domain: int | None = Field(None, ge=1)


class SpanSampling(Strict):
    fraction: float = Field(1.0, gt=0, le=1, description="share of spans kept for correlation")
    max_spans: int | None = Field(None, ge=16, description="stop collecting spans after this")
    seed: int = 0


class CorrelationConfig(Strict):
    method: Literal["pruned", "exhaustive"] = "pruned"
    k: int = Field(1, ge=1, description="best buddies are mutual top-k")
    min_r: float = Field(0.2, ge=-1, le=1, description="best buddies need r >= min_r")
    candidates: int = Field(16, ge=1, description="pruned: exact r for this many candidates")
    search: Literal["sketch", "subsample"] = Field(
        "sketch",
        description="pruned: candidates from random balanced span-group sums, or a subsample",
    )
    sketch_size: int = Field(4096, ge=64, description="pruned: rows used to find candidates")
    depth_window: float | None = Field(
        None, ge=0, le=1, description="only layers within this relative depth of each other"
    )
    batch_spans: int = Field(1024, ge=16)
    null_baseline: Literal["rotation", "shuffle", "none"] = "rotation"
    null_seed: int = 0
    consistency: bool = Field(True, description="also correlate partners pairwise")


class BankOutput(Strict):
    dir: str
    top_per_domain: int = Field(
        16, ge=0, description="also keep this many most specialised neurons per model and domain"
    )
    keep_all: bool = Field(False, description="keep every neuron (large)")


class DiscoverConfig(Strict):
    corpus: ProbeCorpusConfig
    models: list[DiscoveryModel] = Field(min_length=2)
    anchor: str | None = Field(None, description="model id of the anchor (default: first)")
    partners: list[str] | None = Field(
        None,
        description="model ids matched against the anchor (default: every other model); the "
        "others still shape the spans, so one data pass serves several anchors",
    )
    tokens: TokensConfig = TokensConfig(max_tokens=512, long_docs="windows")
    batching: BatchingConfig = BatchingConfig(
        batch_tokens=2048, max_batch_docs=16, lookahead_docs=4
    )
    spans: SpanSampling = SpanSampling()
    correlation: CorrelationConfig = CorrelationConfig()
    active_threshold: float = Field(0.0, description="a span is active above this (sparsity)")
    bank: BankOutput
    work_dir: str | None = Field(None, description="activation caches (default: bank.dir.work)")
    keep_caches: bool = Field(
        False,
        description="keep the data pass (span caches + statistics in work_dir): later runs "
        "with another anchor or partners reuse it; bench/discovery.py reads the caches",
    )
    snippets: int = Field(2, ge=0, description="top-activating snippets per reported neuron")
    snippets_from: Literal["cache", "forward"] = Field(
        "cache",
        description="cache: the top sampled spans in the data pass's cache (no forward pass); "
        "forward: run the anchor again for the top tokens over every token (a second data "
        "pass of the anchor, up to its reported neurons' deepest layer)",
    )

    @model_validator(mode="after")
    def _ids(self) -> DiscoverConfig:
        ids = [m.id for m in self.models]
        if len(set(ids)) != len(ids):
            raise ValueError(f"models: ids must be unique, got {ids}")
        if self.anchor is not None and self.anchor not in ids:
            raise ValueError(f"anchor={self.anchor!r} is not one of the model ids {ids}")
        if self.partners is not None:
            unknown = [p for p in self.partners if p not in ids]
            if unknown or not self.partners or self.anchor_id in self.partners:
                raise ValueError(
                    f"partners={self.partners!r} must be a non-empty list of model ids other "
                    f"than the anchor {self.anchor_id!r}, from {ids}"
                )
        return self

    @property
    def anchor_id(self) -> str:
        return self.anchor or self.models[0].id

    @property
    def partner_ids(self) -> list[str]:
        if self.partners is not None:
            return list(self.partners)
        return [m.id for m in self.models if m.id != self.anchor_id]
