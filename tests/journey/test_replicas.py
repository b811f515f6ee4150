"""Three hub replicas behave as one hub: three `headwater serve --workers 1` processes on one
PostgreSQL database, their hosted storage on one SeaweedFS bucket, their jobs on one external
Dask cluster (a TLS scheduler and two workers), all on loopback, each replica with a data dir of
its own. The three start at once on an empty database and all come up ready. Requests go
round-robin: an upload made through one is read through the others, its signed link verifies on
the others, a token revoked on one is refused by all within a second, a source or secret changed
through one is used changed by all within a second, a master-key rotation run as the README says
while they serve keeps every secret and link readable on every replica, and a job started through
the first completes after the first is SIGKILLed mid-job, every output exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import obstore as obs
import psycopg
import pytest
from distributed.security import Security

from headwater.vault import Keyring, generate_key, key_id
from tests.fixtures.hub import SANDBOXED
from tests.fixtures.network import free_port, wait_for_port
from tests.fixtures.seaweedfs import SeaweedFS
from tests.services.jobs.helpers import create_job, files_under, local_source, wait_for

# three hubs, a scheduler and two workers start, then three rollouts of three hubs each (the key rotation):
# about two minutes on two cores of its own, several more when other work shares them
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

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
    env: dict[str, str]
    log: Path

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


def serve(port: int, env: dict[str, str], log: Path) -> Replica:
    """Start one replica (`headwater serve --workers 1` on `port`); it is not waited for."""
    command = [sys.executable, "-m", "headwater.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = spawn([*command, "--workers", "1", "--log-level", "warning"], env, log)
    return Replica(process, f"http://127.0.0.1:{port}", env, log)


def wait_ready(replica: Replica) -> None:
    deadline = time.monotonic() + START
    while not ready(replica):
        assert replica.process.poll() is None, f"a replica exited at start: {replica.log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, "a replica did not come up"
        time.sleep(0.1)


def roll_out(hubs: list[Replica], retired: list[subprocess.Popen[bytes]], **changes: str) -> None:
    """A rolling restart with changed settings, as a Deployment's surge does it: a new replica starts
    beside each serving one (all at once, on ports of their own) and takes its place once ready; the
    old ones are then stopped (reaped later, in `retired`). Traffic never lacks a ready replica."""
    new = [
        serve(free_port(), {**old.env, **changes}, old.log.with_name(f"replica-{i + 1}.{len(retired)}.log"))
        for i, old in enumerate(hubs)
    ]
    for i, replica in enumerate(new):
        wait_ready(replica)
        hubs[i].process.terminate()
        retired.append(hubs[i].process)
        hubs[i] = replica


@pytest.fixture
def replicas(
    tmp_path: Path, hub_env: dict[str, str], cluster: dict[str, str]
) -> Iterator[tuple[list[Replica], list[subprocess.Popen[bytes]], str]]:
    """Three replicas started at once on the empty database, the replicas they replaced in rollouts (to be
    reaped) and the admin token they share."""
    token = "replicas-" + uuid.uuid4().hex
    started: list[Replica] = []
    retired: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(3):
            env = {**hub_env, **cluster, "HEADWATER_DATA_DIR": str(tmp_path / f"replica-{i + 1}")}
            started.append(
                serve(free_port(), {**env, "HEADWATER_BOOTSTRAP_TOKEN": token}, tmp_path / f"replica-{i + 1}.log")
            )
        for replica in started:
            wait_ready(replica)
        yield started, retired, token
    finally:
        end([replica.process for replica in started] + retired)


def ready(replica: Replica) -> bool:
    try:
        return httpx.get(f"{replica.url}/healthz/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def on(replica: Replica, url: str) -> str:
    """The same path and query, asked of another replica."""
    parts = urlsplit(url)
    return f"{replica.url}{parts.path}?{parts.query}" if parts.query else f"{replica.url}{parts.path}"


def within_a_second(hubs: list[Replica], token: str, path: str, expect: Callable[[httpx.Response], bool]) -> None:
    """Every replica answers `path` as `expect` wants within one second (of this call) and keeps doing so."""
    deadline = time.monotonic() + 1.0
    for hub in hubs:
        with hub.client(token) as api:
            while not expect(response := api.get(path)):
                assert time.monotonic() < deadline, (
                    f"{hub.url} still answered {response.status_code} {response.text[:200]}"
                )
                time.sleep(0.05)
            assert expect(api.get(path))


def lake(api: httpx.Client, seaweedfs: SeaweedFS) -> tuple[str, str]:
    """The secret `sw` (SeaweedFS's read-write keys) and the source `s3+lake` on a bucket holding `a.txt`
    = b"first"; returns the source's id and a second bucket whose `a.txt` is b"second"."""
    first, second = seaweedfs.create_bucket(), seaweedfs.create_bucket()
    obs.put(seaweedfs.store(first), "a.txt", b"first")
    obs.put(seaweedfs.store(second), "a.txt", b"second")
    secret = {
        "id": "sw",
        "secretType": "s3",
        "accessKey": seaweedfs.rw.access_key,
        "secretKey": seaweedfs.rw.secret_key,
    }
    assert api.post("/v1/secrets", json=secret).status_code == 201
    params = {"endpoint": seaweedfs.endpoint, "region": seaweedfs.region, "bucket": first}
    created = api.post("/v1/sources", json={"protocol": "s3", "label": "lake", "secretId": "sw", "params": params})
    assert created.status_code == 201, created.text
    return created.json()["id"], second


def sealed_under(database_url: str) -> set[str]:
    """The ids of the master keys the store's secrets and shared keys are sealed under."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT ciphertext FROM secrets UNION ALL SELECT ciphertext FROM hub_keys").fetchall()
    return {row[0].split(":")[1] for row in rows}


def rotate_master_key(env: dict[str, str], data_dir: Path, meanwhile: Callable[[], None]) -> str:
    """`headwater secrets rotate-master-key`, run once from outside the replicas as the README's step 4
    says, calling `meanwhile` over and over while it runs."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env, "HEADWATER_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "headwater.cli", "secrets", "rotate-master-key"]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as rotation:
        while rotation.poll() is None:
            meanwhile()
        out, err = rotation.communicate()
    assert rotation.returncode == 0, err
    return out


