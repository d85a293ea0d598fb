"""Validated configuration: one pydantic model per concept, composed into the job configs.

Defaults live only here. Every model forbids unknown keys, so a typo fails with the field named.
"""

from __future__ import annotations

import glob
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rosetta_filter.activations.pooling_methods import PoolingMethod
from rosetta_filter.errors import ConfigError
from rosetta_filter.neuron import Neuron
from rosetta_filter.scoring.cascade import CascadeExits, error_key


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


M = TypeVar("M", bound=Strict)


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
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = Field(
        "float32",
        description="auto: bfloat16 where the hardware runs it natively (recent GPU, AMX CPU), "
        "else float32; emulated bfloat16 on a CPU is ~50x slower than float32",
    )
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
        1024,
        ge=16,
        description="padded tokens per forward pass (rows x longest row); 1024 is best on CPU "
        "(bench/activations.py: 0.69 of the matmul peak vs 0.35 at 8192); raise it on a GPU",
    )
    max_batch_docs: int = Field(64, ge=1, description="rows per forward pass")
    lookahead_docs: int = Field(
        256, ge=1, description="documents read ahead and sorted by length before packing"
    )


class SourceConfig(Strict):
    """Where documents come from: local files or a dataset (hub id or local dataset dir)."""

    data_files: str | list[str] | None = Field(
        None, description="local files, directories or globs (jsonl, json, parquet, txt)"
    )
    dataset: str | None = Field(None, description="hub id or local dataset directory")
    subset: str | None = Field(None, description="dataset config name")
    split: str = "train"
    revision: str | None = None
    format: Literal["auto", "jsonl", "json", "parquet", "text"] = Field(
        "auto", description="file format; auto: from the file extension"
    )
    text_field: str = "text"
    id_field: str | None = Field(None, description="default: a stable id is derived")
    limit: int | None = Field(None, ge=1, description="read at most this many records")
    max_chars: int = Field(
        1_000_000, ge=1, description="hard size cap: longer texts are counted as too_long"
    )

    @model_validator(mode="after")
    def _one_origin(self) -> SourceConfig:
        if (self.data_files is None) == (self.dataset is None):
            raise ValueError(
                "set exactly one of source.data_files (local files or globs) and "
                "source.dataset (hub id or local dataset directory)"
            )
        return self


class WeightedNeuron(Strict):
    neuron: str = Field(description="'L{layer}.N{index}'")
    weight: float = 1.0

    @field_validator("neuron")
    @classmethod
    def _parses(cls, v: str) -> str:
        try:
            Neuron.parse(v)
        except ConfigError as exc:  # pydantic reports ValueErrors with the field's location
            raise ValueError(exc.message) from exc
        return v


