"""The lean routes answered in front of the middleware stack (``api.lean.LeanFront``) answer
byte for byte as the stack does: the same raw ASGI requests sent to the front and to the
stack behind it get the same messages (status, headers, body), errors included."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message

from patron.api.app import create_app
from patron.api.lean import LeanFront
from patron.settings import Settings
from tests.conftest import Api, OrgHandle, make_org, shared_app
from tests.factories import merge, register

MOBILE = "919845055555"

Request = tuple[str, str, str, list[tuple[bytes, bytes]]]


def _front(app: FastAPI) -> LeanFront:
    front = app.build_middleware_stack()
    assert isinstance(front, LeanFront)
    return front


def _scope(app: FastAPI, request: Request) -> dict[str, Any]:
    method, path, query, headers = request
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
        "app": app,  # as Starlette sets it before its middleware stack
    }


async def _sent(asgi: ASGIApp, scope: dict[str, Any]) -> tuple[list[Message], str | None]:
    """The messages ``asgi`` sends for the request, and the exception it raises after."""
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    try:
        await asgi(scope, receive, send)
    except Exception as exc:
        return messages, f"{type(exc).__name__}: {exc}"
    return messages, None


def _compare(app: FastAPI, requests: list[Request]) -> list[Message]:
    """Send each request to the front and to the stack; answer the front's start messages."""
    front = _front(app)

    async def run() -> list[Message]:
        starts = []
        for request in requests:
            scope = _scope(app, request)
            served = front._route(dict(scope)) is not None
            stack_scope = _scope(app, request)
            by_stack = await _sent(front.stack, stack_scope)
            by_front = await _sent(front, scope)
            assert by_front == by_stack, request
            if served:  # and the front took the route the router takes
                assert scope["endpoint"] is stack_scope["endpoint"], request
                assert scope["path_params"] == stack_scope["path_params"], request
            starts.append(by_front[0][0])
        return starts

    return asyncio.run(run())


