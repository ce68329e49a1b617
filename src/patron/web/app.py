"""Mounting the console on the app: its routes, its static files and its error pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from patron.settings import Settings
from patron.web import errors
from patron.web.routes import (
    account,
    apidocs,
    audit,
    exports,
    imports,
    keys,
    new_profile,
    notifications,
    profile,
    profile_care,
    profile_loyalty,
    profiles,
    signin,
    upload,
    upload_check,
    users,
)
from patron.web.routes import settings as org_settings

STATIC = Path(__file__).parent / "static"
#: htmx comes from the installed ``django-js-lib-htmx`` package (a plain file in a wheel, with
#: no dependency): declared, not copied into this repository.
HTMX_PACKAGE = ("js_lib_htmx", "static")


def mount(app: FastAPI, settings: Settings) -> None:
    """Serve the console at ``/`` and the API documentation at ``/docs`` on ``app``."""
    app.state.settings = settings
    # The more specific mount first: /static/swagger-ui/... is Swagger UI's own folder.
    app.mount("/static/swagger-ui", StaticFiles(directory=swagger_ui_path), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=STATIC, packages=[HTMX_PACKAGE]), name="static")
    pages = (
        *(profiles, new_profile, profile, upload, upload_check, imports, org_settings, audit),
        *(exports, notifications, profile_loyalty, profile_care),
    )
    for module in (apidocs, signin, account, users, keys, *pages):
        app.include_router(module.router)
    errors.install(app)
