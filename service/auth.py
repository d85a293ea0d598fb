"""Bearer-token auth: one shared API key guards every route except the health probes, which
orchestrators call without credentials. A middleware rather than a route dependency, so the
OpenAPI document, /docs and /metrics are covered too and no route can forget it.
"""

from __future__ import annotations

import hmac
import os

from starlette.types import ASGIApp, Receive, Scope, Send

from service.config import API_KEY_ENV, ServerConfig
from service.errors import Unauthorized, error_response

OPEN_PATHS = frozenset({"/healthz", "/readyz"})


def resolve_api_key(server: ServerConfig) -> str | None:
    """The configured key, else the environment's; an empty value means no auth."""
    return server.api_key or os.environ.get(API_KEY_ENV) or None


class BearerAuth:
    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.expected = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = [value for name, value in scope["headers"] if name == b"authorization"]
        scheme, _, token = given[0].partition(b" ") if len(given) == 1 else (b"", b"", b"")
        if not given:
            problem = "missing bearer token: send 'Authorization: Bearer <api key>'"
        elif len(given) > 1:  # which one a proxy or a framework would use is anybody's guess
            problem = "more than one Authorization header: send exactly one"
        elif scheme.lower() != b"bearer":  # the scheme name is case-insensitive (RFC 7235)
            problem = "expected the Bearer scheme: 'Authorization: Bearer <api key>'"
        elif not hmac.compare_digest(token.strip(), self.expected):  # constant time
            problem = "invalid API key"
        else:
            await self.app(scope, receive, send)
            return
        await error_response(Unauthorized(problem, field="Authorization"))(scope, receive, send)
