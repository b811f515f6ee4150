"""The hub's own storage (`headwater.connectors.storage`): a folder by default, a bucket prefix on an S3-compatible store
when HEADWATER_STORAGE_URL says so, with hosted data, uploads and temporary buckets behaving the same on both."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import httpx
import pytest

from headwater.connectors.base import Credentials
from headwater.connectors.hosted_kinds import BUCKET_TTL, UploadStore, purge_expired
from headwater.connectors.s3 import Location
from headwater.connectors.s3_profiles import PROFILES
from headwater.connectors.storage import BucketStorage, FolderStorage, Storage, open_storage
from headwater.errors import Conflict, UpstreamUnavailable
from headwater.settings import Settings, SettingsError
from tests.fixtures.hub import RunningHub, start_hub
from tests.fixtures.network import free_port
from tests.fixtures.seaweedfs import SeaweedFS

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def storage_bucket(seaweedfs: SeaweedFS) -> str:
    return seaweedfs.create_bucket()


def bucket_storage(
    server: SeaweedFS, bucket: str, prefix: str | None = None, endpoint: str | None = None
) -> BucketStorage:
    location = Location(
        PROFILES["s3"],
        endpoint or server.endpoint,
        server.region,
        bucket,
        prefix or f"hub-{uuid.uuid4().hex[:10]}",
        True,
    )
    return BucketStorage(location, Credentials(server.rw.access_key, {"secretKey": server.rw.secret_key}))


@pytest.fixture(params=["folder", "object-store"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "folder":
        return FolderStorage(tmp_path)
    return bucket_storage(request.getfixturevalue("seaweedfs"), request.getfixturevalue("storage_bucket"))


async def chunks(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


class ClientGone(Exception):
    """A request body that stops half way."""


async def failing(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece
    raise ClientGone("the client went away")


# -- the storage itself -------------------------------------------------------------------------


async def test_a_reachable_storage_passes_its_check(storage: Storage) -> None:
    await storage.check()


async def test_a_storage_folder_that_is_a_file_fails_its_check(tmp_path: Path) -> None:
    (tmp_path / "taken").write_bytes(b"")
    with pytest.raises(UpstreamUnavailable):
        await FolderStorage(tmp_path / "taken").check()


async def test_an_unreachable_object_store_fails_its_check_as_unavailable(
    seaweedfs: SeaweedFS, storage_bucket: str
) -> None:
    dead = bucket_storage(seaweedfs, storage_bucket, endpoint=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(UpstreamUnavailable) as caught:
        await dead.check()
    assert seaweedfs.rw.secret_key not in str(caught.value)


async def test_small_objects_round_trip_and_a_lock_is_taken_once(storage: Storage) -> None:
    await anyio.to_thread.run_sync(storage.write_small, "uploads/o/u/meta.json", b"{}")
    assert await anyio.to_thread.run_sync(storage.read_small, "uploads/o/u/meta.json") == b"{}"
    assert await anyio.to_thread.run_sync(storage.create_exclusive, "uploads/o/u/lock") is True
    assert await anyio.to_thread.run_sync(storage.create_exclusive, "uploads/o/u/lock") is False
    keys = sorted(s.key for s in await anyio.to_thread.run_sync(lambda: list(storage.walk("uploads/o"))))
    assert keys == ["uploads/o/u/lock", "uploads/o/u/meta.json"]
    assert await anyio.to_thread.run_sync(storage.delete_tree, "uploads/o/u") == 2
    assert await anyio.to_thread.run_sync(lambda: list(storage.walk("uploads"))) == []


def test_a_bad_storage_region_is_refused_naming_its_variable(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "HEADWATER_DATA_DIR": str(tmp_path),
            "HEADWATER_STORAGE_URL": "s3://hub-data/x",
            "HEADWATER_STORAGE_REGION": "Mars!",
        }
    )
    with pytest.raises(SettingsError) as caught:
        open_storage(settings.storage, settings.data_dir)
    assert str(caught.value).startswith("HEADWATER_STORAGE_REGION must be")


def test_the_default_storage_is_the_data_dir(tmp_path: Path) -> None:
    settings = Settings.from_env({"HEADWATER_DATA_DIR": str(tmp_path)})
    storage = open_storage(settings.storage, settings.data_dir)
    assert isinstance(storage, FolderStorage) and storage.root == tmp_path


# -- uploads ------------------------------------------------------------------------------------


async def test_an_upload_in_parts_assembles_on_either_storage(storage: Storage) -> None:
    store = UploadStore(storage, chunk_size=4096)
    upload = await anyio.to_thread.run_sync(lambda: store.create("org1", "table.bin"))
    parts = [os.urandom(10_000), os.urandom(5_000), b"end"]
    for number in (3, 1, 2):
        written = await store.write_part(upload, number, chunks(parts[number - 1]))
        assert written.size == len(parts[number - 1])
    assert [p.number for p in await anyio.to_thread.run_sync(store.parts, upload)] == [1, 2, 3]
    assert await store.assemble(upload) == sum(map(len, parts))
    again = await anyio.to_thread.run_sync(store.get, "org1", upload.id)
    assert again.state == "assembled" and await anyio.to_thread.run_sync(store.parts, again) == []
    files = storage.connector(upload.key)
    assert b"".join([c async for c in files.read(f"data/{upload.filename}")]) == b"".join(parts)


async def test_a_failed_part_leaves_nothing_and_a_held_lock_refuses_a_second_completion(storage: Storage) -> None:
    store = UploadStore(storage)
    upload = await anyio.to_thread.run_sync(lambda: store.create("org1", "a.bin"))
    with pytest.raises(ClientGone):
        await store.write_part(upload, 1, failing(b"x" * 10_000))
    assert await anyio.to_thread.run_sync(store.parts, upload) == []
    await store.write_part(upload, 1, chunks(b"y"))
    await anyio.to_thread.run_sync(
        storage.create_exclusive, f"{upload.key}/completing"
    )  # another replica completing it
    with pytest.raises(Conflict):
        await store.assemble(upload)


async def test_purge_deletes_expired_bucket_files_on_either_storage(storage: Storage) -> None:
    bucket = storage.connector("buckets/org1/source-1", create=True)
    await bucket.write("out/old.bin", chunks(b"old"))
    later = datetime.now(UTC) + BUCKET_TTL + timedelta(minutes=1)
    assert (
        await anyio.to_thread.run_sync(lambda: purge_expired(storage, datetime.now(UTC), live_sources={"source-1"}))
        == 0
    )
    assert await anyio.to_thread.run_sync(lambda: purge_expired(storage, later, live_sources={"source-1"})) == 1
    assert await anyio.to_thread.run_sync(lambda: list(storage.walk("buckets"))) == []


# -- a hub whose storage is an object store -----------------------------------------------------


@pytest.fixture(scope="module")
def s3_hub(tmp_path_factory: pytest.TempPathFactory, seaweedfs: SeaweedFS, storage_bucket: str) -> Iterator[RunningHub]:
    running = start_hub(
        tmp_path_factory.mktemp("hub-s3-storage"),
        HEADWATER_STORAGE_URL=f"s3://{storage_bucket}/hub-{uuid.uuid4().hex[:8]}",
        HEADWATER_STORAGE_ENDPOINT=seaweedfs.endpoint,
        HEADWATER_STORAGE_REGION=seaweedfs.region,
        HEADWATER_STORAGE_ACCESS_KEY_ID=seaweedfs.rw.access_key,
        HEADWATER_STORAGE_SECRET_ACCESS_KEY=seaweedfs.rw.secret_key,
        HEADWATER_ALLOW_PRIVATE_ENDPOINTS="0",  # the operator's store is trusted: no user endpoint needs to be
    )
    yield running
    running.stop()


def test_a_hub_on_an_object_store_keeps_hosted_data_uploads_and_buckets_there(
    s3_hub: RunningHub, seaweedfs: SeaweedFS, storage_bucket: str
) -> None:
    data = os.urandom(1_500_000)
    with s3_hub.client(s3_hub.token()) as api, httpx.Client(base_url=s3_hub.url) as anonymous:
        assert api.post("/v1/data/.my", json={"name": "coll"}).status_code in (200, 201)
        assert api.put("/v1/data/.my/coll/f.bin", content=data).status_code == 200
        assert api.get("/v1/data/.my/coll/f.bin").content == data
        ranged = api.get("/v1/data/.my/coll/f.bin", headers={"Range": "bytes=100-199"})
        assert ranged.status_code == 206 and ranged.content == data[100:200]
        assert [f["filename"] for f in api.get("/v1/data/.my/coll").json()["files"]] == ["f.bin"]

        upload = api.put("/v1/uploads/report.csv", params={"label": "rep"}, content=data)
        assert upload.status_code == 201, upload.text
        assert upload.json()["source"]["state"]["code"] == "100"
        assert api.get("/v1/connector/file+rep/report.csv").content == data
        assert anonymous.get(upload.json()["tempUrl"]).content == data

        assert api.post("/v1/sources", json={"protocol": "bucket", "label": "out"}).status_code == 201
        assert api.put("/v1/connector/bucket+out/r/part-0.csv", content=b"a,b\n").status_code == 200
        [entry] = api.get("/v1/connector/bucket+out/r").json()["files"]
        assert anonymous.get(entry["tempUrl"]).content == b"a,b\n"

    prefix = s3_hub.hub.settings.storage.prefix
    keys = seaweedfs.keys_in(storage_bucket, prefix)
    assert any(k.endswith("/coll/f.bin") and "/hosted/" in k for k in keys)
    assert any(k.endswith("/data/report.csv") and "/uploads/" in k for k in keys)
    assert any(k.endswith("/r/part-0.csv") and "/buckets/" in k for k in keys)
    local = {p.name for p in s3_hub.hub.settings.data_dir.iterdir()}
    assert not local & {"hosted", "uploads", "buckets"}
