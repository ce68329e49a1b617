"""The console's cookies: ``HttpOnly``, ``SameSite=Lax``, ``Secure`` on HTTPS (or always)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from patron.web.deps import settings_of


def is_secure(request: Request) -> bool:
    """Whether cookies must be ``Secure``: an HTTPS request, or the setting says always."""
    return request.url.scheme == "https" or settings_of(request).session_cookie_secure


def set_cookie(
    response: Response, request: Request, name: str, value: str, *, path: str = "/"
) -> None:
    """Set a cookie scripts cannot read and other sites' forms do not send."""
    response.set_cookie(
        name, value, path=path, httponly=True, samesite="lax", secure=is_secure(request)
    )


def delete_cookie(response: Response, request: Request, name: str, *, path: str = "/") -> None:
    response.delete_cookie(
        name, path=path, httponly=True, samesite="lax", secure=is_secure(request)
    )
