"""The Data API through HTTP on a `local` connection: every address form, streaming, ranges and rights."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.fixtures.hub import RunningHub


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "share"
    (root / "bucket" / "team").mkdir(parents=True)
    (root / "bucket-evil").mkdir()
    (root / "bucket" / "team.jpg").write_bytes(b"jpg")
    (root / "bucket" / "team" / "a.csv").write_text("a,b\n1,2\n")
    (root / "bucket" / "payroll.csv").write_text("secret salaries")
    (root / "bucket-evil" / "x.txt").write_text("evil")
    return root


def add_source(api: httpx.Client, folder: Path, label: str, **fields: object) -> dict[str, object]:
    body: dict[str, object] = {"protocol": "local", "label": label, "params": {"path": str(folder)}}
    body.update(fields)
    response = api.post("/v1/sources", json=body)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize(
    "url",
    [
        "/v1/connector/local+lake/bucket/team/a.csv",
        "/v1/data/local+lake://bucket/team/a.csv",
        "/v1/data/local+lake:/bucket/team/a.csv",
    ],
)
def test_every_address_form_reaches_the_same_bytes(api: httpx.Client, folder: Path, url: str) -> None:
    add_source(api, folder, "lake")
    response = api.get(url)
    assert response.status_code == 200 and response.content == b"a,b\n1,2\n"
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["etag"] and response.headers["last-modified"]


def test_head_gives_metadata_and_the_data_type(api: httpx.Client, folder: Path) -> None:
    add_source(api, folder, "lake")
    head = api.head("/v1/connector/local+lake/bucket/team/a.csv")
    assert head.status_code == 200 and head.headers["content-length"] == "8" and head.headers["x-data-type"] == "file"
    assert api.head("/v1/connector/local+lake/bucket/team").headers["x-data-type"] == "directory"


def test_range_requests_are_answered_with_206(api: httpx.Client, folder: Path) -> None:
    (folder / "bucket" / "big.bin").write_bytes(bytes(range(256)) * 4)
    add_source(api, folder, "lake")
    url = "/v1/connector/local+lake/bucket/big.bin"
    partial = api.get(url, headers={"Range": "bytes=10-19"})
    assert partial.status_code == 206 and partial.content == bytes(range(10, 20))
    assert partial.headers["content-range"] == "bytes 10-19/1024"
    assert api.get(url, headers={"Range": "bytes=-4"}).content == bytes(range(252, 256))
    assert api.get(url, headers={"Range": "bytes=1000-"}).content == bytes(range(232, 256))
    unsatisfiable = api.get(url, headers={"Range": "bytes=5000-6000"})
    assert unsatisfiable.status_code == 416 and unsatisfiable.headers["content-range"] == "bytes */1024"


def test_directory_listing_shape(api: httpx.Client, folder: Path) -> None:
    add_source(api, folder, "lake")
    listing = api.get("/v1/connector/local+lake/bucket").json()
    assert listing["folders"] == [{"name": "team"}]
    files = {f["filename"]: f for f in listing["files"]}
    assert files["team.jpg"]["size"] == 3
    assert len(files["team.jpg"]["last_modified"]) == 24 and files["team.jpg"]["last_modified"].endswith("Z")


def test_listing_pages_hold_at_most_1000_entries_with_an_opaque_marker(api: httpx.Client, folder: Path) -> None:
    many = folder / "many"
    many.mkdir()
    for i in range(1500):
        (many / f"{i:05d}").write_bytes(b"")
    add_source(api, folder, "lake")
    first = api.get("/v1/connector/local+lake/many").json()
    assert len(first["files"]) == 1000 and first["marker"]
    second = api.get("/v1/connector/local+lake/many", params={"marker": first["marker"]}).json()
    assert len(second["files"]) == 500 and "marker" not in second


def test_put_streams_a_chunked_upload_and_stores_bytes_verbatim(api: httpx.Client, folder: Path) -> None:
    add_source(api, folder, "lake", access="read-write")
    data = os.urandom(3 * 1024 * 1024 + 17)

    def body():  # type: ignore[no-untyped-def]
        for i in range(0, len(data), 100_000):
            yield data[i : i + 100_000]

    response = api.put("/v1/connector/local+lake/bucket/up/blob.bin", content=body())
    assert response.status_code == 200 and response.json() == {"result": "local+lake://bucket/up/blob.bin"}
    assert (folder / "bucket" / "up" / "blob.bin").read_bytes() == data
    assert not [p for p in (folder / "bucket" / "up").iterdir() if p.name != "blob.bin"]


def test_post_creates_a_child_directory_and_delete_needs_force_when_not_empty(api: httpx.Client, folder: Path) -> None:
    add_source(api, folder, "lake", access="read-write")
    assert api.post("/v1/connector/local+lake/bucket", json={"name": "made"}).status_code == 200
    assert (folder / "bucket" / "made").is_dir()
    api.put("/v1/connector/local+lake/bucket/made/x.txt", content=b"x")
    refused = api.delete("/v1/connector/local+lake/bucket/made")
    assert refused.status_code == 409 and "force" in refused.json()["error"]["message"]
    deleted = api.delete("/v1/connector/local+lake/bucket/made", params={"force": "true"})
    assert deleted.json() == {"result": {"deleted": 1}}
    assert not (folder / "bucket" / "made").exists()


def test_read_access_refuses_put_mkdir_and_delete_with_403(api: httpx.Client, folder: Path) -> None:
    add_source(api, folder, "lake")
    for method, url, kwargs in [
        ("PUT", "/v1/connector/local+lake/bucket/new.txt", {"content": b"x"}),
        ("POST", "/v1/connector/local+lake/bucket", {"json": {"name": "d"}}),
        ("DELETE", "/v1/connector/local+lake/bucket/team.jpg", {}),
    ]:
        response = api.request(method, url, **kwargs)
        assert response.status_code == 403 and "read-only" in response.json()["error"]["message"], (
            method,
            response.text,
        )
    assert (folder / "bucket" / "team.jpg").exists() and not (folder / "bucket" / "new.txt").exists()


def test_exact_file_restriction_allows_that_file_only(api: httpx.Client, folder: Path) -> None:
    add_source(api, folder, "lake", pathRestrictions=["bucket/team.jpg"])
    assert api.get("/v1/connector/local+lake/bucket/team.jpg").content == b"jpg"
    refused = api.get("/v1/connector/local+lake/bucket/payroll.csv")
    assert refused.status_code == 403 and "bucket/team.jpg" in refused.json()["error"]["message"]


def test_folder_star_restriction_excludes_the_evil_sibling(api: httpx.Client, folder: Path) -> None:
    add_source(api, folder, "lake", pathRestrictions=["bucket/*"])
    assert api.get("/v1/connector/local+lake/bucket/payroll.csv").status_code == 200
    assert api.get("/v1/connector/local+lake/bucket-evil/x.txt").status_code == 403
    assert api.get("/v1/connector/local+lake/bucket-evil").status_code == 403


def test_prefix_star_restriction_includes_the_sibling(api: httpx.Client, folder: Path) -> None:
    add_source(api, folder, "lake", pathRestrictions=["bucket*"])
    assert api.get("/v1/connector/local+lake/bucket-evil/x.txt").content == b"evil"


def test_listings_show_only_reachable_entries(api: httpx.Client, folder: Path) -> None:
    add_source(api, folder, "lake", pathRestrictions=["bucket/team/*"])
    root = api.get("/v1/connector/local+lake/").json()
    assert root["folders"] == [{"name": "bucket"}] and root["files"] == []
    inside = api.get("/v1/connector/local+lake/bucket").json()
    assert inside["folders"] == [{"name": "team"}] and inside["files"] == []
    assert [f["filename"] for f in api.get("/v1/connector/local+lake/bucket/team").json()["files"]] == ["a.csv"]


def test_writes_outside_restrictions_are_refused_and_leave_nothing(api: httpx.Client, folder: Path) -> None:
    add_source(api, folder, "lake", access="read-write", pathRestrictions=["bucket/team/*"])
    assert api.put("/v1/connector/local+lake/bucket/team/ok.txt", content=b"ok").status_code == 200
    refused = api.put("/v1/connector/local+lake/bucket/nope.txt", content=b"no")
    assert refused.status_code == 403
    assert not (folder / "bucket" / "nope.txt").exists()


def test_a_read_only_token_cannot_write_to_a_read_write_connection(hub_server: RunningHub, folder: Path) -> None:
    org = f"ro-{os.getpid()}-{id(folder) % 100000}"
    with hub_server.client(hub_server.token(org=org)) as admin:
        add_source(admin, folder, "lake", access="read-write")
    with hub_server.client(hub_server.token(org=org, read_only=True)) as reader:
        assert reader.get("/v1/connector/local+lake/bucket/team.jpg").status_code == 200
        response = reader.put("/v1/connector/local+lake/bucket/x.txt", content=b"x")
        assert response.status_code == 403 and "token is read-only" in response.json()["error"]["message"]


def test_a_token_narrowed_to_a_path_prefix_sees_only_that_prefix(hub_server: RunningHub, folder: Path) -> None:
    org = f"narrow-{id(folder) % 100000}"
    with hub_server.client(hub_server.token(org=org)) as admin:
        add_source(admin, folder, "lake")
        narrowed = admin.post("/v1/tokens", json={"pathPrefix": "local+lake://bucket/team/", "readOnly": True}).json()[
            "token"
        ]
    with hub_server.client(narrowed) as client:
        assert client.get("/v1/connector/local+lake/bucket/team/a.csv").status_code == 200
        assert client.get("/v1/connector/local+lake/bucket/payroll.csv").status_code == 403
        assert client.get("/v1/connector/local+lake/bucket").json() == {"folders": [{"name": "team"}], "files": []}
        assert client.get("/v1/data/.my/coll").status_code == 403


def test_every_error_has_a_json_error_body(api: httpx.Client) -> None:
    response = api.get("/v1/connector/local+missing/x")
    assert response.status_code == 404 and response.json()["error"]["message"]


def test_uploads_to_an_unconfigured_source_are_refused_with_400(api: httpx.Client) -> None:
    api.post("/v1/sources", json={"protocol": "local", "label": "half"})
    response = api.get("/v1/connector/local+half/x")
    assert response.status_code == 400 and "requires configuration" in response.json()["error"]["message"]


def test_a_client_disconnect_mid_upload_leaves_no_file(hub_server: RunningHub, api: httpx.Client, folder: Path) -> None:
    import socket

    add_source(api, folder, "lake", access="read-write")
    token = api.headers["Authorization"]
    host, port = hub_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"PUT /v1/connector/local+lake/bucket/cut.bin HTTP/1.1\r\nHost: x\r\nAuthorization: "
            + token.encode()
            + b"\r\nContent-Length: 10000000\r\n\r\n"
            + b"x" * 500_000
        )
    import time

    deadline = time.time() + 10
    while time.time() < deadline:
        leftovers = [
            p.name
            for p in (folder / "bucket").iterdir()
            if p.name.startswith(".headwater-partial-") or p.name == "cut.bin"
        ]
        if not leftovers:
            break
        time.sleep(0.1)
    assert leftovers == []


def test_a_temporary_bucket_takes_writes_lists_signed_links_and_refuses_reads(
    api: httpx.Client, hub_server: RunningHub
) -> None:
    source = api.post("/v1/sources", json={"protocol": "bucket", "label": "results"}).json()
    assert source["access"] == "read-write" and source["capabilities"] == {"input": False, "output": True}
    assert api.put("/v1/connector/bucket+results/out/part-0.csv", content=b"a,b\n").status_code == 200
    listing = api.get("/v1/connector/bucket+results/out").json()
    [entry] = listing["files"]
    assert entry["filename"] == "part-0.csv" and entry["tempUrl"].startswith("/v1/links/") and entry["expiresAt"]
    refused = api.get("/v1/connector/bucket+results/out/part-0.csv")
    assert refused.status_code == 405 and "output-only" in refused.json()["error"]["message"]
    with hub_server.client() as anonymous:
        assert anonymous.get(entry["tempUrl"]).content == b"a,b\n"
