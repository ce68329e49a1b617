"""Dependencies shared by the endpoints: the request's transaction and the authenticated actor.

One transaction per request (``Db``): opened by the first statement, committed when the
endpoint returns (before the answer is sent), rolled back when it raises. Requests with a
safe method (GET, HEAD, OPTIONS) get a read transaction, the others a write one (on SQLite
``BEGIN IMMEDIATE``); on PostgreSQL the hottest reads (:func:`read_session`) send their
statements without ``BEGIN`` and ``COMMIT``, as READ COMMITTED gives each statement its
own snapshot either way. The authentication runs in it too, when it needs the database:

- credentials checked within the last ``PATRON_AUTH_CACHE_SECONDS`` (5) are taken from a
  process-local cache, keyed by an HMAC of the ``Authorization`` header under a key made
  when the process starts (never the secret itself). Only accepted credentials are kept,
  so a revoked key, a deactivated user or a changed password stops working within that
  time in every process, whatever the number of processes; at once in the process that
  made the change;
- on SQLite, a write request whose credentials are not in the cache checks them first in
  a short read transaction of their own: a password's argon2 check takes tens of
  milliseconds, which must not be spent holding the database's single write lock.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import inspect
import secrets
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any, NamedTuple, TypeVar

from anyio import CapacityLimiter, to_thread
from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool
from starlette.concurrency import run_in_threadpool

from patron.auth import service as auth
from patron.auth.actor import Actor, Role
from patron.codes import generic
from patron.kit.db import connect, transaction
from patron.kit.errors import Forbidden, Unauthenticated

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def writes(request: Request) -> bool:
    """Whether the request may change data: anything but GET, HEAD and OPTIONS, unless its
    endpoint is marked :func:`read_only`; a GET whose endpoint is marked :func:`audited`."""
    return writes_by_nature(request.method, request.scope.get("endpoint"))


def writes_by_nature(method: str, endpoint: Any) -> bool:
    """Whether a request of ``method`` to ``endpoint`` may change data (see :func:`writes`)."""
    if method in SAFE_METHODS:
        return bool(getattr(endpoint, WRITES, False))
    return not getattr(endpoint, READ_ONLY, False)


READ_ONLY = "_patron_read_only"
WRITES = "_patron_writes"
#: The attribute of a :func:`require` dependency naming its role (read by ``api.contract``).
ROLE = "_patron_role"
E = TypeVar("E", bound=Callable[..., Any])


def read_only(endpoint: E) -> E:
    """Mark an endpoint of a POST (or another unsafe method) that changes nothing: it gets
    a read transaction (on SQLite, it does not queue for the write lock)."""
    setattr(endpoint, READ_ONLY, True)
    return endpoint


def audited(endpoint: E) -> E:
    """Mark an endpoint of a GET that writes (a read that is audited): it gets a write
    transaction, since on SQLite a read transaction cannot become a write one once another
    writer has committed."""
    setattr(endpoint, WRITES, True)
    return endpoint


async def request_transaction(request: Request) -> AsyncIterator[Connection]:
    """The request's one transaction (see the module docstring).

    The endpoint runs in a worker thread; so do the steps here that may wait: taking a
    connection that the pool does not hold ready, a commit that writes, a rollback. What
    cannot wait stays on the event loop, saving two thread hand-offs a request: an SQLite
    connection the pool holds (no pre-ping: a local file), the end of an SQLite read
    transaction (it releases a snapshot), returning a connection with no transaction open.
    """
    write = writes(request)
    conn = await _begin(request, write)
    try:
        yield conn
    except BaseException:
        await to_thread.run_sync(conn.close, limiter=ENDINGS)  # rolls back; FastAPI shields it
        raise
    await _end(conn, write)


async def _begin(request: Request, write: bool) -> Connection:
    engine = engine_of(request)
    if engine.dialect.name == "sqlite" and _pool_holds_one(engine):
        return connect(engine, write=write)
    return await run_in_threadpool(connect, engine, write=write)


async def _end(conn: Connection, write: bool) -> None:
    if not conn.in_transaction() or (conn.dialect.name == "sqlite" and not write):
        _finish(conn)
    else:
        await to_thread.run_sync(_finish, conn, limiter=ENDINGS)


#: Threads that end request transactions, apart from the ones endpoints run in: when every
#: endpoint thread waits for a lock (SQLite's write lock, a row), the transaction holding it
#: must still get a thread to commit, or all would wait out the busy timeout.
ENDINGS = CapacityLimiter(40)


def _pool_holds_one(engine: Engine) -> bool:
    pool = engine.pool
    return isinstance(pool, QueuePool) and pool.checkedin() > 0


def _finish(conn: Connection) -> None:
    try:
        conn.commit()
    finally:
        conn.close()


def _committing(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint``, committing the request's transaction in its own worker thread as it
    returns: a write holds SQLite's single write lock until its commit, and a hand-off to
    another thread first costs tens of milliseconds on a busy server (every other writer
    waits meanwhile). The dependency then finds nothing left to commit."""
    if inspect.iscoroutinefunction(endpoint):
        return endpoint  # it hands its own work to threads; the dependency commits

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        for value in kwargs.values():
            if isinstance(value, Session):
                value = value.conn
            if isinstance(value, Connection) and value.in_transaction():
                value.commit()
        return result

    return run


