"""Running the service under uvicorn, with graceful shutdown.

On SIGTERM or SIGINT uvicorn stops listening, lets in-flight requests finish (up to
``server.shutdown_timeout_s``), then runs the lifespan's exit, which drains the batcher; new
requests on open connections get 503 at once, and whatever still waits just before the timeout
is answered 503 with Retry-After (:class:`DrainingServer`; with ``workers > 1`` uvicorn's
supervisor runs the workers and this last step is uvicorn's own). With
``workers > 1`` uvicorn starts that many processes, each building the app from the config it
finds in the environment (a process cannot inherit a Python object), each with its own model.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import resource

import uvicorn
from fastapi import FastAPI

from rosetta_filter.config import validate_config
from service.app import build_app
from service.config import ServeConfig

log = logging.getLogger(__name__)

CONFIG_ENV = "ROSETTA_FILTER_SERVE_CONFIG"  # JSON of the ServeConfig, for worker processes


def serve(
    cfg: ServeConfig,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
) -> None:
    """Serve ``cfg`` until a signal; ``host``/``port``/``workers`` override ``cfg.server``."""
    host = host or cfg.server.host
    port = cfg.server.port if port is None else port
    workers = workers or cfg.server.workers
    options = {
        "host": host,
        "port": port,
        "timeout_graceful_shutdown": math.ceil(cfg.server.shutdown_timeout_s),
        "limit_concurrency": cfg.server.max_connections,
        "timeout_keep_alive": cfg.server.keep_alive_s,
        "log_config": None,  # keep the caller's logging setup
    }
    _raise_open_file_limit(cfg.server.max_connections)
    log.info("rosetta-filter serve on http://%s:%d with %d worker(s)", host, port, workers)
    if workers == 1:
        app = build_app(cfg)
        DrainingServer(uvicorn.Config(app, **options), app, cfg.server.shutdown_timeout_s).run()
        return
    os.environ[CONFIG_ENV] = cfg.model_dump_json()
    uvicorn.run("service.server:app_from_env", factory=True, workers=workers, **options)


class DrainingServer(uvicorn.Server):
    """uvicorn, plus: on SIGTERM/SIGINT the batcher stops taking requests at once and, just
    before ``shutdown_timeout_s`` runs out, answers whatever still waits 503 + Retry-After
    (uvicorn alone would cancel those requests into bare 500s)."""

    def __init__(self, config: uvicorn.Config, app: FastAPI, shutdown_timeout_s: float) -> None:
        super().__init__(config)
        self.app = app
        self.grace_s = max(0.1, shutdown_timeout_s - 0.5)  # answers leave before the cut
        self._draining = False

    def handle_exit(self, sig: int, frame: object) -> None:
        super().handle_exit(sig, frame)
        service = getattr(self.app.state, "service", None)
        loop = getattr(self, "loop", None)
        if self._draining or service is None or loop is None:
            return
        self._draining = True
        loop.call_soon_threadsafe(service.batcher.begin_shutdown, self.grace_s)

    async def serve(self, sockets=None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().serve(sockets)


def _raise_open_file_limit(connections: int) -> None:
    """Let the process hold ``server.max_connections`` sockets plus room for the model's files:
    raise the soft open-file limit toward the hard one (a default soft limit of 1024 would be
    exhausted first, and then even health checks fail)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        log.info("open-file limit raised from %d to %d", soft, target)


def app_from_env() -> FastAPI:
    """App factory for uvicorn worker processes (see :func:`serve`)."""
    return build_app(validate_config(json.loads(os.environ[CONFIG_ENV]), ServeConfig))
