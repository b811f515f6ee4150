"""The hub killed with SIGKILL in the middle of uploads loses no committed data and shows no partial object."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from hubprocess import HubProcess, start_hub

from tests.fixtures.seaweedfs import SeaweedFS

# A whole hub driven hard and timed: such runs share one test process in a parallel suite, one after the other.
pytestmark = pytest.mark.xdist_group("whole_hub_under_load")

MiB = 1024 * 1024


def slow_body(total: int, sent: threading.Event) -> Iterator[bytes]:
    block = os.urandom(MiB)
    for i in range(total // MiB):
        if i == 4:
            sent.set()
        time.sleep(0.02)
        yield block


def put_until_killed(hub: HubProcess, url: str) -> None:
    """Start a slow upload, SIGKILL the hub once a few MiB are in, and let the upload fail."""
    sent = threading.Event()
    killer = threading.Thread(target=lambda: (sent.wait(30), os.kill(hub.pid, signal.SIGKILL)))
    killer.start()
    try:
        response = httpx.put(
            f"{hub.url}{url}", content=slow_body(64 * MiB, sent), headers={"Authorization": hub.token}, timeout=60
        )
        raise AssertionError(f"the upload finished ({response.status_code}) before the hub was killed")
    except httpx.HTTPError:
        pass
    killer.join()
    hub.process.wait(timeout=10)


def test_sigkill_during_uploads_keeps_committed_data_and_shows_no_partial(tmp_path: Path, seaweedfs: SeaweedFS) -> None:
    data_dir = tmp_path / "hub"
    bucket = seaweedfs.create_bucket()
    hub = start_hub(data_dir)
    auth = {"Authorization": hub.token}
    with httpx.Client(base_url=hub.url, headers=auth, timeout=60) as api:
        api.post(
            "/v1/secrets",
            json={
                "id": "sw",
                "secretType": "s3",
                "accessKey": seaweedfs.rw.access_key,
                "secretKey": seaweedfs.rw.secret_key,
            },
        ).raise_for_status()
        api.post(
            "/v1/sources",
            json={
                "protocol": "s3",
                "label": "lake",
                "secretId": "sw",
                "access": "read-write",
                "params": {"endpoint": seaweedfs.endpoint, "region": seaweedfs.region, "bucket": bucket},
            },
        ).raise_for_status()
        api.put("/v1/data/.my/coll/kept.txt", content=b"committed before the crash").raise_for_status()
        api.put("/v1/connector/s3+lake/kept.txt", content=b"committed before the crash").raise_for_status()
    put_until_killed(hub, "/v1/data/.my/coll/partial.bin")
    hub = start_hub(data_dir, token=hub.token)
    put_until_killed(hub, "/v1/connector/s3+lake/partial.bin")
    hub = start_hub(data_dir, token=hub.token)
    try:
        with httpx.Client(base_url=hub.url, headers=auth, timeout=60) as api:
            assert api.get("/v1/data/.my/coll/kept.txt").content == b"committed before the crash"
            assert api.get("/v1/connector/s3+lake/kept.txt").content == b"committed before the crash"
            assert [f["filename"] for f in api.get("/v1/data/.my/coll").json()["files"]] == ["kept.txt"]
            assert [f["filename"] for f in api.get("/v1/connector/s3+lake/").json()["files"]] == ["kept.txt"]
            assert api.head("/v1/data/.my/coll/partial.bin").status_code == 404
            assert api.head("/v1/connector/s3+lake/partial.bin").status_code == 404
        assert seaweedfs.keys_in(bucket) == ["kept.txt"]
    finally:
        hub.stop()


def test_sigkill_during_a_job_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    from tests.services.jobs.helpers import create_job, files_under, local_source, wait_for

    inputs = tmp_path / "in"
    inputs.mkdir()
    expected = {f"f{i:03d}.bin": os.urandom(128 * 1024) for i in range(150)}
    for name, body in expected.items():
        (inputs / name).write_bytes(body)
    data_dir = tmp_path / "hub"
    threads = {"HEADWATER_DASK_PROCESSES": "0", "HEADWATER_DASK_THREADS": "1"}
    hub = start_hub(data_dir, **threads)
    with httpx.Client(base_url=hub.url, headers={"Authorization": hub.token}, timeout=60) as api:
        src = local_source(api, inputs, access="read")
        dst = local_source(api, tmp_path / "out")
        job = create_job(api, f"{src}://*.bin", f"{dst}://copy/", app="copy", run=True)
        deadline = time.monotonic() + 60
        while api.get(f"/v1/jobs/{job['id']}").json()["progress"]["partitionsDone"] < 5:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    os.kill(hub.pid, signal.SIGKILL)
    hub.process.wait(timeout=10)
    done_at_kill = len(files_under(tmp_path / "out"))
    assert done_at_kill < len(expected), "the job finished before the hub was killed"
    hub = start_hub(data_dir, token=hub.token, **threads)
    try:
        with httpx.Client(base_url=hub.url, headers={"Authorization": hub.token}, timeout=60) as api:
            finished = wait_for(api, job["id"], timeout=150)  # takes over once the dead hub's lease lapses
            assert finished["state"] == "complete", finished.get("errorMessage")
        produced = files_under(tmp_path / "out")
        assert {name.split("/")[-1]: body for name, body in produced.items()} == expected
        leftovers = [p.name for p in (tmp_path / "out").rglob("*") if p.name.startswith(".headwater-partial-")]
        assert leftovers == []
    finally:
        hub.stop()
