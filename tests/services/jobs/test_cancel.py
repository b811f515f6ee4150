"""Cancellation: queued partitions never start, running ones stop at their next chunk, nothing stays behind."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.fixtures.hub import RunningHub
from tests.services.jobs.helpers import create_job, files_under, local_source, wait_for, wait_for_partials

SLOW = {"function": "jobs_app.upper:slow", "params": {"delay": 0.02, "chunk": 1024}}


def slow_job(admin: httpx.Client, tmp_path: Path, files: int = 24) -> tuple[dict[str, object], Path]:
    (tmp_path / "in").mkdir()
    for i in range(files):
        (tmp_path / "in" / f"{i:02d}.bin").write_bytes(bytes([i]) * 400_000)  # ~8 s each at 1 KiB per 20 ms
    src = local_source(admin, tmp_path / "in", access="read")
    dst = local_source(admin, tmp_path / "out")
    job = create_job(admin, f"{src}://*.bin", f"{dst}://slow/", app="python", params={"app": SLOW}, run=True)
    return job, tmp_path / "out"


def test_cancel_stops_everything_and_leaves_nothing_partial(
    jobs_hub: RunningHub, admin: httpx.Client, tmp_path: Path
) -> None:
    job, out = slow_job(admin, tmp_path)
    deadline = time.monotonic() + 30
    while admin.get(f"/v1/jobs/{job['id']}").json()["progress"]["partitionsRunning"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    wait_for_partials(out)  # writes are under way

    started = time.monotonic()
    canceled = admin.post(f"/v1/jobs/{job['id']}/cancel")
    assert canceled.status_code == 200 and canceled.json()["state"] == "canceled"
    settled = wait_for(admin, str(job["id"]), timeout=30)
    assert time.monotonic() - started < 10
    assert settled["state"] == "canceled" and settled["progress"]["partitionsDone"] == 0
    assert "canceled" in settled["stateTimestamps"]
    assert files_under(out) == {}  # neither outputs nor temporaries
    time.sleep(0.5)
    assert files_under(out) == {}  # and nothing arrives later
    partitions = (
        jobs_hub.hub.store.engine.connect()
        .exec_driver_sql("SELECT state, count(*) FROM job_partitions WHERE job_id = ? GROUP BY state", (job["id"],))
        .all()
    )
    assert {state for state, _ in partitions} <= {"canceled", "pending"}
    again = admin.post(f"/v1/jobs/{job['id']}/cancel")
    assert again.status_code == 200 and again.json()["state"] == "canceled"
    assert admin.post(f"/v1/jobs/{job['id']}/run").status_code == 409


def test_a_new_job_canceled_before_it_runs(admin: httpx.Client, tmp_path: Path) -> None:
    src = local_source(admin, tmp_path / "in", access="read")
    dst = local_source(admin, tmp_path / "out")
    job = create_job(admin, f"{src}://", f"{dst}://")
    canceled = admin.post(f"/v1/jobs/{job['id']}/cancel").json()
    assert canceled["state"] == "canceled" and canceled["settledAt"]
    assert list(canceled["stateTimestamps"]) == ["new", "canceled"]
