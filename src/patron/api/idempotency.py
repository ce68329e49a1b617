"""``Idempotency-Key`` on mutating requests: a request runs once, a retry gets its answer.

Scope: an answer belongs to the org, the caller (the credential that sent the request:
``key:<API key id>``, ``user:<user id>``, ``batch:user:<user id>`` for the legacy batch
API) and the key. Another caller sending the same key has a key of its own.

1. Before any work, the request reserves the key in its own short transaction (a row
   without an answer). The unique key (org, caller, key) lets one request win.
2. A request finding its key reserved by the same request (same method, path, query
   and body) waits, polling, up to :data:`WAIT_SECONDS` for the answer and replays it;
   after that it answers 409 :data:`IN_PROGRESS` with ``Retry-After``. A different
   request under the key answers 409 :data:`KEY_REUSED`, reserved or answered.
3. The reserved request runs, refreshing its reservation every
   :data:`HEARTBEAT_SECONDS`. Its answer is stored when :func:`keeps` says so (2xx,
   3xx and 4xx, except 401 and 403) and replayed for :data:`REPLAY_WINDOW` with the
   header ``Idempotent-Replayed: true``. A 5xx, an exception, a 401 or a 403 releases
   the reservation: the next request with the key runs. A refused credential must not
   keep the caller from sending the same request once it is allowed.
4. A reservation not refreshed for :data:`ABANDONED_AFTER` (its server stopped) is
   abandoned: the next request with the key takes it over and runs.

:class:`Idempotency` applies this to every route authenticated by the ``Authorization``
header; the legacy batch endpoint, whose credentials come in its form, calls
:func:`claim`, :func:`hold`, :func:`store` and :func:`release` itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from tempfile import SpooledTemporaryFile
from typing import Any, TypeVar

import anyio
from sqlalchemy.engine import Engine, RowMapping
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from patron.api import idempotency_repository as repository
from patron.api.deps import authenticate
from patron.api.errors import database_busy, error_body
from patron.codes import generic
from patron.kit.db import is_lock_timeout, transaction
from patron.kit.errors import InvalidInput, PatronError

T = TypeVar("T")
log = logging.getLogger(__name__)

HEADER = "idempotency-key"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REPLAY_WINDOW = timedelta(hours=24)
MAX_KEY_LENGTH = 200
#: How long a request waits for the answer of the same request running under its key.
WAIT_SECONDS = 5.0
FIRST_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 0.5
#: A running request refreshes its reservation this often ...
HEARTBEAT_SECONDS = 10.0
#: ... and one not refreshed for this long is abandoned.
ABANDONED_AFTER = timedelta(seconds=60)
KEY_REUSED_MESSAGE = "this Idempotency-Key was already used for a different request"
IN_PROGRESS_MESSAGE = "a request with this Idempotency-Key is in progress"
REPLAYED = "Idempotent-Replayed"
#: A body is fingerprinted while it is spooled: kept in memory up to this size, on disk
#: beyond, and handed to the application in pieces of this size.
SPOOL_IN_MEMORY = 1_048_576
SPOOL_PIECE = 65_536


@dataclass(frozen=True)
class Reservation:
    """The key is ours: run the request, then :func:`store` or :func:`release`."""

    id: int
    org_id: int


@dataclass(frozen=True)
class Stored:
    """The answer of the first request with the key: replay it."""

    status_code: int
    response: Any


@dataclass(frozen=True)
class Refused:
    """Answer 409 with this code and message (and ``Retry-After`` when given)."""

    code: int
    message: str
    retry_after: int | None = None


def key_of(headers: Mapping[str, str]) -> str | None:
    """The request's ``Idempotency-Key``, None when it has none; too long is a 400."""
    key = headers.get(HEADER, "").strip()
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            generic.INVALID_INPUT, f"Idempotency-Key may be at most {MAX_KEY_LENGTH} characters"
        )
    return key or None


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """SHA-256 of what makes two requests the same request (credentials aside)."""
    digest = _request_digest(method, path, query)
    digest.update(body)
    return digest.hexdigest()


def _request_digest(method: str, path: str, query: str) -> hashlib._Hash:
    """The digest of a request's method, path and query; its body is added after."""
    digest = hashlib.sha256()
    for part in (method, path, query):
        digest.update(part.encode() + b"\0")
    return digest


def keeps(status_code: int) -> bool:
    """Whether an answer with ``status_code`` is stored for replay.

    A 5xx may not be the request's last word, and a 401 or 403 says nothing about the
    request, only about the credential: a retry of either runs again.
    """
    return status_code < 500 and status_code not in (401, 403)


