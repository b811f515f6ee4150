"""The hot path's caches (authenticated callers, source rows, opened connectors) never outlive a change.

Through HTTP on real hubs (SQLite and PostgreSQL stores) and a real S3 server: a revoked token,
a changed source or a changed secret is honoured on the very next request, in the hub that made
the change and in a second hub process on the same store; a source read twice builds its
connector once; a cached connector is closed when it is evicted or idle.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.fixtures.hub import RunningHub
from tests.fixtures.network import free_port
from tests.fixtures.seaweedfs import SeaweedFS

BODY = b"small object\n"


@dataclass
class Org:
    hub: RunningHub
    api: httpx.Client
    token: str
    bucket: str
    source_id: str

    def read(
        self, token: str | None = None, url: str | None = None, path: str = "data/a.txt", label: str = "lake"
    ) -> httpx.Response:
        return httpx.get(
            f"{url or self.hub.url}/v1/connector/s3+{label}/{self.bucket}/{path}",
            headers={"Authorization": f"Bearer {token or self.token}"},
            timeout=30,
        )

    def child(self, token: str | None = None, **body: object) -> tuple[str, str]:
        """Issue a token through the API as the holder of `token`: (its id, its value)."""
        response = httpx.post(
            f"{self.hub.url}/v1/tokens",
            json=body,
            headers={"Authorization": f"Bearer {token or self.token}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return response.json()["id"], response.json()["token"]


@pytest.fixture
def org(hub_server: RunningHub, seaweedfs: SeaweedFS) -> Iterator[Org]:
    """A fresh organization with `s3+lake` (read-write) on a bucket holding `data/a.txt`."""
    token = hub_server.token()
    bucket = seaweedfs.create_bucket()
    import obstore as obs

    obs.put(seaweedfs.store(bucket), "data/a.txt", BODY)
    obs.put(seaweedfs.store(bucket), "other/b.txt", BODY)
    with hub_server.client(token) as api:
        api.post(
            "/v1/secrets",
            json={
                "id": "sw",
                "secretType": "s3",
                "accessKey": seaweedfs.rw.access_key,
                "secretKey": seaweedfs.rw.secret_key,
            },
        ).raise_for_status()
        created = api.post(
            "/v1/sources",
            json={
                "protocol": "s3",
                "label": "lake",
                "secretId": "sw",
                "access": "read-write",
                "params": {"endpoint": seaweedfs.endpoint, "region": seaweedfs.region},
            },
        )
        created.raise_for_status()
        yield Org(hub_server, api, token, bucket, created.json()["id"])


@pytest.fixture
def second_hub(hub_server: RunningHub) -> Iterator[str]:
    """Another hub process on the same store and data dir (as a second replica would be)."""
    port = free_port()
    settings = hub_server.hub.settings
    env = {
        **os.environ,
        "HEADWATER_DATA_DIR": str(settings.data_dir),
        "HEADWATER_DATABASE_URL": settings.database_url,
        "HEADWATER_ALLOW_PRIVATE_ENDPOINTS": "1",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "headwater.api.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "the second hub did not start"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_a_source_read_twice_builds_its_connector_once_and_authenticates_from_the_cache(org: Org) -> None:
    cache, callers = org.hub.hub.connectors, org.hub.hub.callers
    first = org.read()
    assert first.status_code == 200 and first.content == BODY
    builds, hits = cache.builds, callers.hits
    for _ in range(3):
        again = org.read()
        assert again.status_code == 200 and again.content == BODY
    assert cache.builds == builds
    assert callers.hits >= hits + 3


def test_a_revoked_token_is_refused_on_the_next_request_despite_the_cache(org: Org) -> None:
    token_id, child = org.child()
    assert org.read(child).status_code == 200
    assert org.read(child).status_code == 200  # now served from the cache
    assert org.api.delete(f"/v1/tokens/{token_id}").status_code == 204
    refused = org.read(child)
    assert refused.status_code == 401, refused.text


def test_a_token_is_refused_on_the_next_request_once_its_parent_is_revoked(org: Org) -> None:
    parent_id, parent = org.child()
    _, grandchild = org.child(parent)
    assert org.read(grandchild).status_code == 200
    assert org.read(grandchild).status_code == 200
    assert org.api.delete(f"/v1/tokens/{parent_id}").status_code == 204
    refused = org.read(grandchild)
    assert refused.status_code == 401, refused.text


def test_a_revocation_and_a_source_change_through_one_hub_are_honoured_by_another_hub_process_at_once(
    org: Org, second_hub: str
) -> None:
    token_id, child = org.child()
    for _ in range(2):
        assert org.read(child, url=second_hub).status_code == 200
        assert org.read(url=second_hub).status_code == 200
    assert (
        org.api.patch(f"/v1/sources/{org.source_id}", json={"pathRestrictions": [f"{org.bucket}/other/*"]}).status_code
        == 200
    )
    assert org.read(url=second_hub).status_code in (403, 404)
    assert org.read(url=second_hub, path="other/b.txt").status_code == 200
    assert org.api.delete(f"/v1/tokens/{token_id}").status_code == 204
    assert org.read(child, url=second_hub).status_code == 401


def test_a_changed_path_restriction_access_or_params_is_honoured_on_the_next_request(
    org: Org, seaweedfs: SeaweedFS
) -> None:
    assert org.read().status_code == 200
    assert (
        org.api.patch(f"/v1/sources/{org.source_id}", json={"pathRestrictions": [f"{org.bucket}/other/*"]}).status_code
        == 200
    )
    assert org.read().status_code in (403, 404)
    assert org.read(path="other/b.txt").status_code == 200
    assert (
        org.api.patch(f"/v1/sources/{org.source_id}", json={"pathRestrictions": ["*"], "access": "read"}).status_code
        == 200
    )
    assert org.read().status_code == 200
    put = httpx.put(
        f"{org.hub.url}/v1/connector/s3+lake/{org.bucket}/data/new.txt",
        content=b"x",
        headers={"Authorization": f"Bearer {org.token}"},
        timeout=30,
    )
    assert put.status_code == 403, put.text
    # A connection change: the source now points at a bucket without the object; its old connector is closed.
    cache = org.hub.hub.connectors
    builds, closes = cache.builds, cache.closes
    empty = seaweedfs.create_bucket()
    params = {"endpoint": seaweedfs.endpoint, "region": seaweedfs.region, "bucket": empty}
    assert org.api.patch(f"/v1/sources/{org.source_id}", json={"params": params}).status_code == 200
    missing = httpx.get(
        f"{org.hub.url}/v1/connector/s3+lake/data/a.txt", headers={"Authorization": f"Bearer {org.token}"}, timeout=30
    )
    assert missing.status_code == 404, missing.text
    assert cache.builds == builds + 1
    assert cache.closes >= closes + 1


def test_a_changed_secret_value_is_honoured_on_the_next_request(org: Org, seaweedfs: SeaweedFS) -> None:
    assert org.read().status_code == 200
    assert org.api.patch("/v1/secrets/sw", json={"secretKey": "wrong-" + uuid.uuid4().hex}).status_code == 200
    refused = org.read()
    assert refused.status_code == 502, refused.text  # SeaweedFS answers a wrong signature as a refusal
    assert refused.json()["error"]["code"] in {"upstream_auth_failed", "upstream_permission_denied"}
    assert org.api.patch("/v1/secrets/sw", json={"secretKey": seaweedfs.rw.secret_key}).status_code == 200
    assert org.read().status_code == 200


def test_a_deleted_source_is_gone_on_the_next_request(org: Org) -> None:
    assert org.read().status_code == 200
    assert org.api.delete(f"/v1/sources/{org.source_id}").status_code == 204
    assert org.read().status_code == 404


def test_a_cached_connector_is_closed_when_evicted_and_when_idle(org: Org, seaweedfs: SeaweedFS) -> None:
    cache = org.hub.hub.connectors
    org.api.post(
        "/v1/sources",
        json={
            "protocol": "s3",
            "label": "pond",
            "secretId": "sw",
            "params": {"endpoint": seaweedfs.endpoint, "region": seaweedfs.region},
        },
    ).raise_for_status()
    size, idle = cache.size, cache.idle
    try:
        assert org.read().status_code == 200
        lake = cache.connectors()[-1]  # the most recently used
        assert getattr(lake, "_stores", None), "the S3 connector is cached with its open client"
        cache.size = 1  # the next new connector evicts every idle one, least recently used first
        closes = cache.closes
        assert org.read(label="pond").status_code == 200
        assert cache.closes >= closes + 1
        assert lake not in cache.connectors()
        assert not lake._stores  # type: ignore[attr-defined]  # closed: its clients are dropped
        pond = cache.connectors()[-1]
        assert pond is not lake
        cache.size, cache.idle = size, 0.2
        time.sleep(0.5)
        assert org.read().status_code == 200  # the next lease sweeps idle connectors
        assert pond not in cache.connectors()
    finally:
        cache.size, cache.idle = size, idle


def test_a_request_refused_after_reading_a_source_leaves_the_cached_source_usable(org: Org) -> None:
    _, narrowed = org.child(sourceIds=[str(uuid.uuid4())])
    org.hub.hub.connectors.close_rows()  # the refused request is the one that reads the row
    assert org.read(narrowed).status_code == 404
    assert org.read().status_code == 200
