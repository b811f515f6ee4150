"""A kind from another package (tests/fixtures/third_party_kind.py) gets its New data source form from its schema."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.portal.conftest import Portal

pytestmark = pytest.mark.usefixtures("third_party_kind")


def test_a_kind_from_another_package_has_a_form_built_from_its_schema(portal: Portal) -> None:
    page = portal.page
    token = portal.hub.token()
    portal.sign_in(token)
    portal.new_source("Greeting")
    expect(page.get_by_text("A file that greets you (a kind from another package).")).to_be_visible()
    expect(page.get_by_text("The words of the greeting.")).to_be_visible()
    portal.snap("source-new-third-party", shot=True)
    page.get_by_label("Label (required)").fill("hi")
    page.get_by_label("Greeting (required)").fill("hello portal")
    page.get_by_label("Repeat").fill("2")
    page.get_by_role("button", name="Create data source").click()
    portal.heading("greeting+hi")
    with portal.hub.client(token) as api:
        [source] = [s for s in api.get("/v1/sources").json()["sources"] if s["protocol"] == "greeting"]
        assert source["params"] == {"greeting": "hello portal", "repeat": 2}
        assert api.get("/v1/connector/greeting+hi/hello.txt").content == b"hello portal\nhello portal\n"
