"""Start a real hub as a separate process on loopback for benchmarks, and read its memory."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


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