# --- the protocol -------------------------------------------------------------------------


def _reserve(engine: Engine, org_id: int, caller: str, key: str, digest: str) -> int | RowMapping:
    with transaction(engine) as conn:
        return repository.reserve(
            conn,
            org_id=org_id,
            caller=caller,
            key=key,
            fingerprint=digest,
            now=datetime.now(UTC),
            replay_window=REPLAY_WINDOW,
            abandoned_after=ABANDONED_AFTER,
        )


def _find(engine: Engine, org_id: int, caller: str, key: str) -> RowMapping | None:
    with transaction(engine, write=False) as conn:
        return repository.find(
            conn,
            org_id=org_id,
            caller=caller,
            key=key,
            now=datetime.now(UTC),
            replay_window=REPLAY_WINDOW,
            abandoned_after=ABANDONED_AFTER,
        )


async def claim(
    engine: Engine, org_id: int, caller: str, key: str, digest: str
) -> Reservation | Stored | Refused:
    """Reserve ``key`` for the request with fingerprint ``digest``, or say why not.

    While the same request runs under the key elsewhere, wait (without holding a
    thread) for its answer; a reservation released meanwhile is taken.
    """
    deadline = time.monotonic() + WAIT_SECONDS
    delay = FIRST_POLL_SECONDS
    found = await run_in_threadpool(_reserve, engine, org_id, caller, key, digest)
    while True:
        if isinstance(found, int):
            return Reservation(found, org_id)
        if found["fingerprint"] != digest:
            return Refused(generic.CONFLICT, KEY_REUSED_MESSAGE)
        if found["status_code"] is not None:
            return Stored(int(found["status_code"]), found["response"])
        left = deadline - time.monotonic()
        if left <= 0:
            return Refused(generic.IDEMPOTENCY_IN_PROGRESS, IN_PROGRESS_MESSAGE, retry_after=1)
        await anyio.sleep(min(delay, left))
        delay = min(delay * 2, MAX_POLL_SECONDS)
        row = await run_in_threadpool(_find, engine, org_id, caller, key)
        if row is None:
            found = await run_in_threadpool(_reserve, engine, org_id, caller, key, digest)
        else:
            found = row


def _touch(engine: Engine, reservation: Reservation) -> None:
    with transaction(engine) as conn:
        if not repository.touch(conn, reservation.id, datetime.now(UTC)):
            log.warning("the reservation %s of an Idempotency-Key was lost", reservation.id)


def _store(engine: Engine, reservation: Reservation, status_code: int, response: Any) -> None:
    with transaction(engine) as conn:
        repository.store(
            conn,
            org_id=reservation.org_id,
            reservation_id=reservation.id,
            status_code=status_code,
            response=response,
            now=datetime.now(UTC),
            replay_window=REPLAY_WINDOW,
        )


def _release(engine: Engine, reservation: Reservation) -> None:
    with transaction(engine) as conn:
        repository.release(conn, reservation.id)


async def _keep_alive(engine: Engine, reservation: Reservation) -> None:
    while True:
        await anyio.sleep(HEARTBEAT_SECONDS)
        try:
            await run_in_threadpool(_touch, engine, reservation)
        except Exception:  # the next beat may get through; the request goes on regardless
            log.exception("the reservation of an Idempotency-Key could not be refreshed")


