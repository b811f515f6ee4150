"""Three hub replicas behave as one hub: three `headwater serve --workers 1` processes on one
PostgreSQL database, their hosted storage on one SeaweedFS bucket, their jobs on one external
Dask cluster (a TLS scheduler and two workers), all on loopback, each replica with a data dir of
its own. Requests go round-robin: an upload made through one is read through the others, its
signed link verifies on the others, a token revoked on one is refused by all within a second, and
a job started through the first completes after the first is SIGKILLed mid-job, every output
exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from distributed.security import Security

from headwater.vault import generate_key
from tests.fixtures.hub import SANDBOXED
from tests.fixtures.network import free_port, wait_for_port
from tests.fixtures.seaweedfs import SeaweedFS
from tests.services.jobs.helpers import create_job, files_under, local_source, wait_for

pytestmark = pytest.mark.slow  # three hubs, a scheduler and two workers start: about a minute on two cores

ROOT = Path(__file__).resolve().parents[2]
START = 180.0  # seconds: five processes import the hub at once on a busy machine
STOP = 20.0
LEASE = "3"  # seconds a dead replica's job stays its own (HEADWATER_JOBS_LEASE_SECONDS)
FILES = 8
SIZE = 40_000  # ~1 s per partition at 1 KiB per 25 ms
SLOW = {"function": "jobs_app.upper:slow", "params": {"delay": 0.025, "chunk": 1024}}


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    url: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(ROOT), **env}, stdout=out, stderr=out)


def dask(command: str) -> list[str]:
    """A `dask scheduler` or `dask worker` command line, run by this interpreter."""
    return [sys.executable, "-m", f"distributed.cli.dask_{command}"]


def end(processes: list[subprocess.Popen[bytes]], within: float = STOP) -> None:
    """Stop processes all at once (each stops cleanly in its own time, at most `within` seconds)."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + within
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def tls_files(folder: Path) -> dict[str, str]:
    """One certificate for the cluster's scheduler, workers and the hubs (it is its own CA)."""
    security = Security.temporary()
    folder.mkdir(parents=True)
    files = {}
    for name, pem in (
        ("ca", security.tls_ca_file),
        ("cert", security.tls_client_cert),
        ("key", security.tls_client_key),
    ):
        path = folder / f"{name}.pem"
        path.write_text(pem)
        path.chmod(0o600)
        files[name] = str(path)
    return files


@pytest.fixture
def hub_env(tmp_path: Path, fresh_postgres_url: str, seaweedfs: SeaweedFS) -> dict[str, str]:
    """What every replica and every Dask worker is given: one store, one master key, one object store."""
    return {
        "HEADWATER_DATABASE_URL": fresh_postgres_url,
        "HEADWATER_MASTER_KEY": generate_key(),
        "HEADWATER_STORAGE_URL": f"s3://{seaweedfs.create_bucket()}/hub-{uuid.uuid4().hex[:8]}",
        "HEADWATER_STORAGE_ENDPOINT": seaweedfs.endpoint,
        "HEADWATER_STORAGE_REGION": seaweedfs.region,
        "HEADWATER_STORAGE_ACCESS_KEY_ID": seaweedfs.rw.access_key,
        "HEADWATER_STORAGE_SECRET_ACCESS_KEY": seaweedfs.rw.secret_key,
        "HEADWATER_ALLOW_PRIVATE_ENDPOINTS": "1",  # the jobs read and write local folders of this test
        "HEADWATER_SANDBOX_PATH": str(SANDBOXED),
        "HEADWATER_JOBS_LEASE_SECONDS": LEASE,
    }


