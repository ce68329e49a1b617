"""The console's Jinja environment and the one way a page or a fragment is rendered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.responses import HTMLResponse

from patron.web import nav
from patron.web.sessions import WebSession
from patron.web.timezones import as_utc, localtime

#: Every console page: nothing from another host, no inline script or style (the layout has
#: none, so an injected one does not run), not framed, and never cached (some pages show a
#: password or a key once).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@pass_context
def _localtime(context: Context, value: datetime | str | None) -> str:
    if isinstance(value, str):
        # The customer document and the change history carry their times as ISO text.
        value = datetime.fromisoformat(value) if value else None
    return localtime(value, context.get("time_zone") or "UTC")


def _isotime(value: datetime | None) -> str:
    return as_utc(value).isoformat() if value is not None else ""


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("patron.web", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["localtime"] = _localtime
    env.filters["isotime"] = _isotime
    return env


environment = _environment()


def is_htmx(request: Request) -> bool:
    """Whether htmx sent the request (it then wants a fragment, not a page)."""
    return request.headers.get("hx-request") == "true"


def session_of(request: Request) -> WebSession | None:
    """The request's signed-in session, once a dependency has resolved it."""
    session: WebSession | None = getattr(request.state, "web_session", None)
    return session


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render ``template`` with the layout's values (session, navigation, CSRF token, zone)."""
    session = session_of(request)
    values: dict[str, Any] = {
        "request": request,
        "session": session,
        "nav": (
            nav.visible(session.actor, viewers_may_export=session.viewers_may_export)
            if session
            else []
        ),
        "csrf_token": session.csrf_token if session else "",
        "time_zone": session.time_zone if session else "UTC",
        "current_path": request.url.path,
        "notice": None,
        "error": None,
    }
    values.update(context or {})
    html = environment.get_template(template).render(values)
    return HTMLResponse(html, status_code, headers={**SECURITY_HEADERS, **(headers or {})})


def render_page(
    request: Request,
    page: str,
    fragment: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """The whole ``page``, or only its ``fragment`` when htmx asks (a partial update)."""
    template = fragment if is_htmx(request) else page
    return render(request, template, context, status_code=status_code)
