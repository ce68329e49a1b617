"""A pure ASGI middleware refusing request bodies above a size limit."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from patron.codes import generic


class _TooLarge(HTTPException):
    """Raised by ``receive`` past the limit. An HTTPException, as FastAPI lets those
    through its body parsing (others become a 400 "error parsing the body"), so a
    streamed body without a Content-Length is answered 413 like a declared one."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _message(limit))


def _message(limit: int) -> str:
    return f"the request body is larger than {limit} bytes"


class BodySizeLimit:
    """Answer 413 when a body exceeds ``max_bytes``, declared or streamed."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, uploads: Sequence[tuple[str, int]] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        #: (path prefix, limit) pairs: file uploads under a prefix may be larger.
        self.uploads = tuple(uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = next((n for prefix, n in self.uploads if path.startswith(prefix)), self.max_bytes)
        declared: bytes | None = None
        chunked = False
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                chunked = True
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        if not chunked:
            # The body is at most its Content-Length (the server reads no further), or
            # absent: nothing to count, so the request passes untouched (every GET).
            await self.app(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: int) -> None:
        body: dict[str, Any] = {
            "errors": [
                {"status": False, "code": generic.PAYLOAD_TOO_LARGE, "message": _message(limit)}
            ],
            "warnings": [],
        }
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})
