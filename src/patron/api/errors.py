"""Every error becomes ``{"errors": [...], "warnings": [...]}`` with a fitting HTTP status.

This module is the one place where error classes meet HTTP status codes. Besides the
``PatronError`` tree (``patron.kit.errors``), one failure of the storage has a code:

    DATABASE_BUSY       98002  503 + Retry-After  SQLite's single write lock stayed with
                                                  another writer (a long import commit)
                                                  longer than the busy timeout; the request
                                                  changed nothing and may be sent again
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from patron.api.params import UNKNOWN_ID
from patron.codes import generic
from patron.kit.db import is_lock_timeout
from patron.kit.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PatronError,
    Unauthenticated,
)
from patron.web.errors import is_console

log = logging.getLogger("patron.api")

HTTP_STATUS: dict[type[PatronError], int] = {
    InvalidInput: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
}

DATABASE_BUSY_MESSAGE = (
    "the database is busy: another writer (such as an import's commit) held it longer than "
    "the busy timeout; nothing was changed, send the request again"
)
#: When to send it again: the next attempt waits the busy timeout for the lock once more.
BUSY_RETRY_AFTER_SECONDS = 5


def error_body(code: int, message: str, warnings: list[Any] | None = None) -> dict[str, Any]:
    return {
        "errors": [{"status": False, "code": code, "message": message}],
        "warnings": warnings or [],
    }


def _patron_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PatronError)
    status = next(s for cls, s in HTTP_STATUS.items() if isinstance(exc, cls))
    headers = {"WWW-Authenticate": 'Basic realm="patron"'} if status == 401 else None
    body = error_body(exc.code, exc.message, [w.as_dict() for w in exc.warnings])
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # A path id out of range names nothing: alone, it answers as the route answers an
    # unknown id; beside other problems, those answer, as they would for an unknown id.
    errors = exc.errors()
    problems = [e for e in errors if e.get("type") != UNKNOWN_ID]
    if errors and not problems:
        return _patron_error(request, errors[0]["ctx"]["answer"])
    return JSONResponse(
        error_body(generic.INVALID_INPUT, describe_validation(problems)), status_code=400
    )


def describe_validation(errors: Any) -> str:
    """One readable sentence for pydantic's error list."""
    problems = []
    for error in errors:
        if error.get("type") == "json_invalid":
            context = error.get("ctx", {}).get("error", "")
            location = error.get("loc", ("body", 0))
            problems.append(
                f"the request body is not valid JSON ({context} at character {location[-1]})"
            )
            continue
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "Input is invalid: " + "; ".join(problems)


def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = {404: "no such endpoint", 405: "method not allowed on this endpoint"}.get(
        exc.status_code, str(exc.detail)
    )
    return JSONResponse(
        error_body(exc.status_code, message), status_code=exc.status_code, headers=exc.headers
    )


def _unstorable(_request: Request, exc: Exception) -> JSONResponse:
    # The database refused a value the checks let through (too long, a NUL byte,
    # out of range): the request's fault, so a 400, but logged as a missing check.
    log.error("the database refused a value of the request", exc_info=exc)
    message = "Input is invalid: a value is too long, out of range or not storable"
    return JSONResponse(error_body(generic.INVALID_INPUT, message), status_code=400)


def database_busy() -> JSONResponse:
    """The 503 answer of a request SQLite's write lock kept waiting past the busy timeout."""
    return JSONResponse(
        error_body(generic.DATABASE_BUSY, DATABASE_BUSY_MESSAGE),
        status_code=503,
        headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
    )


def _storage_error(request: Request, exc: Exception) -> JSONResponse:
    # Only the lock timeout of an API request is answered here; any other database error,
    # and a console page's, goes on to the handler of every unexpected error.
    if not is_lock_timeout(exc) or is_console(request):
        raise exc
    log.info("%s %s: the database is busy", request.method, request.url.path)
    return database_busy()


def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    if is_lock_timeout(exc):
        return database_busy()  # met outside an endpoint (a middleware's own transaction)
    log.exception("unexpected error", exc_info=exc)
    return JSONResponse(
        error_body(generic.INTERNAL_ERROR, "internal error; nothing was changed"), status_code=500
    )


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(PatronError, _patron_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DataError, _unstorable)
    app.add_exception_handler(OperationalError, _storage_error)
    app.add_exception_handler(Exception, _unexpected)
