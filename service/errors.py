"""The service's one error envelope and its one exception -> status mapping.

Every error leaves the service as ``{"error": {"message", "type", "param", "code"}}`` (the shape
OpenAI-style APIs and vLLM use). Request limits answer 413, invalid input 422, a full queue
429 and a service that cannot take work (loading, draining, timed out) 503; the last two say
when to come back in ``Retry-After``. Library errors (:class:`RosettaError` subclasses) map
through the same table, so a bad neuron set named in a request and a bad one in the config read
alike.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from rosetta_filter.errors import BankError, ConfigError, ModelError, RosettaError

log = logging.getLogger(__name__)


class ServiceError(RosettaError):
    """An error the service answers itself; ``retry_after`` (seconds) goes to Retry-After."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, field=field, value=value)
        self.retry_after = retry_after


class Unauthorized(ServiceError):
    """No bearer token, or the wrong one."""


class LimitExceeded(ServiceError):
    """A request is over one of the configured size limits."""


class InvalidRequest(ServiceError):
    """A well-formed request asks for something that does not exist (e.g. a neuron set)."""


class Overloaded(ServiceError):
    """The queue is full: come back later."""


class Unavailable(ServiceError):
    """The service is not ready, is shutting down, or ran out of time for this request."""


class RequestTimeout(Unavailable):
    """The request waited and ran longer than ``server.request_timeout_s``."""


# Most specific class first; the first class in an exception's MRO found here wins.
_STATUS: dict[type[BaseException], tuple[int, str]] = {
    Unauthorized: (401, "unauthorized"),
    LimitExceeded: (413, "limit_exceeded"),
    InvalidRequest: (422, "invalid_request"),
    Overloaded: (429, "overloaded"),
    RequestTimeout: (503, "timeout"),
    Unavailable: (503, "unavailable"),
    ConfigError: (422, "invalid_request"),
    BankError: (422, "invalid_request"),
    ModelError: (500, "model_error"),
    RosettaError: (500, "server_error"),
}


def status_of(exc: BaseException) -> tuple[int, str]:
    """(HTTP status, error type) of any exception the service can meet."""
    if isinstance(exc, RequestValidationError) or _undecodable_body(exc):
        return 422, "invalid_request"
    if isinstance(exc, HTTPException):
        return exc.status_code, "not_found" if exc.status_code == 404 else "http_error"
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500, "internal_error"


def error_response(exc: BaseException) -> JSONResponse:
    """The envelope for ``exc``, with Retry-After / WWW-Authenticate / Allow where they apply."""
    status, kind = status_of(exc)
    message, param = _message_and_param(exc, status)
    headers: dict[str, str] = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, HTTPException) and exc.headers:
        headers.update(exc.headers)
    body = {"error": {"message": message, "type": kind, "param": param, "code": status}}
    return JSONResponse(body, status_code=status, headers=headers)


def _message_and_param(exc: BaseException, status: int) -> tuple[str, str | None]:
    if isinstance(exc, RequestValidationError):
        return _validation_message(exc.errors())
    if _undecodable_body(exc):
        return f"body: not valid JSON ({exc.__cause__})", "body"
    if isinstance(exc, RosettaError):
        if status >= 500:
            log.error("request failed: %s", exc.message)
        return exc.message, exc.field
    if isinstance(exc, HTTPException):
        return str(exc.detail), None
    log.exception("unhandled error", exc_info=exc)
    return "internal error: the server logged the cause", None


def _undecodable_body(exc: BaseException) -> bool:
    """FastAPI answers a body it cannot parse for other reasons than JSON syntax (bad UTF-8,
    nesting too deep, a number over Python's digit limit) with a bare 400 raised from the
    parser's error; to a client it is malformed JSON like any other, so it gets the 422."""
    return isinstance(exc, HTTPException) and isinstance(
        exc.__cause__, UnicodeDecodeError | RecursionError | ValueError
    )


def _validation_message(errors: Any) -> tuple[str, str | None]:
    """First error's location as a dotted parameter (``documents.3.text``) and all messages."""
    parts, first = [], None
    for err in errors:
        if err.get("type") == "json_invalid":  # loc is ("body", character offset)
            where = "body"
            msg = f"not valid JSON at character {err['loc'][-1]}: {err['ctx']['error']}"
        else:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            msg = err.get("msg", "invalid")
        first = first or where
        parts.append(f"{where}: {msg}")
    return "; ".join(parts) or "invalid request", first
