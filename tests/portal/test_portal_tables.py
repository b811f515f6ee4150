"""Tables in the file browser: a kind that describes its tables (here `synthetic`) shows columns and first rows."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.portal.conftest import Portal


def test_a_table_shows_its_columns_and_a_preview_of_its_first_rows(portal: Portal) -> None:
    page = portal.page
    token = portal.hub.token()
    with portal.hub.client(token) as api:
        response = api.post("/v1/sources", json={"protocol": "synthetic", "label": "gen", "params": {}})
        assert response.status_code == 201, response.text
    portal.sign_in(token)
    portal.goto("browse/synthetic%2Bgen/")
    portal.heading("synthetic+gen://")
    expect(page.get_by_text("This connection is read-only")).to_be_visible()
    page.get_by_role("link", name="people.csv", exact=True).click()
    portal.heading("people.csv")
    columns = page.get_by_role("table", name="Columns")
    expect(columns.get_by_role("row")).to_have_count(1 + 8)
    expect(columns).to_contain_text("email")
    preview = page.get_by_role("table", name="First rows")
    expect(preview.get_by_role("row")).to_have_count(1 + 20)
    expect(preview.get_by_role("columnheader", name="signed_up")).to_be_visible()
    portal.snap("table-preview", shot=True)

    # A plain file of another kind has neither (and nothing is fetched for it but its metadata).
    page.get_by_role("navigation", name="Path").get_by_role("link", name="synthetic+gen://").click()
    page.get_by_role("link", name="people.parquet", exact=True).click()
    portal.heading("people.parquet")
    expect(page.get_by_role("table", name="Columns")).to_be_visible()