def _bearer(key: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {key}".encode())]


def test_the_front_answers_as_the_stack(api: Api, engine: Engine, org: OrgHandle) -> None:
    survivor = register(api, mobile=MOBILE)
    victim = register(
        api, email="finn@example.com", source="WECHAT", account_id="acc", loyalty_type="non_loyalty"
    )
    merge(api, victim=victim, survivor_mobile=MOBILE, source="WECHAT", account_id="acc")
    stranger = register(Api(api.client, make_org(engine)), mobile="919845066666")
    viewer = _bearer(org.keys["viewer"])
    lookup = f"identifierName=mobile&identifierValue={MOBILE}"
    requests: list[Request] = [
        ("GET", "/v2/customers/lookup", lookup, viewer),
        ("GET", "/v2/customers/lookup", lookup + "&source=NOWHERE", viewer),  # 400
        ("GET", "/v2/customers/lookup", "", viewer),  # 400
        ("GET", "/v2/customers/lookup", "identifierName=mobile&identifierValue=1", viewer),  # 400
        (
            "GET",
            "/v2/customers/lookup",
            "identifierName=mobile&identifierValue=919845077777",
            viewer,
        ),
        ("GET", "/v2/customers/lookup/customerDetails", lookup, viewer),
        ("GET", "/v2/customers/lookup/customerDetails", lookup + "&embed=nothing", viewer),
        ("GET", "/v2/customers/lookup/customerDetails", lookup + "&source=WECHAT", viewer),
        (
            "GET",
            "/v2/customers/lookup/customerDetails",
            lookup + "&source=WECHAT&accountId=acc",
            viewer,
        ),
        ("GET", f"/v2/customers/{survivor}", "embed=points,subscriptions", viewer),
        ("GET", f"/v2/customers/{victim}", "", viewer),  # its survivor, with 91009
        ("GET", f"/v2/customers/{stranger}", "", viewer),  # another org's: 404
        ("GET", "/v2/customers/0", "", viewer),  # out of range: the unknown id's answer
        ("GET", "/v2/customers/99999999999999999999", "", viewer),
        ("GET", f"/v2/customers/{survivor}/loyaltyDetails", "programId=x", viewer),  # 400
        ("GET", "/v2/customers/lookup/loyaltyDetails", lookup, viewer),
        # Credentials: none, unknown, malformed (401).
        ("GET", f"/v2/customers/{survivor}", "", []),
        ("GET", f"/v2/customers/{survivor}", "", _bearer("nope")),
        ("GET", "/v2/customers/lookup", lookup, [(b"authorization", b"Basic !!")]),
        # Through the stack: a HEAD, a body (413 beyond the limit), no route, a slash more.
        ("HEAD", f"/v2/customers/{survivor}", "", viewer),
        ("GET", f"/v2/customers/{survivor}", "", [*viewer, (b"content-length", b"999999999")]),
        ("GET", "/v2/customers/abc", "", viewer),
        ("GET", "/v2/customers/lookup/", lookup, viewer),
    ]
    starts = _compare(shared_app(engine), requests)
    statuses = [start["status"] for start in starts]
    assert statuses[:14] == [200, 400, 400, 400, 404, 200, 400, 400, 200, 200, 200, 404, 404, 404]
    assert statuses[14:] == [400, 404, 401, 401, 401, 405, 413, 404, 307]


def test_an_unexpected_error_is_answered_and_raised_as_by_the_stack(tmp_path: Path) -> None:
    # A database without patron's tables: the credentials' look-up fails unexpectedly.
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    app = create_app(Settings(), engine=engine)
    request: Request = ("GET", "/v2/customers/7", "", _bearer("ptn_unknown"))
    front = _front(app)
    assert front._route(_scope(app, request)) is not None

    async def run() -> None:
        by_front = await _sent(front, _scope(app, request))
        by_stack = await _sent(front.stack, _scope(app, request))
        assert by_front == by_stack
        assert by_front[0][0]["status"] == 500
        assert by_front[1] is not None
        assert by_front[1].startswith("OperationalError")

    asyncio.run(run())
    engine.dispose()


def test_a_route_before_a_lean_one_keeps_its_paths() -> None:
    app = create_app(Settings(), engine=sa.create_engine("sqlite://"))

    def first() -> dict[str, str]:
        return {}

    app.router.routes.insert(0, APIRoute("/v2/customers/lookup", first, methods=["GET"]))
    front = _front(app)
    get: Request = ("GET", "/v2/customers/lookup", "", [])
    details: Request = ("GET", "/v2/customers/lookup/customerDetails", "", [])
    assert front._route(_scope(app, get)) is None  # the stack's router gives it to `first`
    assert front._route(_scope(app, details)) is not None
    # Overridden dependencies: every request goes through the stack.
    app.dependency_overrides[first] = first
    assert front._route(_scope(app, details)) is None


def test_sqlite_hot_reads_wait_for_their_own_threads(
    api: Api, engine: Engine, org: OrgHandle
) -> None:
    customer = register(api, mobile=MOBILE)
    app = create_app(Settings(sqlite_read_threads=1), engine=engine)
    limiter = app.state.hot_reads
    if engine.dialect.name != "sqlite":
        assert limiter is None  # PostgreSQL's reads keep the default pool
        return
    assert limiter.total_tokens == 1
    lookup = f"identifierName=mobile&identifierValue={MOBILE}"
    request: Request = ("GET", "/v2/customers/lookup", lookup, _bearer(org.keys["viewer"]))
    front = _front(app)

    async def run() -> None:
        await limiter.acquire()  # the one thread is busy
        waiting = asyncio.create_task(_sent(front, _scope(app, request)))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        limiter.release()
        messages, raised = await waiting
        assert raised is None
        assert messages[0]["status"] == 200
        assert messages[1]["body"].startswith(f'{{"entity":{customer},'.encode())

    asyncio.run(run())


def test_the_hot_reads_threads_are_bounded() -> None:
    with pytest.raises(ValidationError):
        Settings(sqlite_read_threads=0)
    with pytest.raises(ValidationError):
        Settings(sqlite_read_threads=41)
