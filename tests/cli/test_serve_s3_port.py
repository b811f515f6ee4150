"""`headwater serve --s3-port`: every worker serves the S3 front door on its own port beside the API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psutil
import pytest

from tests.fixtures.network import free_port, wait_for_port


def listeners(pid: int, port: int) -> set[int]:
    found = set()
    for proc in [psutil.Process(pid), *psutil.Process(pid).children()]:
        try:
            if any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in proc.net_connections("tcp")):
                found.add(proc.pid)
        except psutil.NoSuchProcess:
            pass
    return found


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_s3_port_answers_in_s3_xml_beside_the_api(tmp_path: Path, workers: str) -> None:
    port, s3_port = free_port(), free_port()
    env = {
        **os.environ,
        "HEADWATER_DATA_DIR": str(tmp_path),
        "HEADWATER_BOOTSTRAP_TOKEN": "hw_s3-" + uuid.uuid4().hex,
        "HEADWATER_DASK_PROCESSES": "0",
    }
    for name in ("HEADWATER_MASTER_KEY", "HEADWATER_DATABASE_URL", "HEADWATER_WORKERS", "HEADWATER_S3_PORT"):
        env.pop(name, None)
    command = [sys.executable, "-m", "headwater.cli", "serve", "--port", str(port), "--s3-port", str(s3_port)]
    process = subprocess.Popen(
        [*command, "--workers", workers, "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, timeout=60)
        wait_for_port(s3_port, timeout=60)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=60).status_code == 200
        # An unsigned request is refused in S3's own words.
        answer = httpx.get(f"http://127.0.0.1:{s3_port}/some.s3?list-type=2", timeout=60)
        assert answer.status_code == 403
        assert b"<Code>AccessDenied</Code>" in answer.content and answer.headers["x-amz-request-id"]
        if workers == "2":
            deadline = time.monotonic() + 30
            while len(listeners(process.pid, s3_port)) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert len(listeners(process.pid, s3_port)) >= 2
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert "Traceback" not in process.stderr.read().decode()  # type: ignore[union-attr]


def test_the_s3_port_must_differ_from_the_api_port(tmp_path: Path) -> None:
    port = str(free_port())
    env = {**os.environ, "HEADWATER_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "headwater.cli", "serve", "--port", port, "--s3-port", port],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0 and b"S3 port" in done.stderr
