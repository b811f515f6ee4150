"""The S3 front door on loopback, over a real hub, driven by real boto3.

Until access keys and SigV4 are merged, tests inject `TokenKeys`: the access key id of a request
is a hub token, and its signature is not checked. boto3 is configured to send plain bodies
(payload signing on, checksums only when required), and `TokenKeys` refuses aws-chunked ones.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import boto3
import httpx
import pytest
import uvicorn
from botocore.config import Config
from starlette.requests import Request

from headwater.api.s3.app import create_s3_app
from headwater.api.s3.auth import Authenticated
from headwater.api.s3.errors import S3Error
from headwater.services.hub import Hub
from tests.fixtures.hub import RunningHub
from tests.fixtures.network import free_port, wait_for_port
from tests.fixtures.seaweedfs import SeaweedFS

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


class TokenKeys:
    """A test authenticator: the access key id is a hub bearer token; signatures are not checked."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def authenticate(self, request: Request) -> Authenticated:
        found = _CREDENTIAL.search(request.headers.get("authorization", ""))
        credential = request.query_params.get("X-Amz-Credential")
        token = found.group(1) if found else credential.split("/", 1)[0] if credential else None
        if not token:
            raise S3Error("AccessDenied", "anonymous requests are not allowed", 403)
        sha = request.headers.get("x-amz-content-sha256", "")
        if sha.startswith("STREAMING-") or "aws-chunked" in request.headers.get("content-encoding", ""):
            raise S3Error("NotImplemented", "the test authenticator takes plain bodies only, not aws-chunked", 501)
        caller, stamps = await anyio.to_thread.run_sync(self.hub.callers.authenticate, self.hub.store, token)
        return Authenticated(caller, request.stream, stamps)


@dataclass
class S3Front:
    url: str
    running: RunningHub

    def client(self, token: str) -> Any:
        """A boto3 S3 client acting as `token` (path-style, plain signed bodies, no retries)."""
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path", "payload_signing_enabled": True},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 1, "mode": "standard"},
        )
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=token,
            aws_secret_access_key="not-checked-by-the-test-authenticator",
            region_name="us-east-1",
            config=config,
        )


@pytest.fixture(scope="session")
def s3_front(sqlite_hub: RunningHub) -> Iterator[S3Front]:
    """The S3 app of the session's SQLite hub, on a port of its own."""
    app = create_s3_app(sqlite_hub.hub, TokenKeys(sqlite_hub.hub))
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
    label: str
    backend_bucket: str
    api: httpx.Client

    @property
    def bucket(self) -> str:
        return f"{self.label}.s3"


def s3_connection(
    api: httpx.Client, seaweedfs: SeaweedFS, *, bucket: str | None, access: str = "read-write", **fields: Any
) -> str:
    """An s3 connection on SeaweedFS with the writer's keys (naming `bucket`, or bucket-less); its label."""
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
    params: dict[str, Any] = {"endpoint": seaweedfs.endpoint, "region": seaweedfs.region}
    if bucket is not None:
        params["bucket"] = bucket
    body = {"protocol": "s3", "label": label, "access": access, "secretId": secret_id, "params": params, **fields}
    created = api.post("/v1/sources", json=body)
    assert created.status_code == 201, created.text
    return label


@pytest.fixture
def org(s3_front: S3Front, seaweedfs: SeaweedFS) -> Iterator[Org]:
    token = s3_front.running.token()
    with s3_front.running.client(token) as api:
        backend = seaweedfs.create_bucket()
        label = s3_connection(api, seaweedfs, bucket=backend)
        yield Org(token, label, backend, api)
