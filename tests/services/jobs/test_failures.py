"""A Dask worker killed mid-job, and a hub restarted mid-job: every output exactly once, nothing left over."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from headwater.services.jobs import driver
from headwater.services.jobs.executor import ExecutorConfig
from tests.fixtures.hub import RunningHub, start_hub
from tests.services.jobs.helpers import create_job, files_under, local_source, wait_for, wait_for_partials

FILES = 8
SIZE = 40_000  # ~1 s per partition at 1 KiB per 25 ms
SLOW = {"function": "jobs_app.upper:slow", "params": {"delay": 0.025, "chunk": 1024}}


def inputs(folder: Path) -> dict[str, bytes]:
    folder.mkdir(parents=True)
    expected = {}
    for i in range(FILES):
        body = os.urandom(SIZE)
        (folder / f"{i}.bin").write_bytes(body)
        expected[f"slow/{i}.bin"] = body
    return expected


def wait_running(api: httpx.Client, job_id: str, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while api.get(f"/v1/jobs/{job_id}").json()["progress"]["partitionsRunning"] < at_least:
        assert time.monotonic() < deadline, "the job never got going"
        time.sleep(0.05)


@pytest.fixture
def process_hub(tmp_path: Path) -> Iterator[RunningHub]:
    """A hub whose embedded Dask has real worker processes (two, one thread each)."""
    running = start_hub(tmp_path / "hub")
    driver.configure(running.hub, ExecutorConfig(processes=True, workers=2, threads=1))
    yield running
    running.stop()


def test_a_killed_worker_costs_a_retry_not_a_duplicate(process_hub: RunningHub, tmp_path: Path) -> None:
    with process_hub.client(process_hub.token()) as api:
        expected = inputs(tmp_path / "in")
        src = local_source(api, tmp_path / "in", access="read")
        dst = local_source(api, tmp_path / "out")
        job = create_job(api, f"{src}://*.bin", f"{dst}://slow/", app="python", params={"app": SLOW}, run=True)
        wait_running(api, job["id"], 2)
        wait_for_partials(tmp_path / "out")  # a write is under way
        pids = driver.engine_for(process_hub.hub).executor.worker_pids()
        assert len(pids) == 2 and os.getpid() not in pids.values()
        os.kill(next(iter(pids.values())), signal.SIGKILL)

        done = wait_for(api, job["id"], timeout=120)
        assert done["state"] == "complete", done["errorMessage"]
        assert done["progress"]["partitionsDone"] == FILES
        assert files_under(tmp_path / "out") == expected  # each output once, no temporaries
        logs = [line["message"] for line in api.get(f"/v1/jobs/{job['id']}/logs").json()["logs"]]
        assert any("attempt 2" in line for line in logs), logs


def test_a_restarted_hub_resumes_only_unfinished_partitions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_DASK_PROCESSES", "0")  # set before start: the second hub resumes as it starts
    monkeypatch.setenv("HEADWATER_DASK_THREADS", "2")
    data_dir = tmp_path / "hub"
    first = start_hub(data_dir)
    token = first.token()
    with first.client(token) as api:
        expected = inputs(tmp_path / "in")
        src = local_source(api, tmp_path / "in", access="read")
        dst = local_source(api, tmp_path / "out")
        job = create_job(api, f"{src}://*.bin", f"{dst}://slow/", app="python", params={"app": SLOW}, run=True)
        deadline = time.monotonic() + 60
        while api.get(f"/v1/jobs/{job['id']}").json()["progress"]["partitionsDone"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    t1 = time.monotonic()
    first.stop()  # mid-job: some partitions done, others interrupted at their next chunk
    with first.hub.store.engine.connect() as conn:
        states = dict(conn.exec_driver_sql("SELECT state, count(*) FROM job_partitions GROUP BY state").all())
        job_state = conn.exec_driver_sql("SELECT state, driver_id FROM jobs").one()
    assert job_state == ("running", None) and 1 <= states.get("done", 0) < FILES, states
    done_before = states["done"]
    print("stopped in", time.monotonic() - t1)

    t0 = time.monotonic()
    second = start_hub(data_dir)  # the same data dir and database: it resumes the job on start
    try:
        with second.client(token) as api:
            done = wait_for(api, job["id"], timeout=120)
            print("resumed and finished in", time.monotonic() - t0)
            assert done["state"] == "complete", done["errorMessage"]
            assert files_under(tmp_path / "out") == expected
            with second.hub.store.engine.connect() as conn:
                attempts = dict(conn.exec_driver_sql('SELECT "index", attempts FROM job_partitions').all())
            assert sum(1 for a in attempts.values() if a == 1) >= done_before
            logs = [line["message"] for line in api.get(f"/v1/jobs/{job['id']}/logs").json()["logs"]]
            assert any("resumed" in line for line in logs), logs
    finally:
        second.stop()