class NeuronsConfig(Strict):
    """Which neurons score documents: a bank + domain, or an explicit list."""

    bank: str | None = Field(None, description="neuron bank directory")
    bank_model: str | None = Field(None, description="model id in the bank (default model.name)")
    domain: str | None = Field(
        None, description="domain to filter toward (with domains: the one selection ranks by)"
    )
    domains: list[str] | None = Field(
        None,
        description="score every listed domain in one forward pass (one `score__{domain}` "
        "column each, same settings as this section); domain defaults to the first",
    )
    sets: dict[str, dict[str, Any]] | None = Field(
        None,
        description="named sets tagged in the same pass, each this section with some keys "
        "changed: {code_fast: {domain: code, max_layer: 7}} gives a `score__code_fast` column",
    )
    mode: Literal["auto", "head", "top_k"] = Field(
        "auto",
        description="head: the bank's sparse linear head for the domain (validated on held-out "
        "source families); top_k: the top_k neurons by worst held-out-family AUROC, equal "
        "weights; auto: head when the bank has heads, else top_k",
    )
    top_k: int = Field(4, ge=1, description="most specialised neurons used (mode top_k)")
    rank_by: Literal["auto", "held_out_families", "probe_auroc"] = Field(
        "auto",
        description="top_k ranking: worst held-out source family's AUROC (format-2 banks), or "
        "the probe AUROC (format 1's only choice); auto: the first the bank has",
    )
    rosetta_only: bool | Literal["auto", "consistent"] = Field(
        "auto",
        description="only Rosetta Neurons (cross-model matches); consistent: only Rosetta "
        "Neurons whose group matches in every model of the bank; false: any neuron; auto: for "
        "heads, any neuron (all-neuron heads held better on source families they never saw, "
        "docs/DISCOVERY.md); for top_k and banks without heads, Rosetta",
    )
    max_layer: int | Literal["auto"] | None = Field(
        "auto",
        description="only neurons at or below this layer (the forward pass stops there); auto: "
        "the shallowest depth within max_quality_loss of the best, where that rule held on "
        "families left out of it, else all layers (banks with heads; else all)",
    )
    max_quality_loss: Annotated[float, Field(ge=0, le=1)] | Literal["auto"] = Field(
        "auto",
        description="AUROC an automatic max_layer may give up for speed; auto: the loss the "
        "bank's depth rule was validated with (its heads.json records it; 0.005 before)",
    )
    depth_guard: Literal["worst", "mean", "auto"] = Field(
        "auto",
        description="how auto checks its early exit on families left out of the rule: mean "
        "(their average loss, what a held-out AUROC pooled over families measures, may not "
        "exceed max_quality_loss), worst (no family's may; stricter, runs deeper; "
        "docs/DISCOVERY.md, sessions 14 and 21) or auto (default: the guard the bank was "
        "fitted with, worst for banks that record none)",
    )
    cascade: bool = Field(
        False,
        description="score every document with a shallow head and run the full-depth head only "
        "for documents whose shallow score lies in the band where it is unsure (set from its "
        "out-of-fold scores on held-out families); far fewer layers per document, at a small "
        "AUROC cost (docs/DISCOVERY.md, session 22); needs a bank fitted with bands. With "
        "relative: every domain's shallow head scores, deferred where the domain's own is unsure "
        "(rule 17, session 23)",
    )
    cascade_exits: CascadeExits = Field(
        "both",
        description="which documents the cascade's shallow stage decides: both (default: its "
        "confident positives and negatives; threshold decisions) or negatives (only its "
        "confident negatives; everything at or above the band's low edge gets the full score, "
        "so a ranking selection ranks every document it can keep at full depth: rule 19, "
        "session 24)",
    )
    cascade_error: float = Field(
        0.01,
        description="share of each class the cascade's shallow head may decide on the wrong "
        "side, on held-out families (sets its band): one of 0.001, 0.002, 0.005, 0.01, 0.02, "
        "0.05; smaller defers more documents to full depth",
    )
    relative: bool = Field(
        False,
        description="score the domain's head against every domain head of the bank: the "
        "log-softmax of its logit over theirs, lower where another domain's head is surer "
        "(the borders between domains); the pass runs to the deepest of those heads",
    )
    borders: bool = Field(
        False,
        description="with relative: where the bank has a border head between the domain and "
        "another (heads.borders in the domains config), score log(p_domain + p_other) + "
        "log sigmoid(border logit): the domain heads decide 'one of the two', the border head, "
        "fit on the two domains' documents alone, which one (rule 20, docs/DISCOVERY.md); "
        "domains without a border keep the relative score",
    )
    explicit: list[WeightedNeuron] | None = Field(
        None, description="explicit neurons with weights instead of a bank selection"
    )

    @field_validator("max_layer")
    @classmethod
    def _layer_not_negative(cls, v: int | str | None) -> int | str | None:
        if isinstance(v, int) and v < 0:
            raise ValueError("a layer is >= 0 (or auto, or null for every layer)")
        return v

    @field_validator("cascade_error")
    @classmethod
    def _recorded_error(cls, v: float) -> float:
        try:
            error_key(v)
        except ValueError as exc:
            raise ValueError(f"{exc}: banks record bands at those errors only") from exc
        return v

    @field_validator("explicit", mode="before")
    @classmethod
    def _strings_are_neurons(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"neuron": x} if isinstance(x, str) else x for x in v]
        return v

    @field_validator("domains")
    @classmethod
    def _column_names(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("list at least one domain (or drop neurons.domains)")
        for name in v:
            if not _SET_NAME.fullmatch(name):
                raise ValueError(f"{name!r}: a domain name is letters, digits, '_' or '-'")
        if len(set(v)) != len(v):
            raise ValueError(f"{v}: a domain is listed twice")
        return v

    @model_validator(mode="before")
    @classmethod
    def _first_domain_ranks(cls, data: Any) -> Any:
        domains = data.get("domains") if isinstance(data, dict) else None
        if isinstance(domains, list) and domains and data.get("domain") is None:
            return {**data, "domain": domains[0]}
        return data

    @field_validator("sets")
    @classmethod
    def _set_names(cls, v: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]] | None:
        for name, changes in (v or {}).items():
            if not _SET_NAME.fullmatch(name):
                raise ValueError(f"{name!r}: a set name is letters, digits, '_' or '-'")
            nested = sorted(set(changes) & {"domains", "sets"})
            if nested:
                raise ValueError(f"sets.{name}: {nested} cannot be nested in a set")
        return v

    def tagged(self) -> dict[str, NeuronsConfig]:
        """Every set tagged in the run's one pass, by column name: ``domains`` then ``sets``."""
        base = self.model_dump(exclude={"domains", "sets"})
        out = {
            domain: NeuronsConfig.model_validate({**base, "domain": domain})
            for domain in self.domains or ()
        }
        for name, changes in (self.sets or {}).items():
            try:
                out[name] = NeuronsConfig.model_validate({**base, **changes})
            except ValidationError as exc:
                raise ValueError(f"neurons.sets.{name}: {format_validation_error(exc)}") from exc
        return out

    @model_validator(mode="after")
    def _bank_or_explicit(self) -> NeuronsConfig:
        shared = sorted(set(self.domains or ()) & set(self.sets or {}))
        if shared:
            raise ValueError(f"neurons.sets: {shared} also in neurons.domains; rename the set")
        if self.sets:
            self.tagged()  # every set must be a valid neurons section
        if self.domains is not None:
            if self.explicit is not None:
                raise ValueError("neurons.domains scores bank domains: drop neurons.explicit")
            if self.domain not in self.domains:
                raise ValueError(
                    f"neurons.domain={self.domain!r} is not in neurons.domains={self.domains}: "
                    "list it there (it is the domain selection ranks by)"
                )
        if self.explicit is None and (self.bank is None or self.domain is None):
            raise ValueError(
                "set neurons.bank and neurons.domain, or neurons.explicit "
                "(e.g. ['L3.N512', {neuron: 'L5.N7', weight: -1}])"
            )
        if self.explicit is not None and not self.explicit:
            raise ValueError("neurons.explicit is empty: list at least one 'L{layer}.N{index}'")
        for option in ("cascade", "relative"):
            if getattr(self, option) and (self.explicit is not None or self.mode == "top_k"):
                raise ValueError(
                    f"neurons.{option} needs a bank's domain heads: set neurons.mode=head (or "
                    f"auto) without neurons.explicit, or neurons.{option}=false"
                )
        if self.borders and not self.relative:
            raise ValueError(
                "neurons.borders composes a border head with the relative score and "
                "neurons.relative is false: set neurons.relative=true, or neurons.borders=false"
            )
        if self.borders and self.cascade:
            raise ValueError(
                "neurons.borders is not implemented with neurons.cascade (the shallow stage has "
                "no border head): set neurons.cascade=false, or neurons.borders=false"
            )
        if self.cascade_exits != "both" and not self.cascade:
            raise ValueError(
                f"neurons.cascade_exits={self.cascade_exits} shapes a cascade and "
                "neurons.cascade is false: set neurons.cascade=true, or drop cascade_exits"
            )
        return self