@pytest.fixture
def cluster(tmp_path: Path, hub_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """An external Dask cluster on loopback speaking TLS: a scheduler and two one-thread workers
    that open the hub from their own HEADWATER_* environment. Yields the hubs' Dask settings."""
    tls = tls_files(tmp_path / "tls")
    flags = ["--no-dashboard", "--tls-ca-file", tls["ca"], "--tls-cert", tls["cert"], "--tls-key", tls["key"]]
    port = free_port()
    address = f"tls://127.0.0.1:{port}"
    processes = [
        spawn(
            [*dask("scheduler"), "--host", "127.0.0.1", "--port", str(port), "--protocol", "tls", *flags],
            {},
            tmp_path / "scheduler.log",
        )
    ]
    try:
        wait_for_port(port, timeout=START)
        for i in range(2):
            data_dir = tmp_path / f"worker-{i}"
            data_dir.mkdir()
            processes.append(
                spawn(
                    [*dask("worker"), address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny", *flags],
                    {**hub_env, "HEADWATER_DATA_DIR": str(data_dir), "DASK_TEMPORARY_DIRECTORY": str(data_dir)},
                    tmp_path / f"worker-{i}.log",
                )
            )
        yield {
            "HEADWATER_DASK_SCHEDULER": address,
            "HEADWATER_DASK_TLS_CA_FILE": tls["ca"],
            "HEADWATER_DASK_TLS_CERT_FILE": tls["cert"],
            "HEADWATER_DASK_TLS_KEY_FILE": tls["key"],
            "HEADWATER_DASK_WARM": "1",  # as deployed: each replica connects as it starts, not on its first job
        }
    finally:
        end(processes, within=5.0)  # a worker that opened the hub lingers at exit; its work is committed


@pytest.fixture
def replicas(tmp_path: Path, hub_env: dict[str, str], cluster: dict[str, str]) -> Iterator[tuple[list[Replica], str]]:
    """Three replicas started at once on the empty database, and the admin token they share."""
    token = "replicas-" + uuid.uuid4().hex
    started = []
    try:
        for i in range(3):
            port = free_port()
            data_dir = tmp_path / f"replica-{i + 1}"
            command = [sys.executable, "-m", "headwater.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
            env = {**hub_env, **cluster, "HEADWATER_DATA_DIR": str(data_dir), "HEADWATER_BOOTSTRAP_TOKEN": token}
            process = spawn(
                [*command, "--workers", "1", "--log-level", "warning"], env, tmp_path / f"replica-{i + 1}.log"
            )
            started.append(Replica(process, f"http://127.0.0.1:{port}"))
        for replica in started:
            deadline = time.monotonic() + START
            while not ready(replica):
                assert replica.process.poll() is None, "a replica exited at start"
                assert time.monotonic() < deadline, "a replica did not come up"
                time.sleep(0.1)
        yield started, token
    finally:
        end([replica.process for replica in started])


def ready(replica: Replica) -> bool:
    try:
        return httpx.get(f"{replica.url}/healthz/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def on(replica: Replica, url: str) -> str:
    """The same path and query, asked of another replica."""
    parts = urlsplit(url)
    return f"{replica.url}{parts.path}?{parts.query}" if parts.query else f"{replica.url}{parts.path}"


def test_three_replicas_on_shared_parts_behave_as_one_hub(replicas: tuple[list[Replica], str], tmp_path: Path) -> None:
    hubs, admin = replicas
    first = hubs[0]
    clients = [hub.client(admin) for hub in hubs]
    try:
        # an upload through one replica is read through the others, and its signed link verifies there
        body = os.urandom(300_000)
        upload = clients[0].put("/v1/uploads/report.csv", params={"label": "rep"}, content=body)
        assert upload.status_code == 201, upload.text
        for api in clients[1:]:
            assert api.get("/v1/connector/file+rep/report.csv").content == body
        for hub in hubs[1:]:
            assert httpx.get(on(hub, upload.json()["tempUrl"]), timeout=60).content == body

        # a token revoked through one replica is refused by every replica within a second
        child = clients[1].post("/v1/tokens", json={}).json()
        for hub in hubs:
            with hub.client(child["token"]) as api:
                assert api.get("/v1/connector/file+rep/report.csv").status_code == 200
        assert clients[2].delete(f"/v1/tokens/{child['id']}").status_code == 204
        within = time.monotonic() + 1.0
        for hub in hubs:
            with hub.client(child["token"]) as api:
                while (status := api.get("/v1/connector/file+rep/report.csv").status_code) != 401:
                    assert status == 200 and time.monotonic() < within, f"{hub.url} still took the revoked token"
                    time.sleep(0.05)

        # a job started through the first replica completes after it is SIGKILLed mid-job
        expected = {}
        (tmp_path / "in").mkdir()
        for i in range(FILES):
            data = os.urandom(SIZE)
            (tmp_path / "in" / f"{i}.bin").write_bytes(data)
            expected[f"slow/{i}.bin"] = data
        src = local_source(clients[1], tmp_path / "in", access="read")
        dst = local_source(clients[2], tmp_path / "out")
        job = create_job(clients[0], f"{src}://*.bin", f"{dst}://slow/", app="python", params={"app": SLOW}, run=True)
        deadline = time.monotonic() + 120
        while clients[1].get(f"/v1/jobs/{job['id']}").json()["progress"]["partitionsDone"] < 1:
            assert time.monotonic() < deadline, "the job never got going"
            time.sleep(0.05)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
        killed = time.monotonic()
        done = wait_for(clients[1], job["id"], timeout=120)
        print(f"taken over and finished {time.monotonic() - killed:.1f} s after the SIGKILL (lease {LEASE} s)")
        assert done["state"] == "complete", done["errorMessage"]
        assert files_under(tmp_path / "out") == expected  # every output once, no temporary left
        logs = [line["message"] for line in clients[2].get(f"/v1/jobs/{job['id']}/logs").json()["logs"]]
        assert any("resumed" in line for line in logs), logs
    finally:
        for api in clients:
            api.close()
