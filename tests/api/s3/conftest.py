"""The S3 front door on loopback, over a real hub, driven by real boto3 signing with real access keys.

A client for a hub token signs with an access key issued to that token by `POST /v1/access-keys`
(so the key carries the token's narrowing), verified by the production authenticator (SigV4 over
access keys). boto3 runs with its default configuration: SigV4 in the Authorization header and the
streaming, trailing-checksum uploads current boto3 sends by default.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from headwater.api.s3.app import create_s3_app
from tests.fixtures.hub import RunningHub
from tests.fixtures.network import free_port, wait_for_port
from tests.fixtures.s3_clients import S3Account, boto3_client
from tests.fixtures.seaweedfs import SeaweedFS


@dataclass
class S3Front:
    url: str
    running: RunningHub
    accounts: dict[str, S3Account] = field(default_factory=dict)

    def key(self, token: str, **narrowing: Any) -> S3Account:
        """A new access key issued to `token` (`POST /v1/access-keys`; `narrowing` in the API's camelCase)."""
        with self.running.client(token) as api:
            made = api.post("/v1/access-keys", json=narrowing)
        assert made.status_code == 201, made.text
        body = made.json()
        return S3Account(self.url, body["accessKeyId"], body["secretAccessKey"])

    def account(self, token: str) -> S3Account:
        """The access key acting as `token` (one per token, issued on first use)."""
        if token not in self.accounts:
            self.accounts[token] = self.key(token, name="s3 tests")
        return self.accounts[token]

    def client(self, token: str, **config: Any) -> Any:
        """A boto3 S3 client signing with the access key of `token` (path-style, no retries, boto3's defaults)."""
        return boto3_client(self.account(token), **config)

    def signed(self, token: str, method: str, url: str, headers: dict[str, str] | None = None) -> dict[str, str]:
        """Headers that sign a hand-made request by the access key of `token` (botocore's S3 signer, the path
        exactly as in `url`, the payload unsigned): for tests that put on the wire what boto3 would not."""
        account = self.account(token)
        request = AWSRequest(method=method, url=url, headers=headers or {})
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
        S3SigV4Auth(Credentials(account.key_id, account.secret), "s3", account.region).add_auth(request)
        return dict(request.headers.items())


@pytest.fixture(scope="session")
def s3_front(sqlite_hub: RunningHub) -> Iterator[S3Front]:
    """The S3 app of the session's SQLite hub, on a port of its own, with the production authenticator."""
    app = create_s3_app(sqlite_hub.hub)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port)
    yield S3Front(f"http://127.0.0.1:{port}", sqlite_hub)
    server.should_exit = True
    thread.join(timeout=15)


@dataclass
class Org:
    """A fresh organization: its admin token, an S3 connection on SeaweedFS (bucket `lake`), and a backend bucket."""

    token: str
    name: str
    label: str
    backend_bucket: str
    api: httpx.Client

    @property
    def bucket(self) -> str:
        return f"{self.label}.s3"

    def source_id(self, label: str) -> str:
        listed = self.api.get("/v1/sources").json()
        rows = listed["sources"] if isinstance(listed, dict) else listed
        return str(next(s["id"] for s in rows if s["label"] == label))


def s3_connection(
    api: httpx.Client,
    seaweedfs: SeaweedFS,
    *,
    bucket: str | None,
    access: str = "read-write",
    endpoint: str | None = None,
    **fields: Any,
) -> str:
    """An s3 connection on SeaweedFS with the writer's keys (naming `bucket`, or bucket-less); its label.

    `endpoint` puts something between the hub and SeaweedFS (a counting forwarder)."""
    secret_id = f"sw{uuid.uuid4().hex[:8]}"
    made = api.post(
        "/v1/secrets",
        json={
            "id": secret_id,
            "secretType": "s3",
            "accessKey": seaweedfs.rw.access_key,
            "secretKey": seaweedfs.rw.secret_key,
        },
    )
    assert made.status_code == 201, made.text
    label = f"lake{uuid.uuid4().hex[:8]}"
    params: dict[str, Any] = {"endpoint": endpoint or seaweedfs.endpoint, "region": seaweedfs.region}
    if bucket is not None:
        params["bucket"] = bucket
    body = {"protocol": "s3", "label": label, "access": access, "secretId": secret_id, "params": params, **fields}
    created = api.post("/v1/sources", json=body)
    assert created.status_code == 201, created.text
    return label


@pytest.fixture
def org(s3_front: S3Front, seaweedfs: SeaweedFS) -> Iterator[Org]:
    name = f"org-{uuid.uuid4().hex[:10]}"
    token = s3_front.running.token(org=name)
    with s3_front.running.client(token) as api:
        backend = seaweedfs.create_bucket()
        label = s3_connection(api, seaweedfs, bucket=backend)
        yield Org(token, name, label, backend, api)
