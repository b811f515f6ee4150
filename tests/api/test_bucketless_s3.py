"""An S3 connection that names no bucket: its root lists the buckets it may reach, through HTTP and the CLI.

The buckets come from the path restrictions when those name them (no backend request at all), or
else from a signed ListBuckets filtered by the restrictions. SeaweedFS is the real backend, behind
a counting forwarder so the requests the hub makes are seen.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner

from headwater.cli.main import app
from tests.fixtures.counting_forwarder import CountingForwarder, counted_seaweedfs  # noqa: F401 - a fixture
from tests.fixtures.hub import RunningHub
from tests.fixtures.seaweedfs import SeaweedFS


@pytest.fixture
def org_client(sqlite_hub: RunningHub) -> Iterator[tuple[httpx.Client, str]]:
    token = sqlite_hub.token()
    client = sqlite_hub.client(token)
    try:
        yield client, token
    finally:
        client.close()


def bucketless_source(
    client: httpx.Client, seaweedfs: SeaweedFS, endpoint: str, secret_key: str | None = None, **fields: object
) -> str:
    """A bucket-less s3 source on `endpoint` with the writer's keys (or a wrong secret key); its label."""
    secret_id = f"sw{uuid.uuid4().hex[:6]}"
    created = client.post(
        "/v1/secrets",
        json={
            "id": secret_id,
            "secretType": "s3",
            "accessKey": seaweedfs.rw.access_key,
            "secretKey": secret_key or seaweedfs.rw.secret_key,
        },
    )
    assert created.status_code == 201, created.text
    label = f"lake{uuid.uuid4().hex[:6]}"
    body = {
        "protocol": "s3",
        "label": label,
        "access": "read",
        "secretId": secret_id,
        "params": {"endpoint": endpoint, "region": seaweedfs.region},
        **fields,
    }
    made = client.post("/v1/sources", json=body)
    assert made.status_code == 201, made.text
    return label


def folder_names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    assert response.headers["x-data-type"] == "directory"
    return [f["name"] for f in response.json()["folders"]]


def test_the_root_lists_the_buckets_the_keys_own(org_client: tuple[httpx.Client, str], seaweedfs: SeaweedFS) -> None:
    client, _ = org_client
    first, second = seaweedfs.create_bucket(), seaweedfs.create_bucket()
    label = bucketless_source(client, seaweedfs, seaweedfs.endpoint)
    for url in (f"/v1/connector/s3+{label}/", f"/v1/connector/s3+{label}", f"/v1/data/s3+{label}://"):
        names = folder_names(client.get(url))
        assert {first, second} <= set(names) and names == sorted(names)
    head = client.head(f"/v1/connector/s3+{label}/")
    assert head.status_code == 200 and head.headers["x-data-type"] == "directory"


def test_restrictions_that_name_buckets_list_those_without_asking_the_backend(
    org_client: tuple[httpx.Client, str], seaweedfs: SeaweedFS, counted_seaweedfs: CountingForwarder
) -> None:
    client, _ = org_client
    named = seaweedfs.create_bucket()
    label = bucketless_source(
        client, seaweedfs, counted_seaweedfs.url, pathRestrictions=[f"{named}/*", "other-bucket/report.csv"]
    )
    counted_seaweedfs.take()
    assert folder_names(client.get(f"/v1/connector/s3+{label}/")) == [named, "other-bucket"]
    assert counted_seaweedfs.take() == []


def test_a_prefix_restriction_filters_the_bucket_list(
    org_client: tuple[httpx.Client, str], seaweedfs: SeaweedFS, counted_seaweedfs: CountingForwarder
) -> None:
    client, _ = org_client
    mine = seaweedfs.create_bucket(f"team-{uuid.uuid4().hex[:8]}")
    theirs = seaweedfs.create_bucket(f"else-{uuid.uuid4().hex[:8]}")
    label = bucketless_source(client, seaweedfs, counted_seaweedfs.url, pathRestrictions=["team-*"])
    counted_seaweedfs.take()
    names = folder_names(client.get(f"/v1/connector/s3+{label}/"))
    assert mine in names and theirs not in names and all(n.startswith("team-") for n in names)
    assert [(s.method, s.path) for s in counted_seaweedfs.take()] == [("GET", "/")]  # one signed ListBuckets


def test_a_wrong_secret_is_named_as_bad_credentials_without_its_value(
    org_client: tuple[httpx.Client, str], seaweedfs: SeaweedFS
) -> None:
    client, _ = org_client
    wrong = "wrong-" + uuid.uuid4().hex
    label = bucketless_source(client, seaweedfs, seaweedfs.endpoint, secret_key=wrong)
    response = client.get(f"/v1/connector/s3+{label}/")
    assert response.status_code == 502 and response.json()["error"]["code"] == "upstream_auth_failed"
    assert wrong not in response.text


def test_headwater_ls_shows_the_buckets(
    sqlite_hub: RunningHub, org_client: tuple[httpx.Client, str], seaweedfs: SeaweedFS
) -> None:
    client, token = org_client
    bucket = seaweedfs.create_bucket()
    label = bucketless_source(client, seaweedfs, seaweedfs.endpoint)
    env = {"HEADWATER_URL": sqlite_hub.url, "HEADWATER_TOKEN": token}
    result = CliRunner().invoke(app, ["ls", f"s3+{label}://"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert f"{bucket}/" in result.stdout.splitlines()
    inside = CliRunner().invoke(app, ["ls", f"s3+{label}://{bucket}"], env=env, catch_exceptions=False)
    assert inside.exit_code == 0 and inside.stdout == "", (inside.stdout, inside.stderr)
