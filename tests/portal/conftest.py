"""A portal driver: a Chromium page on a hub on loopback that keeps every page's HTML for secret searches.

Every page the driver sees is checked for stray "null"/"undefined" text; `snap(..., shot=True)` saves
the page at a laptop's and a phone's width (`<step>.png`, `<step>-phone.png`) and checks that the phone
page does not scroll sideways.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Locator, Page, expect

# The browser's fixtures live here, not in the root conftest: package-scoped here, Playwright (and the
# event loop its sync API leaves running on the main thread) ends with this package's last test, so
# async tests the same test process runs afterwards find no loop running.
from tests.fixtures.browser import LAPTOP, PHONE, browser, browser_context, page, screenshot  # noqa: F401
from tests.fixtures.hub import RunningHub


@dataclass
class Portal:
    page: Page
    hub: RunningHub
    html: dict[str, str] = field(default_factory=dict)

    def goto(self, route: str = "") -> None:
        """Open a route and wait until it has rendered: a change of the hash alone re-renders the page
        after `goto` returns, and a click on the previous page's elements could land as it is replaced."""
        url = f"{self.hub.url}/#/{route}"
        rerendered = self.page.url != url and self.page.url.split("#", maxsplit=1)[0] == url.split("#", maxsplit=1)[0]
        shown = self.page.evaluate("() => document.getElementById('main')?.dataset.rendered ?? null")
        self.page.goto(url)
        if rerendered:
            self.page.wait_for_function("n => document.getElementById('main')?.dataset.rendered !== n", arg=shown)

    def snap(self, step: str, shot: bool = False) -> None:
        """Keep the page's HTML at this step (and screenshots at both widths when asked)."""
        self.page.wait_for_load_state("networkidle")
        self.html[step] = self.page.content()
        self.assert_no_stray_text(step)
        if shot:
            self.shots(step)

    def shots(self, step: str) -> None:
        """Screenshots at a laptop's width and a phone's; a phone page never scrolls sideways."""
        screenshot(self.page, step)
        self.page.set_viewport_size(PHONE)
        try:
            self.page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
            screenshot(self.page, f"{step}-phone")
            wide = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert wide <= 1, f"step {step!r}: the page scrolls {wide}px sideways on a phone"
            self.assert_no_stray_text(f"{step} (phone)")
        finally:
            self.page.set_viewport_size(LAPTOP)

    def assert_no_stray_text(self, step: str) -> None:
        """No page shows a JavaScript "null" or "undefined" as text."""
        text = self.page.locator("body").inner_text()
        stray = re.findall(r"\bnull\b|\bundefined\b|\bNaN\b|\[object Object\]", text)
        assert not stray, f"step {step!r}: the page shows {stray} in its text:\n{text}"

    def assert_words_whole(self, where: Locator) -> None:
        """No word inside `where` is broken across two lines (each word's range has one line box).

        A line may end after a hyphen or a slash (read-/only, reports/2026/), never inside a run of letters.
        """
        broken: list[str] = self.page.evaluate(
            r"""(root) => {
                const out = [];
                const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
                for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                    if (!node.parentElement || !node.parentElement.checkVisibility()) continue;
                    for (const match of node.textContent.matchAll(/[^\s\-\/]+[\-\/]?/g)) {
                        const range = document.createRange();
                        range.setStart(node, match.index);
                        range.setEnd(node, match.index + match[0].length);
                        const lines = new Set(Array.from(range.getClientRects()).filter((r) => r.width > 0).map((r) => Math.round(r.top)));
                        if (lines.size > 1) out.push(match[0]);
                    }
                }
                return out;
            }""",
            where.element_handle(),
        )
        assert broken == [], f"words broken across lines: {broken}"

    def heading(self, text: str | re.Pattern[str]) -> Locator:
        found = self.page.get_by_role("heading", level=1, name=text)
        expect(found).to_be_visible()
        self.assert_no_stray_text(f"page {text}")
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
