"""The `bucket` and `bypass` kinds, signed links and the purge, through the hub's HTTP API where it is API behaviour."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from headwater import links
from headwater.connectors.base import Listing
from headwater.connectors.hosted_kinds import (
    BUCKET_TTL,
    UPLOAD_TTL,
    UploadStore,
    purge_expired,
)
from headwater.connectors.storage import FolderStorage
from headwater.services import hub_keys
from headwater.services import links as links_service
from headwater.services import sources as sources_service
from headwater.store.models import HubKey, Source
from tests.fixtures.hub import RunningHub
from tests.fixtures.loops import run_coroutine


@pytest.fixture
def api(sqlite_hub: RunningHub) -> Iterator[httpx.Client]:
    with sqlite_hub.client(sqlite_hub.token()) as client:
        yield client


def create_source(api: httpx.Client, protocol: str, access: str = "read-write", **body: Any) -> dict[str, Any]:
    response = api.post(
        "/v1/sources",
        json={"protocol": protocol, "label": protocol[:2] + uuid.uuid4().hex[:10], "access": access, **body},
    )
    assert response.status_code == 201, response.text
    return response.json()


def run_test(api: httpx.Client, source: dict[str, Any]) -> dict[str, Any]:
    response = api.post(f"/v1/sources/{source['id']}/test")
    assert response.status_code == 200, response.text
    return response.json()["state"]


def at(source: dict[str, Any], path: str = "") -> str:
    return f"/v1/connector/{source['protocol']}+{source['label']}/{path}"


def list_connector(hub: RunningHub, source_id: str, path: str = "") -> Listing:
    """List a source with the connector the hub would build for it."""
    with hub.hub.store.session() as session:
        row = session.get(Source, source_id)
        assert row is not None
        connector = sources_service.connector_for(session, hub.hub, row)

    async def run() -> Listing:
        try:
            return await connector.list(path)
        finally:
            await connector.close()

    return run_coroutine(run())


def age(path: Path, by: timedelta) -> None:
    moment = time.time() - by.total_seconds()
    os.utime(path, (moment, moment))


# -- bypass -----------------------------------------------------------------------------------


def test_bypass_holds_nothing_and_discards_writes(api: httpx.Client) -> None:
    source = create_source(api, "bypass")
    assert source["state"]["code"] == "002" and source["capabilities"] == {"input": True, "output": True}
    assert run_test(api, source)["code"] == "100"
    written = api.put(at(source, "out/result.bin"), content=os.urandom(300_000))
    assert written.status_code == 200, written.text
    assert api.get(at(source)).json() == {"folders": [], "files": []}
    missing = api.get(at(source, "out/result.bin"))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert api.head(at(source, "out/result.bin")).status_code == 404


def test_bypass_refuses_params(api: httpx.Client) -> None:
    response = api.post("/v1/sources", json={"protocol": "bypass", "label": "bp-x", "params": {"path": "/tmp"}})
    assert response.status_code == 400 and "params.path" in response.json()["error"]["message"]


# -- bucket -----------------------------------------------------------------------------------


def test_bucket_files_are_downloadable_through_signed_links(api: httpx.Client, sqlite_hub: RunningHub) -> None:
    source = create_source(api, "bucket")
    assert source["capabilities"] == {"input": False, "output": True}
    assert run_test(api, source)["code"] == "100"
    data = os.urandom(200_000)
    assert api.put(at(source, "out/part-0.bin"), content=data).status_code == 200
    read = api.get(at(source, "out/part-0.bin"))
    assert read.status_code == 405 and "output-only" in read.json()["error"]["message"]

    listing = list_connector(sqlite_hub, source["id"], "out")
    [entry] = listing.files
    assert entry.name == "part-0.bin" and entry.size == len(data)
    link = links_service.link_to(sqlite_hub.hub, entry)  # the connector says where the file is kept; the hub signs
    assert link is not None
    expires = datetime.fromisoformat(link.expires.replace("Z", "+00:00"))
    assert abs(expires - (datetime.now(UTC) + BUCKET_TTL)) < timedelta(minutes=5)
    url = link.url
    assert url.startswith("/v1/links/")

    with httpx.Client(base_url=sqlite_hub.url) as anonymous:  # no token at all
        whole = anonymous.get(url)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["content-disposition"].startswith('attachment; filename="part-0.bin"')
        part = anonymous.get(url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == data[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
        assert anonymous.get(url, headers={"Range": "bytes=999999-"}).status_code == 416
        assert anonymous.head(url).headers["content-length"] == str(len(data))
        payload, _, mac = url.rsplit("/", 1)[1].partition(".")
        forged = anonymous.get(f"/v1/links/{payload}.{mac[::-1]}")
        assert forged.status_code == 403 and forged.json()["error"]["code"] == "link_invalid"
        assert anonymous.get("/v1/links/nonsense").status_code == 403


def test_an_expired_link_is_gone(sqlite_hub: RunningHub) -> None:
    signer = links.signer(sqlite_hub.hub.settings.data_dir)
    url = signer.url("buckets/x/y/z.bin", datetime.now(UTC) - timedelta(seconds=1))
    with httpx.Client(base_url=sqlite_hub.url) as anonymous:
        response = anonymous.get(url)
    assert response.status_code == 410 and response.json()["error"]["code"] == "link_expired"


def test_the_link_key_is_private_to_the_hub(sqlite_hub: RunningHub) -> None:
    """Sealed under the master key in the store (`headwater.services.hub_keys`), never a readable file."""
    key = links.signer(sqlite_hub.hub.settings.data_dir)._key
    assert not (sqlite_hub.hub.settings.data_dir / "links.key").exists()
    with sqlite_hub.hub.store.session() as session:
        sealed = session.scalar(select(HubKey.ciphertext).where(HubKey.name == hub_keys.LINKS))
    assert sealed is not None and key.hex() not in sealed
    assert sqlite_hub.hub.vault.open_hub_key(hub_keys.LINKS, sealed) == key


def test_purge_deletes_expired_bucket_files(api: httpx.Client, sqlite_hub: RunningHub) -> None:
    source = create_source(api, "bucket")
    assert api.put(at(source, "old/a.bin"), content=b"old").status_code == 200
    assert api.put(at(source, "new.bin"), content=b"new").status_code == 200
    old_link = links_service.link_to(sqlite_hub.hub, list_connector(sqlite_hub, source["id"], "old").files[0])
    assert old_link is not None
    old_url = old_link.url
    data_dir = sqlite_hub.hub.settings.data_dir
    with sqlite_hub.hub.store.session() as session:
        row = session.get(Source, source["id"])
        assert row is not None
        org_id = row.org_id
    root = data_dir / "buckets" / org_id / source["id"]
    age(root / "old" / "a.bin", BUCKET_TTL + timedelta(hours=1))
    assert list_connector(sqlite_hub, source["id"], "old").files == []  # expired: hidden before it is purged

    assert purge_expired(sqlite_hub.hub.storage) == 1
    assert not (root / "old").exists() and (root / "new.bin").exists()
    with httpx.Client(base_url=sqlite_hub.url) as anonymous:
        assert anonymous.get(old_url).status_code == 404
    assert [f.name for f in list_connector(sqlite_hub, source["id"]).files] == ["new.bin"]


def test_purge_drops_abandoned_uploads_and_the_files_of_deleted_sources(tmp_path: Path) -> None:
    storage = FolderStorage(tmp_path)
    store = UploadStore(storage)
    abandoned = store.create("org1", "a.csv")
    storage.write_small(f"{abandoned.key}/parts/00001", b"x")
    kept = store.create("org1", "b.csv")
    bucket = tmp_path / "buckets" / "org1" / "gone-source"
    bucket.mkdir(parents=True)
    (bucket / "f.bin").write_bytes(b"y")
    assert purge_expired(storage, live_sources=set()) == 0  # young orphans are kept a while
    age(bucket / "f.bin", timedelta(hours=3))  # an orphan bucket's age is its newest file's
    assert purge_expired(storage, live_sources=set()) == 1
    assert not bucket.exists()
    kept.state, kept.source_id = "complete", "source-1"
    store.save(kept)
    later = datetime.now(UTC) + UPLOAD_TTL + timedelta(minutes=1)
    assert purge_expired(storage, later, live_sources={"source-1"}) == 2  # its meta.json and one part
    assert (
        not (tmp_path / abandoned.key).exists() and (tmp_path / kept.key).exists()
    )  # a completed upload lives as long as its source
    age(tmp_path / kept.key / "meta.json", timedelta(hours=2))
    assert purge_expired(storage, live_sources=set()) == 1
    assert not (tmp_path / kept.key).exists()


# -- connector level ----------------------------------------------------------------------
