"""The busy bar of the upload wizard and of a report page: the import's stage and the
percentage the engine recorded, read from the partials htmx polls."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from patron.auth.actor import Role
from patron.imports import repository as repo
from patron.kit.db import transaction
from tests.web.console import Console, opened
from tests.web.test_imports_pages import draft_of, upload
from tests.web.uploads import HEADER, people, store_org, xlsx


@pytest.fixture
def console(engine: Engine) -> Iterator[Console]:
    with opened(engine) as console:
        store_org(engine, console.org)
        yield console


def _bar(html: str) -> tuple[str | None, str]:
    """The progress element's value (None: indeterminate) and the stage beside it."""
    bar = re.search(r"<progress([^>]*)></progress>", html)
    stage = re.search(r'<span class="stage" data-field="stage">([^<]*)</span>', html)
    assert bar, "no busy bar"
    assert stage, "no stage beside the bar"
    value = re.search(r' value="(\d+)" max="100"', bar.group(1))
    return (value.group(1) if value else None), stage.group(1)


def test_the_bar_shows_the_stage_and_the_recorded_percentage(
    console: Console, engine: Engine
) -> None:
    editor = console.browser(Role.editor)
    import_id = draft_of(upload(editor, ("p.xlsx", xlsx({"S": [HEADER, *people(1, 2)]}))))
    with transaction(engine) as conn:
        # Where the engine stands between its first and last write of a commit.
        assert repo.move_state(
            conn, console.org.id, import_id, ("draft",), state="committing", progress=42
        )
    status = editor.htmx(f"/imports/{import_id}/status?seen=committing")
    assert status.status_code == 200
    assert _bar(status.text) == ("42", "Committing — 42%")
    # The wizard's list of the user's files, and the report page itself, show the same.
    assert _bar(editor.htmx("/imports/files").text) == ("42", "Committing — 42%")
    assert _bar(editor.get(f"/imports/{import_id}").text) == ("42", "Committing — 42%")
    with transaction(engine) as conn:
        repo.move_state(conn, console.org.id, import_id, ("committing",), state="queued")
    # Waiting in line has no percentage: the bar runs without a value.
    waiting = editor.htmx(f"/imports/{import_id}/status?seen=queued").text
    assert _bar(waiting) == (None, "Waiting in line")
