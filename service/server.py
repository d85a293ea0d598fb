"""Running the service under uvicorn, with graceful shutdown.

On SIGTERM or SIGINT uvicorn stops listening, lets in-flight requests finish (up to
``server.shutdown_timeout_s``), then runs the lifespan's exit, which drains the batcher. With
``workers > 1`` uvicorn starts that many processes, each building the app from the config it
finds in the environment (a process cannot inherit a Python object), each with its own model.
"""

from __future__ import annotations

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
        uvicorn.run(build_app(cfg), **options)
        return
    os.environ[CONFIG_ENV] = cfg.model_dump_json()
    uvicorn.run("service.server:app_from_env", factory=True, workers=workers, **options)


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
