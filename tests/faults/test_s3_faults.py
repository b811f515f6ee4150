"""Faults with a real S3 server: SeaweedFS killed mid-download and mid-upload, then brought back.

Each fault gives the caller a clear error within a bounded time, flips the source's state on
the next check, leaves no partial object, and the hub recovers without a restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fixtures import seaweedfs as weed
from tests.fixtures.hub import RunningHub

MiB = 1024 * 1024
BIG = 160 * MiB
BOUND = 60.0  # seconds within which a fault must reach the caller as an error


@dataclass
class Backend:
    server: weed.SeaweedFS
    process: subprocess.Popen[bytes]
    root: Path
    bucket: str

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def revive(self) -> None:
        assert self.server.command is not None
        self.process = weed.launch(self.server, self.server.command, self.root)


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    server, process = weed.start(tmp_path / "weed")
    running = Backend(server, process, tmp_path / "weed", server.create_bucket("faults"))
    try:
        yield running
    finally:
        weed.stop(running.process)


@pytest.fixture
def api(sqlite_hub: RunningHub, backend: Backend) -> Iterator[tuple[httpx.Client, str]]:
    token = sqlite_hub.token()
    with sqlite_hub.client(token) as client:
        client.post(
            "/v1/secrets",
            json={
                "id": "weed",
                "secretType": "s3",
                "accessKey": backend.server.rw.access_key,
                "secretKey": backend.server.rw.secret_key,
            },
        ).raise_for_status()
        source = client.post(
            "/v1/sources",
            json={
                "protocol": "s3",
                "label": "flaky",
                "secretId": "weed",
                "access": "read-write",
                "params": {
                    "endpoint": backend.server.endpoint,
                    "region": backend.server.region,
                    "bucket": backend.bucket,
                },
            },
        ).json()
        yield client, source["id"]


def pattern(size: int, started: threading.Event | None = None, after: int = 0) -> Iterator[bytes]:
    block = os.urandom(MiB)
    for i in range(size // MiB):
        if started is not None and i * MiB >= after:
            started.set()
            time.sleep(0.05)  # let the fault land while the upload is in flight
        yield block


def state(client: httpx.Client, source_id: str) -> dict[str, object]:
    return client.post(f"/v1/sources/{source_id}/test").json()["state"]


def test_backend_killed_mid_download(api: tuple[httpx.Client, str], backend: Backend) -> None:
    client, source_id = api
    import obstore as obs

    obs.put(backend.server.store(backend.bucket), "big.bin", pattern(BIG), chunk_size=8 * MiB)
    started = time.monotonic()
    received = 0
    # A plain client: the fixture's recording client reads whole bodies, which would defeat streaming.
    plain = httpx.Client(
        base_url=str(client.base_url), headers={"Authorization": client.headers["Authorization"]}, timeout=120
    )
    try:
        with plain.stream("GET", "/v1/connector/s3+flaky/big.bin") as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes(MiB):
                received += len(chunk)
                if received >= 2 * MiB and backend.process.poll() is None:
                    backend.kill()
                time.sleep(0.005)  # a slow reader: what was in flight at the kill drains, then the error comes
        raise AssertionError("the download finished although the backend died")
    except httpx.HTTPError:
        pass
    finally:
        plain.close()
    assert time.monotonic() - started < BOUND and received < BIG
    failed = state(client, source_id)
    assert failed["healthy"] is False and failed["code"] in {"304", "305"}, failed
    backend.revive()
    assert state(client, source_id)["code"] == "100"
    assert client.head("/v1/connector/s3+flaky/big.bin").headers["content-length"] == str(BIG)


def test_backend_killed_mid_upload_leaves_nothing(api: tuple[httpx.Client, str], backend: Backend) -> None:
    client, source_id = api
    in_flight = threading.Event()
    killer = threading.Thread(target=lambda: (in_flight.wait(30), backend.kill()))
    killer.start()
    started = time.monotonic()
    try:
        response = client.put("/v1/connector/s3+flaky/partial.bin", content=pattern(64 * MiB, in_flight, after=8 * MiB))
        assert response.status_code >= 500 and response.json()["error"]["message"]
        assert backend.server.rw.secret_key not in response.text
    except httpx.HTTPError:
        pass  # the hub may also cut the connection: either way the caller learns of the failure
    killer.join()
    assert time.monotonic() - started < BOUND
    assert state(client, source_id)["healthy"] is False
    backend.revive()
    assert state(client, source_id)["code"] == "100"
    assert backend.server.keys_in(backend.bucket) == []
    assert client.head("/v1/connector/s3+flaky/partial.bin").status_code == 404
    assert client.put("/v1/connector/s3+flaky/after.bin", content=b"recovered").status_code == 200
