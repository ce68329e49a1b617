"""Errors on console pages: the one place that turns them into a page, a status and a message.

The API's handlers stay as they are for API paths (``/v2``, ``/api``, ``/openapi.json``);
every other path is a console page and gets an HTML answer. A request without a valid
session is sent to the sign-in page. htmx requests get the error's fragment, retargeted at
the page's main area.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from patron.kit.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PatronError,
    Unauthenticated,
)
from patron.web.deps import optional_session
from patron.web.sessions import SessionExpired
from patron.web.templating import is_htmx, render

log = logging.getLogger("patron.web")

API_PREFIXES = ("/v2", "/api/", "/openapi.json")

PAGE_STATUS: dict[type[PatronError], int] = {
    InvalidInput: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
}

TITLES = {
    400: "That did not work",
    401: "Sign-in needed",
    403: "Not allowed",
    404: "Page not found",
    405: "Not possible here",
    409: "That did not work",
    413: "Too large",
    500: "Something went wrong",
}

Handler = Callable[[Request, Exception], Any]


def is_console(request: Request) -> bool:
    """Whether the request is for a console page rather than the API."""
    path = request.url.path
    return not (path == "/api" or path.startswith(API_PREFIXES))


def error_page(request: Request, status: int, message: str) -> Response:
    """The error page (or, for htmx, the error fragment in the main area)."""
    context = {"status": status, "title": TITLES.get(status, "Error"), "message": message}
    if is_htmx(request):
        headers = {"HX-Retarget": "#main", "HX-Reswap": "innerHTML"}
        return render(request, "errors/_error.html", context, status_code=status, headers=headers)
    return render(request, "errors/error.html", context, status_code=status)


def sign_in_redirect(request: Request, *, expired: bool) -> Response:
    """Send the browser to the sign-in page, back to this page afterwards."""
    query: dict[str, str] = {}
    if request.method == "GET" and request.url.path not in ("/", "/signin"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        query["next"] = target
    if expired:
        query["expired"] = "1"
    location = "/signin" + (f"?{urlencode(query)}" if query else "")
    if is_htmx(request):
        # htmx follows this header itself; a 303 would only swap the sign-in page in.
        return Response(status_code=200, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def _patron_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PatronError)
    if isinstance(exc, Unauthenticated):
        return sign_in_redirect(request, expired=isinstance(exc, SessionExpired))
    status = next(s for cls, s in PAGE_STATUS.items() if isinstance(exc, cls))
    return error_page(request, status, exc.message)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    optional_session(request)  # so that a signed-in user keeps the navigation
    messages = {
        404: "There is no page at this address.",
        405: "This page does not accept that kind of request.",
    }
    return error_page(request, exc.status_code, messages.get(exc.status_code, str(exc.detail)))


def _validation_error(request: Request, _exc: Exception) -> Response:
    return error_page(request, 400, "The form was incomplete or held a value of the wrong kind.")


def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on a console page", exc_info=exc)
    return error_page(request, 500, "An unexpected error occurred; nothing was changed.")


def install(app: FastAPI) -> None:
    """Answer console paths with pages; API paths keep the handlers already installed."""
    pages: dict[type[Exception], Handler] = {
        PatronError: _patron_error,
        StarletteHTTPException: _http_error,
        RequestValidationError: _validation_error,
        Exception: _unexpected,
    }
    for cls, page in pages.items():
        api_handler = app.exception_handlers.get(cls)
        app.add_exception_handler(cls, _for_console(page, api_handler))


def _for_console(page: Handler, api_handler: Handler | None) -> Handler:
    async def handler(request: Request, exc: Exception) -> Any:
        chosen = page if is_console(request) or api_handler is None else api_handler
        if inspect.iscoroutinefunction(chosen):
            return await chosen(request, exc)
        if chosen is api_handler:
            return chosen(request, exc)  # builds a JSON answer, no I/O: no thread hand-off
        # Pages may read the session (a database call): off the event loop.
        return await run_in_threadpool(chosen, request, exc)

    return handler
