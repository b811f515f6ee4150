"""The first hour in the portal: hosted storage and roots with breadcrumbs, the kinds menu, the label rule, state reasons."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.portal.conftest import Portal

#: The "New data source" menu, top to bottom: storage first, kinds a job makes for itself last.
MENU = [
    "S3-compatible storage",
    "Amazon S3",
    "Google Cloud Storage",
    "Storj",
    "PostgreSQL",
    "MySQL / MariaDB",
    "HTTP(S) URL",
    "Folder on the hub",
    "Synthetic data",
    "Temporary bucket",
    "Uploaded file",
    "No data",
]


def test_the_hosted_storage_is_browsable_from_the_index_with_breadcrumbs(portal: Portal) -> None:
    page = portal.page
    token = portal.hub.token()
    with portal.hub.client(token) as api:
        org = api.get("/v1/me").json()["organization"]
        assert api.put("/v1/connector/data/.my/reports/q1.csv", content=b"a,b\n1,2\n").status_code == 200
    portal.sign_in(token)
    page.get_by_role("link", name="Browse").click()
    portal.heading("Browse")
    portal.snap("browse-index", shot=True)
    page.get_by_role("link", name=f"data://{org}/").click()
    portal.heading(f"{org}/")
    path = page.get_by_role("navigation", name="Path")
    expect(path.get_by_role("link", name="data://")).to_be_visible()
    expect(path.locator("[aria-current=page]")).to_have_text(org)
    page.get_by_role("link", name="reports/").click()
    portal.heading("reports/")
    expect(page.get_by_label("Files to upload")).to_be_visible()  # the organization's own storage takes uploads
    portal.snap("browse-hosted", shot=True)
    page.get_by_role("link", name="q1.csv", exact=True).click()
    portal.heading("q1.csv")
    expect(page.locator("dl.facts")).to_contain_text(f"data://{org}/reports/q1.csv")
    portal.snap("file-detail-hosted", shot=True)  # no stray "null" below the buttons (checked on every page)


def test_a_connection_root_shows_its_breadcrumb_and_no_stray_text(portal: Portal, tmp_path: Path) -> None:
    page = portal.page
    (tmp_path / "a.txt").write_text("a")
    token = portal.hub.token()
    with portal.hub.client(token) as api:
        assert (
            api.post(
                "/v1/sources", json={"protocol": "local", "label": "root", "params": {"path": str(tmp_path)}}
            ).status_code
            == 201
        )
    portal.sign_in(token)
    portal.goto("browse/local%2Broot/")
    portal.heading("local+root://")
    expect(page.get_by_role("navigation", name="Path").locator("[aria-current=page]")).to_have_text("local+root://")
    main_text = page.get_by_role("main").inner_text()
    assert "null" not in main_text.split()
    portal.snap("browse-root", shot=True)


def test_the_kinds_menu_is_grouped_and_the_label_rule_is_said_in_words(portal: Portal) -> None:
    page = portal.page
    portal.sign_in(portal.hub.token())
    page.locator("summary", has_text="New data source").click()
    links = page.locator(".menu-list a")
    titles = [re.sub(r"\s+\S+$", "", t).strip() for t in links.all_inner_texts()]
    assert titles == MENU
    expect(page.locator(".menu-group").first).to_have_text("Object storage")
    portal.snap("sources-menu", shot=True)

    page.get_by_role("link", name=re.compile(r"^S3-compatible storage")).click()
    portal.heading("New data source: S3-compatible storage")
    label = page.get_by_label("Label (required)")
    label.fill("My Lake!")
    page.get_by_role("button", name="Create data source").click()
    message = label.evaluate("(el) => el.validationMessage")
    assert "lowercase letters" in message and "match the requested format" not in message.lower()
    expect(page.get_by_text(re.compile("A label is 1 to 63 characters"))).to_be_visible()
    portal.snap("source-new-s3-label", shot=True)


def test_a_failed_states_reason_does_not_repeat_its_label(portal: Portal, tmp_path: Path) -> None:
    page = portal.page
    token = portal.hub.token()
    with portal.hub.client(token) as api:
        made = api.post(
            "/v1/sources", json={"protocol": "local", "label": "gone", "params": {"path": str(tmp_path / "missing")}}
        )
        assert made.status_code == 201, made.text
        tested = api.post(f"/v1/sources/{made.json()['id']}/test").json()["state"]
    assert not tested["healthy"] and ":" in tested["reason"]
    title = tested["reason"].split(":", 1)[0]
    portal.sign_in(token)
    row = page.get_by_role("row", name="local+gone://")
    badge, reason = row.locator(".badge"), row.locator(".reason")
    expect(reason).to_be_visible()
    assert not reason.inner_text().startswith(title), f"the reason repeats the label {title!r}"
    assert reason.inner_text().strip() == tested["reason"].split(":", 1)[1].strip()
    expect(badge).to_be_visible()
    portal.snap("sources-failed", shot=True)
    row.get_by_role("link", name="local+gone://").click()
    portal.heading("local+gone://")
    assert not page.locator(".state .reason").inner_text().startswith(title)
    portal.snap("source-detail-failed", shot=True)
