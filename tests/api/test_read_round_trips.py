"""A read through the Data API costs the backend one request: the object's metadata comes with its bytes.

The hub's S3 source points at a counting forwarder in front of SeaweedFS, so every request the
hub makes to the backend is seen and counted on a real HTTP server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import httpx
import obstore as obs
import pytest

from tests.fixtures.counting_forwarder import CountingForwarder, counted_seaweedfs  # noqa: F401 - a fixture
from tests.fixtures.hub import RunningHub
from tests.fixtures.seaweedfs import SeaweedFS

PAYLOAD = os.urandom(256 * 1024 + 3)


@pytest.fixture
def lake(
    sqlite_hub: RunningHub, seaweedfs: SeaweedFS, counted_seaweedfs: CountingForwarder
) -> Iterator[tuple[httpx.Client, str]]:
    """A client of an organization with an S3 source on the counted endpoint; the bucket holds `data/blob.bin`."""
    bucket = seaweedfs.create_bucket()
    obs.put(seaweedfs.store(bucket), "data/blob.bin", PAYLOAD)
    client = sqlite_hub.client(sqlite_hub.token())
    secret = client.post(
        "/v1/secrets",
        json={
            "id": f"sw{uuid.uuid4().hex[:6]}",
            "secretType": "s3",
            "accessKey": seaweedfs.rw.access_key,
            "secretKey": seaweedfs.rw.secret_key,
        },
    )
    assert secret.status_code == 201, secret.text
    created = client.post(
        "/v1/sources",
        json={
            "protocol": "s3",
            "label": "lake",
            "access": "read",
            "secretId": secret.json()["id"],
            "params": {"endpoint": counted_seaweedfs.url, "region": seaweedfs.region, "bucket": bucket},
        },
    )
    assert created.status_code == 201, created.text
    counted_seaweedfs.take()
    try:
        yield client, bucket
    finally:
        client.close()


def test_a_whole_read_is_one_get_with_size_etag_and_modification_time(
    lake: tuple[httpx.Client, str], counted_seaweedfs: CountingForwarder
) -> None:
    client, bucket = lake
    response = client.get("/v1/connector/s3+lake/data/blob.bin")
    assert response.status_code == 200 and response.content == PAYLOAD
    assert response.headers["content-length"] == str(len(PAYLOAD))
    assert response.headers["etag"] and response.headers["last-modified"] and response.headers["x-data-type"] == "file"
    assert [(s.method, s.path, s.range) for s in counted_seaweedfs.take()] == [
        ("GET", f"/{bucket}/data/blob.bin", None)
    ]


@pytest.mark.parametrize(
    ("asked", "start", "end"),
    [("bytes=10-19", 10, 20), ("bytes=-4", len(PAYLOAD) - 4, len(PAYLOAD)), ("bytes=262140-", 262140, len(PAYLOAD))],
)
def test_a_range_read_is_one_ranged_get_whose_answer_gives_the_whole_size(
    lake: tuple[httpx.Client, str], counted_seaweedfs: CountingForwarder, asked: str, start: int, end: int
) -> None:
    client, bucket = lake
    response = client.get("/v1/connector/s3+lake/data/blob.bin", headers={"Range": asked})
    assert response.status_code == 206 and response.content == PAYLOAD[start:end]
    assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{len(PAYLOAD)}"
    assert response.headers["content-length"] == str(end - start) and response.headers["etag"]
    seen = counted_seaweedfs.take()
    assert [(s.method, s.path) for s in seen] == [("GET", f"/{bucket}/data/blob.bin")] and seen[0].range


def test_a_range_outside_the_file_is_416_with_the_size(lake: tuple[httpx.Client, str]) -> None:
    client, _ = lake
    response = client.get("/v1/connector/s3+lake/data/blob.bin", headers={"Range": f"bytes={len(PAYLOAD) + 10}-"})
    assert response.status_code == 416 and response.headers["content-range"] == f"bytes */{len(PAYLOAD)}"
    assert response.json()["error"]["code"] == "range_not_satisfiable"


def test_a_missing_object_is_a_clean_404_and_a_folder_is_listed(
    lake: tuple[httpx.Client, str], counted_seaweedfs: CountingForwarder
) -> None:
    client, _ = lake
    missing = client.get("/v1/connector/s3+lake/data/nope.bin")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert "HEAD" not in {s.method for s in counted_seaweedfs.take()}
    folder = client.get("/v1/connector/s3+lake/data")
    assert folder.status_code == 200 and folder.headers["x-data-type"] == "directory"
    assert folder.json() == {"files": [folder.json()["files"][0]], "folders": []}
    assert folder.json()["files"][0]["filename"] == "blob.bin" and folder.json()["files"][0]["size"] == len(PAYLOAD)


def test_head_still_states_the_file(lake: tuple[httpx.Client, str], counted_seaweedfs: CountingForwarder) -> None:
    client, bucket = lake
    head = client.head("/v1/connector/s3+lake/data/blob.bin")
    assert head.status_code == 200 and head.headers["content-length"] == str(len(PAYLOAD))
    assert [(s.method, s.path) for s in counted_seaweedfs.take()] == [("HEAD", f"/{bucket}/data/blob.bin")]
