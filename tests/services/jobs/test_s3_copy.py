"""Copy 500 objects between two SeaweedFS buckets through a job, and verify every byte."""

from __future__ import annotations

import hashlib
import os
import time

import httpx
import obstore as obs
import pytest

from tests.fixtures.hub import RunningHub
from tests.fixtures.seaweedfs import SeaweedFS
from tests.services.jobs.helpers import create_job, wait_for

COUNT = int(os.environ.get("JOBS_COUNT", "500"))


def s3_source(api: httpx.Client, seaweedfs: SeaweedFS, label: str, bucket: str, access: str, **extra: object) -> str:
    secret = f"sw-{label}"
    api.post(
        "/v1/secrets",
        json={
            "id": secret,
            "secretType": "s3",
            "accessKey": seaweedfs.rw.access_key,
            "secretKey": seaweedfs.rw.secret_key,
        },
    ).raise_for_status()
    body = {
        "protocol": "s3",
        "label": label,
        "access": access,
        "secretId": secret,
        "params": {"endpoint": seaweedfs.endpoint, "region": seaweedfs.region, "bucket": bucket},
        **extra,
    }
    response = api.post("/v1/sources", json=body)
    assert response.status_code == 201, response.text
    return f"s3+{label}"


def test_copy_500_objects_between_buckets_byte_for_byte(
    seaweedfs: SeaweedFS, jobs_hub: RunningHub, admin: httpx.Client
) -> None:
    source_bucket, target_bucket = seaweedfs.create_bucket(), seaweedfs.create_bucket()
    store = seaweedfs.store(source_bucket)
    expected: dict[str, str] = {}
    for i in range(COUNT):
        body = os.urandom(100 + (i * 37) % 3000)
        obs.put(store, f"raw/obj-{i:04d}.bin", body)
        expected[f"obj-{i:04d}.bin"] = hashlib.sha256(body).hexdigest()
    obs.put(store, "raw/skip.txt", b"not matched by the glob")
    src = s3_source(admin, seaweedfs, "in", source_bucket, "read")
    dst = s3_source(admin, seaweedfs, "out", target_bucket, "read-write")

    started = time.monotonic()
    job = create_job(admin, f"{src}://raw/*.bin", f"{dst}://copied/", run=True)
    done = wait_for(admin, job["id"], timeout=240)
    elapsed = time.monotonic() - started
    assert done["state"] == "complete", done["errorMessage"]
    assert done["progress"] == {
        "partitionsDone": COUNT,
        "partitionsTotal": COUNT,
        "partitionsFailed": 0,
        "partitionsRunning": 0,
        "bytesIn": done["progress"]["bytesIn"],
        "bytesOut": done["progress"]["bytesIn"],
    }

    keys = seaweedfs.keys_in(target_bucket)
    assert keys == sorted(f"copied/{name}" for name in expected)
    target = seaweedfs.store(target_bucket)
    for name, digest in expected.items():
        assert hashlib.sha256(bytes(obs.get(target, f"copied/{name}").bytes())).hexdigest() == digest, name
    assert seaweedfs.pending_uploads(target_bucket) == []
    results = admin.get(f"/v1/jobs/{job['id']}/results").json()["results"]
    assert len(results) == COUNT and {r["name"]: r["sha256"] for r in results} == expected
    assert all(r["address"].startswith(f"{dst}://copied/obj-") and r["link"] is None for r in results)
    print(f"copied {COUNT} objects in {elapsed:.1f} s")


@pytest.mark.parametrize("access", ["read"])
def test_a_read_only_bucket_is_refused_as_a_destination(seaweedfs: SeaweedFS, admin: httpx.Client, access: str) -> None:
    bucket = seaweedfs.create_bucket()
    src = s3_source(admin, seaweedfs, "ro-in", bucket, "read")
    dst = s3_source(admin, seaweedfs, "ro-out", seaweedfs.create_bucket(), access)
    response = admin.post("/v1/jobs", json={"source": f"{src}://raw/*", "destination": f"{dst}://out/"})
    assert response.status_code == 403 and "read-only" in response.json()["error"]["message"]


def test_no_credential_reaches_a_response_a_log_or_an_error(
    seaweedfs: SeaweedFS, jobs_hub: RunningHub, admin: httpx.Client
) -> None:
    bucket = seaweedfs.create_bucket()
    obs.put(seaweedfs.store(bucket), "in/a.bin", b"payload")
    good = s3_source(admin, seaweedfs, "leak-in", bucket, "read")
    out = s3_source(admin, seaweedfs, "leak-out", seaweedfs.create_bucket(), "read-write")
    wrong = "wrong-" + os.urandom(8).hex()
    admin.post(
        "/v1/secrets",
        json={"id": "sw-bad", "secretType": "s3", "accessKey": seaweedfs.rw.access_key, "secretKey": wrong},
    ).raise_for_status()
    bad = admin.post(
        "/v1/sources",
        json={
            "protocol": "s3",
            "label": "leak-bad",
            "access": "read",
            "secretId": "sw-bad",
            "params": {"endpoint": seaweedfs.endpoint, "region": seaweedfs.region, "bucket": bucket},
        },
    )
    assert bad.status_code == 201
    ok = create_job(admin, f"{good}://in/*", f"{out}://o/", run=True)
    failed = create_job(admin, "s3+leak-bad://in/*", f"{out}://p/", run=True)
    assert wait_for(admin, ok["id"])["state"] == "complete"
    outcome = wait_for(admin, failed["id"])
    assert outcome["state"] == "failed" and outcome["errorMessage"]
    for job in (ok, failed):
        admin.get(f"/v1/jobs/{job['id']}/logs")
        admin.get(f"/v1/jobs/{job['id']}")
    seen = "\n".join(jobs_hub.transcript) + "\n".join(jobs_hub.logs.lines)
    for secret in (seaweedfs.rw.secret_key, wrong):
        assert secret not in seen
