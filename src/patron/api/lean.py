"""A lean request handler for the hottest reads: the look-up, customerDetails, get by id.

FastAPI's own handler solves each request's dependencies and parameters generically (for
every parameter its kind, sequence checks, aliases, then a validation), and validates the
answer in a second worker thread: on a look-up that cost more CPU than the endpoint's own
work. A route of :class:`LeanRoute` whose endpoint takes nothing but one
:func:`patron.api.deps.session` dependency, ``str | None`` or ``int | None`` query
parameters and path parameters is served by a handler planned once, when the route is
built:

- the query values are read as given (what FastAPI makes of a ``str | None`` parameter:
  the last value of a repeated name, ``None`` when absent); an ``int | None`` one (an id)
  is validated by its declared field when given, as the path values are;
- the session is opened as the dependency opens it (:func:`deps.open_session`, or for a
  read :func:`deps.read_session`), so the authentication, its cache and its errors are
  the same;
- the path values are validated by their declared fields, after the session as FastAPI
  does, raising the same ``RequestValidationError`` (so ``api.errors`` answers the same);
- the endpoint (which commits, as :class:`deps.TransactionRoute` makes it), then the
  validation and serialization of its answer by the declared response model, run in one
  worker thread. A read runs all of the above in that one thread, its connection and
  commit too: one thread hand-off a request instead of four (on PostgreSQL 240 fewer
  Python calls a request). On SQLite, in at most ``PATRON_SQLITE_READ_THREADS`` threads
  at once (:func:`limit_hot_reads`).

Any other route keeps FastAPI's handler, and so does every request while the app has
dependency overrides. The OpenAPI document is built from the same declarations: it does
not change.

In front of the middleware stack, :class:`LeanFront` (``serve_in_front``) hands a plain
GET of a lean route straight to its lean handler, doing itself what the stack's layers
and router would do for it (see the class): the stack's seven layers and the router's
walk over every included route were a third of the event loop's CPU of a look-up.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

from anyio import CapacityLimiter, to_thread
from fastapi import FastAPI, Request, Response
from fastapi import routing as fastapi_routing
from fastapi.datastructures import DefaultPlaceholder
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from patron.api import deps
from patron.auth.actor import Role

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

#: The one query parameter type the lean handler reads without a validation.
_OPTIONAL_TEXT = str | None
#: The query parameter type it validates by the declared field, as path values are.
_OPTIONAL_ID = int | None
#: A ``Dependant``'s parameters that FastAPI fills from the request itself.
_SPECIAL_PARAMETERS = (
    "request_param_name",
    "websocket_param_name",
    "http_connection_param_name",
    "response_param_name",
    "background_tasks_param_name",
    "security_scopes_param_name",
)


class LeanRoute(deps.TransactionRoute):
    """A :class:`deps.TransactionRoute` served by the lean handler when its endpoint allows
    it (see the module docstring): ``APIRouter(route_class=LeanRoute)``."""

    def get_route_handler(self) -> Handler:
        default = super().get_route_handler()
        effective = _effective(self)
        plan = _plan(effective)
        if plan is None:
            return default
        handler = _lean_handler(plan, default)
        # Kept on the route as included in the app, for the front (:class:`LeanFront`).
        setattr(effective, _LEAN_HANDLER, handler)
        return handler


#: The attribute of a route (as included in the app) holding its lean handler.
_LEAN_HANDLER = "_patron_lean_handler"


@dataclass(frozen=True)
class _Plan:
    """What a lean handler needs of its route, taken once."""

    role: Role
    session_name: str
    #: (parameter name, alias) of each ``str | None`` query parameter.
    query: tuple[tuple[str, str], ...]
    #: The declared fields of the ``int | None`` query parameters (``ModelField``).
    checked_query: tuple[Any, ...]
    #: The declared fields of the path parameters (``ModelField``).
    path: tuple[Any, ...]
    endpoint: Callable[..., Any]
    response_field: Any
    serialization: dict[str, Any]
    #: The app, whose ``dependency_overrides`` send a request to FastAPI's handler.
    overrides_provider: Any


def _effective(route: LeanRoute) -> Any:
    """The route as included in the app: FastAPI builds an included route's handler with
    the inclusion's context (its prefix, dependencies, response class) in a context
    variable, and calls this route's ``get_route_handler`` meanwhile."""
    context_var = getattr(fastapi_routing, "_effective_route_context_var", None)
    context = context_var.get() if context_var is not None else None
    if context is not None and getattr(context, "original_route", None) is route:
        return context
    return route


