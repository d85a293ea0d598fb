"""The scoring service behind a real uvicorn server on loopback: 32 concurrent clients, queueing,
overload, timeouts, graceful shutdown, the `serve` entry point under SIGTERM, and schema fuzzing.

Where a test needs the single inference worker held busy, a :class:`GatedScorer` (the real
scorer, waiting for the test before each micro-batch) makes the timing deterministic.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import schemathesis
import uvicorn
from schemathesis.specs.openapi.checks import positive_data_acceptance
from test_pipeline import make_docs
from test_service import bank_dir, serve_config  # noqa: F401  (bank_dir is a fixture)
from transformers import AutoTokenizer

from rosetta_filter.activations.models import load_model
from rosetta_filter.scoring.scorer import NeuronSelection, Scorer
from service.app import build_app
from service.config import ServeConfig
from service.server import DrainingServer

REPO = Path(__file__).resolve().parent.parent
API_KEY = "live-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


class LiveServer:
    """uvicorn serving ``app`` on a free loopback port in a thread; ``stop()`` is what SIGTERM
    does (``should_exit``), so shutdown runs uvicorn's real graceful path."""

    def __init__(self, app, shutdown_timeout_s: int = 10, draining: bool = False) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(
            app, log_level="warning", timeout_graceful_shutdown=shutdown_timeout_s
        )
        self.server = (
            DrainingServer(config, app, shutdown_timeout_s) if draining else uvicorn.Server(config)
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "server did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True

    def __exit__(self, *exc) -> None:
        self.stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


class GatedScorer(Scorer):
    """A real scorer whose every micro-batch first waits for ``gate``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.started = threading.Event()
        self.calls = 0

    def score(self, records, **kwargs):
        self.calls += 1
        self.started.set()
        assert self.gate.wait(timeout=30), "test never opened the gate"
        yield from super().score(records, **kwargs)


@pytest.fixture
def gated_app():
    """``make(cfg) -> (app, scorer)``; every gate is opened at teardown so no worker hangs."""
    scorers: list[GatedScorer] = []

    def make(cfg: ServeConfig):
        selection = NeuronSelection.from_config(cfg.neurons, cfg.scoring, cfg.model.name)
        scorers.append(GatedScorer(load_model(cfg.model), selection, cfg.scoring, cfg.batching))
        return build_app(cfg, scorer=scorers[-1]), scorers[-1]

    yield make
    for scorer in scorers:
        scorer.gate.set()


def metric(url: str, name: str) -> float:
    """A series' value; 0 while absent (a labelled counter appears at its first increment, so a
    poll that comes before it, as on a loaded machine, reads 0 rather than failing)."""
    text = httpx.get(f"{url}/metrics").text
    return next(
        (float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")),
        0.0,
    )


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.02)


def post(url: str, texts: list[str]) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/score", json={"documents": [{"text": t} for t in texts]}, timeout=60
    )


def test_32_concurrent_clients_each_get_exactly_their_own_scores(planted_model):
    cfg = serve_config(planted_model)
    n_clients, n_requests = 32, 4
    rng = random.Random(0)
    plan = []  # (client, request, route, docs)
    for c in range(n_clients):
        for r in range(n_requests):
            docs = make_docs(rng.randint(1, 6), seed=c * 100 + r)
            route = "/v1/filter" if (c + r) % 2 else "/v1/score"
            plan.append(
                (
                    c,
                    r,
                    route,
                    [{"id": f"c{c}r{r}d{i}", "text": d["text"]} for i, d in enumerate(docs)],
                )
            )
    texts = sorted({d["text"] for *_, docs in plan for d in docs})
    reference = Scorer.from_config(cfg.model, cfg.neurons, cfg.scoring, cfg.batching)
    expected = {t: s.score for t, s in zip(texts, reference.score(texts), strict=True)}

    async def client(url: str, c: int) -> list:
        answers = []
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            for _, _, route, docs in (p for p in plan if p[0] == c):
                answers.append((docs, route, await http.post(route, json={"documents": docs})))
        return answers

    async def all_clients(url: str) -> list:
        return [
            a
            for part in await asyncio.gather(*(client(url, c) for c in range(n_clients)))
            for a in part
        ]

    with LiveServer(build_app(cfg)) as live:
        answers = asyncio.run(all_clients(live.url))
        merged = metric(live.url, "rosetta_filter_batch_requests_sum") / metric(
            live.url, "rosetta_filter_batch_requests_count"
        )
    assert len(answers) == n_clients * n_requests
    for docs, route, response in answers:
        assert response.status_code == 200, response.text
        got = response.json()["documents"]
        assert [g["id"] for g in got] == [d["id"] for d in docs]
        for doc, g in zip(docs, got, strict=True):
            assert g["score"] == pytest.approx(expected[doc["text"]], rel=1e-5, abs=1e-6)
            if route == "/v1/filter":
                assert g["kept"] == (g["score"] >= 1.0)
    assert merged > 1.0  # requests really were micro-batched together


def test_a_full_queue_answers_429_with_retry_after_then_recovers(planted_model, gated_app):
    cfg = serve_config(planted_model, max_queue_docs=4, max_docs_per_request=2)
    app, scorer = gated_app(cfg)
    with LiveServer(app) as live, ThreadPoolExecutor(4) as pool:
        first = pool.submit(post, live.url, ["a x", "b"])
        assert scorer.started.wait(10)  # the worker holds request 1; requests 2-3 fill the queue
        queued = [pool.submit(post, live.url, [f"q{i} x", "c"]) for i in range(2)]
        wait_until(lambda: metric(live.url, "rosetta_filter_queue_documents") == 4)
        refused = post(live.url, ["one more"])
        assert refused.status_code == 429
        assert refused.json()["error"]["type"] == "overloaded"
        assert int(refused.headers["Retry-After"]) >= 1
        scorer.gate.set()
        assert [f.result().status_code for f in (first, *queued)] == [200, 200, 200]
        assert post(live.url, ["now it fits"]).status_code == 200
        # Requests 2 and 3 waited together, so they shared one micro-batch (2 + 1 + 1 = 4).
        assert metric(live.url, "rosetta_filter_batch_requests_count") == 3
        assert metric(live.url, "rosetta_filter_batch_requests_sum") == 4


def test_the_token_budget_caps_how_many_queued_requests_share_a_micro_batch(
    planted_model, gated_app
):
    text = "the cat sat on the mat"
    tokens = len(AutoTokenizer.from_pretrained(planted_model)(text)["input_ids"])  # with BOS
    cfg = serve_config(planted_model, microbatch_tokens=2 * tokens)
    app, scorer = gated_app(cfg)
    with LiveServer(app) as live, ThreadPoolExecutor(4) as pool:
        first = pool.submit(post, live.url, [text])
        assert scorer.started.wait(10)
        queued = []
        for i in range(3):  # one at a time, so the queue order is known
            queued.append(pool.submit(post, live.url, [text]))
            wait_until(lambda i=i: metric(live.url, "rosetta_filter_queue_requests") == i + 1)
        scorer.gate.set()
        assert [f.result().status_code for f in (first, *queued)] == [200] * 4
        # [first], then two queued requests per micro-batch: [2nd, 3rd], [4th].
        assert metric(live.url, "rosetta_filter_batch_requests_count") == 3
        assert metric(live.url, "rosetta_filter_batch_tokens_sum") == 4 * (tokens - 1)


def test_a_request_over_its_timeout_gets_503_and_leaves_the_queue(planted_model, gated_app):
    cfg = serve_config(planted_model, request_timeout_s=0.5)
    app, scorer = gated_app(cfg)
    with LiveServer(app) as live, ThreadPoolExecutor(2) as pool:
        running = pool.submit(post, live.url, ["held by the worker"])
        assert scorer.started.wait(10)
        waiting = post(live.url, ["stuck in the queue"])
        assert waiting.status_code == 503
        assert waiting.json()["error"]["type"] == "timeout" and "Retry-After" in waiting.headers
        assert running.result().status_code == 503
        assert metric(live.url, "rosetta_filter_queue_documents") == 0
        scorer.gate.set()
        assert post(live.url, ["the worker lives on"]).status_code == 200


def test_a_timed_out_request_stops_using_the_model_between_parts(planted_model, gated_app):
    """A request far over the micro-batch budget runs in parts; once its client has timed out,
    the worker stops after the part in hand instead of computing the rest for nobody."""
    cfg = serve_config(planted_model, request_timeout_s=0.5, microbatch_tokens=16)
    app, scorer = gated_app(cfg)
    heavy = [f"document {i} about the cat on the mat" for i in range(40)]
    with LiveServer(app) as live:
        response = post(live.url, heavy)
        assert response.status_code == 503 and response.json()["error"]["type"] == "timeout"
        scorer.gate.set()
        wait_until(
            lambda: metric(live.url, 'rosetta_filter_documents_total{outcome="abandoned"}') > 0
        )
        assert scorer.calls == 1  # one part ran (it was in hand), the other parts never did
        started = time.monotonic()
        assert post(live.url, ["the next request"]).status_code == 200
        assert time.monotonic() - started < 2


def test_shutdown_drains_in_flight_and_queued_requests(planted_model, gated_app):
    cfg = serve_config(planted_model)
    app, scorer = gated_app(cfg)
    with LiveServer(app) as live, ThreadPoolExecutor(2) as pool:
        in_flight = pool.submit(post, live.url, ["the model holds x"])
        assert scorer.started.wait(10)
        queued = pool.submit(post, live.url, ["the queue holds x", "plain"])
        wait_until(lambda: metric(live.url, "rosetta_filter_queue_documents") == 2)
        live.stop()  # what SIGTERM does
        wait_until(lambda: _refused(live.url))  # no new connections while draining
        scorer.gate.set()
        answers = [in_flight.result(), queued.result()]
        live.thread.join(timeout=20)
        assert not live.thread.is_alive()
    assert [a.status_code for a in answers] == [200, 200]
    assert [d["score"] > 1 for a in answers for d in a.json()["documents"]] == [True, True, False]
    assert not app.state.service.batcher.accepting


def test_sigterm_answers_what_still_waits_503_before_the_shutdown_timeout(planted_model, gated_app):
    cfg = serve_config(planted_model, shutdown_timeout_s=2)
    app, scorer = gated_app(cfg)
    with (
        LiveServer(app, shutdown_timeout_s=2, draining=True) as live,
        ThreadPoolExecutor(2) as pool,
    ):
        stuck = pool.submit(post, live.url, ["the model never finishes x"])
        assert scorer.started.wait(10)
        queued = pool.submit(post, live.url, ["queued x"])
        wait_until(lambda: metric(live.url, "rosetta_filter_queue_documents") == 1)
        started = time.monotonic()
        live.server.handle_exit(signal.SIGTERM, None)  # what the signal handler calls
        answers = [stuck.result(timeout=10), queued.result(timeout=10)]
        assert time.monotonic() - started < 2.5
        scorer.gate.set()
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "1"
        assert "shutting down" in answer.json()["error"]["message"]


def _refused(url: str) -> bool:
    try:
        httpx.get(f"{url}/healthz", timeout=1)
    except httpx.ConnectError:
        return True
    return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_serve_answers_until_sigterm_then_exits_cleanly(planted_model, tmp_path, workers):
    cfg = serve_config(planted_model, api_key=API_KEY, port=_free_port(), workers=workers)
    script = (
        "import json, logging, sys\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "from rosetta_filter.config import validate_config\n"
        "from service.config import ServeConfig\n"
        "from service.server import serve\n"
        "serve(validate_config(json.loads(sys.argv[1]), ServeConfig))\n"
    )
    env = os.environ | {"PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, cfg.model_dump_json()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{cfg.server.port}"
    try:
        wait_until(lambda: _ready(url) or proc.poll() is not None, timeout=90)
        assert proc.poll() is None, proc.stdout.read().decode()
        r = httpx.post(f"{url}/v1/score", json={"documents": [{"text": "a x"}]}, headers=AUTH)
        assert r.status_code == 200 and r.json()["documents"][0]["score"] > 1
        assert httpx.post(f"{url}/v1/score", json={"documents": [{"text": "a"}]}).status_code == 401
        proc.send_signal(signal.SIGTERM)
        # A single uvicorn process re-raises the signal after its graceful shutdown (the
        # conventional exit status); the multi-worker supervisor exits 0 once workers stop.
        assert proc.wait(timeout=30) == (-signal.SIGTERM if workers == 1 else 0)
        if workers == 1:  # spawned worker processes do not inherit this logging setup
            log = proc.stdout.read().decode()
            assert "inference worker drained and stopped" in log, log
    finally:
        if proc.poll() is None:
            proc.kill()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


# Property-based fuzzing of the OpenAPI schema: valid and invalid bodies, wrong types, odd
# strings. Whatever arrives, the answer is never a 5xx and matches the documented schema.
schema = schemathesis.openapi.from_dict(
    build_app(serve_config(Path("schema-only"))).openapi()  # the schema needs no model
)
schema.config.generation.update(modes=["positive", "negative"], max_examples=25, deterministic=True)


@pytest.fixture(scope="module")
def fuzz_server(planted_model, bank_dir):  # noqa: F811
    cfg = serve_config(planted_model, bank_dir, api_key=API_KEY, max_docs_per_request=16)
    with LiveServer(build_app(cfg)) as live:
        yield live


@schema.parametrize()
def test_fuzzed_requests_never_get_a_5xx(case, fuzz_server):
    # Every check but "schema-valid data is accepted": neuron-set names and size limits are
    # run-time values the static schema cannot state, so a valid-looking body may get 413/422.
    case.call_and_validate(
        base_url=fuzz_server.url, headers=AUTH, excluded_checks=[positive_data_acceptance]
    )
