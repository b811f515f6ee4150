"""Shared helpers of the job tests: a hub whose embedded Dask runs in threads, sources, waiting."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from headwater.services.jobs import driver
from headwater.services.jobs.executor import ExecutorConfig
from tests.fixtures.hub import RunningHub, start_hub

TERMINAL = ("complete", "failed", "canceled")
THREADS = ExecutorConfig(processes=False, workers=1, threads=int(__import__("os").environ.get("JOBS_THREADS", "16")))


def threaded_hub(data_dir: Path, threads: int | None = None, **env: str) -> RunningHub:
    """A hub on loopback whose executor is Dask `processes=False` (fast to start, enough for most tests)."""
    running = start_hub(data_dir, **env)
    driver.configure(
        running.hub, THREADS if threads is None else ExecutorConfig(processes=False, workers=1, threads=threads)
    )
    return running


def local_source(
    api: httpx.Client, folder: Path, access: str = "read-write", label: str | None = None, **extra: Any
) -> str:
    """A `local` connection over `folder`; returns its `protocol+label`."""
    folder.mkdir(parents=True, exist_ok=True)
    label = label or f"l{uuid.uuid4().hex[:8]}"
    body = {"protocol": "local", "label": label, "params": {"path": str(folder)}, "access": access, **extra}
    response = api.post("/v1/sources", json=body)
    assert response.status_code == 201, response.text
    return f"local+{label}"


def create_job(api: httpx.Client, source: str, destination: str, **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/jobs", json={"source": source, "destination": destination, **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


def wait_for(
    api: httpx.Client, job_id: str, states: tuple[str, ...] = TERMINAL, timeout: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = api.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in states and (job["state"] not in TERMINAL or job["settledAt"]):
            return dict(job)
        if time.monotonic() > deadline:
            logs = api.get(f"/v1/jobs/{job_id}/logs").json()
            raise AssertionError(f"job {job_id} is still {job['state']}: {job}\n{logs}")
        time.sleep(0.05)


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file below a folder (temporaries included), by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def wait_for_partials(folder: Path, timeout: float = 30.0) -> None:
    """Wait until a write is under way below `folder` (a connector's temporary file exists)."""
    deadline = time.monotonic() + timeout
    while not any(".headwater-partial-" in name for name in files_under(folder)):
        assert time.monotonic() < deadline, "no write got under way"
        time.sleep(0.02)
