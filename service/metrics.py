"""Prometheus metrics of one app: requests by route and status, latency, micro-batch sizes,
queue depth, tokens. Each app owns its registry, so two apps in one process (tests, workers
sharing a module) never mix their counts.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_POW2 = tuple(float(2**i) for i in range(11))  # 1 .. 1024
_TOKENS = tuple(float(2**i) for i in range(4, 19))  # 16 .. 262144
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class ServiceMetrics:
    """The metric families; the batcher and the middleware below update them."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "rosetta_filter_requests",
            "HTTP requests answered",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "rosetta_filter_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            buckets=_SECONDS,
            registry=r,
        )
        self.batch_documents = Histogram(
            "rosetta_filter_batch_documents",
            "documents per micro-batch",
            buckets=_POW2,
            registry=r,
        )
        self.batch_requests = Histogram(
            "rosetta_filter_batch_requests",
            "requests merged into one micro-batch",
            buckets=_POW2,
            registry=r,
        )
        self.batch_tokens = Histogram(
            "rosetta_filter_batch_tokens",
            "tokens scored per micro-batch",
            buckets=_TOKENS,
            registry=r,
        )
        self.batch_seconds = Histogram(
            "rosetta_filter_batch_duration_seconds",
            "model time per micro-batch",
            buckets=_SECONDS,
            registry=r,
        )
        self.queue_documents = Gauge(
            "rosetta_filter_queue_documents", "documents waiting for the model", registry=r
        )
        self.queue_requests = Gauge(
            "rosetta_filter_queue_requests", "requests waiting for the model", registry=r
        )
        self.tokens = Counter("rosetta_filter_tokens", "tokens scored", registry=r)
        self.documents = Counter(
            "rosetta_filter_documents", "documents scored, by outcome", ["outcome"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (bounded label values)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client sees when the app dies before answering
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(label, scope["method"], str(status)).inc()
            self.metrics.latency.labels(label).observe(time.perf_counter() - started)
