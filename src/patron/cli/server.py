"""``patron serve``: the HTTP API, in one process or several."""

from __future__ import annotations

import os
from typing import Annotated

import typer
import uvicorn

from patron.cli.common import load_settings, note, open_engine
from patron.cli.db import current_revision, head_revision

WORKER_HEALTHCHECK_SECONDS = 60


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
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Server processes (default: PATRON_WORKERS, or one per CPU core).",
            show_default=False,
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
    # Each process builds its own app (and engine) from the same environment: an import
    # string and a factory, as uvicorn needs to start several. Each runs an import worker
    # when enabled; their leases on the imports' rows keep any number of them apart.
    uvicorn.run(
        "patron.api.app:serve_app",
        factory=True,
        host=host or settings.host,
        port=settings.port if port is None else port,
        workers=workers or settings.workers or os.cpu_count() or 1,
        access_log=settings.access_log,
        # A worker answers the supervisor's health check once it has imported patron: on a
        # busy machine that takes longer than uvicorn's 5 s, and it would be killed in a loop.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
