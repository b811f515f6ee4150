"""Native `/v1/jobs` with ByteNite-style `dataSource` objects as source or destination.

Each object becomes a data source the job owns (made through the sources service,
checked for real, deleted with the job); the job then runs on its address with the
rights checks of any native address.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import obstore
import pytest

from tests.fixtures.http_server import HttpServer
from tests.fixtures.hub import RunningHub
from tests.fixtures.seaweedfs import SeaweedFS
from tests.services.jobs.helpers import create_job, files_under, local_source, wait_for

S3_TYPE = "type.googleapis.com/bytenite.data_source.S3DataSource"


def secret(api: httpx.Client, seaweedfs: SeaweedFS, secret_id: str = "sw") -> str:
    body = {
        "id": secret_id,
        "secretType": "s3",
        "accessKey": seaweedfs.rw.access_key,
        "secretKey": seaweedfs.rw.secret_key,
    }
    api.post("/v1/secrets", json=body).raise_for_status()
    return secret_id


def s3_object(seaweedfs: SeaweedFS, bucket: str, name: str, secret_id: str = "sw") -> dict[str, Any]:
    params = {
        "@type": S3_TYPE,
        "name": name,
        "bucketName": bucket,
        "cloudRegion": seaweedfs.region,
        "secret_id": secret_id,
        "endpoint": seaweedfs.endpoint,
    }
    return {"dataSourceDescriptor": "s3", "params": params}


def owned(api: httpx.Client) -> dict[str, dict[str, Any]]:
    """The data sources jobs made, by label."""
    return {s["label"]: s for s in api.get("/v1/sources").json()["sources"] if s["label"].startswith("job-")}


@pytest.fixture
def org(jobs_hub: RunningHub) -> tuple[str, str]:
    """A fresh organization and its admin token."""
    name = f"org-{uuid.uuid4().hex[:10]}"
    return name, jobs_hub.token(org=name)


def test_s3_and_bucket_objects_make_sources_that_the_job_uses_and_deleting_it_deletes_them(
    jobs_hub: RunningHub, admin: httpx.Client, seaweedfs: SeaweedFS
) -> None:
    bucket = seaweedfs.create_bucket()
    expected = {f"part-{i}.bin": os.urandom(5000 + i) for i in range(3)}
    for name, body in expected.items():
        obstore.put(seaweedfs.store(bucket), f"raw/{name}", body)
    secret(admin, seaweedfs)
    job = create_job(admin, s3_object(seaweedfs, bucket, "/raw/*.bin"), {"dataSourceDescriptor": "bucket"}, run=True)
    short = job["id"].replace("-", "")[:12]
    assert job["source"] == f"s3+job-{short}-in://raw/*.bin" and job["destination"] == f"bucket+job-{short}-out://"
    made = owned(admin)
    assert set(made) == {f"job-{short}-in", f"job-{short}-out"}
    source, destination = made[f"job-{short}-in"], made[f"job-{short}-out"]
    assert source["access"] == "read" and source["secretId"] == "sw" and source["state"]["healthy"]
    assert source["params"] == {"bucket": bucket, "region": seaweedfs.region, "endpoint": seaweedfs.endpoint}
    assert destination["access"] == "read-write" and destination["entityInfo"]["owner"] == f"job {job['id']}"

    assert wait_for(admin, job["id"])["state"] == "complete"
    results = admin.get(f"/v1/jobs/{job['id']}/results").json()["results"]
    assert {r["name"]: httpx.get(r["link"]).content for r in results} == expected

    assert admin.delete(f"/v1/jobs/{job['id']}").status_code == 204
    assert owned(admin) == {}
    assert admin.get("/v1/secrets/sw").status_code == 200  # the secret is the caller's, not the job's


def test_an_uploaded_file_and_a_url_as_sources_with_a_native_destination(
    admin: httpx.Client, http_server: HttpServer, tmp_path: Path
) -> None:
    upload = admin.put("/v1/uploads/report.csv", content=b"id,amount\n1,10\n").json()
    dst = local_source(admin, tmp_path / "out")
    from_upload = create_job(
        admin,
        {"dataSourceDescriptor": "file", "params": {"uploadId": upload["uploadId"]}},
        f"{dst}://uploaded/",
        run=True,
    )
    url = {"dataSourceDescriptor": "url", "params": {"url": f"{http_server.url}/files/hello.txt", "name": ""}}
    from_url = create_job(admin, url, f"{dst}://fetched/", run=True)
    assert from_upload["source"].endswith("://report.csv") and from_url["source"].endswith("://hello.txt")
    for job in (from_upload, from_url):
        assert wait_for(admin, job["id"])["state"] == "complete"
    assert files_under(tmp_path / "out") == {
        "uploaded/report.csv": b"id,amount\n1,10\n",
        "fetched/hello.txt": b"hello world\n",
    }

    for job in (from_upload, from_url):
        assert admin.delete(f"/v1/jobs/{job['id']}").status_code == 204
    assert owned(admin) == {}
    kept = admin.get(f"/v1/uploads/{upload['uploadId']}").json()  # the caller's upload is not the job's
    assert kept["state"] == "complete" and httpx.get(kept["tempUrl"]).content == b"id,amount\n1,10\n"


def test_tokens_that_may_not_create_sources_are_refused_and_nothing_is_left(
    jobs_hub: RunningHub, org: tuple[str, str], seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    name, token = org
    bucket = seaweedfs.create_bucket()
    with jobs_hub.client(token) as api:
        secret(api, seaweedfs)
        dst = local_source(api, tmp_path / "out")
        source_id = next(s["id"] for s in api.get("/v1/sources").json()["sources"])
        body = {"source": s3_object(seaweedfs, bucket, "/raw/"), "destination": f"{dst}://copies/"}
        cases = [
            ({"read_only": True}, "read-only"),
            ({"source_ids": (source_id,)}, "limited to some data sources"),
            ({"path_prefix": f"{dst}://"}, "limited to"),
        ]
        for narrowing, words in cases:
            with jobs_hub.client(jobs_hub.token(org=name, admin=False, **narrowing)) as narrowed:
                response = narrowed.post("/v1/jobs", json=body)
                assert response.status_code == 403, (narrowing, response.text)
                assert words in response.json()["error"]["message"]
        assert owned(api) == {} and api.get("/v1/jobs").json()["jobs"] == []


@pytest.mark.parametrize(
    ("source", "destination", "status", "words"),
    [
        ({"dataSourceDescriptor": "dropbox"}, {"dataSourceDescriptor": "bucket"}, 400, "dropbox"),
        ({"dataSourceDescriptor": "file"}, {"dataSourceDescriptor": "bucket"}, 400, "uploadId"),
        ({"dataSourceDescriptor": "bucket"}, {"dataSourceDescriptor": "bucket"}, 400, "output-only"),
        (
            {"dataSourceDescriptor": "bypass"},
            {"dataSourceDescriptor": "url", "params": {"url": "http://127.0.0.1:9/"}},
            400,
            "input-only",
        ),
        (
            {"dataSourceDescriptor": "aws", "params": {"bucketName": "b-x1", "secret_id": "none"}},
            {"dataSourceDescriptor": "bucket"},
            404,
            "none",
        ),
        (
            {"dataSourceDescriptor": "bypass", "params": {"colour": "red"}},
            {"dataSourceDescriptor": "bucket"},
            400,
            "colour",
        ),
        (
            {"dataSourceDescriptor": "bypass"},
            {
                "dataSourceDescriptor": "s3",
                "params": {"bucketName": "b-x1", "endpoint": "http://127.0.0.1:9", "secret_id": "sw"},
            },
            502,
            "dataDestination",
        ),
    ],
)
def test_objects_that_cannot_work_are_refused_and_leave_nothing(
    jobs_hub: RunningHub,
    org: tuple[str, str],
    seaweedfs: SeaweedFS,
    source: dict[str, Any],
    destination: dict[str, Any],
    status: int,
    words: str,
) -> None:
    with jobs_hub.client(org[1]) as api:
        secret(api, seaweedfs)
        response = api.post("/v1/jobs", json={"source": source, "destination": destination})
        assert response.status_code == status, response.text
        assert words in response.json()["error"]["message"]
        assert owned(api) == {} and api.get("/v1/jobs").json()["jobs"] == []
