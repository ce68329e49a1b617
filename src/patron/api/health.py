"""``GET /health``: whether this process answers and reaches its database.

For load balancers and orchestrators (docs/deployment.md): no credentials, no org, one
``SELECT 1`` on a pooled connection, never cached. A process whose database is out of
reach answers 503 so that the balancer sends its requests elsewhere.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from patron import __version__
from patron.api.deps import engine_of

router = APIRouter(include_in_schema=False)

_NOT_CACHED = {"Cache-Control": "no-store"}


@router.get("/health")
def health(request: Request) -> JSONResponse:
    try:
        with engine_of(request).connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except SQLAlchemyError:
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable", "version": __version__},
            status_code=503,
            headers=_NOT_CACHED,
        )
    return JSONResponse(
        {"status": "ok", "database": "ok", "version": __version__}, headers=_NOT_CACHED
    )