_SET_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _lift_into(data: Any, key: str, sub: type[Strict]) -> Any:
    """Accept ``sub``'s fields flat in a section (``scoring.max_tokens: 512``, as configs are
    written) and move them into its sub-config (``scoring.tokens``): one definition of each
    field, composed by holding rather than inheriting, and configs stay short."""
    if not isinstance(data, dict):
        return data
    flat = {k: v for k, v in data.items() if k in sub.model_fields}
    if not flat:
        return data
    nested = data.get(key) or {}
    if isinstance(nested, BaseModel):
        nested = nested.model_dump()
    if not isinstance(nested, dict):
        return data  # validation reports the bad value
    twice = sorted(set(flat) & set(nested))
    if twice:
        raise ValueError(f"{', '.join(twice)} given both flat and under {key}: give each once")
    rest = {k: v for k, v in data.items() if k not in flat}
    return {**rest, key: {**nested, **flat}}


class ScoringConfig(Strict):
    """How neuron activations become one score per document (``tokens``: how the document
    becomes tokens; its keys may also be written flat, ``scoring.max_tokens``)."""

    tokens: TokensConfig = TokensConfig()
    pooling: PoolingMethod = "mean"
    pool_top_k: int = Field(8, ge=1, description="tokens averaged by topk_mean pooling")
    active_threshold: float = Field(0.0, description="frac_active counts tokens above this")
    normalize: Literal["auto", "zscore", "none"] = Field(
        "auto", description="zscore with the bank's statistics; auto: when the bank has them"
    )

    @model_validator(mode="before")
    @classmethod
    def _flat_token_keys(cls, data: Any) -> Any:
        return _lift_into(data, "tokens", TokensConfig)


