"""The FastAPI app: :func:`build_app` wires the routes, the middleware (metrics, auth, body
limit), the one error handler, and a lifespan that loads the model and runs the batcher.

Routes stay thin: validate with a ``schemas`` model, resolve the neuron set, apply the document
limits, await ``batcher.submit`` and convert the result.
"""

from __future__ import annotations

import asyncio
import logging
import platform
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import metadata

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from rosetta_filter.activations.models import LoadedModel
from rosetta_filter.errors import RosettaError
from rosetta_filter.scoring.scorer import ScoredDoc, Scorer
from service.auth import BearerAuth, resolve_api_key
from service.batcher import Batcher, TokenCounter
from service.config import ServeConfig
from service.errors import InvalidRequest, Unavailable, error_response
from service.limits import BodyLimit, apply_document_limits
from service.metrics import MetricsMiddleware, ServiceMetrics
from service.neuron_sets import NeuronSet, NeuronSets
from service.schemas import (
    DocumentScore,
    FilteredDocument,
    FilterRequest,
    FilterResponse,
    InfoResponse,
    NeuronSetsResponse,
    ScoreRequest,
    ScoreResponse,
    Status,
    Usage,
    error_responses,
)

log = logging.getLogger(__name__)

router = APIRouter()
_SCORING_ERRORS = error_responses(401, 413, 422, 429, 503)


@dataclass
class Service:
    """What the routes need, built once the model is loaded."""

    cfg: ServeConfig
    sets: NeuronSets
    batcher: Batcher
    info: InfoResponse


def _service(request: Request) -> Service:
    service: Service | None = request.app.state.service
    if service is None or not service.batcher.accepting:
        raise Unavailable("the model is not loaded or the server is draining", retry_after=1.0)
    return service


async def _score(
    body: ScoreRequest, request: Request
) -> tuple[NeuronSet, list[DocumentScore], Usage]:
    service = _service(request)
    several = _several_sets(body, service)
    chosen = several[0] if several else service.sets.resolve(body.neuron_set)
    texts, cut = apply_document_limits(body.documents, service.cfg.server)
    scored: list[ScoredDoc] = await service.batcher.submit(
        service.sets.union if several else chosen.scorer,
        texts,
        with_neurons=body.return_neurons,
        timeout=service.cfg.server.request_timeout_s,
    )
    names = chosen.neuron_names
    set_names = [s.name for s in several] if several else None
    docs = [
        DocumentScore.build(doc, i, s, names, c, set_names)
        for i, (doc, s, c) in enumerate(zip(body.documents, scored, cut, strict=True))
    ]
    return chosen, docs, Usage(documents=len(docs), tokens=sum(s.n_tokens for s in scored))


def _several_sets(body: ScoreRequest, service: Service) -> list[NeuronSet]:
    """The sets of a request naming ``neuron_sets`` ([] for a one-set request)."""
    if body.neuron_sets is None:
        return []
    if body.neuron_set is not None:
        raise InvalidRequest("give neuron_set or neuron_sets, not both", field="neuron_sets")
    if isinstance(body, FilterRequest):
        raise InvalidRequest(
            "/v1/filter keeps by one set's threshold: give neuron_set (score several sets "
            "with /v1/score)",
            field="neuron_sets",
        )
    if body.return_neurons:
        raise InvalidRequest(
            "return_neurons is for one neuron_set at a time", field="return_neurons"
        )
    return service.sets.resolve_many(body.neuron_sets)


@router.post("/v1/score", responses=_SCORING_ERRORS)
async def score(body: ScoreRequest, request: Request) -> ScoreResponse:
    """Score documents with a neuron set (default: the configured one), or with several
    (``neuron_sets``) from one forward pass."""
    chosen, docs, usage = await _score(body, request)
    sets = body.neuron_sets if body.neuron_sets else None
    return ScoreResponse(neuron_set=chosen.name, neuron_sets=sets, documents=docs, usage=usage)


@router.post("/v1/filter", responses=_SCORING_ERRORS)
async def filter_documents(body: FilterRequest, request: Request) -> FilterResponse:
    """Score documents and mark those at or above the threshold as kept."""
    chosen, docs, usage = await _score(body, request)
    threshold = chosen.threshold if body.threshold is None else body.threshold
    kept = [
        FilteredDocument(**d.model_dump(), kept=d.score is not None and d.score >= threshold)
        for d in docs
    ]
    return FilterResponse(
        neuron_set=chosen.name,
        threshold=threshold,
        kept=sum(d.kept for d in kept),
        documents=kept,
        usage=usage,
    )