def _plan(route: Any) -> _Plan | None:
    """The lean handler's plan for ``route``, or ``None`` when FastAPI's handler must serve
    it: anything but a session, optional ``str`` or ``int`` query parameters and path
    parameters."""
    dependant = route.dependant
    if (
        dependant is None
        or route.body_field is not None
        or route.status_code is not None
        or not isinstance(route.response_class, DefaultPlaceholder)
        or route.response_field is None
        or getattr(route, "is_json_stream", False)
        or getattr(route, "is_sse_stream", False)
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or any(getattr(dependant, name, None) is not None for name in _SPECIAL_PARAMETERS)
        or len(dependant.dependencies) != 1
    ):
        return None
    (session,) = dependant.dependencies
    role = getattr(session.call, deps.SESSION_ROLE, None)
    if (
        not isinstance(role, Role)
        or session.name is None
        or session.dependencies
        or session.query_params
        or session.path_params
        or session.header_params
        or session.cookie_params
        or session.body_params
    ):
        return None
    texts, checked = [], []
    for field in dependant.query_params:
        if field.field_info.default is not None:
            return None
        if field.field_info.annotation == _OPTIONAL_TEXT:
            texts.append(field)
        elif field.field_info.annotation == _OPTIONAL_ID:
            checked.append(field)
        else:
            return None
    return _Plan(
        role=role,
        session_name=session.name,
        query=tuple((field.name, field.alias) for field in texts),
        checked_query=tuple(checked),
        path=tuple(dependant.path_params),
        endpoint=dependant.call,
        response_field=route.response_field,
        serialization={
            "include": route.response_model_include,
            "exclude": route.response_model_exclude,
            "by_alias": route.response_model_by_alias,
            "exclude_unset": route.response_model_exclude_unset,
            "exclude_defaults": route.response_model_exclude_defaults,
            "exclude_none": route.response_model_exclude_none,
        },
        overrides_provider=route.dependency_overrides_provider,
    )


def _lean_handler(plan: _Plan, default: Handler) -> Handler:
    async def handle(request: Request) -> Response:
        if getattr(plan.overrides_provider, "dependency_overrides", None):
            return await default(request)  # a test's override must be honoured
        if deps.writes(request):
            async with deps.open_session(request, plan.role) as session:
                values = _values(plan, request, session)
                content = await run_in_threadpool(_answer, plan, values)
        else:
            limiter = getattr(request.app.state, _HOT_READS, None)  # None: the default pool
            content = await to_thread.run_sync(_read, plan, request, limiter=limiter)
        return Response(content=content, media_type="application/json")

    return handle


def _read(plan: _Plan, request: Request) -> bytes:
    """A read's answer, its transaction and authentication included, in one worker thread."""
    with deps.read_session(request, plan.role) as session:
        return _answer(plan, _values(plan, request, session))


def _values(plan: _Plan, request: Request, session: deps.Session) -> dict[str, Any]:
    """The endpoint's arguments: the query values as given, the path values and the checked
    query values validated (after the authentication, as FastAPI orders them)."""
    given = request.query_params
    values: dict[str, Any] = {name: given.get(alias) for name, alias in plan.query}
    problems: list[Any] = []
    _validate(plan.path, request.path_params, "path", values, problems)
    # An absent optional query value is its default (None), unvalidated, as in FastAPI.
    values.update((field.name, None) for field in plan.checked_query)
    present = [field for field in plan.checked_query if field.alias in given]
    _validate(present, given, "query", values, problems)
    if problems:
        raise RequestValidationError(problems)
    values[plan.session_name] = session
    return values


#: The app state's attribute holding the lean handlers' thread limiter (see below).
_HOT_READS = "hot_reads"


def limit_hot_reads(app: FastAPI, threads: int) -> None:
    """On SQLite, run the lean handlers' work in at most ``threads`` worker threads at once.

    sqlite3 releases Python's lock around each call into SQLite and takes it back after:
    with the 40 threads of the default pool, a read waits for the lock after every call,
    behind threads that only want it back too. Measured under wrk (32 connections, one
    process, BENCHMARKS.md), customerDetails answered 33-40% more requests with 4 threads
    than with 40, and its p99 halved. PostgreSQL's reads wait on the network instead, and
    keep the default pool (4 threads were no faster there). Only reads are limited: a
    read holds no lock another request needs, and waits for none (a write could wait for
    SQLite's write lock, behind an import's commit, and hold up the reads behind it).
    Every other request keeps the default pool."""
    sqlite = app.state.engine.dialect.name == "sqlite"
    setattr(app.state, _HOT_READS, CapacityLimiter(threads) if sqlite else None)


