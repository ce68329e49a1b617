"""``patron serve``: the HTTP API."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from patron.api.app import create_app
from patron.cli.common import load_settings, note, open_engine
from patron.cli.db import current_revision, head_revision


def serve(
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            help="Address to listen on (default: PATRON_HOST or 127.0.0.1).",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port", help="Port to listen on (default: PATRON_PORT or 8000).", show_default=False
        ),
    ] = None,
) -> None:
    """Serve the API (docs at /docs) until interrupted."""
    settings = load_settings()
    with open_engine(settings) as engine:
        current, head = current_revision(engine), head_revision(engine)
    if current != head:
        note(
            f"warning: the database is at revision {current or 'none'}, not {head}: "
            "run `patron db upgrade`"
        )
    uvicorn.run(
        create_app(settings, run_imports=settings.import_worker),
        host=host or settings.host,
        port=settings.port if port is None else port,
    )
