"""A new user's first hour, scripted: the README's commands, run as separate processes against `headwater serve`.

A fresh data dir, `serve --allow-private-endpoints` as a real process (its URL and admin token read
from what it prints), a local SeaweedFS source made and tested with the CLI, `ls`/`cat`/`cp -r` both
ways, pandas and DuckDB through `headwater://`, the Algorithmia client with an upper-case protocol,
and a job from the CLI with its results. Every step checks what the user needs to see.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import Algorithmia
import duckdb
import fsspec
import pandas as pd
import pytest

from tests.fixtures.network import free_port
from tests.fixtures.seaweedfs import SeaweedFS

CSV = "city,n\nOslo,3\nLima,5\nPune,7\n"


@dataclass
class Hub:
    process: subprocess.Popen[str]
    url: str
    token: str
    stderr: list[str] = field(default_factory=list)


def _clean_environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    return {**env, "HEADWATER_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Hub]:
    """`headwater serve --allow-private-endpoints` on a fresh data dir, as a user starts it."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "headwater.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--allow-private-endpoints",
        ],
        # Dask workers as threads of the hub: the same jobs, without seconds of worker start-up (process
        # workers have their own tests).
        env={**_clean_environment(tmp_path / "hub"), "HEADWATER_DASK_PROCESSES": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out: list[str] = []
    err: list[str] = []
    threading.Thread(target=lambda: out.extend(iter(process.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    threading.Thread(target=lambda: err.extend(iter(process.stderr.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    try:
        deadline = time.monotonic() + 30
        url = token = None
        while time.monotonic() < deadline and not (url and token):
            assert process.poll() is None, "".join(err)
            found = re.search(r"serving (http://\S+) ", "".join(err))
            url = found.group(1) if found else None
            token = next((w for w in "".join(out).split() if w.startswith("hw_")), None)
            time.sleep(0.05)
        assert url and token, ("".join(out), "".join(err))
        assert f"Creating a new store in {tmp_path / 'hub'}" in "".join(err)
        assert "loopback and private addresses" in "".join(err) and "shown once" in "".join(out)
        yield Hub(process, url, token, err)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_new_users_first_hour(served: Hub, seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    env = {**_clean_environment(tmp_path / "elsewhere"), "HEADWATER_URL": served.url, "HEADWATER_TOKEN": served.token}

    def headwater(*args: str, input: str | None = None, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "headwater.cli", *args],
            check=False,
            env=env,
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert done.returncode == code, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        return done

    bucket = seaweedfs.create_bucket()

    # The README's quick start: a secret from stdin, a source on a local S3, its test.
    secret = headwater(
        "secrets",
        "create",
        "--id",
        "lake-key",
        "--type",
        "s3",
        "--access-key",
        seaweedfs.rw.access_key,
        "--secret-key-stdin",
        input=seaweedfs.rw.secret_key,
    )
    assert (
        "Created secret 'lake-key' (s3)" in secret.stderr
        and seaweedfs.rw.secret_key not in secret.stderr + secret.stdout
    )
    created = headwater(
        "sources",
        "create",
        "--protocol",
        "s3",
        "--label",
        "lake",
        "--secret-id",
        "lake-key",
        "--access",
        "read-write",
        "--param",
        f"endpoint={seaweedfs.endpoint}",
        "--param",
        f"region={seaweedfs.region}",
    )
    assert "Created s3+lake://" in created.stderr and "warning" not in created.stderr
    tested = headwater("sources", "test", "s3+lake")
    assert "s3+lake://: 100" in tested.stdout

    # ls / cat / cp, and cp -r both ways.
    local = tmp_path / "team"
    (local / "sub").mkdir(parents=True)
    (local / "a.csv").write_text(CSV)
    (local / "sub" / "b.csv").write_text(CSV)
    up = headwater("cp", "-r", str(local), f"s3+lake://{bucket}/")
    assert re.search(r"Copied 2 files, \d+ bytes in [\d.]+ s \(.+/s\)", up.stderr), up.stderr
    assert sorted(headwater("ls", f"s3+lake://{bucket}/team/").stdout.splitlines()) == ["a.csv", "sub/"]
    assert headwater("cat", f"s3+lake://{bucket}/team/a.csv").stdout == CSV
    back = tmp_path / "back"
    back.mkdir()
    headwater("cp", "-r", f"s3+lake://{bucket}/team", str(back))
    assert (back / "team" / "sub" / "b.csv").read_text() == CSV
    assert "did you mean s3+lake?" in headwater("ls", f"s3+laek://{bucket}/", code=1).stderr

    # pandas and DuckDB through headwater:// (an upper-case protocol too).
    options = {"hub_url": served.url, "token": served.token}
    frame = pd.read_csv(f"headwater://S3+lake/{bucket}/team/a.csv", storage_options=options)
    assert frame["n"].sum() == 15
    con = duckdb.connect()
    con.register_filesystem(fsspec.filesystem("headwater", **options))
    assert con.execute(f"select sum(n) from read_csv('headwater://s3+lake/{bucket}/team/**/*.csv')").fetchall() == [
        (30,)
    ]
    con.close()

    # The Algorithmia client, with the protocol written as Algorithmia's own document writes it.
    algo = Algorithmia.client(served.token, api_address=served.url)
    assert algo.file(f"S3+lake://{bucket}/team/a.csv").exists()
    assert algo.file(f"S3+lake://{bucket}/team/a.csv").getString() == CSV

    # A job from the CLI: create, watch by its short id, results.
    job = headwater(
        "jobs",
        "create",
        "--source",
        f"s3+lake://{bucket}/team/*.csv",
        "--destination",
        f"s3+lake://{bucket}/out/",
        "--app",
        "convert",
        "--app-param",
        "to=jsonl",
        "--run",
    )
    short = job.stdout.strip()[:8]
    assert f"headwater jobs watch {short}" in job.stderr
    watched = headwater("jobs", "watch", short)
    assert re.search(rf"{short}: complete \(1/1 partitions, \d+ bytes in, \d+ bytes out\)", watched.stderr), (
        watched.stderr
    )
    results = headwater("jobs", "results", short)
    assert "a.jsonl" in results.stdout and f"s3+lake://{bucket}/out/a.jsonl" in results.stdout
    assert headwater("cat", f"s3+lake://{bucket}/out/a.jsonl").stdout.splitlines()[0] == '{"city": "Oslo", "n": 3}'
    assert seaweedfs.rw.secret_key not in "".join(served.stderr)
