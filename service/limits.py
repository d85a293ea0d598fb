"""Request limits: bytes per request (checked while the body arrives, before any parsing),
documents per request and characters per document (truncate or reject). All answer 413 with
the field named, e.g. ``documents.3.text``.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.config import ServerConfig
from service.errors import LimitExceeded, error_response
from service.schemas import Document


class BodyLimit:
    """Reads the body up to ``max_bytes`` and replays it to the app; answers 413 beyond it.

    A declared Content-Length over the limit is refused before a byte is read; a chunked body
    is cut off as soon as it passes the limit, so a client cannot make the server buffer more.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left; nobody to answer
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for a disconnect, as ASGI says

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        exc = LimitExceeded(
            f"request body is over server.max_request_bytes={self.max_bytes}: send fewer or "
            "shorter documents per request",
            field="body",
        )
        await error_response(exc)(scope, receive, send)


def apply_document_limits(
    documents: Sequence[Document], server: ServerConfig
) -> tuple[list[str], list[bool]]:
    """The texts to score and, per document, whether it was cut to ``max_doc_chars``."""
    if len(documents) > server.max_docs_per_request:
        raise LimitExceeded(
            f"{len(documents)} documents in one request; server.max_docs_per_request="
            f"{server.max_docs_per_request}: split the request",
            field="documents",
            value=len(documents),
        )
    cap = server.max_doc_chars
    texts, cut = [], []
    for i, doc in enumerate(documents):
        if len(doc.text) > cap and server.long_doc_policy == "reject":
            raise LimitExceeded(
                f"document {i} has {len(doc.text)} characters; server.max_doc_chars={cap} "
                "(long_doc_policy=reject): shorten or split it",
                field=f"documents.{i}.text",
                value=len(doc.text),
            )
        texts.append(doc.text[:cap])
        cut.append(len(doc.text) > cap)
    return texts, cut
