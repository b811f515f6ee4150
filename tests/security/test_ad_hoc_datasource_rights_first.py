"""Finding 9: an ad-hoc `dataSource` object is refused BEFORE its endpoint is contacted.

A read-only or prefix-narrowed token that sends a ByteNite `datasource/test` or `jobs/datasource/info` (or a job)
whose `dataSource` names an organization secret and an endpoint of its choosing gets 403, and the endpoint (a
loopback listener run by the test) receives no connection at all: the secret never leaves the hub.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.hub import RunningHub

S3_TYPE = "type.googleapis.com/bytenite.data_source.S3DataSource"
HTTP_TYPE = "type.googleapis.com/bytenite.data_source.HttpDataSource"
SECRET_VALUE = "org-secret-" + uuid.uuid4().hex


class Listener:
    """A loopback TCP listener that only counts the connections it accepts (and closes them)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self._closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._closed = True
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.close()


@pytest.fixture
def org(sqlite_hub: RunningHub) -> dict[str, str]:
    """An organization whose admin stored an S3 secret; a member's read-only and prefix-narrowed tokens."""
    name = f"org-{uuid.uuid4().hex[:10]}"
    admin = sqlite_hub.token(org=name, user="root")
    member = sqlite_hub.token(org=name, user="mia", admin=False)
    with sqlite_hub.client(admin) as client:
        secret = {"secret": {"id": "prod-s3", "secretType": "s3", "accessKey": "AKIDPROD"}, "secretKey": SECRET_VALUE}
        assert client.post("/v1/auth/secrets", json=secret).status_code == 200
    with sqlite_hub.client(member) as client:
        read_only = client.post("/v1/tokens", json={"readOnly": True}).json()["token"]
        prefix = client.post("/v1/tokens", json={"pathPrefix": "data://.my/reports/"}).json()["token"]
    return {"admin": admin, "member": member, "read_only": read_only, "prefix": prefix}


def s3_object(port: int) -> dict[str, Any]:
    return {
        "dataSourceDescriptor": "s3",
        "params": {
            "@type": S3_TYPE,
            "name": "/loot.bin",
            "bucketName": "loot",
            "cloudRegion": "us-east-1",
            "secret_id": "prod-s3",
            "endpoint": f"http://127.0.0.1:{port}",
        },
    }


def url_object(port: int) -> dict[str, Any]:
    return {"dataSourceDescriptor": "url", "params": {"@type": HTTP_TYPE, "url": f"http://127.0.0.1:{port}/loot.bin"}}


ROUTES = [
    "/v1/customer/datasource/test",
    "/v1/customer/jobs/datasource/info",
    "/v1/computing/datasource/test",
    "/v1/computing/jobs/datasource/info",
]


@pytest.mark.parametrize("narrowing", ["read_only", "prefix"])
@pytest.mark.parametrize("route", ROUTES)
def test_a_narrowed_token_is_refused_before_the_endpoint_is_contacted(
    sqlite_hub: RunningHub, org: dict[str, str], listener: Listener, narrowing: str, route: str
) -> None:
    with sqlite_hub.client(None, Authorization=org[narrowing]) as client:
        for ad_hoc in (s3_object(listener.port), url_object(listener.port)):
            response = client.post(route, json={"dataSource": ad_hoc, "listFiles": True})
            assert response.status_code == 403, response.text
    assert listener.accepted == 0, f"the endpoint received {listener.accepted} connection(s) from a refused request"


@pytest.mark.parametrize("narrowing", ["read_only", "prefix"])
def test_a_narrowed_tokens_job_with_a_data_source_object_never_reaches_the_endpoint(
    sqlite_hub: RunningHub, org: dict[str, str], listener: Listener, narrowing: str
) -> None:
    with sqlite_hub.client(org[narrowing]) as client:
        bytenite = client.post(
            "/v1/customer/jobs",
            json={"dataSource": s3_object(listener.port), "dataDestination": {"dataSourceDescriptor": "bucket"}},
        )
        native = client.post(
            "/v1/jobs", json={"source": s3_object(listener.port), "destination": "data://.my/reports/out/"}
        )
    assert bytenite.status_code == 403, bytenite.text
    assert native.status_code == 403, native.text
    assert listener.accepted == 0


def test_the_listener_does_see_an_allowed_callers_connection(
    sqlite_hub: RunningHub, org: dict[str, str], listener: Listener
) -> None:
    """The control: the same request by the member (who may) does reach the endpoint, so a zero above means something."""
    with sqlite_hub.client(org["member"]) as client:
        response = client.post("/v1/customer/datasource/test", json={"dataSource": url_object(listener.port)})
    assert response.status_code >= 400  # the listener closes every connection at once
    assert listener.accepted >= 1