@router.get("/v1/neuron-sets", responses=error_responses(401, 503))
async def neuron_sets(request: Request) -> NeuronSetsResponse:
    """The neuron sets a request may name, and the domains and neurons of the loaded bank."""
    return _service(request).sets.describe()


@router.get("/v1/info", responses=error_responses(401, 503))
async def info(request: Request) -> InfoResponse:
    """Model, bank, software versions and request limits."""
    return _service(request).info


@router.get("/healthz")
async def healthz() -> Status:
    """The process answers (liveness)."""
    return Status(status="ok")


@router.get("/readyz", responses=error_responses(503))
async def readyz(request: Request) -> Status:
    """The model is loaded and requests are accepted (readiness)."""
    _service(request)
    return Status(status="ready")


@router.get("/metrics", response_class=Response, responses=error_responses(401))
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    registry: ServiceMetrics = request.app.state.metrics
    return Response(registry.render(), media_type=registry.content_type)


def build_app(cfg: ServeConfig, scorer: Scorer | None = None) -> FastAPI:
    """The service for ``cfg``. ``scorer``: an already built default-set scorer (its model is
    shared by every other set); without it the lifespan loads ``cfg.model``."""
    service_metrics = ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = await asyncio.to_thread(_start, cfg, scorer, service_metrics)
        service.batcher.start()
        app.state.service = service
        log.info("serving %d neuron sets: %s", len(service.sets.sets), ", ".join(service.sets.sets))
        try:
            yield
        finally:
            await service.batcher.close()  # uvicorn has finished in-flight requests by now
            log.info("inference worker drained and stopped")

    app = FastAPI(
        title="rosetta-filter",
        version=_version("rosetta-filter"),
        summary="Score and filter documents by Rosetta Neurons",
        lifespan=lifespan,
    )
    app.state.service = None
    app.state.metrics = service_metrics
    app.include_router(router)
    for exc_class in (RosettaError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(exc_class, _handle)
    # add_middleware wraps: the last added runs first (metrics see every answer, auth runs
    # before a large body is read).
    app.add_middleware(BodyLimit, max_bytes=cfg.server.max_request_bytes)
    if api_key := resolve_api_key(cfg.server):
        app.add_middleware(BearerAuth, api_key=api_key)
    app.add_middleware(MetricsMiddleware, metrics=service_metrics)
    return app


async def _handle(request: Request, exc: Exception) -> Response:
    return error_response(exc)


def _start(cfg: ServeConfig, scorer: Scorer | None, service_metrics: ServiceMetrics) -> Service:
    """Blocking start-up work (model load, bank, sets), run off the event loop."""
    scorer = scorer or Scorer.from_config(cfg.model, cfg.neurons, cfg.scoring, cfg.batching)
    model = scorer.model
    sets = NeuronSets(cfg, scorer)
    batcher = Batcher(
        TokenCounter(model, cfg.scoring.tokens),
        max_batch_tokens=cfg.microbatch_tokens,
        max_queue_docs=cfg.server.max_queue_docs,
        metrics=service_metrics,
        max_request_tokens=cfg.server.max_tokens_per_request,
    )
    return Service(cfg, sets, batcher, _info(cfg, model, sets))


def _info(cfg: ServeConfig, model: LoadedModel, sets: NeuronSets) -> InfoResponse:
    bank = sets.bank
    server = cfg.server
    return InfoResponse(
        model={
            "name": model.name,
            "family": model.family,
            "layers": model.arch.n_layers,
            "d_mlp": model.arch.d_mlp,
            "source": model.source,
            "revision": model.revision,
            "sha256": model.sha256,
            "device": str(model.device),
            "dtype": cfg.model.dtype,
        },
        bank=None
        if bank is None
        else {
            "path": str(bank.path),
            "format_version": bank.meta.get("format_version"),
            "model": sets.bank_model,
        },
        versions={
            name: _version(name) for name in ("rosetta-filter", "torch", "transformers", "fastapi")
        }
        | {"python": platform.python_version()},
        limits={
            "max_docs_per_request": server.max_docs_per_request,
            "max_tokens_per_request": server.max_tokens_per_request,
            "max_request_bytes": server.max_request_bytes,
            "max_doc_chars": server.max_doc_chars,
            "long_doc_policy": server.long_doc_policy,
            "max_queue_docs": server.max_queue_docs,
            "request_timeout_s": server.request_timeout_s,
            "microbatch_tokens": cfg.microbatch_tokens,
        },
        scoring={
            "pooling": cfg.scoring.pooling,
            "max_tokens": cfg.scoring.tokens.max_tokens,
            "long_docs": cfg.scoring.tokens.long_docs,
            "normalize": cfg.scoring.normalize,
        },
        batching=cfg.batching.model_dump(),
    )


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"
