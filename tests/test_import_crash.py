"""A server killed (SIGKILL) in the middle of a commit leaves the store untouched or fully
imported, never in between; started again, it finishes the import with the same result as
an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from patron.imports import repository as imports_repository
from patron.imports import service
from patron.kit.db import transaction
from patron.settings import get_settings
from tests.conftest import OrgHandle
from tests.importing import (
    Result,
    customer_count,
    editor,
    import_org,
    members_file,
    people,
    result,
    run,
    start,
)

ROWS = 20_000
PATRON = Path(sys.executable).parent / "patron"


def _serve(engine: Engine, **settings: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **settings,
        "PATRON_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "PATRON_IMPORT_LEASE_SECONDS": "2",
        # One process: a SIGKILL of a multi-process server's supervisor would leave its
        # worker processes running (and taking the next tests' imports).
        "PATRON_WORKERS": "1",
    }
    # Port 0: the kernel picks a free port; the worker is what this test needs.
    return subprocess.Popen(
        [str(PATRON), "serve", "--port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _state(engine: Engine, org: OrgHandle, import_id: int) -> str:
    with transaction(engine, write=False) as conn:
        return str(service.get_import(conn, editor(org), import_id)["state"])


def _wait_for(engine: Engine, org: OrgHandle, import_id: int, states: set[str]) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = _state(engine, org, import_id)
        if state in states:
            return state
        time.sleep(0.02)
    pytest.fail(f"import {import_id} never reached {states}")


@dataclass(frozen=True)
class Reference:
    """The file imported whole without a kill: what every killed and resumed import must end
    with."""

    data: str
    outcome: Result
    people: list[tuple[Any, ...]]


@pytest.fixture(scope="module")
def reference(engine: Engine) -> Reference:
    """Imported once per database and compared with by every test (it is only read): one
    20,000-row import instead of one per test."""
    data = members_file(ROWS, "person", "9198", bad_row=7)
    org = import_org(engine)
    with _whole_file():
        outcome = run(engine, org, data)
    assert outcome.counts["inserted"] == ROWS - 1
    return Reference(data, outcome, people(engine, org))


@pytest.mark.parametrize("delay", [0.0, 0.3, 1.0])
def test_killed_mid_commit_then_resumed(engine: Engine, reference: Reference, delay: float) -> None:
    _kill_and_resume(engine, reference, delay)


#: An import in chunks (docs/imports.md): five chunks, killed while it plans them, early in
#: their application, and late in it.
CHUNK_ROWS = 4_000


@pytest.mark.parametrize("delay", [0.2, 1.5, 3.0])
def test_an_import_in_chunks_killed_mid_commit_then_resumed(
    engine: Engine,
    reference: Reference,
    delay: float,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    settings = {"PATRON_IMPORT_CHUNK_ROWS": str(CHUNK_ROWS), "PATRON_DATA_DIR": str(tmp_path)}
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        _kill_and_resume(engine, reference, delay, **settings)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    # The steps that ended cleaned their spill files up; the killed one's directory went
    # when the restarted server started, or took its import over.
    assert list((tmp_path / "spill").iterdir()) == []


def _kill_and_resume(engine: Engine, reference: Reference, delay: float, **settings: str) -> None:
    """Kill the server ``delay`` seconds into the commit of the reference's file; the store
    holds all or nothing, and the restarted server (taking the import over once the lease
    ran out) ends with the reference's outcomes and people."""
    data = reference.data
    chunks = settings.get("PATRON_IMPORT_CHUNK_ROWS")
    expected = ROWS - 1

    org = import_org(engine)
    import_id = start(engine, org, data)
    if chunks is not None:
        with transaction(engine, write=False) as conn:
            stored = imports_repository.part_count(conn, org.id, import_id, "source")
        assert stored == -(-ROWS // int(chunks))
    with transaction(engine) as conn:
        service.confirm(conn, editor(org), import_id)
    server = _serve(engine, **settings)
    try:
        _wait_for(engine, org, import_id, {"committing", "committed"})
        time.sleep(delay)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
    state = _state(engine, org, import_id)
    count = customer_count(engine, org)
    assert count in (0, expected), f"half-applied: {count} customers"
    assert (count == expected) == (state == "committed")

    restarted = _serve(engine, **settings)
    try:
        _wait_for(engine, org, import_id, {"committed", "failed"})
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)
    finished = result(engine, org, import_id)
    assert finished.state == "committed"
    assert finished.counts == reference.outcome.counts
    assert finished.outcomes.drop("customer_id").equals(
        reference.outcome.outcomes.drop("customer_id")
    )
    assert people(engine, org) == reference.people


@contextmanager
def _whole_file() -> Iterator[None]:
    """The reference import takes the whole file, whatever the chunk size of the test."""
    saved = os.environ.pop("PATRON_IMPORT_CHUNK_ROWS", None)
    get_settings.cache_clear()
    try:
        yield
    finally:
        if saved is not None:
            os.environ["PATRON_IMPORT_CHUNK_ROWS"] = saved
        get_settings.cache_clear()