class TransactionRoute(APIRoute):
    """A route whose synchronous endpoint commits the request's transaction itself, in its
    worker thread (see :func:`_committing`): ``APIRouter(route_class=TransactionRoute)``."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _committing(endpoint), **kwargs)


#: The request's connection, in its one transaction. ``scope="function"``: committed as the
#: endpoint returns, so a failed commit is the request's answer, never a 200 sent before it.
Db = Annotated[Connection, Depends(request_transaction, scope="function")]


class CredentialCache:
    """Actors of recently accepted credentials, for ``ttl`` seconds (0: nothing is kept).

    Process-local: the TTL bounds how stale an entry may be, so several processes need
    not agree. Keyed by an HMAC of the credentials under a per-process random key.
    """

    #: Entries beyond this are dropped (expired ones first): valid credentials only.
    MAX_ENTRIES = 10_000

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._key = secrets.token_bytes(32)
        #: digest -> (expiry, credential changes when the check began, actor)
        self._entries: dict[bytes, tuple[float, int, Actor]] = {}
        self._lock = threading.Lock()

    def _digest(self, credentials: str) -> bytes:
        # The one-shot HMAC: the digest of ``hmac.new(...).digest()``, without building an
        # HMAC object on every request.
        return hmac.digest(self._key, credentials.encode("utf-8", "surrogateescape"), "sha256")

    def get(self, credentials: str) -> Actor | None:
        if self.ttl <= 0:
            return None
        found = self._entries.get(self._digest(credentials))
        if found is None or found[0] <= time.monotonic():
            return None
        if found[1] != auth.credential_changes():
            return None  # checked before a credential changed in this process
        return found[2]

    def put(self, credentials: str, actor: Actor, changes: int) -> None:
        """Keep ``actor``, checked when the process had made ``changes`` credential changes."""
        if self.ttl <= 0:
            return
        now = time.monotonic()
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= self.MAX_ENTRIES:
                    self._entries.clear()
            self._entries[self._digest(credentials)] = (now + self.ttl, changes, actor)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def credential_cache(request: Request) -> CredentialCache | None:
    cache: CredentialCache | None = getattr(request.app.state, "credentials", None)
    return cache


def authenticate(request: Request, conn: Connection | None = None) -> Actor:
    """The caller behind the request's credentials, checked once per request: in ``conn``
    (the request's transaction) when given, else in a read transaction of its own."""
    header = request.headers.get("authorization", "")
    cached = getattr(request.state, "actor", None)
    if cached is not None and getattr(request.state, "actor_header", None) == header:
        return cached  # type: ignore[no-any-return]
    cache = credential_cache(request)
    actor = cache.get(header) if cache is not None else None
    if actor is None:
        changes = auth.credential_changes()
        actor = _checked(request, header, conn)
        if cache is not None:
            cache.put(header, actor, changes)
    request.state.actor = actor
    request.state.actor_header = header
    return actor


def _checked(request: Request, header: str, conn: Connection | None) -> Actor:
    scheme, _, credentials = header.partition(" ")
    scheme = scheme.lower()
    if scheme not in ("basic", "bearer") or not credentials.strip():
        raise Unauthenticated(
            generic.UNAUTHENTICATED, "authentication required: HTTP Basic or a Bearer API key"
        )
    engine = engine_of(request)
    sqlite_write = engine.dialect.name == "sqlite" and writes(request)
    if conn is not None and (conn.in_transaction() or not sqlite_write):
        return _check_credentials(conn, scheme, credentials)
    with transaction(engine, write=False) as own:
        return _check_credentials(own, scheme, credentials)


def _check_credentials(conn: Connection, scheme: str, credentials: str) -> Actor:
    if scheme == "bearer":
        return auth.authenticate_key(conn, credentials)
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated(generic.UNAUTHENTICATED, "malformed HTTP Basic credentials") from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise Unauthenticated(generic.UNAUTHENTICATED, "malformed HTTP Basic credentials")
    return auth.authenticate_password(conn, username, password)


def _cached(request: Request) -> Actor | None:
    """The request's actor when its credentials were checked moments ago (no database)."""
    cache = credential_cache(request)
    if cache is None:
        return None
    actor = cache.get(request.headers.get("authorization", ""))
    if actor is not None:
        request.state.actor = actor
        request.state.actor_header = request.headers.get("authorization", "")
    return actor


def allowed(actor: Actor, role: Role) -> Actor:
    """``actor``, when it has ``role``; otherwise the request is forbidden."""
    if not actor.can(role):
        raise Forbidden(generic.FORBIDDEN, f"this operation needs the {role.name} role")
    return actor


def require(role: Role) -> Callable[[Request, Connection], Awaitable[Actor]]:
    """A dependency that authenticates the caller and checks it has ``role``."""

    async def dependency(request: Request, conn: Db) -> Actor:
        # Credentials in the cache cost no thread hand-off; others are checked in a worker
        # thread, in the request's transaction.
        actor = _cached(request)
        if actor is None:
            actor = await run_in_threadpool(authenticate, request, conn)
        return allowed(actor, role)

    setattr(dependency, ROLE, role)
    return dependency


viewer = require(Role.viewer)
editor = require(Role.editor)
admin = require(Role.admin)


class Session(NamedTuple):
    """The request's transaction and its authenticated caller, from one dependency."""

    conn: Connection
    actor: Actor


@asynccontextmanager
async def open_session(request: Request, role: Role) -> AsyncIterator[Session]:
    """The request's transaction and its caller, checked to have ``role``: what the
    :func:`session` dependency gives, for handlers that do without FastAPI's dependency
    solving (``api.lean``). Committed (if the endpoint has not) and closed on leaving;
    rolled back when the block raises."""
    write = writes(request)
    conn = await _begin(request, write)
    try:
        actor = _cached(request)
        if actor is None:
            actor = await run_in_threadpool(authenticate, request, conn)
        allowed(actor, role)
        yield Session(conn, actor)
    except BaseException:
        await to_thread.run_sync(conn.close, limiter=ENDINGS)  # rolls back
        raise
    await _end(conn, write)


@contextmanager
def read_session(request: Request, role: Role) -> Iterator[Session]:
    """:func:`open_session` for a request that writes nothing, whole in the calling thread:
    ``api.lean`` runs a read's transaction, authentication and endpoint in one worker
    thread, instead of handing the connection, the endpoint and the commit to a thread
    each (three hand-offs of the event loop, each a wake-up of both threads).

    On PostgreSQL its statements run without ``BEGIN`` and ``COMMIT``: under READ COMMITTED
    each statement of a transaction takes its own snapshot anyway, so a transaction around
    reads adds nothing but two round trips, a third of a look-up's (docs/configuration.md,
    "Threads and transactions"). SQLite keeps the transaction: there it is one snapshot
    for all of the read's statements, and costs no round trip."""
    with transaction(engine_of(request), write=False, lazy=True) as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT")
        # From the cache when it holds the credentials.
        yield Session(conn, allowed(authenticate(request, conn), role))


#: The attribute of a :func:`session` dependency naming its role (read by ``api.lean``).
SESSION_ROLE = "_patron_session_role"


def session(role: Role) -> Callable[[Request], AsyncIterator[Session]]:
    """A dependency giving the request's transaction (as :data:`Db`) and its caller, checked
    to have ``role`` (as :func:`require`), together: for the hottest routes, where FastAPI's
    solving of two dependencies (one depending on the other) cost more than the look-up.
    """

    async def dependency(request: Request) -> AsyncIterator[Session]:
        async with open_session(request, role) as opened:
            yield opened

    setattr(dependency, ROLE, role)
    setattr(dependency, SESSION_ROLE, role)
    return dependency


#: The request's transaction and a caller with the viewer (editor) role: ``s.conn``,
#: ``s.actor``. Committed as the endpoint returns, as :data:`Db`.
ViewerSession = Annotated[Session, Depends(session(Role.viewer), scope="function")]
EditorSession = Annotated[Session, Depends(session(Role.editor), scope="function")]

Viewer = Annotated[Actor, Depends(viewer)]
Editor = Annotated[Actor, Depends(editor)]
Admin = Annotated[Actor, Depends(admin)]
