"""Finding 10: user content never renders as active content on the hub's origin.

A stored `.html` used to be served inline as `text/html` from the Data API, so a page a user uploaded
ran with an admin's session. Every file response now carries `nosniff` and a `sandbox` policy, and
anything a browser would execute (HTML, XHTML, SVG, XML, JavaScript, unknown types) is an attachment;
raster images, plain text and CSV stay inline for previews. Signed links are always attachments.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from headwater.api.content_safety import displays_inert
from tests.fixtures.hub import RunningHub

ACTIVE = {
    "page.html": b"<script>fetch('/v1/tokens',{method:'POST'})</script>",
    "page.htm": b"<script>alert(1)</script>",
    "page.xhtml": b'<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>',
    "image.svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    "feed.xml": b'<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>',
    "code.js": b"alert(1)",
    "blob.unknownext": b"<script>alert(1)</script>",
}
INERT = {
    "picture.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 16,
    "table.csv": b"a,b\n1,2\n",
    "notes.txt": b"<script>alert(1)</script> stays text",
}


@pytest.fixture
def api(sqlite_hub: RunningHub) -> Iterator[httpx.Client]:
    with sqlite_hub.client(sqlite_hub.token()) as client:
        yield client


def assert_sealed(response: httpx.Response) -> None:
    assert response.status_code in (200, 206), response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "sandbox"


@pytest.mark.parametrize("name", sorted(ACTIVE))
def test_hosted_active_content_is_an_attachment_with_nosniff_and_a_sandbox(api: httpx.Client, name: str) -> None:
    assert api.put(f"/v1/data/.my/coll/{name}", content=ACTIVE[name]).status_code == 200
    for response in (api.get(f"/v1/data/.my/coll/{name}"), api.head(f"/v1/data/.my/coll/{name}")):
        assert_sealed(response)
        assert response.headers["content-disposition"].startswith("attachment;")
        assert name in response.headers["content-disposition"]
    assert api.get(f"/v1/data/.my/coll/{name}").content == ACTIVE[name]


@pytest.mark.parametrize("name", sorted(INERT))
def test_images_csv_and_text_stay_inline_but_sealed(api: httpx.Client, name: str) -> None:
    assert api.put(f"/v1/data/.my/coll/{name}", content=INERT[name]).status_code == 200
    response = api.get(f"/v1/data/.my/coll/{name}")
    assert_sealed(response)
    assert response.headers["content-disposition"].startswith("inline;")
    assert response.content == INERT[name]


def test_a_ranged_read_of_a_page_is_sealed_too(api: httpx.Client) -> None:
    api.put("/v1/data/.my/coll/range.html", content=ACTIVE["page.html"]).raise_for_status()
    part = api.get("/v1/data/.my/coll/range.html", headers={"Range": "bytes=0-7"})
    assert part.status_code == 206 and part.content == ACTIVE["page.html"][:8]
    assert_sealed(part)
    assert part.headers["content-disposition"].startswith("attachment;")


@pytest.mark.parametrize("name", ["page.html", "image.svg", "picture.png"])
def test_a_signed_link_serves_every_file_as_a_sealed_attachment(
    api: httpx.Client, sqlite_hub: RunningHub, name: str
) -> None:
    label = f"b{uuid.uuid4().hex[:8]}"
    assert api.post("/v1/sources", json={"protocol": "bucket", "label": label}).status_code == 201
    content = {**ACTIVE, **INERT}[name]
    assert api.put(f"/v1/connector/bucket+{label}/out/{name}", content=content).status_code == 200
    [entry] = api.get(f"/v1/connector/bucket+{label}/out").json()["files"]
    with httpx.Client(base_url=sqlite_hub.url) as anonymous:
        linked = anonymous.get(entry["tempUrl"])
    assert_sealed(linked)
    assert linked.headers["content-disposition"].startswith("attachment;") and linked.content == content


def test_an_uploaded_page_behind_its_upload_link_is_a_sealed_attachment(api: httpx.Client) -> None:
    upload = api.put("/v1/uploads/page.html", params={"label": f"u{uuid.uuid4().hex[:8]}"}, content=ACTIVE["page.html"])
    assert upload.status_code == 201, upload.text
    with httpx.Client() as anonymous:
        linked = anonymous.get(upload.json()["tempUrl"])
    assert_sealed(linked)
    assert linked.headers["content-disposition"].startswith("attachment;")


@pytest.mark.parametrize(
    ("content_type", "inert"),
    [
        ("text/html; charset=utf-8", False),
        ("TEXT/HTML", False),
        ("application/xhtml+xml", False),
        ("image/svg+xml", False),
        ("application/xml", False),
        ("text/xml", False),
        ("text/javascript", False),
        ("application/javascript", False),
        ("application/octet-stream", False),
        ("application/pdf", False),
        ("video/vnd.something+xml", False),
        ("image/png", True),
        ("text/csv; charset=utf-8", True),
        ("text/plain", True),
        ("video/mp4", True),
    ],
)
def test_only_types_a_browser_shows_without_running_anything_are_inline(content_type: str, inert: bool) -> None:
    assert displays_inert(content_type) is inert