def test_three_replicas_on_shared_parts_behave_as_one_hub(
    replicas: tuple[list[Replica], list[subprocess.Popen[bytes]], str],
    hub_env: dict[str, str],
    seaweedfs: SeaweedFS,
    tmp_path: Path,
) -> None:
    hubs, retired, admin = replicas
    first = hubs[0]
    clients = [hub.client(admin) for hub in hubs]
    try:
        # the three, started at once on an empty database, all came up ready (the fixture waited for
        # /healthz/ready): one of them applied the migrations, once, and the bootstrap token exists once
        for hub in hubs:
            assert httpx.get(f"{hub.url}/healthz/ready", timeout=10).json()["checks"] == {
                "store": "ok",
                "migrations": "ok",
                "storage": "ok",
            }
        with psycopg.connect(hub_env["HEADWATER_DATABASE_URL"]) as conn:
            assert conn.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
            assert conn.execute("SELECT count(*) FROM tokens").fetchone() == (1,)

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

        # a source changed through one replica is used changed by every replica within a second: its
        # params (another bucket), then its secret's value (a wrong key: refused), then the value back
        source_id, second = lake(clients[0], seaweedfs)
        for api in clients * 2:  # each replica has the source's connector cached
            assert api.get("/v1/connector/s3+lake/a.txt").content == b"first"
        params = {"endpoint": seaweedfs.endpoint, "region": seaweedfs.region, "bucket": second}
        assert clients[1].patch(f"/v1/sources/{source_id}", json={"params": params}).status_code == 200
        within_a_second(hubs, admin, "/v1/connector/s3+lake/a.txt", lambda r: r.content == b"second")
        assert clients[2].patch("/v1/secrets/sw", json={"secretKey": "wrong-" + uuid.uuid4().hex}).status_code == 200
        within_a_second(hubs, admin, "/v1/connector/s3+lake/a.txt", lambda r: r.status_code == 502)
        assert clients[0].patch("/v1/secrets/sw", json={"secretKey": seaweedfs.rw.secret_key}).status_code == 200
        within_a_second(hubs, admin, "/v1/connector/s3+lake/a.txt", lambda r: r.content == b"second")

        # a master-key rotation as the README's steps go, each step a rolling restart while the replicas
        # serve: every secret and the link signed before it stay readable on every replica
        old, new = hub_env["HEADWATER_MASTER_KEY"], generate_key()
        link = upload.json()["tempUrl"]

        def everyone_reads() -> None:
            for hub in hubs:
                if hub.process.poll() is None:
                    with hub.client(admin) as api:
                        assert api.get("/v1/connector/s3+lake/a.txt").content == b"second"
                    assert httpx.get(on(hub, link), timeout=60).content == body

        for keys in (f"{old},{new}", f"{new},{old}"):  # steps 2 and 3
            roll_out(hubs, retired, HEADWATER_MASTER_KEY=keys)
            everyone_reads()
        assert sealed_under(hub_env["HEADWATER_DATABASE_URL"]) == {key_id(Keyring.parse(old).primary)}
        step4 = {**hub_env, "HEADWATER_MASTER_KEY": f"{new},{old}"}
        print(rotate_master_key(step4, tmp_path / "rotation", meanwhile=everyone_reads))
        assert sealed_under(hub_env["HEADWATER_DATABASE_URL"]) == {key_id(Keyring.parse(new).primary)}
        everyone_reads()
        roll_out(hubs, retired, HEADWATER_MASTER_KEY=new)  # step 5: the old key is gone; rows opened afresh
        everyone_reads()
        for i, hub in enumerate(hubs):
            clients[i].close()
            clients[i] = hub.client(admin)
        first = hubs[0]

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
