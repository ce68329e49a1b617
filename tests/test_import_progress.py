"""An import's step shows how far it has got while it runs: read from other connections
(the API and the console's status, and on PostgreSQL the import's row itself), its
progress passes values strictly between 0 and 100 before the step ends at 100."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.auth.actor import Role
from patron.imports import jobs, progress, service
from patron.imports.tables import imports
from patron.kit.db import transaction
from tests.conftest import Api
from tests.importing import csv, editor, letters, result, start
from tests.web.console import opened
from tests.web.uploads import store_org

HEADER = "First Name,Last Name,Mobile,Email,Store"
#: Enough rows that the commit lasts several of the figure's writes (about a second each).
ROWS = 12_000


def _data(rows: int) -> str:
    return csv(
        HEADER,
        *(
            f"{letters(i)},{letters(i + 3)},9196{i:08d},prog{i}@example.com,mal"
            for i in range(rows)
        ),
    )


def test_a_running_commit_shows_its_progress_between_0_and_100(
    engine: Engine, app_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = ExitStack()
    with stack:
        _observe(engine, app_client, stack, monkeypatch)


def _pause_midway(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Make the next step pause at its first figure above 0 until the answered event is
    set (or a minute has passed): a commit can end faster than one round of the
    observer's reads, so what is asserted must not depend on the machine's speed."""
    midway = threading.Event()
    seen = threading.Event()
    reached = progress.Tracker.reached

    def reached_then_pause(tracker: progress.Tracker, percent: float) -> None:
        reached(tracker, percent)
        if 0 < tracker.percent < 100 and not midway.is_set():
            midway.set()
            seen.wait(timeout=60)

    monkeypatch.setattr(progress.Tracker, "reached", reached_then_pause)
    return seen


def _observe(
    engine: Engine, app_client: TestClient, stack: ExitStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    console = stack.enter_context(opened(engine))
    org = console.org
    store_org(engine, org)
    browser = console.browser(Role.viewer)
    api = Api(app_client, org)
    import_id = start(engine, org, _data(ROWS))
    assert result(engine, org, import_id).counts["rejected"] == 0
    with transaction(engine) as conn:
        service.confirm(conn, editor(org), import_id)

    midway_seen = _pause_midway(monkeypatch)  # the commit's step only: not the preview
    # This import's steps only: the session's database may hold another test's import
    # still waiting, whose step would take the pause (and the observer a minute).
    worker = threading.Thread(target=jobs.run_import, args=(engine, org.id, import_id))
    seen: list[tuple[str, Any, Any, Any]] = []
    worker.start()
    try:
        while worker.is_alive():
            answer = api.get(f"/v2/imports/{import_id}").json()
            page = browser.htmx(f"/imports/{import_id}/status")
            with transaction(engine, write=False) as conn:
                row = conn.execute(
                    sa.select(imports.c.progress).where(imports.c.id == import_id)
                ).scalar_one()
            seen.append((answer["state"], answer["progress"], page.text, row))
            shown = answer["progress"]
            if (
                answer["state"] == "committing"
                and 0 < shown < 100
                and f"{shown}%" in page.text
                and (engine.dialect.name != "postgresql" or row == shown)
            ):
                midway_seen.set()
            time.sleep(0.1)
    finally:
        midway_seen.set()
        worker.join()

    during = [(progress, text, row) for state, progress, text, row in seen if state == "committing"]
    between = [progress for progress, _, _ in during if 0 < progress < 100]
    assert between, seen
    assert between == sorted(between)  # never backwards
    # The console's status shows the same figure.
    assert any(f"{p}%" in text for p, text, _ in during if 0 < p < 100)
    if engine.dialect.name == "postgresql":
        # There the figure is the import's own column, read on a connection of its own.
        assert any(0 < row < 100 for _, _, row in during)
    final = api.get(f"/v2/imports/{import_id}").json()
    assert (final["state"], final["progress"]) == ("committed", 100)
