"""Request and response bodies of the HTTP API (they are also the OpenAPI schema).

Requests are strict and closed: a wrong type or an unknown key is a 422 naming the field, never
a silent coercion. Size limits come from the server config at run time, so they are checked in
``limits.py`` (413), not here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rosetta_filter.scoring.scorer import ScoredDoc


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Document(_Request):
    id: str | None = Field(
        None, max_length=512, description="echoed back; default: the document's position"
    )
    text: str

    @field_validator("id")
    @classmethod
    def _id_is_utf8(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as exc:  # a lone surrogate from a JSON escape
                raise ValueError("id is not valid Unicode (lone surrogate)") from exc
        return v


class ScoreRequest(_Request):
    documents: list[Document] = Field(min_length=1)
    neuron_set: str | None = Field(
        None, description="a name from GET /v1/neuron-sets (a set or a bank domain)"
    )
    neuron_sets: list[str] | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="/v1/score only: several sets scored from one forward pass (each "
        "document's `scores`; `score` is the first set's); instead of neuron_set",
    )
    return_neurons: bool = Field(False, description="include each neuron's pooled value")


class FilterRequest(ScoreRequest):
    threshold: float | None = Field(
        None, allow_inf_nan=False, description="override the set's configured threshold"
    )


class DocumentScore(BaseModel):
    id: str
    score: float | None = Field(description="null when the text could not be scored")
    n_tokens: int = Field(description="tokens scored")
    total_tokens: int = Field(description="tokens of the (character-capped) text")
    truncated: bool = Field(description="cut by server.max_doc_chars or scoring.max_tokens")
    skip_reason: str | None = Field(None, description="why score is null (e.g. empty)")
    neurons: dict[str, float] | None = Field(
        None, description="pooled (and normalised) value per neuron, on request"
    )
    scores: dict[str, float | None] | None = Field(
        None, description="per requested set, when the request named neuron_sets"
    )

    @classmethod
    def build(
        cls,
        doc: Document,
        index: int,
        scored: ScoredDoc,
        neurons: list[str],
        cut: bool,
        sets: list[str] | None = None,
    ) -> DocumentScore:
        values = scored.neuron_values
        scores = None
        if sets is not None:
            scores = {name: (scored.scores or {}).get(name) for name in sets}
        return cls(
            scores=scores,
            id=doc.id if doc.id is not None else str(index),
            score=scored.score if sets is None else scores[sets[0]],
            n_tokens=scored.n_tokens,
            total_tokens=scored.total_tokens,
            truncated=scored.truncated or cut,
            skip_reason=scored.skip_reason,
            neurons=(
                dict(zip(scored.neurons or neurons, values, strict=True))
                if values is not None
                else None
            ),
        )


class FilteredDocument(DocumentScore):
    kept: bool = Field(description="score >= threshold (unscorable documents are not kept)")


class Usage(BaseModel):
    documents: int
    tokens: int = Field(description="tokens scored over all documents")


class ScoreResponse(BaseModel):
    neuron_set: str = Field(description="the set of `score` (the first of neuron_sets)")
    neuron_sets: list[str] | None = Field(None, description="the sets of `scores`, if asked")
    documents: list[DocumentScore]
    usage: Usage


class FilterResponse(BaseModel):
    neuron_set: str
    threshold: float
    kept: int = Field(description="documents kept")
    documents: list[FilteredDocument]
    usage: Usage


class WeightedNeuronInfo(BaseModel):
    neuron: str
    weight: float
    norm_mean: float | None = None
    norm_std: float | None = None


class NeuronSetInfo(BaseModel):
    name: str
    origin: Literal["config", "bank_domain"]
    domain: str | None
    threshold: float
    deepest_layer: int = Field(description="layers 0..deepest run for this set (early exit)")
    neurons: list[WeightedNeuronInfo]


class BankNeuron(BaseModel):
    neuron: str
    is_rosetta: bool
    preferred_domain: str | None


class BankInfo(BaseModel):
    path: str
    model: str = Field(description="the bank's model id the service reads")
    domains: list[str]
    neurons: list[BankNeuron]


class NeuronSetsResponse(BaseModel):
    default: str
    sets: list[NeuronSetInfo]
    bank: BankInfo | None


class InfoResponse(BaseModel):
    model: dict[str, str | int | None]
    bank: dict[str, str | int | None] | None
    versions: dict[str, str]
    limits: dict[str, str | int | float]
    scoring: dict[str, str | int | float]
    batching: dict[str, int]


class Status(BaseModel):
    status: str


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None
    code: int


class ErrorEnvelope(BaseModel):
    error: ErrorBody


def error_responses(*codes: int) -> dict[int | str, dict]:
    """OpenAPI ``responses=`` entries documenting the error envelope for ``codes``."""
    return {code: {"model": ErrorEnvelope} for code in codes}
