"""A portal driver: a Chromium page on a hub on loopback that keeps every page's HTML for secret searches."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.fixtures.browser import screenshot
from tests.fixtures.hub import RunningHub


@dataclass
class Portal:
    page: Page
    hub: RunningHub
    html: dict[str, str] = field(default_factory=dict)

    def goto(self, route: str = "") -> None:
        self.page.goto(f"{self.hub.url}/#/{route}")

    def snap(self, step: str, shot: bool = False) -> None:
        """Keep the page's HTML at this step (and a screenshot when asked)."""
        self.page.wait_for_load_state("networkidle")
        self.html[step] = self.page.content()
        if shot:
            screenshot(self.page, step)

    def heading(self, text: str | re.Pattern[str]) -> Locator:
        found = self.page.get_by_role("heading", level=1, name=text)
        expect(found).to_be_visible()
        return found

    def sign_in(self, token: str) -> None:
        self.goto()
        self.heading("Sign in")
        self.snap("sign-in", shot=True)
        self.page.get_by_label("Token").fill(token)
        self.page.get_by_role("button", name="Sign in").click()
        self.heading("Data sources")

    def flash(self) -> Locator:
        return self.page.locator("#flash")

    def confirm(self, accept: bool = True) -> None:
        dialog = self.page.locator("dialog#confirm")
        expect(dialog).to_be_visible()
        self.snap(f"confirm-{len(self.html)}")
        dialog.get_by_role("button", name="Delete" if accept else "Cancel").click()
        expect(dialog).to_be_hidden()

    def new_source(self, kind_title: str) -> None:
        self.goto("sources")
        self.heading("Data sources")
        self.page.locator("summary", has_text="New data source").click()
        self.page.get_by_role("link", name=re.compile(rf"^{re.escape(kind_title)}")).click()
        self.heading(f"New data source: {kind_title}")

    def test_connection(self, expected: str | re.Pattern[str] = re.compile(r"Healthy in \d+ ms")) -> None:
        self.page.get_by_role("button", name="Test connection").click()
        expect(self.flash()).to_contain_text(expected)

    def write_from_page(self, url: str, body: str, csrf_header: bool = True) -> dict[str, object]:
        """A write from the page's own session (cookie auth), as the portal's script makes it."""
        result: dict[str, object] = self.page.evaluate(
            """async ([url, body, withCsrf]) => {
                const token = document.cookie.split('; ').find((c) => c.startsWith('headwater_csrf='))?.split('=')[1] || '';
                const response = await fetch(url, { method: 'PUT', body, headers: withCsrf ? { 'X-CSRF-Token': token } : {} });
                return { status: response.status, body: await response.json() };
            }""",
            [url, body, csrf_header],
        )
        return result

    def assert_never_shown(self, *values: str) -> None:
        assert self.html, "no page was captured"
        for step, html in self.html.items():
            for value in values:
                assert value not in html, f"a secret value appears in the HTML of step {step!r}"


@pytest.fixture
def portal(page: Page, sqlite_hub: RunningHub) -> Iterator[Portal]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    driver = Portal(page, sqlite_hub)
    yield driver
    assert errors == [], f"the page's script failed: {errors}"