class SelectionConfig(Strict):
    """Which documents to keep; exactly one criterion."""

    threshold: float | None = Field(None, description="keep documents with score >= threshold")
    keep_fraction: float | None = Field(
        None, gt=0, le=1, description="keep exactly this top fraction of scored documents"
    )
    token_budget: int | None = Field(
        None, ge=1, description="keep the best documents until this many tokens"
    )

    mixture: dict[str, float] | None = Field(
        None,
        description="token shares of the budget per domain of neurons.domains, plus `rest` "
        "(documents no domain claims, in seeded random order): {code: 0.6, math: 0.25, "
        "rest: 0.15}; needs token_budget",
    )
    thresholds: dict[str, float] = Field(
        {},
        description="mixture: a domain claims a document when its score >= its threshold "
        "(default: a head's p = 0.5, i.e. 0.0 on a logit and log(0.5) = -0.693 on a relative "
        "score); the claiming domain is the one with the largest margin",
    )
    seed: int = Field(0, description="mixture: order of the `rest` bucket")

    @model_validator(mode="after")
    def _mixture_shares(self) -> SelectionConfig:
        if self.mixture is None:
            if self.thresholds:
                raise ValueError("selection.thresholds is for selection.mixture: set one")
            return self
        if self.token_budget is None:
            raise ValueError("selection.mixture shares a token budget: set selection.token_budget")
        if any(share <= 0 for share in self.mixture.values()):
            raise ValueError(f"selection.mixture={self.mixture}: every share must be > 0")
        if abs(sum(self.mixture.values()) - 1) > 1e-6:
            raise ValueError(
                f"selection.mixture shares sum to {sum(self.mixture.values()):.6g}: make them "
                "sum to 1 (add a `rest` share for the remainder)"
            )
        unknown = sorted(set(self.thresholds) - set(self.mixture))
        if unknown:
            raise ValueError(f"selection.thresholds: {unknown} not in selection.mixture")
        return self

    @model_validator(mode="after")
    def _exactly_one(self) -> SelectionConfig:
        chosen = [
            k
            for k in ("threshold", "keep_fraction", "token_budget")
            if getattr(self, k) is not None
        ]
        if len(chosen) != 1:
            raise ValueError(
                "set exactly one of selection.threshold, selection.keep_fraction, "
                f"selection.token_budget (got {chosen or 'none'})"
            )
        return self

    @property
    def mode(self) -> str:
        if self.mixture is not None:
            return "mixture"
        if self.threshold is not None:
            return "threshold"
        return "keep_fraction" if self.keep_fraction is not None else "token_budget"


class OutputConfig(Strict):
    dir: str = Field(description="run directory: shards, manifest.json, stats.json")
    format: Literal["parquet", "jsonl.gz"] = "parquet"
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"
    shard_max_rows: int = Field(50_000, ge=1, description="rows per shard at most")
    shard_max_bytes: int = Field(256 << 20, ge=1024, description="text bytes per shard at most")
    write_rejected: bool = Field(False, description="also write rejected documents")
    attributes_only: bool = Field(
        False, description="write only (id, score, ...) per document in input order"
    )
    keep_fields: bool = Field(True, description="carry the source's other fields")


class RuntimeConfig(Strict):
    """Where and how the job runs (``batching``: how windows fill forward passes; its keys may
    also be written flat, ``runtime.batch_tokens``)."""

    batching: BatchingConfig = BatchingConfig()
    executor: Literal["local", "ray"] = "local"
    checkpoint_docs: int = Field(
        2048, ge=1, description="documents between checkpoints (each closes the open shards)"
    )
    ranks: int = Field(
        1,
        ge=1,
        description="local executor: processes that read, score and write work units in "
        "parallel (each loads the model; torch threads are split between them)",
    )
    unit_bytes: int = Field(
        256 << 20,
        ge=1,
        description="input bytes per work unit (files and parquet row groups are packed into "
        "units of about this size; a unit is what one rank reads, scores and writes at a time)",
    )
    ray_address: str | None = Field(None, description="ray://host:port or auto (RAY_ADDRESS)")
    ray_actors: int = Field(2, ge=1, description="scorer actors in the Ray pool")
    select_rows: int = Field(
        1 << 20,
        ge=0,
        description="scored documents the driver may sort in memory to find the selection's "
        "cut (~32 bytes each); a corpus with more is cut in extra passes over the attribute "
        "shards, with the same result",
    )

    @model_validator(mode="before")
    @classmethod
    def _flat_batching_keys(cls, data: Any) -> Any:
        return _lift_into(data, "batching", BatchingConfig)