async def hold(engine: Engine, reservation: Reservation, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` while keeping ``reservation`` alive; release it when ``work`` fails."""
    done: list[T] = []
    failure: Exception | None = None
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_keep_alive, engine, reservation)
            try:
                done.append(await work())
            except Exception as exc:  # raised below, not wrapped into the group's errors
                failure = exc
            group.cancel_scope.cancel()
    except BaseException:  # cancelled: the request is gone
        with anyio.CancelScope(shield=True):
            await release(engine, reservation)
        raise
    if failure is not None:
        await release(engine, reservation)
        raise failure
    return done[0]


async def store(engine: Engine, reservation: Reservation, status_code: int, response: Any) -> None:
    """Store the answer of the reserved request (a JSON document) for replay."""
    await run_in_threadpool(_store, engine, reservation, status_code, response)


async def release(engine: Engine, reservation: Reservation) -> None:
    """Give the key up without an answer: the next request with it runs."""
    await run_in_threadpool(_release, engine, reservation)


# --- the middleware -----------------------------------------------------------------------


class Idempotency:
    """Apply ``Idempotency-Key`` to mutating requests authenticated by their headers.

    A pure ASGI middleware: requests without the header pass straight through.
    ``skip`` names the paths whose endpoint applies the key itself.
    """

    def __init__(self, app: ASGIApp, skip: Collection[str] = ()) -> None:
        self.app = app
        self.skip = frozenset(skip)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING or scope["path"] in self.skip:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            key = key_of(request.headers)
        except InvalidInput as exc:
            await JSONResponse(error_body(exc.code, exc.message), 400)(scope, receive, send)
            return
        if key is None:
            await self.app(scope, receive, send)
            return
        try:
            # Cached on the request: the endpoint does not authenticate again.
            actor = await run_in_threadpool(authenticate, request)
        except PatronError:
            await self.app(scope, receive, send)  # the endpoint answers the 401 itself
            return
        query = scope.get("query_string", b"").decode("latin-1")
        body = await _spool_body(receive, _request_digest(scope["method"], scope["path"], query))
        if body is None:
            return  # the client went away before sending its body
        with body.file:
            engine: Engine = scope["app"].state.engine
            try:
                claimed = await claim(engine, actor.org_id, actor.credential, key, body.digest)
            except OperationalError as exc:
                if not is_lock_timeout(exc):
                    raise
                # Nothing was reserved: the request may be sent again as it is.
                await database_busy()(scope, receive, send)
                return
            if isinstance(claimed, Refused):
                await _refusal(claimed)(scope, receive, send)
            elif isinstance(claimed, Stored):
                replay = JSONResponse(
                    claimed.response, status_code=claimed.status_code, headers={REPLAYED: "true"}
                )
                await replay(scope, receive, send)
            else:
                await self._run(engine, claimed, scope, _replaying(body.file, receive), send)

    async def _run(
        self, engine: Engine, reservation: Reservation, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Run the request and keep its answer before the client sees it, so that a retry
        sent as soon as the answer arrives finds it stored."""
        started: list[Message] = []
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.append(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await hold(engine, reservation, lambda: self.app(scope, receive, keep))
        if not started:
            await release(engine, reservation)
            raise RuntimeError("the application sent no response")
        start = started[0]
        content = b"".join(chunks)
        document = _document(start, content) if keeps(start["status"]) else None
        if document is None:
            await release(engine, reservation)
        else:
            await store(engine, reservation, start["status"], document)
        await send(start)
        await send({"type": "http.response.body", "body": content})


def _refusal(refused: Refused) -> JSONResponse:
    headers = None if refused.retry_after is None else {"Retry-After": str(refused.retry_after)}
    return JSONResponse(error_body(refused.code, refused.message), 409, headers=headers)


@dataclass
class _SpooledBody:
    """A request body kept in a file (in memory up to :data:`SPOOL_IN_MEMORY` bytes, on
    disk beyond), and the request's fingerprint taken while it was read."""

    file: SpooledTemporaryFile[bytes]
    digest: str


async def _spool_body(receive: Receive, digest: hashlib._Hash) -> _SpooledBody | None:
    """Read the whole request body into a spooled file, hashing it on the way.

    An upload may be as large as an import file: holding it in memory to fingerprint
    it would cost its size again. Its size is bounded by ``BodySizeLimit``, outside.
    """
    # Closed by the caller once the request is answered (here on a disconnect).
    spool: SpooledTemporaryFile[bytes] = SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            spool.close()
            return None
        chunk = message.get("body", b"")
        digest.update(chunk)
        if spool.tell() + len(chunk) > SPOOL_IN_MEMORY:
            await run_in_threadpool(spool.write, chunk)  # on disk: off the event loop
        else:
            spool.write(chunk)
        if not message.get("more_body", False):
            spool.seek(0)
            return _SpooledBody(spool, digest.hexdigest())


def _replaying(spool: SpooledTemporaryFile[bytes], receive: Receive) -> Receive:
    """A ``receive`` that gives the application the spooled body a piece at a time,
    then waits for the client's disconnect as the server's would."""
    done = False

    async def replaying() -> Message:
        nonlocal done
        if done:
            return await receive()
        piece = await run_in_threadpool(spool.read, SPOOL_PIECE)
        done = spool.tell() >= _size(spool)
        return {"type": "http.request", "body": piece, "more_body": not done}

    return replaying


def _size(spool: SpooledTemporaryFile[bytes]) -> int:
    position = spool.tell()
    size = spool.seek(0, 2)
    spool.seek(position)
    return size


def _document(start: Message, content: bytes) -> Any:
    """The answer as a JSON document; None for an answer that is not JSON (not stored)."""
    headers = {name.lower(): value for name, value in start.get("headers", [])}
    if not headers.get(b"content-type", b"").startswith(b"application/json"):
        return None
    try:
        return json.loads(content)
    except ValueError:
        return None
