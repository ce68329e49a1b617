"""/docs works offline: every request it makes goes to patron itself."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request, expect

pytestmark = pytest.mark.sqlite_only


def test_the_api_documentation_loads_everything_from_patron(page: Page, console: str) -> None:
    hosts: list[str] = []

    def record(request: Request) -> None:
        if not request.url.startswith("data:"):
            hosts.append(urlsplit(request.url).netloc)

    page.on("request", record)
    page.goto(f"{console}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("patron")
    expect(page.get_by_text("/v2/customers").first).to_be_visible()
    assert hosts
    assert set(hosts) == {urlsplit(console).netloc}
