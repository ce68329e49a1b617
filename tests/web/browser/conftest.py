"""Browser fixtures: the real app served by uvicorn on a loopback port, and headless Chromium.

Browser tests run on SQLite only (the behaviour under test is the console's, not the
database's; the sessions and throttling are tested on both databases in ``tests/web``):
``engine`` is overridden here by one SQLite database, so they do not run once per backend.
Debian's ``chromium`` is driven by Playwright (its own browser download is not used).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
from sqlalchemy.engine import Engine

from patron.api.app import create_app
from patron.kit.db import create_engine
from patron.kit.migrate import upgrade
from patron.settings import Settings
from tests.conftest import BACKENDS
from tests.web.conftest import ConsoleUser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).parents[3] / "docs" / "screenshots"
#: Failed sign-ins per name before the console refuses more (small, so the test is short);
#: every test signs in from 127.0.0.1, so the per-address limit is out of the way here and
#: tested on the server side with distinct addresses.
MAX_FAILURES = 3


def console_settings(**changes: object) -> Settings:
    values: dict[str, object] = {
        "signin_max_failures": MAX_FAILURES,
        "signin_max_failures_per_address": 100_000,
        "import_worker": False,
    }
    return Settings(**(values | changes))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if "sqlite" not in BACKENDS:
        pytest.skip("browser tests run on SQLite")
    engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('console') / 'patron.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free loopback port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the port is chosen and held before the server starts
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="session")
def console(engine: Engine) -> Iterator[str]:
    """The base URL of a served console (shared by the browser tests)."""
    with serving(create_app(console_settings(), engine=engine)) as url:
        yield url


@pytest.fixture
def serve(engine: Engine) -> Iterator[Callable[[Settings], str]]:
    """Serve another app with its own settings (e.g. a short idle timeout) for one test."""
    with ExitStack() as stack:
        yield lambda settings: stack.enter_context(serving(create_app(settings, engine=engine)))


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageErrors(list[str]):
    """JavaScript errors and refused resources (CSP) a page reported."""

    def on_console(self, message: ConsoleMessage) -> None:
        # A 4xx answer is logged as "Failed to load resource": expected on 403 and 404 pages.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.append(message.text)


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Open pages in fresh browser contexts (own cookies); checks none had a script error."""
    contexts = []
    errors = PageErrors()

    def open_page(viewport: dict[str, int] = LAPTOP) -> Page:
        context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("console", errors.on_console)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == [], "the pages reported script errors"


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    return new_page()


def sign_in(page: Page, base: str, user: ConsoleUser, *, next_page: str = "/account") -> None:
    """Sign in through the form, as a person would."""
    page.goto(f"{base}/signin?next={next_page}")
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def screenshot(page: Page, name: str) -> None:
    """Keep a picture of the page for the documentation."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
