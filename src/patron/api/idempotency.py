"""``Idempotency-Key`` on mutating requests: a retried request gets the first answer.

The first answer (any status below 500) is stored per org and key for
:data:`REPLAY_WINDOW`; the same key with the same request replays it with the
header ``Idempotent-Replayed: true``; the same key with a different request is
refused (409). Requests without the header are untouched.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from patron.api.deps import authenticate
from patron.api.errors import error_body
from patron.api.tables import idempotency_keys
from patron.kit.db import transaction
from patron.kit.errors import PatronError

HEADER = "idempotency-key"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REPLAY_WINDOW = timedelta(hours=24)
MAX_KEY_LENGTH = 200


def _find(engine: Engine, org_id: int, key: str) -> sa.RowMapping | None:
    since = datetime.now(UTC) - REPLAY_WINDOW
    query = sa.select(idempotency_keys).where(
        idempotency_keys.c.org_id == org_id,
        idempotency_keys.c.key == key,
        idempotency_keys.c.created_at >= since,
    )
    with transaction(engine, write=False) as conn:
        return conn.execute(query).mappings().first()


def _save(engine: Engine, values: dict[str, Any]) -> None:
    expired = datetime.now(UTC) - REPLAY_WINDOW
    try:
        with transaction(engine) as conn:
            mine = idempotency_keys.c.org_id == values["org_id"]
            # Two statements, so that each is an index look-up.
            conn.execute(
                idempotency_keys.delete().where(mine, idempotency_keys.c.created_at < expired)
            )
            conn.execute(
                idempotency_keys.delete().where(mine, idempotency_keys.c.key == values["key"])
            )
            conn.execute(idempotency_keys.insert().values(**values))
    except IntegrityError:
        pass  # a concurrent request with the same key stored its answer first


class Idempotency(BaseHTTPMiddleware):
    """Replay stored answers of mutating requests that carry an ``Idempotency-Key``."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        key = request.headers.get(HEADER, "").strip()
        if request.method not in MUTATING or not key:
            return await call_next(request)
        if len(key) > MAX_KEY_LENGTH:
            message = f"Idempotency-Key may be at most {MAX_KEY_LENGTH} characters"
            return JSONResponse(error_body(400, message), status_code=400)
        try:
            actor = await run_in_threadpool(authenticate, request)
        except PatronError:
            return await call_next(request)  # the endpoint answers the 401 itself
        body = await request.body()
        digest = hashlib.sha256()
        for part in (request.method, request.url.path, request.url.query):
            digest.update(part.encode() + b"\0")
        digest.update(body)
        fingerprint = digest.hexdigest()
        engine: Engine = request.app.state.engine
        stored = await run_in_threadpool(_find, engine, actor.org_id, key)
        if stored is not None:
            if stored["fingerprint"] != fingerprint:
                message = "this Idempotency-Key was already used for a different request"
                return JSONResponse(error_body(409, message), status_code=409)
            return JSONResponse(
                stored["response"],
                status_code=stored["status_code"],
                headers={"Idempotent-Replayed": "true"},
            )
        response = await call_next(request)
        content = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
        if response.status_code < 500 and response.media_type != "text/plain":
            try:
                document = json.loads(content)
            except ValueError:
                document = None
            if document is not None:
                values = {
                    "org_id": actor.org_id,
                    "key": key,
                    "fingerprint": fingerprint,
                    "status_code": response.status_code,
                    "response": document,
                }
                await run_in_threadpool(_save, engine, values)
        return Response(
            content,
            status_code=response.status_code,
            headers=dict(response.headers),
        )