def check_cascade_backend(model: ModelConfig, neurons: NeuronsConfig) -> None:
    """A cascade runs two passes of one model (the shallow stage, then the full one for the
    documents it defers), which the hf backend does; refused at validation, before a vLLM
    engine spends minutes compiling."""
    if neurons.cascade and model.backend != "hf":
        raise ValueError(
            f"neurons.cascade runs two passes of one model, on model.backend=hf only (not "
            f"{model.backend}): set neurons.cascade=false (configs/serve.yaml turns it on) "
            "or model.backend=hf"
        )


class RunConfig(Strict):
    source: SourceConfig
    model: ModelConfig
    neurons: NeuronsConfig
    scoring: ScoringConfig = ScoringConfig()
    selection: SelectionConfig
    output: OutputConfig
    runtime: RuntimeConfig = RuntimeConfig()

    @model_validator(mode="after")
    def _cascade_on_hf(self) -> RunConfig:
        check_cascade_backend(self.model, self.neurons)
        return self

    @model_validator(mode="after")
    def _mixture_of_tagged_domains(self) -> RunConfig:
        mixture = self.selection.mixture
        if mixture is None:
            return self
        tagged = list(self.neurons.tagged())
        missing = sorted(set(mixture) - {*tagged, REST_BUCKET})
        if missing:
            raise ValueError(
                f"selection.mixture: {missing} not tagged; list them in neurons.domains or sets "
                f"(tagged: {tagged or 'none'}; `{REST_BUCKET}` is the unclaimed remainder)"
            )
        return self

    def mixture_thresholds(self) -> dict[str, float]:
        """Each claiming domain's threshold (config order): the configured one, else a head's
        p = 0.5 on the scale of its score: 0.0 on a logit, log(0.5) on a relative score (a
        log-probability over the bank's domains, ``neurons.relative``)."""
        assert self.selection.mixture is not None
        tagged = self.neurons.tagged()
        return {
            name: self.selection.thresholds.get(
                name, math.log(0.5) if tagged[name].relative else 0.0
            )
            for name in self.selection.mixture
            if name != REST_BUCKET
        }


REST_BUCKET = "rest"


def _set_path(data: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: {key} is not a section", field=dotted)
    node[keys[-1]] = value


def load_config(
    path: str | Path, overrides: list[str] | None = None, cls: type[M] = RunConfig
) -> M:
    """Read a YAML config, apply ``key.sub=value`` overrides (values parsed as YAML), validate.

    Errors name the field, the value and the fix, e.g.
    ``selection.keep_fraction=1.5: Input should be less than or equal to 1``.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist", field="config", value=str(path))
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}", field="config") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of sections", field="config")
    _inputs_next_to(data, path.parent)
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected key.sub=value", field="--set", value=item)
        _set_path(data, key.strip(), yaml.safe_load(raw))
    return validate_config(data, cls)


_INPUT_PATHS = (("source", "data_files"), ("neurons", "bank"))


def _inputs_next_to(data: dict[str, Any], config_dir: Path) -> None:
    """Relative input paths (source files, the bank) that name nothing from the current
    directory but do from the config file's directory are read from there, so a config runs
    from anywhere; outputs and paths that exist here keep their meaning (``--set`` values,
    given on the command line, are never moved)."""
    for section, key in _INPUT_PATHS:
        node = data.get(section)
        if not isinstance(node, dict) or key not in node:
            continue
        value = node[key]
        if isinstance(value, str):
            node[key] = _next_to(value, config_dir)
        elif isinstance(value, list):
            node[key] = [_next_to(v, config_dir) if isinstance(v, str) else v for v in value]


def _next_to(value: str, config_dir: Path) -> str:
    if Path(value).is_absolute() or glob.glob(value) or Path(value).exists():
        return value
    beside = str(config_dir / value)
    return beside if glob.glob(beside) or Path(beside).exists() else value


def validate_config(data: dict[str, Any], cls: type[M] = RunConfig) -> M:
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc), field=_first_loc(exc)) from exc


def _first_loc(exc: ValidationError) -> str:
    errors = exc.errors()
    return ".".join(str(p) for p in errors[0]["loc"]) if errors else ""


def format_validation_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "config"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see `rosetta-filter validate --help`)"
        value = (
            f"={err['input']!r}"
            if err["type"] not in ("missing", "extra_forbidden")
            and not isinstance(err.get("input"), dict)
            else ""
        )
        lines.append(f"{loc}{value}: {msg}")
    return "; ".join(lines)
