"""Listing pages: callers may ask for up to 10,000 entries a page (`?limit=`), the default stays
Algorithmia's 1,000, pages stream as the backend yields them, and the SDK and fsspec use the large pages."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import obstore as obs
import pytest

from headwater.client import Client
from headwater.client.fsspec import HeadwaterFileSystem
from tests.fixtures.hub import RunningHub
from tests.fixtures.loops import run_coroutine
from tests.fixtures.seaweedfs import SeaweedFS

OBJECTS = 2300


@pytest.fixture
def client(sqlite_hub: RunningHub) -> Iterator[httpx.Client]:
    with sqlite_hub.client(sqlite_hub.token()) as api:
        yield api


@pytest.fixture(scope="module")
def filled_bucket(seaweedfs: SeaweedFS) -> str:
    """A bucket with `OBJECTS` files under `many/`, a sub-folder `many/sub/` and a marker-like sibling."""
    bucket = seaweedfs.create_bucket()
    store = seaweedfs.store(bucket)
    names = iter([f"many/{i:05d}.txt" for i in range(OBJECTS)] + ["many/sub/x.txt", "many-sibling.txt"])

    async def worker() -> None:
        for name in names:
            await obs.put_async(store, name, b"1")

    async def fill() -> None:
        await asyncio.gather(*(worker() for _ in range(32)))

    run_coroutine(fill())
    return bucket


def s3_source(client: httpx.Client, seaweedfs: SeaweedFS, bucket: str) -> str:
    secret = f"sw{uuid.uuid4().hex[:6]}"
    assert (
        client.post(
            "/v1/secrets",
            json={
                "id": secret,
                "secretType": "s3",
                "accessKey": seaweedfs.rw.access_key,
                "secretKey": seaweedfs.rw.secret_key,
            },
        ).status_code
        == 201
    )
    label = f"lake{uuid.uuid4().hex[:6]}"
    made = client.post(
        "/v1/sources",
        json={
            "protocol": "s3",
            "label": label,
            "access": "read",
            "secretId": secret,
            "params": {"endpoint": seaweedfs.endpoint, "region": seaweedfs.region, "bucket": bucket},
        },
    )
    assert made.status_code == 201, made.text
    return label


def pages(client: httpx.Client, url: str, limit: int | None) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    marker = None
    while True:
        params: dict[str, object] = {} if limit is None else {"limit": limit}
        if marker:
            params["marker"] = marker
        response = client.get(url, params=params)
        assert response.status_code == 200, response.text
        found.append(response.json())
        marker = response.json().get("marker")
        if not marker:
            return found


@pytest.mark.parametrize(
    ("limit", "sizes"),
    [(None, [1000, 1000, 301]), (1000, [1000, 1000, 301]), (1100, [1100, 1100, 101]), (2301, [2301]), (10000, [2301])],
)
def test_s3_pages_hold_the_asked_number_of_entries_and_resume_at_the_marker(
    client: httpx.Client, seaweedfs: SeaweedFS, filled_bucket: str, limit: int | None, sizes: list[int]
) -> None:
    label = s3_source(client, seaweedfs, filled_bucket)
    found = pages(client, f"/v1/connector/s3+{label}/many", limit)
    assert [len(p["files"]) + len(p["folders"]) for p in found] == sizes  # type: ignore[arg-type]
    files = [f["filename"] for p in found for f in p["files"]]  # type: ignore[attr-defined]
    assert files == [f"{i:05d}.txt" for i in range(OBJECTS)]
    assert [f["name"] for p in found for f in p["folders"]] == ["sub"]  # type: ignore[attr-defined]


def test_local_pages_take_a_limit_and_refuse_one_out_of_bounds(client: httpx.Client, tmp_path: Path) -> None:
    for i in range(2500):
        (tmp_path / f"{i:05d}").write_bytes(b"")
    made = client.post("/v1/sources", json={"protocol": "local", "label": "disk", "params": {"path": str(tmp_path)}})
    assert made.status_code == 201, made.text
    assert [len(p["files"]) for p in pages(client, "/v1/connector/local+disk/", 2000)] == [2000, 500]  # type: ignore[arg-type]
    for wrong in ("0", "10001", "-1", "many"):
        refused = client.get("/v1/connector/local+disk/", params={"limit": wrong})
        assert refused.status_code == 400 and "limit" in refused.json()["error"]["message"]


def test_a_listing_streams_as_the_backend_yields_it(
    client: httpx.Client, seaweedfs: SeaweedFS, filled_bucket: str
) -> None:
    label = s3_source(client, seaweedfs, filled_bucket)
    with client.stream("GET", f"/v1/connector/s3+{label}/many", params={"limit": 10000}) as response:
        assert response.status_code == 200 and response.headers["x-data-type"] == "directory"
        assert "content-length" not in response.headers  # sent in pieces, not built whole first
        assert response.headers["content-type"].startswith("application/json")
        body = response.read()
    assert len(httpx.Response(200, content=body).json()["files"]) == OBJECTS


def test_the_sdk_and_fsspec_list_a_big_folder_in_one_request(
    sqlite_hub: RunningHub, seaweedfs: SeaweedFS, filled_bucket: str
) -> None:
    token = sqlite_hub.token()
    with sqlite_hub.client(token) as api:
        label = s3_source(api, seaweedfs, filled_bucket)
    sent: list[httpx.Request] = []
    with Client(sqlite_hub.url, token) as sdk:
        sdk._transport.http.event_hooks["request"].append(sent.append)
        entries = list(sdk.dir(f"s3+{label}://many").list())
    assert len(entries) == OBJECTS + 1 and len(sent) == 1 and sent[0].url.params["limit"] == "10000"
    fs = HeadwaterFileSystem(url=sqlite_hub.url, token=token, skip_instance_cache=True)
    sent.clear()
    fs.hub._transport.http.event_hooks["request"].append(sent.append)
    assert len(fs.ls(f"s3+{label}/many")) == OBJECTS + 1
    assert [r.method for r in sent] == ["GET"] and sent[0].url.params["limit"] == "10000"