def _validate(
    fields: Any, given: Any, where: str, values: dict[str, Any], problems: list[Any]
) -> None:
    """Validate each field's given value by its declaration: into ``values`` when valid,
    its errors into ``problems`` otherwise (located as FastAPI locates them)."""
    for field in fields:
        value, errors = field.validate(given.get(field.alias), values, loc=(where, field.alias))
        if errors:
            problems.extend(errors)
        else:
            values[field.name] = value


def _answer(plan: _Plan, values: dict[str, Any]) -> bytes:
    """The endpoint's answer, validated by the route's response model and serialized."""
    raw = plan.endpoint(**values)
    value, errors = plan.response_field.validate(raw, {}, loc=("response",))
    if errors:
        raise ResponseValidationError(errors=errors, body=raw)
    content: bytes = plan.response_field.serialize_json(value, **plan.serialization)
    return content


# --- the front: the lean routes served before the middleware stack -------------------------


def serve_in_front(app: FastAPI) -> None:
    """Serve the lean routes' GETs from :class:`LeanFront`, in front of ``app``'s middleware
    stack (built, as Starlette builds it, on the first request: once every route, error
    handler and middleware is in place)."""
    build = app.build_middleware_stack

    def build_with_front() -> ASGIApp:
        stack = build()
        front = LeanFront.of(app, stack)
        return stack if front is None else front

    app.build_middleware_stack = build_with_front  # type: ignore[method-assign]


@dataclass(frozen=True)
class _FrontRoute:
    """A lean route as the app's router would select it."""

    #: The route's path as included (its prefix too), and its parameters' convertors.
    path_regex: re.Pattern[str]
    convertors: dict[str, Any]
    #: What the router puts in the scope for the endpoint: ``deps.writes`` reads it.
    endpoint: Callable[..., Any]
    handler: Handler
    #: Any route before this one in the app that also answers a GET there: such a path
    #: goes through the stack (None: there is none).
    shadow: re.Pattern[str] | None


