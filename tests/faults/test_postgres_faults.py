"""PostgreSQL restarted in the middle of a table export through the hub."""

from __future__ import annotations

import glob
import os
import subprocess
import time

import httpx
import psycopg
import pytest

from tests.fixtures.databases import ScratchDatabase, pg_connect
from tests.fixtures.hub import RunningHub
from tests.fixtures.network import wait_for_port
from tests.fixtures.postgres import ADMIN_URL


def cluster(action: str) -> None:
    version = sorted(os.path.basename(p) for p in glob.glob("/etc/postgresql/*"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action, "-m", "fast"]
        if action == "stop"
        else ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        check=True,
        capture_output=True,
    )


def wait_until_up(timeout: float = 60) -> None:
    wait_for_port(5432, timeout=timeout)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(ADMIN_URL, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.skipif(not glob.glob("/etc/postgresql/*"), reason="needs the machine's PostgreSQL cluster to restart it")
def test_postgres_stopped_mid_export_then_back(
    machine_alone: None, sqlite_hub: RunningHub, pg_db: ScratchDatabase
) -> None:
    with pg_connect(pg_db) as conn:
        conn.execute("DROP TABLE IF EXISTS big_export")
        conn.execute(
            "CREATE TABLE big_export AS SELECT g AS id, md5(g::text) AS hash, now() AS at FROM generate_series(1, 1500000) g"
        )
    token = sqlite_hub.token()
    with sqlite_hub.client(token) as api:
        api.post(
            "/v1/secrets",
            json={"id": "db", "secretType": "database", "accessKey": pg_db.user, "secretKey": pg_db.password},
        ).raise_for_status()
        source = api.post(
            "/v1/sources",
            json={
                "protocol": "postgres",
                "label": "pg",
                "secretId": "db",
                "params": {"host": pg_db.host, "port": pg_db.port, "database": pg_db.name},
            },
        ).json()
        url = f"{sqlite_hub.url}/v1/connector/postgres+pg/public/big_export.csv"
        started = time.monotonic()
        received = 0
        stopped = False
        try:
            try:
                with httpx.stream("GET", url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as response:
                    assert response.status_code == 200
                    for chunk in response.iter_bytes():
                        received += len(chunk)
                        if received > 1_000_000 and not stopped:
                            cluster("stop")
                            stopped = True
                raise AssertionError("the export finished although PostgreSQL stopped")
            except httpx.HTTPError:
                pass
            assert stopped and time.monotonic() - started < 60
            down = api.post(f"/v1/sources/{source['id']}/test").json()["state"]
            assert down["healthy"] is False and down["code"] in {"304", "305"}, down
        finally:
            cluster("start")
            wait_until_up()
        assert api.post(f"/v1/sources/{source['id']}/test").json()["state"]["code"] == "100"
        head = api.get(f"{url}?limit=3")
        assert head.status_code == 200 and len(head.text.strip().splitlines()) == 4
        assert pg_db.password not in str(sqlite_hub.transcript)
