"""``patron serve``'s process keeps the cyclic garbage collector off the request path."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from patron.api.app import GC_THRESHOLDS, serve_app
from patron.settings import get_settings


@pytest.fixture
def collector() -> Iterator[None]:
    """Give the test process its collector back as it was."""
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_a_server_process_freezes_what_it_built_and_collects_less_often(
    collector: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATRON_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    monkeypatch.setenv("PATRON_IMPORT_WORKER", "false")
    get_settings.cache_clear()
    gc.unfreeze()
    try:
        app = serve_app()
    finally:
        get_settings.cache_clear()
    try:
        # The app's routes, models and compiled schemas are frozen: no collection walks them.
        assert gc.get_freeze_count() > 50_000
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > 700
        tracked = len(gc.get_objects())
        assert tracked < gc.get_freeze_count() / 2
    finally:
        app.state.engine.dispose()
