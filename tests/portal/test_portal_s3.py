"""The portal end to end in Chromium on a real S3 server (SeaweedFS): the seed's walk-through."""

from __future__ import annotations

import os
import re
from pathlib import Path

import obstore as obs
from playwright.sync_api import expect

from tests.fixtures.seaweedfs import Keys, SeaweedFS
from tests.portal.conftest import Portal

S3_TITLE = "S3-compatible storage"


def fill_s3_form(
    portal: Portal,
    label: str,
    server: SeaweedFS,
    bucket: str,
    keys: Keys | None,
    write: bool,
    secret: str | None = None,
) -> None:
    """Fill the S3 form: its fields come from the kind's JSON schema."""
    page = portal.page
    portal.new_source(S3_TITLE)
    page.get_by_label("Label (required)").fill(label)
    page.get_by_label("Endpoint (required)").fill(server.endpoint)
    page.get_by_label("Region").fill(server.region)
    page.get_by_label("Bucket").fill(bucket)
    page.get_by_label("Path style").select_option("true")
    if keys is not None:
        expect(page.get_by_label("Secret", exact=True)).to_have_value("new")
        page.get_by_label("Access key").fill(keys.access_key)
        page.get_by_label("Secret key").fill(keys.secret_key)
    else:
        assert secret is not None
        page.get_by_label("Secret", exact=True).select_option(f"existing:{secret}")
        expect(page.get_by_label("Secret key")).to_be_hidden()
    if write:
        page.get_by_label("Write access").check()


def test_add_an_s3_source_test_it_browse_download_and_upload(
    portal: Portal, seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    page = portal.page
    bucket = seaweedfs.create_bucket()
    report = os.urandom(1_500_000) + b"\r\n\x00"
    obs.put(seaweedfs.store(bucket), "data/report.bin", report)
    obs.put(seaweedfs.store(bucket), "data/notes.txt", b"notes")
    token = portal.hub.token()
    portal.sign_in(token)

    # "New data source" → S3 → endpoint, bucket, keys (a secret created alongside), write access.
    fill_s3_form(portal, "lake", seaweedfs, bucket, seaweedfs.rw, write=True)
    portal.snap("source-new-s3", shot=True)
    page.get_by_role("button", name="Create data source").click()
    portal.heading("s3+lake://")
    portal.snap("s3-created")
    portal.test_connection()
    expect(page.locator(".state .badge")).to_have_text("Healthy")
    portal.snap("source-detail-s3", shot=True)

    # Browse to the file, look at it, download it byte-exact.
    page.get_by_role("main").get_by_role("link", name="Browse").click()
    portal.heading("s3+lake://")
    page.get_by_role("link", name="data/").click()
    portal.heading("data/")
    portal.snap("browse-s3", shot=True)
    page.get_by_role("link", name="report.bin", exact=True).click()
    portal.heading("report.bin")
    expect(page.locator("dl.facts")).to_contain_text(f"{len(report)} bytes")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download", exact=True).click()
    assert Path(download.value.path()).read_bytes() == report
    page.get_by_role("navigation", name="Path").get_by_role("link", name="data").click()
    portal.heading("data/")

    # Upload into the bucket.
    upload = tmp_path / "upload.bin"
    upload.write_bytes(os.urandom(2 * 1024 * 1024 + 3))
    page.get_by_label("Files to upload").set_input_files(str(upload))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(portal.flash()).to_contain_text("Uploaded upload.bin")
    expect(page.get_by_role("link", name="upload.bin", exact=True)).to_be_visible()
    assert bytes(obs.get(seaweedfs.store(bucket), "data/upload.bin").bytes()) == upload.read_bytes()
    portal.snap("browse-s3-uploaded")

    # The same bucket through a read-only connection using the same secret: writes are refused.
    secret_id = page.evaluate("fetch('/v1/sources').then((r) => r.json()).then((b) => b.sources[0].secretId)")
    fill_s3_form(portal, "lake-ro", seaweedfs, bucket, None, write=False, secret=secret_id)
    page.get_by_role("button", name="Create data source").click()
    portal.heading("s3+lake-ro://")
    portal.test_connection()
    page.get_by_role("main").get_by_role("link", name="Browse").click()
    page.get_by_role("link", name="data/").click()
    portal.heading("data/")
    expect(page.get_by_text("This connection is read-only")).to_be_visible()
    refused = portal.write_from_page("/v1/connector/s3%2Blake-ro/data/new.txt", "x")
    assert refused["status"] == 403, refused
    assert "data/new.txt" not in seaweedfs.keys_in(bucket)
    portal.snap("browse-s3-read-only")

    # A read-write connection holding keys the server only lets read: the test names the
    # refusal, and an upload shows the server's refusal on the form.
    fill_s3_form(portal, "lake-reader", seaweedfs, bucket, seaweedfs.ro, write=True)
    page.get_by_role("button", name="Create data source").click()
    portal.heading("s3+lake-reader://")
    portal.test_connection(re.compile(r"Failed \(302\)"))
    expect(page.locator(".state .badge")).to_have_class(re.compile("bad"))
    portal.snap("source-detail-refused", shot=True)
    page.get_by_role("main").get_by_role("link", name="Browse").click()
    page.get_by_role("link", name="data/").click()
    portal.heading("data/")
    page.get_by_label("Files to upload").set_input_files(str(upload))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="upload.bin")).to_be_visible()
    portal.snap("upload-refused", shot=True)

    # The sources list, and no secret value (nor the token) in any page along the way.
    portal.goto("sources")
    expect(page.get_by_role("row", name="s3+lake://")).to_contain_text("Healthy")
    portal.snap("sources-s3", shot=True)
    portal.goto("secrets")
    portal.heading("Secrets")
    portal.snap("secrets-s3")
    portal.assert_never_shown(seaweedfs.rw.secret_key, seaweedfs.ro.secret_key, token)


def test_a_bucketless_connection_root_lists_its_buckets_to_browse(portal: Portal, seaweedfs: SeaweedFS) -> None:
    page = portal.page
    bucket = seaweedfs.create_bucket()
    obs.put(seaweedfs.store(bucket), "inside.txt", b"inside")
    token = portal.hub.token()
    with portal.hub.client(token) as api:
        keys = {
            "id": "lakekeys",
            "secretType": "s3",
            "accessKey": seaweedfs.rw.access_key,
            "secretKey": seaweedfs.rw.secret_key,
        }
        assert api.post("/v1/secrets", json=keys).status_code == 201
        body = {
            "protocol": "s3",
            "label": "lake",
            "access": "read",
            "secretId": "lakekeys",
            "params": {"endpoint": seaweedfs.endpoint, "region": seaweedfs.region},
        }
        assert api.post("/v1/sources", json=body).status_code == 201
    portal.sign_in(token)
    portal.goto("browse/s3%2Blake/")
    portal.heading("s3+lake://")
    expect(page.get_by_text("Something went wrong")).to_have_count(0)
    portal.snap("browse-s3-bucket-list", shot=True)
    page.get_by_role("link", name=f"{bucket}/").click()
    portal.heading(f"{bucket}/")
    expect(page.get_by_role("link", name="inside.txt", exact=True)).to_be_visible()
    portal.snap("browse-s3-buckets", shot=True)
