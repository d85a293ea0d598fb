"""The adversarial tier (`make test-adversarial`, not in the default run): the reliability
targets at full size, against real processes and a real server on loopback, bounded in count
and time. Sizes can be raised with ROSETTA_ADVERSARIAL_SCALE (a multiplier)."""

from __future__ import annotations

import json
import os
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from test_hostile_records import RAW_LINES, _config
from test_pipeline import WORDS
from test_resume import _output, assert_resumes_identically
from test_service import serve_config
from test_service_live import LiveServer, post

from rosetta_filter.activations.models import load_model
from rosetta_filter.scoring.scorer import NeuronSelection, Scorer
from service.app import build_app

pytestmark = pytest.mark.adversarial
SCALE = float(os.environ.get("ROSETTA_ADVERSARIAL_SCALE", "1"))


def _hostile_lines(n: int, seed: int) -> list[bytes]:
    """``n`` lines: one in five hostile (raw garbage, lone surrogates in ids, text and other
    fields, deep nesting, giant numbers, wrong types), the rest ordinary documents."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = rng.randrange(10)
        if kind == 0:
            out.append(rng.choice(RAW_LINES))
            continue
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 30)))
        record: dict = {"id": f"d{i}", "text": words + (" x" if rng.random() < 0.4 else "")}
        if kind == 1:
            record["id"] = rng.choice(["\ud800", "\udfff x", ""])
        elif kind == 2:
            record["text"] = rng.choice(["\ud83d", "", "   ", None, 7, ["a"], {"t": 1}])
        elif kind == 3:
            record["meta"] = {"deep": [[[["\udc80"]]]], "n": 10**300}
        out.append(json.dumps(record).encode())
    return out


def test_10000_hostile_records_and_ten_kills_resume_to_identical_shards(planted_model, tmp_path):
    n = int(10_000 * SCALE)
    data = tmp_path / "docs.jsonl"
    data.write_bytes(b"\n".join(_hostile_lines(n, seed=11)) + b"\n")

    def config(out):
        cfg = _config(planted_model, data, out)
        cfg["runtime"].update(checkpoint_docs=256, lookahead_docs=64)
        cfg["output"].update(shard_max_rows=500)
        return cfg

    rng = random.Random(5)
    points = [("score", p) for p in sorted(rng.sample(range(256, n, 256), 6))]
    points += [("write", p) for p in sorted(rng.sample(range(1, n, 256), 4))]
    assert assert_resumes_identically(tmp_path, config, points) >= 8
    counts = _output(tmp_path / "reference")[1]
    assert counts["seen"] == n and sum(counts["invalid"].values()) > n // 10


class SlowScorer(Scorer):
    """A real scorer that takes ``delay`` seconds per engine call (one micro-batch part)."""

    delay = 0.25

    def score(self, records, **kwargs):
        time.sleep(self.delay)
        yield from super().score(records, **kwargs)


def _slow_client(url: str, stop: threading.Event, opened: list) -> None:
    """Open a connection and dribble a request header one byte a second, never finishing."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    opened.append(sock)
    header = b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
    for byte in header:
        if stop.wait(1.0):
            break
        try:
            sock.send(bytes([byte]))
        except OSError:
            break


def test_200_slow_clients_and_a_timed_out_heavy_request_leave_normal_requests_fast(
    planted_model,
):
    cfg = serve_config(planted_model, request_timeout_s=2, max_connections=4000)
    cfg = cfg.model_copy(update={"batching": cfg.batching.model_copy(update={"batch_tokens": 64})})
    selection = NeuronSelection.from_config(cfg.neurons, cfg.scoring, cfg.model.name)
    scorer = SlowScorer(load_model(cfg.model), selection, cfg.scoring, cfg.batching)
    app = build_app(cfg, scorer=scorer)
    stop, opened = threading.Event(), []
    clients = int(200 * SCALE)
    with LiveServer(app) as live, ThreadPoolExecutor(clients + 2) as pool:
        for _ in range(clients):
            pool.submit(_slow_client, live.url, stop, opened)
        heavy = pool.submit(post, live.url, [" ".join(WORDS) + " x"] * 60)  # ~20 parts
        assert heavy.result(timeout=30).status_code == 503  # timed out after 2 s
        started = time.monotonic()
        normal = post(live.url, ["a normal x request"])
        latency = time.monotonic() - started
        health = httpx.get(f"{live.url}/healthz", timeout=5)
        stop.set()
        for sock in opened:
            sock.close()
    assert normal.status_code == 200 and normal.json()["documents"][0]["score"] > 1
    assert latency < 2.0, f"normal request took {latency:.2f} s"
    assert health.status_code == 200


def test_thousands_of_idle_sockets_leave_the_health_check_answering(planted_model):
    """The target is 20,000 sockets; this process and the server share one open-file limit
    (20,000 here), so the default size is 4,000 (raise with ROSETTA_ADVERSARIAL_SCALE)."""
    n = int(4_000 * SCALE)
    cfg = serve_config(planted_model, max_connections=n + 100)
    app = build_app(cfg)
    sockets = []
    with LiveServer(app) as live:
        host, port = live.url.removeprefix("http://").split(":")
        for _ in range(n):
            sock = socket.create_connection((host, int(port)))
            sock.send(b"GET /heal")  # an unfinished request line, then silence
            sockets.append(sock)
        started = time.monotonic()
        health = httpx.get(f"{live.url}/healthz", timeout=10)
        latency = time.monotonic() - started
        scored = post(live.url, ["still scoring x"])
        for sock in sockets:
            sock.close()
    assert health.status_code == 200 and latency < 2.0
    assert scored.status_code == 200
