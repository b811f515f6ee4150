"""The portal end to end in Chromium, on `local` sources (folders on the hub's disk)."""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.fixtures.browser import PHONE, screenshot
from tests.fixtures.hub import RunningHub
from tests.portal.conftest import Portal


def make_folder(root: Path) -> dict[str, bytes]:
    files = {"hello.bin": os.urandom(300_000) + b"\x00\r\n\xff", "sub/inner.csv": b"a,b\n1,2\n"}
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return files


def test_add_test_browse_download_upload_and_delete_on_a_local_source(portal: Portal, tmp_path: Path) -> None:
    page = portal.page
    root = tmp_path / "disk"
    root.mkdir()
    files = make_folder(root)
    token = portal.hub.token(user="ada")
    portal.sign_in(token)
    portal.snap("sources-empty")

    # New data source → the kind's form, generated from its schema.
    portal.new_source("Folder on the hub")
    page.get_by_label("Label (required)").fill("disk")
    page.get_by_label("Name", exact=True).fill("Shared disk")
    page.get_by_label("Path (required)").fill(str(root))
    page.get_by_label("Write access").check()
    portal.snap("source-new-local", shot=True)
    page.get_by_role("button", name="Create data source").click()
    portal.heading("local+disk://")
    expect(portal.flash()).to_contain_text("Created local+disk://")
    expect(page.locator(".state .badge")).to_have_text(re.compile("not tested", re.I))

    portal.test_connection()
    expect(page.locator(".state .badge")).to_have_text("Healthy")
    portal.snap("source-detail", shot=True)

    # The list shows kind, access, state and when it was checked.
    portal.goto("sources")
    row = page.get_by_role("row", name="local+disk://")
    expect(row).to_contain_text("Folder on the hub")
    expect(row).to_contain_text("Read and write")
    expect(row).to_contain_text("Healthy")
    portal.snap("sources", shot=True)

    # Browse, download byte-exact.
    row.get_by_role("link", name="Browse local+disk").click()
    portal.heading("local+disk://")
    expect(page.get_by_role("link", name="sub/")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("hello.bin"))).to_contain_text("293 KiB")
    portal.snap("browse-local", shot=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download hello.bin").click()
    assert Path(download.value.path()).read_bytes() == files["hello.bin"]

    page.get_by_role("link", name="sub/").click()
    portal.heading("sub/")
    page.get_by_role("link", name="inner.csv", exact=True).click()
    portal.heading("inner.csv")
    expect(page.locator("dl.facts")).to_contain_text("8 bytes")
    portal.snap("file-detail", shot=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download", exact=True).click()
    assert Path(download.value.path()).read_bytes() == files["sub/inner.csv"]
    page.get_by_role("navigation", name="Path").get_by_role("link", name="local+disk://").click()
    portal.heading("local+disk://")

    # Upload with a progress bar: every value the bar takes is recorded.
    upload = tmp_path / "upload.bin"
    upload.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    page.evaluate(
        """() => { window.progressSeen = [];
          new MutationObserver((changes) => changes.forEach((c) => { if (c.target.tagName === 'PROGRESS') window.progressSeen.push(c.target.value); }))
            .observe(document.getElementById('main'), { attributes: true, subtree: true, attributeFilter: ['value', 'hidden'] }); }"""
    )
    page.get_by_label("Files to upload").set_input_files(str(upload))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(portal.flash()).to_contain_text("Uploaded upload.bin")
    expect(page.get_by_role("row", name=re.compile("upload.bin"))).to_be_visible()
    assert (root / "upload.bin").read_bytes() == upload.read_bytes()
    assert page.evaluate("window.progressSeen")[-1] == 100

    # A new folder, then deletes with confirmation (cancel keeps the file).
    page.get_by_label("Folder name").fill("made")
    page.get_by_role("button", name="Create folder").click()
    expect(page.get_by_role("link", name="made/")).to_be_visible()
    assert (root / "made").is_dir()
    page.get_by_role("button", name="Delete upload.bin").click()
    portal.confirm(accept=False)
    assert (root / "upload.bin").exists()
    page.get_by_role("button", name="Delete upload.bin").click()
    portal.confirm()
    expect(portal.flash()).to_contain_text("Deleted upload.bin")
    assert not (root / "upload.bin").exists()
    page.get_by_role("button", name="Delete made").click()
    portal.confirm()
    expect(page.get_by_role("link", name="made/")).to_have_count(0)

    # Edit, then audit with filters.
    portal.goto("sources")
    page.get_by_role("link", name="local+disk://").click()
    page.get_by_role("link", name="Edit").click()
    portal.heading("Edit local+disk://")
    expect(page.get_by_label("Path (required)")).to_have_value(str(root))
    page.get_by_label("Name", exact=True).fill("Renamed disk")
    page.get_by_role("button", name="Save changes").click()
    expect(portal.flash()).to_contain_text("Saved local+disk://")
    expect(page.locator("main")).to_contain_text("Renamed disk")
    expect(page.locator(".state .badge")).to_have_text("Healthy")  # a new name keeps the checked state

    page.get_by_role("link", name="Audit").click()
    portal.heading("Audit")
    page.get_by_label("Operation").fill("data.write")
    page.get_by_label("Outcome").select_option("allowed")
    page.get_by_role("button", name="Apply filters").click()
    events = page.get_by_role("row", name=re.compile("data.write"))
    expect(events).to_have_count(1)
    expect(events).to_contain_text("upload.bin")
    portal.snap("audit", shot=True)

    # Delete the source, with confirmation.
    portal.goto("sources")
    page.get_by_role("link", name="local+disk://").click()
    page.get_by_role("button", name="Delete").click()
    portal.confirm()
    expect(portal.flash()).to_contain_text("Deleted local+disk://")
    expect(page.get_by_text("No data sources yet")).to_be_visible()
    assert (root / "hello.bin").exists()  # deleting a connection leaves its data alone
    portal.assert_never_shown(token)


def test_a_read_only_source_refuses_writes(portal: Portal, tmp_path: Path) -> None:
    page = portal.page
    (tmp_path / "keep.txt").write_text("kept")
    token = portal.hub.token()
    with portal.hub.client(token) as api:
        assert (
            api.post(
                "/v1/sources", json={"protocol": "local", "label": "ro", "params": {"path": str(tmp_path)}}
            ).status_code
            == 201
        )
    portal.sign_in(token)
    portal.goto("browse")
    portal.heading("Browse")  # the sources page, still shown a moment, links the same name to the source
    page.get_by_role("link", name="local+ro://").click()
    portal.heading("local+ro://")
    expect(page.get_by_text("This connection is read-only")).to_be_visible()
    expect(page.get_by_label("Files to upload")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Delete"))).to_have_count(0)
    portal.snap("browse-read-only", shot=True)

    refused = portal.write_from_page("/v1/connector/local%2Bro/new.txt", "x")
    assert refused["status"] == 403
    assert "read" in str(refused["body"]).lower()
    no_csrf = portal.write_from_page("/v1/connector/local%2Bro/new.txt", "x", csrf_header=False)
    assert no_csrf["status"] == 403 and "CSRF" in str(no_csrf["body"])
    assert not (tmp_path / "new.txt").exists()


def test_secrets_are_listed_created_and_replaced_but_never_shown(portal: Portal) -> None:
    page = portal.page
    token = portal.hub.token()
    first, second, old = (f"value-{uuid.uuid4().hex}" for _ in range(3))
    with portal.hub.client(token) as api:
        past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        response = api.post(
            "/v1/secrets",
            json={"id": "old-key", "secretType": "s3", "accessKey": "OLDAK", "secretKey": old, "expiresAt": past},
        )
        assert response.status_code == 201, response.text
    portal.sign_in(token)
    page.get_by_role("link", name="Secrets").click()
    portal.heading("Secrets")
    expect(page.get_by_role("row", name=re.compile("old-key"))).to_contain_text("Expired")

    page.get_by_label("ID (required)").fill("lake-key")
    page.get_by_label("Type").select_option("s3")
    page.get_by_label("Access key").fill("AKLAKE")
    page.get_by_label("Secret key (required)").fill(first)
    portal.snap("secret-typed")
    page.get_by_role("button", name="Create secret").click()
    expect(portal.flash()).to_contain_text("Created secret lake-key")
    row = page.get_by_role("row", name=re.compile("lake-key"))
    expect(row).to_contain_text("AKLAKE")
    expect(row).to_contain_text("secretKey")
    expect(page.get_by_label("Secret key (required)")).to_have_value("")
    portal.snap("secrets", shot=True)

    # A duplicate id: the API's message is shown on the form.
    page.get_by_label("ID (required)").fill("lake-key")
    page.get_by_label("Secret key (required)").fill(first)
    page.get_by_role("button", name="Create secret").click()
    expect(page.get_by_role("alert")).to_contain_text("lake-key")
    portal.snap("secret-conflict")

    row.get_by_role("link", name="Replace secret lake-key").click()
    portal.heading("Replace secret lake-key")
    expect(page.get_by_label("Access key")).to_have_value("AKLAKE")
    page.get_by_label("New secret key").fill(second)
    page.get_by_role("button", name="Replace secret").click()
    expect(portal.flash()).to_contain_text("Replaced secret lake-key")

    page.get_by_role("button", name="Delete secret old-key").click()
    portal.confirm()
    expect(page.get_by_role("row", name=re.compile("old-key"))).to_have_count(0)
    portal.snap("secrets-after")
    portal.assert_never_shown(first, second, old, token)


def test_forms_show_the_apis_error_message(portal: Portal, tmp_path: Path) -> None:
    page = portal.page
    portal.sign_in(portal.hub.token())
    portal.new_source("Folder on the hub")
    page.get_by_label("Label (required)").fill("dup")
    page.get_by_label("Path (required)").fill(str(tmp_path))
    page.get_by_role("button", name="Create data source").click()
    portal.heading("local+dup://")
    portal.new_source("Folder on the hub")
    page.get_by_label("Label (required)").fill("dup")
    page.get_by_label("Path (required)").fill(str(tmp_path))
    page.get_by_label("Path restrictions").fill("../escape")
    page.get_by_role("button", name="Create data source").click()
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    assert alert.inner_text().strip()
    portal.snap("source-form-error", shot=True)

    # A wrong token on the sign-in form.
    page.get_by_role("button", name="Sign out").click()
    portal.heading("Sign in")
    page.get_by_label("Token").fill("hw_wrong-token-wrong-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text(re.compile("token", re.I))
    portal.snap("sign-in-error", shot=True)


def test_keyboard_only_and_a_phone_screen(browser: Browser, sqlite_hub: RunningHub, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    token = sqlite_hub.token()
    with sqlite_hub.client(token) as api:
        api.post(
            "/v1/sources",
            json={"protocol": "local", "label": "phone", "params": {"path": str(tmp_path)}, "access": "read-write"},
        )
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(f"{sqlite_hub.url}/")
        # Keyboard only: the token field has focus; Enter submits; Tab reaches the menu.
        expect(page.get_by_label("Token")).to_be_focused()
        page.keyboard.type(token)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1, name="Data sources")).to_be_focused()
        screenshot(page, "phone-sources")
        summary = page.locator("summary", has_text="New data source")
        for _ in range(15):
            page.keyboard.press("Tab")
            if summary.evaluate("el => el === document.activeElement"):
                break
        expect(summary).to_be_focused()
        screenshot(page, "phone-keyboard-focus", full_page=False)
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1, name=re.compile("^New "))).to_be_visible()
        screenshot(page, "phone-new-source")
        page.goto(f"{sqlite_hub.url}/#/browse/local%2Bphone/")
        expect(page.get_by_role("link", name="a.txt", exact=True)).to_be_visible()
        screenshot(page, "phone-browse")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), (
            "the page scrolls sideways on a phone"
        )
    finally:
        context.close()


def test_jobs_are_listed_with_their_progress(portal: Portal, tmp_path: Path) -> None:
    page = portal.page
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "in" / "a.csv").write_text("a\n1\n")
    token = portal.hub.token()
    with portal.hub.client(token) as api:
        for label, folder, access in (("in", "in", "read"), ("out", "out", "read-write")):
            made = api.post(
                "/v1/sources",
                json={
                    "protocol": "local",
                    "label": label,
                    "params": {"path": str(tmp_path / folder)},
                    "access": access,
                },
            )
            assert made.status_code == 201, made.text
        job = api.post(
            "/v1/jobs", json={"source": "local+in://*.csv", "destination": "local+out://", "name": "copy-in"}
        )
        assert job.status_code == 201, job.text
    portal.sign_in(token)
    page.get_by_role("link", name="Jobs").click()
    portal.heading("Jobs")
    row = page.get_by_role("row", name="copy-in")
    expect(row).to_contain_text("local+in://*.csv → local+out://")
    expect(row.get_by_role("progressbar", name="Progress of copy-in")).to_be_visible()
    portal.snap("jobs", shot=True)