class LeanFront:
    """The lean routes' GETs answered in front of the middleware stack; everything else
    goes through it.

    Measured (``time.process_time`` per request, in process): Starlette's and FastAPI's
    seven middleware layers and the router's walk over every included route cost a lean
    read about 100 µs of the event loop's CPU, for nothing it needs: what those layers do
    for a GET without a body is done here as they would do it:

    - ``BodySizeLimit``, FastAPI's body limit: nothing without a body (a request with a
      ``Content-Length`` or ``Transfer-Encoding`` header goes through the stack);
      ``Idempotency``: nothing for a GET; the exit stack: nothing for these handlers;
    - the router: the route selected is the first of the app's routes matching the path
      and the method (a path another route takes first, ``shadow``, goes through the stack),
      with the same ``path_params`` and ``endpoint`` in the scope;
    - ``ExceptionMiddleware`` and ``ServerErrorMiddleware``: an exception of the handler
      is answered by the app's handler for its class (``api.errors``); one without a
      handler, or raised by one, by the handler of ``Exception`` (the 500), and raised
      again for the server to log, as Starlette does.

    So the answers (status, headers, body) are the stack's; a test compares them. An app
    with dependency overrides, a root path, debug mode or FastAPI's telemetry is served by
    the stack only.
    """

    def __init__(
        self,
        app: FastAPI,
        stack: ASGIApp,
        routes: tuple[_FrontRoute, ...],
        server_error: Callable[..., Any],
    ) -> None:
        self.app = app
        self.stack = stack
        self.routes = routes
        self.server_error = server_error
        handlers = {k: v for k, v in app.exception_handlers.items() if k not in (500, Exception)}
        self.status_handlers = {k: v for k, v in handlers.items() if isinstance(k, int)}
        self.exception_handlers = {k: v for k, v in handlers.items() if not isinstance(k, int)}

    @classmethod
    def of(cls, app: FastAPI, stack: ASGIApp) -> LeanFront | None:
        """The front of ``app``, or None when it has no lean route it can serve."""
        server_error = app.exception_handlers.get(Exception)
        handled = HTTPException in app.exception_handlers  # else Starlette's own answer
        if app.debug or app.root_path or server_error is None or not handled:
            return None
        routes = _front_routes(app)
        return cls(app, stack, routes, server_error) if routes else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._route(scope)
        if route is None:
            await self.stack(scope, receive, send)
            return
        match = route.path_regex.match(scope["path"])
        assert match is not None
        params = {k: route.convertors[k].convert(v) for k, v in match.groupdict().items()}
        scope["path_params"] = params
        scope["endpoint"] = route.endpoint
        request = Request(scope, receive, send)
        started = False

        async def sender(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            response = await route.handler(request)
            await response(scope, receive, sender)
        except Exception as exc:
            await self._failed(request, exc, started, sender)

    def _route(self, scope: Scope) -> _FrontRoute | None:
        """The lean route the router would select for this request, or None: not a plain
        GET of a lean route's path, or an app the stack must serve."""
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope.get("root_path")
            or "fastapi.telemetry" in scope
            or self.app.dependency_overrides
        ):
            return None
        path = scope["path"]
        for route in self.routes:
            if route.path_regex.match(path) is not None:
                break
        else:
            return None
        if route.shadow is not None and route.shadow.match(path) is not None:
            return None
        for name, _value in scope["headers"]:
            if name in (b"content-length", b"transfer-encoding"):
                return None  # a body: the limits decide
        return route

    async def _failed(self, request: Request, exc: Exception, started: bool, send: Send) -> None:
        """Answer ``exc`` as ``ExceptionMiddleware``, then ``ServerErrorMiddleware`` would."""
        scope, receive = request.scope, request.receive
        handlers = self.exception_handlers
        handler = None
        if isinstance(exc, HTTPException):
            handler = self.status_handlers.get(exc.status_code)
        if handler is None:
            handler = next((handlers[c] for c in type(exc).__mro__ if c in handlers), None)
        if handler is not None:
            try:
                if started:
                    raise RuntimeError(
                        "Caught handled exception, but response already started."
                    ) from exc
                response = await _called(handler, request, exc)
                if response is not None:
                    await response(scope, receive, send)
                exc.__traceback__ = None  # as Starlette: a reused exception keeps no trace
                return
            except Exception as raised:
                exc = raised
        response = await _called(self.server_error, Request(scope), exc)
        if not started:
            await response(scope, receive, send)
        raise exc


async def _called(handler: Callable[..., Any], request: Request, exc: Exception) -> Any:
    """``handler``'s answer to ``exc``: awaited when asynchronous, else (as Starlette calls
    it) in a worker thread."""
    if inspect.iscoroutinefunction(handler):
        return await handler(request, exc)
    answer = await run_in_threadpool(handler, request, exc)
    return await answer if inspect.isawaitable(answer) else answer


def _front_routes(app: FastAPI) -> tuple[_FrontRoute, ...]:
    """The app's lean routes in the router's order, each with the GET routes before it."""
    before: list[str] = []
    found: list[_FrontRoute] = []
    for route in _routes_in_order(app):
        if route is None:
            break  # a route the front cannot reason about: the lean ones after it are not served
        regex = getattr(route, "path_regex", None)
        methods = getattr(route, "methods", None)
        handler = getattr(route, _LEAN_HANDLER, None)
        if regex is None:
            break
        if handler is not None and getattr(route, "max_body_size", None) is None:
            shadow = re.compile("|".join(before)) if before else None
            convertors = dict(getattr(route, "param_convertors", {}))
            endpoint = getattr(route, "endpoint", None)
            if endpoint is not None:
                found.append(_FrontRoute(regex, convertors, endpoint, handler, shadow))
        if not methods or "GET" in methods:
            # Named groups would clash in one pattern; whether it matches is all that counts.
            before.append("(?:" + re.sub(r"\(\?P<\w+>", "(?:", regex.pattern) + ")")
    return tuple(found)


def _routes_in_order(app: FastAPI) -> Iterator[Any]:
    """The app's routes as its router tries them (an included router's in its place), each
    as included (prefixed); None for one whose matching the front does not know."""
    for route in app.router.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is None:
            yield route if isinstance(route, (APIRoute, Route, Mount)) else None
            continue
        for context in contexts():
            original = context.original_route
            if isinstance(original, APIRoute):
                yield context
            elif isinstance(context.starlette_route, Route):
                yield context.starlette_route
            else:
                yield None
