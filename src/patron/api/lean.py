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
- the session is opened as the dependency opens it (:func:`deps.open_session`), so the
  authentication, its cache and its errors are the same;
- the path values are validated by their declared fields, after the session as FastAPI
  does, raising the same ``RequestValidationError`` (so ``api.errors`` answers the same);
- the endpoint (which commits, as :class:`deps.TransactionRoute` makes it), then the
  validation and serialization of its answer by the declared response model, run in one
  worker thread: one thread hand-off a request instead of two.

Any other route keeps FastAPI's handler, and so does every request while the app has
dependency overrides. The OpenAPI document is built from the same declarations: it does
not change.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi import routing as fastapi_routing
from fastapi.datastructures import DefaultPlaceholder
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from starlette.concurrency import run_in_threadpool

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
        plan = _plan(_effective(self))
        return default if plan is None else _lean_handler(plan, default)


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
        given = request.query_params
        values: dict[str, Any] = {name: given.get(alias) for name, alias in plan.query}
        async with deps.open_session(request, plan.role) as session:
            problems: list[Any] = []
            _validate(plan.path, request.path_params, "path", values, problems)
            # An absent optional query value is its default (None), unvalidated, as in FastAPI.
            values.update((field.name, None) for field in plan.checked_query)
            present = [field for field in plan.checked_query if field.alias in given]
            _validate(present, given, "query", values, problems)
            if problems:
                raise RequestValidationError(problems)
            values[plan.session_name] = session
            content = await run_in_threadpool(_answer, plan, values)
        return Response(content=content, media_type="application/json")

    return handle


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
