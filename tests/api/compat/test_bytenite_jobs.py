"""ByteNite's job routes, replayed with the documented request bodies (values changed) on a real hub and SeaweedFS.

A job's `dataSource`/`dataDestination` objects become data sources the job owns; the
job runs on the hub's own jobs service; results of a `bucket` destination are signed
links. Every error is ByteNite's generic response.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import obstore
import pytest

from headwater.services.jobs import driver
from tests.api.compat.test_bytenite import S3_TYPE, assert_envelope, assert_generic_ok, bytenite, seed_secret
from tests.fixtures.http_server import HttpServer
from tests.fixtures.hub import RunningHub
from tests.fixtures.seaweedfs import SeaweedFS
from tests.services.jobs.helpers import THREADS

HTTP_TYPE = "type.googleapis.com/bytenite.data_source.HttpDataSource"
FILE_TYPE = "type.googleapis.com/bytenite.data_source.LocalFileDataSource"
SECRET_ID = "aws_full_s3_access_key"
DONE = ("JOB_STATE_COMPLETE", "JOB_STATE_FAILED", "JOB_STATE_CANCELED")


@pytest.fixture
def hub(hub_server: RunningHub) -> RunningHub:
    """The hub, its embedded Dask in threads (fast to start)."""
    engine = driver.engine_for(hub_server.hub)
    if engine._executor is None and engine.config is None:
        driver.configure(hub_server.hub, THREADS)
    return hub_server


@pytest.fixture
def world(hub: RunningHub, seaweedfs: SeaweedFS) -> Iterator[tuple[httpx.Client, str]]:
    """A ByteNite client of a fresh organization whose seed secret holds SeaweedFS's read-write keys, and a bucket."""
    token = hub.token()
    body = seed_secret(accessKey=seaweedfs.rw.access_key)
    body["secretKey"] = seaweedfs.rw.secret_key
    with bytenite(hub, token) as api:
        assert_generic_ok(api.post("/v1/auth/secrets", json=body).json())
        yield api, seaweedfs.create_bucket()


def s3_object(seaweedfs: SeaweedFS, bucket: str, name: str, secret_id: str = SECRET_ID) -> dict[str, Any]:
    """The seed's S3 `dataSource` object, pointed at SeaweedFS through `params.endpoint`."""
    return {
        "dataSourceDescriptor": "s3",
        "params": {
            "@type": S3_TYPE,
            "name": name,
            "bucketName": bucket,
            "cloudRegion": seaweedfs.region,
            "secret_id": secret_id,
            "endpoint": seaweedfs.endpoint,
        },
    }


def create(api: httpx.Client, base: str = "/v1/customer", **body: Any) -> dict[str, Any]:
    response = api.post(f"{base}/jobs", json=body)
    assert response.status_code == 200, response.text
    created = response.json()
    assert set(created) == {"job", "templateInfo"}
    return dict(created["job"])


def wait(api: httpx.Client, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = api.get(f"/v1/customer/jobs/{job_id}").json()["job"]
        if job["state"] in DONE:
            return dict(job)
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def job_sources(api: httpx.Client) -> list[str]:
    """Labels of the data sources jobs made in this organization."""
    return sorted(s["label"] for s in api.get("/v1/sources").json()["sources"] if s["label"].startswith("job-"))


def test_an_s3_job_into_a_temporary_bucket_runs_and_its_result_downloads_byte_exact(
    hub: RunningHub, world: tuple[httpx.Client, str], seaweedfs: SeaweedFS
) -> None:
    api, bucket = world
    content = os.urandom(300_000)
    obstore.put(seaweedfs.store(bucket), "vids/big_buck_bunny.mp4", content)
    start_transcript, start_logs = len(hub.transcript), len(hub.logs.lines)
    source = s3_object(seaweedfs, bucket, "/vids/big_buck_bunny.mp4")
    job = create(
        api,
        templateId="copy",
        name="encode bunny",
        description="a copy through ByteNite's routes",
        dataSource=source,
        dataDestination={"dataSourceDescriptor": "bucket"},
        params={"preset": "", "partitioner": {}, "assembler": {}, "app": {}},
    )
    assert job["state"] == "JOB_STATE_NEW" and job["name"] == "encode bunny" and job["templateId"] == "copy"
    assert job["dataSource"] == source and job["dataDestination"] == {"dataSourceDescriptor": "bucket"}
    assert job["params"] == {"app": {"verify": "size"}, "partitioner": {}, "assembler": {}}
    assert job["numChunks"] == "0" and list(job["stateTimestamps"]) == ["JOB_STATE_NEW"]
    assert job["templateInfo"]["app"] == "copy" and job["templateInfo"]["partitioner"] == "object"
    assert job_sources(api) == [f"job-{job['id'].replace('-', '')[:12]}-{side}" for side in ("in", "out")]

    early = api.get(f"/v1/customer/jobs/{job['id']}/results")
    assert "has not yet been completed" in assert_envelope(early, 400, "Bad Request")["error"]["description"]
    ran = api.post(
        f"/v1/customer/jobs/{job['id']}/run", json={"taskTimeout": 3600, "jobTimeout": 86400, "isTestJob": True}
    )
    assert ran.status_code == 200, ran.text
    assert_generic_ok(ran.json())
    done = wait(api, job["id"])
    assert done["state"] == "JOB_STATE_COMPLETE", done
    assert list(done["stateTimestamps"]) == [
        f"JOB_STATE_{s}" for s in ("NEW", "READY", "PARTITIONING", "RUNNING", "ASSEMBLING", "COMPLETE")
    ]
    assert done["numChunks"] == "1" and done["endedAt"] and done["submittedAt"] and done["startedAt"]

    results = api.get(f"/v1/computing/jobs/{job['id']}/results")
    assert results.status_code == 200, results.text
    [result] = results.json()["results"]
    assert result["name"] == "big_buck_bunny.mp4" and result["link"].startswith(hub.url + "/v1/links/")
    assert httpx.get(result["link"]).content == content  # no token: the signed link is the credential

    listed = api.get("/v1/customer/jobs", params={"pagination.limit": 10}).json()
    assert listed["pagination"] == {"total": "1", "offset": "0", "hasPrevious": False, "hasNext": False}
    assert [j["id"] for j in listed["data"]] == [job["id"]] and listed["data"][0]["state"] == "JOB_STATE_COMPLETE"

    deleted = api.delete(f"/v1/customer/jobs/{job['id']}")
    assert deleted.status_code == 200, deleted.text
    assert_generic_ok(deleted.json())
    assert (
        job["id"]
        in assert_envelope(api.get(f"/v1/customer/jobs/{job['id']}"), 404, "Not Found")["error"]["description"]
    )
    assert job_sources(api) == []  # the sources the job made went with it
    assert bytes(obstore.get(seaweedfs.store(bucket), "vids/big_buck_bunny.mp4").bytes()) == content
    captured = "\n".join(hub.transcript[start_transcript:] + hub.logs.lines[start_logs:])
    assert seaweedfs.rw.secret_key not in captured


def test_patch_datasource_before_run_then_the_job_writes_to_s3(
    world: tuple[httpx.Client, str], seaweedfs: SeaweedFS
) -> None:
    api, bucket = world
    store = seaweedfs.store(bucket)
    for name in ("a.csv", "b.csv"):
        obstore.put(store, f"raw/{name}", f"id\n{name}\n".encode())
    job = create(api, base="/v1/computing", templateId="copy-template")
    assert job["dataSource"] == job["dataDestination"] == {"dataSourceDescriptor": "bypass"}
    short = job["id"].replace("-", "")[:12]
    assert job_sources(api) == [f"job-{short}-in", f"job-{short}-out"]

    source = s3_object(seaweedfs, bucket, "/raw/")
    patched = api.patch(f"/v1/customer/jobs/{job['id']}/datasource", json={"dataSource": source})
    assert patched.status_code == 200, patched.text
    assert patched.json()["job"]["dataSource"] == source
    assert patched.json()["job"]["dataDestination"] == {"dataSourceDescriptor": "bypass"}
    destination = s3_object(seaweedfs, bucket, "/copied/")
    patched = api.patch(f"/v1/computing/jobs/{job['id']}/datasource", json={"dataDestination": destination})
    assert patched.json()["job"]["dataDestination"] == destination and patched.json()["job"]["dataSource"] == source
    assert len(job_sources(api)) == 2  # the replaced bypass sources are gone

    assert_generic_ok(
        api.post(
            f"/v1/customer/jobs/{job['id']}/run",
            json={"config": {"taskTimeout": "3600", "jobTimeout": "84200", "isTestJob": False}},
        ).json()
    )
    assert wait(api, job["id"])["state"] == "JOB_STATE_COMPLETE"
    assert seaweedfs.keys_in(bucket, "copied/") == ["copied/a.csv", "copied/b.csv"]
    assert bytes(obstore.get(store, "copied/b.csv").bytes()) == b"id\nb.csv\n"
    results = api.get(f"/v1/customer/jobs/{job['id']}/results").json()["results"]
    assert [r["name"] for r in results] == ["a.csv", "b.csv"]
    assert api.get(results[0]["link"]).content == b"id\na.csv\n"  # the Data API URL of the output, with a token

    late = api.patch(f"/v1/customer/jobs/{job['id']}/datasource", json={"dataSource": source})
    assert "before it runs" in assert_envelope(late, 409, "Conflict")["error"]["description"]
    assert_envelope(api.post(f"/v1/customer/jobs/{job['id']}/run", json={}), 409, "Conflict")


def test_the_file_upload_flow(hub: RunningHub) -> None:
    content = os.urandom(1_500_000) + b"end"  # above the 1 MiB cap of JSON routes: the tempUrl streams
    with bytenite(hub, hub.token()) as api:
        job = create(
            api,
            templateId="copy",
            dataSource={"dataSourceDescriptor": "file", "params": {"@type": FILE_TYPE}},
            dataDestination={"dataSourceDescriptor": "bucket"},
        )
        temp_url = job["dataSource"]["params"]["tempUrl"]
        assert temp_url.startswith(hub.url + "/v1/uploads/signed/")
        assert job["dataSource"]["dataSourceDescriptor"] == "file"
        waiting = api.post(f"/v1/customer/jobs/{job['id']}/run", json={})
        assert "tempUrl" in assert_envelope(waiting, 409, "Conflict")["error"]["description"]
        early = api.post(f"/v1/customer/jobs/uploadcompleted/{job['id']}", json={})
        assert "nothing was uploaded" in assert_envelope(early, 400, "Bad Request")["error"]["description"]

        put = httpx.put(temp_url, content=content, headers={"Content-Disposition": "attachment"})  # no token
        assert put.status_code == 200, put.text
        assert_generic_ok(api.post(f"/v1/customer/jobs/uploadcompleted/{job['id']}", json={}).json())
        assert_generic_ok(api.patch(f"/v1/computing/jobs/{job['id']}/uploadcompleted", json={}).json())
        assert httpx.put(temp_url, content=b"again").status_code == 409  # complete: no more bytes
        assert httpx.put(temp_url.replace("/signed/", "/signed/x"), content=b"forged").status_code == 403
        assert "tempUrl" not in api.get(f"/v1/customer/jobs/{job['id']}").json()["job"]["dataSource"]["params"]

        assert_generic_ok(api.post(f"/v1/customer/jobs/{job['id']}/run").json())
        assert wait(api, job["id"])["state"] == "JOB_STATE_COMPLETE"
        [result] = api.get(f"/v1/customer/jobs/{job['id']}/results").json()["results"]
        assert result["name"] == "upload" and httpx.get(result["link"]).content == content
        assert_generic_ok(api.delete(f"/v1/customer/jobs/{job['id']}").json())
        assert job_sources(api) == []


def test_an_unknown_job_is_a_404_envelope_on_every_route(hub: RunningHub) -> None:
    missing = str(uuid.uuid4())
    with bytenite(hub, hub.token()) as api:
        for base in ("/v1/customer", "/v1/computing"):
            for method, path, body in [
                ("GET", f"/jobs/{missing}", None),
                ("DELETE", f"/jobs/{missing}", None),
                ("POST", f"/jobs/{missing}/run", {}),
                ("POST", f"/jobs/{missing}/abort", None),
                ("GET", f"/jobs/{missing}/results", None),
                ("PATCH", f"/jobs/{missing}/datasource", {"dataSource": {"dataSourceDescriptor": "bypass"}}),
                ("POST", f"/jobs/uploadcompleted/{missing}", {}),
                ("PATCH", f"/jobs/{missing}/uploadcompleted", {}),
            ]:
                response = api.request(method, base + path, json=body)
                envelope = assert_envelope(response, 404, "Not Found")
                assert missing in envelope["error"]["description"], (method, path)
        assert job_sources(api) == []


def test_a_read_only_destination_is_refused_and_nothing_is_left_behind(
    hub: RunningHub, world: tuple[httpx.Client, str], seaweedfs: SeaweedFS
) -> None:
    api, bucket = world
    obstore.put(seaweedfs.store(bucket), "in/a.txt", b"a")
    reader = seed_secret(id="reader", accessKey=seaweedfs.ro.access_key)
    reader["secretKey"] = seaweedfs.ro.secret_key
    api.post("/v1/auth/secrets", json=reader).raise_for_status()
    source = s3_object(seaweedfs, bucket, "/in/a.txt")

    read_only = api.post(
        "/v1/customer/jobs",
        json={"dataSource": source, "dataDestination": s3_object(seaweedfs, bucket, "/out/", "reader")},
    )
    assert "not write" in assert_envelope(read_only, 403, "Forbidden")["error"]["description"]
    url = {"dataSourceDescriptor": "url", "params": {"@type": HTTP_TYPE, "url": "http://127.0.0.1:9/x"}}
    input_only = api.post("/v1/customer/jobs", json={"dataSource": source, "dataDestination": url})
    assert "input-only" in assert_envelope(input_only, 400, "Bad Request")["error"]["description"]
    output_only = api.post("/v1/customer/jobs", json={"dataSource": {"dataSourceDescriptor": "bucket"}})
    assert "output-only" in assert_envelope(output_only, 400, "Bad Request")["error"]["description"]
    no_secret = api.post("/v1/customer/jobs", json={"dataSource": s3_object(seaweedfs, bucket, "/in/a.txt", "nope")})
    assert "nope" in assert_envelope(no_secret, 404, "Not Found")["error"]["description"]
    org = api.get("/v1/me").json()["organization"]
    with bytenite(hub, hub.token(org=org, admin=False, read_only=True)) as viewer:
        refused = viewer.post(
            "/v1/customer/jobs", json={"dataSource": source, "dataDestination": {"dataSourceDescriptor": "bucket"}}
        )
        assert "read-only" in assert_envelope(refused, 403, "Forbidden")["error"]["description"]
    assert api.get("/v1/customer/jobs").json()["data"] == [] and job_sources(api) == []
    assert seaweedfs.keys_in(bucket) == ["in/a.txt"]  # the write probe left nothing


def test_templates_map_to_the_built_in_apps(hub: RunningHub) -> None:
    with bytenite(hub, hub.token()) as api:
        assert create(api)["templateId"] == "copy"
        assert (
            create(api, templateId="convert-template", params={"app": {"to": "jsonl"}})["templateInfo"]["app"]
            == "convert"
        )
        unknown = api.post("/v1/customer/jobs", json={"templateId": "img-gen-diffusers"})
        assert "copy, convert, python" in assert_envelope(unknown, 400, "Bad Request")["error"]["description"]
        given_id = api.post("/v1/customer/jobs", json={"jobId": "mine", "templateId": "copy"})
        assert "jobId" in assert_envelope(given_id, 400, "Bad Request")["error"]["description"]
        bad_params = api.post("/v1/customer/jobs", json={"templateId": "copy", "params": {"app": {"colour": "red"}}})
        assert_envelope(bad_params, 400, "Bad Request")
        listed = api.get(
            "/v1/computing/jobs", params={"pagination.limit": 1, "pagination.offset": 1, "orderBy": "createdAt"}
        ).json()
        assert listed["pagination"] == {"total": "2", "offset": "1", "hasPrevious": True, "hasNext": False}
        assert len(listed["data"]) == 1
        first = listed["data"][0]["id"]
        assert_generic_ok(api.post(f"/v1/customer/jobs/{first}/abort").json())  # a job not yet run is deleted
        assert_envelope(api.get(f"/v1/customer/jobs/{first}"), 404, "Not Found")


# -- jobs show their objects as sent ------------------------------------------------------------


def s3_family(seaweedfs: SeaweedFS, bucket: str, descriptor: str, name: str, region: str) -> dict[str, Any]:
    shown = s3_object(seaweedfs, bucket, name)
    shown["dataSourceDescriptor"] = descriptor
    shown["params"]["cloudRegion"] = region
    return shown


REGIONS = {"aws": "us-east-2", "s3": "us-east-1", "gcp": "us-west2-b", "storj": "global"}


def test_a_job_shows_its_data_source_and_destination_exactly_as_sent(
    world: tuple[httpx.Client, str], seaweedfs: SeaweedFS, http_server: HttpServer
) -> None:
    api, bucket = world
    obstore.put(seaweedfs.store(bucket), "in/a.csv", b"id\n1\n")
    sources = [s3_family(seaweedfs, bucket, d, "/in/a.csv", r) for d, r in REGIONS.items()] + [
        {
            "dataSourceDescriptor": "url",
            "params": {
                "@type": HTTP_TYPE,
                "url": f"{http_server.url}/files/hello.txt",
                "name": "",
                "username": "",
                "password": "",
            },
        },
        {
            "dataSourceDescriptor": "url",
            "params": {"url": f"{http_server.url}/files/hello.txt"},
        },  # no @type: shown without one
    ]
    destinations = [s3_family(seaweedfs, bucket, d, "/out/", r) for d, r in REGIONS.items()] + [
        {"dataSourceDescriptor": "bucket"},
        {"dataSourceDescriptor": "bucket", "params": {}},  # legacy clients send empty params
    ]
    job = create(api, templateId="copy", dataSource=sources[0], dataDestination=destinations[0])
    assert job["dataSource"] == sources[0] and job["dataDestination"] == destinations[0]  # aws stays aws
    for source, destination in zip(sources, destinations, strict=True):
        patched = api.patch(
            f"/v1/customer/jobs/{job['id']}/datasource", json={"dataSource": source, "dataDestination": destination}
        )
        assert patched.status_code == 200, patched.text
        shown = api.get(f"/v1/customer/jobs/{job['id']}").json()["job"]
        assert (shown["dataSource"], shown["dataDestination"]) == (source, destination)
        assert patched.json()["job"]["dataSource"] == source
    only_destination = api.patch(
        f"/v1/computing/jobs/{job['id']}/datasource", json={"dataDestination": destinations[2]}
    )
    assert only_destination.json()["job"]["dataSource"] == sources[-1]  # the side not sent is unchanged
    assert only_destination.json()["job"]["dataDestination"] == destinations[2]

    upload = {"dataSourceDescriptor": "file", "params": {"@type": FILE_TYPE}}
    shown = api.patch(f"/v1/customer/jobs/{job['id']}/datasource", json={"dataSource": upload}).json()["job"][
        "dataSource"
    ]
    temp_url = shown["params"].pop("tempUrl")  # the one field the server adds, as ByteNite documents
    assert shown == upload and "/v1/uploads/signed/" in temp_url
    listed = api.get("/v1/customer/jobs").json()["data"][0]
    assert listed["dataDestination"] == destinations[2]
    assert_generic_ok(api.delete(f"/v1/customer/jobs/{job['id']}").json())


# -- templates ----------------------------------------------------------------------------------------


def test_an_organizations_own_template_names_its_jobs_app_partitioner_and_assembler(hub: RunningHub) -> None:
    token = hub.token()
    with bytenite(hub, token) as api:
        listed = api.get("/v1/customer/jobs/templates").json()["templates"]
        assert [t["id"] for t in listed] == ["copy", "convert", "python"]
        assert all(t["isPublic"] and t["owner"] == "headwater" for t in listed)

        body = {
            "id": "csv-to-jsonl",
            "description": "CSV in, JSON lines out, zipped",
            "app": "convert",
            "partitioner": "object",
            "assembler": "zip",
            "params": {"app": {"to": "jsonl"}},
        }
        assert_generic_ok(api.post("/v1/dev/templates", json=body).json())
        again = api.post("/v1/dev/templates", json=body)
        assert "exists already" in assert_envelope(again, 409, "Conflict")["error"]["description"]
        own = api.get("/v1/computing/jobs/templates").json()["templates"]
        assert [t["id"] for t in own] == ["copy", "convert", "python", "csv-to-jsonl"]
        mine = api.get("/v1/dev/templates/csv-to-jsonl").json()
        assert {
            k: mine[k] for k in ("id", "app", "partitioner", "assembler", "description", "isPublic", "userName")
        } == {
            "id": "csv-to-jsonl",
            "app": "convert",
            "partitioner": "object",
            "assembler": "zip",
            "description": "CSV in, JSON lines out, zipped",
            "isPublic": False,
            "userName": "alice",
        }
        assert mine["params"] == {"app": {"to": "jsonl"}, "partitioner": {}, "assembler": {}}
        assert [t["id"] for t in api.get("/v1/dev/templates").json()["templates"]] == ["csv-to-jsonl"]

        job = create(api, templateId="csv-to-jsonl", name="from my template")
        assert job["templateId"] == "csv-to-jsonl" and job["params"]["app"]["to"] == "jsonl"
        assert job["templateInfo"] == {
            "id": "csv-to-jsonl",
            "owner": api.get("/v1/me").json()["organization"],
            "description": "CSV in, JSON lines out, zipped",
            "app": "convert",
            "partitioner": "object",
            "assembler": "zip",
        }
        assert api.get(f"/v1/jobs/{job['id']}").json()["template"] == "csv-to-jsonl"
        fixed = api.post("/v1/customer/jobs", json={"templateId": "csv-to-jsonl", "params": {"app": {"to": "parquet"}}})
        assert "fixed" in assert_envelope(fixed, 400, "Bad Request")["error"]["description"]
        other_assembler = api.post("/v1/customer/jobs", json={"templateId": "csv-to-jsonl", "assembler": "concatenate"})
        assert "differs from template" in assert_envelope(other_assembler, 400, "Bad Request")["error"]["description"]

    with bytenite(hub, hub.token()) as stranger:  # another organization neither sees nor uses it
        assert "csv-to-jsonl" not in [t["id"] for t in stranger.get("/v1/customer/jobs/templates").json()["templates"]]
        assert_envelope(stranger.get("/v1/dev/templates/csv-to-jsonl"), 404, "Not Found")
        assert_envelope(stranger.post("/v1/customer/jobs", json={"templateId": "csv-to-jsonl"}), 400, "Bad Request")

    with bytenite(hub, token) as api:
        assert_generic_ok(api.delete("/v1/dev/templates/csv-to-jsonl").json())
        assert_envelope(api.get("/v1/dev/templates/csv-to-jsonl"), 404, "Not Found")
        kept = api.get(f"/v1/customer/jobs/{job['id']}").json()["job"]
        assert (
            kept["templateId"] == "csv-to-jsonl" and kept["templateInfo"]["assembler"] == "zip"
        )  # the job keeps what it took


def test_template_requests_that_cannot_be_honoured_are_400_envelopes(hub: RunningHub) -> None:
    with bytenite(hub, hub.token()) as api:
        for body, words in [
            ({"id": "copy", "app": "copy"}, "built-in"),
            ({"id": "x", "app": "img-gen-diffusers@1"}, "not an app of this hub"),
            ({"id": "x", "app": "copy", "partitioner": "replicate-fanout"}, "replicate-fanout"),
            ({"id": "x", "app": "copy", "params": {"app": {"colour": "red"}}}, "colour"),
            ({"id": "has space", "app": "copy"}, "id"),
            ({"id": "x", "app": "copy", "isPublic": True}, "isPublic"),
            ({"id": "x", "app": "copy", "dataSource": {"dataSourceDescriptor": "bypass"}}, "dataSource"),
        ]:
            response = api.post("/v1/dev/templates", json=body)
            assert response.status_code in (400, 409), (body, response.text)
            assert words in response.json()["error"]["description"], (body, response.text)
        assert_envelope(api.delete("/v1/dev/templates/copy"), 400, "Bad Request")
        assert_envelope(api.delete("/v1/dev/templates/nothing"), 404, "Not Found")
    with bytenite(hub, hub.token(read_only=True)) as viewer:
        refused = viewer.post("/v1/dev/templates", json={"id": "mine", "app": "copy"})
        assert "read-only" in assert_envelope(refused, 403, "Forbidden")["error"]["description"]
        assert viewer.get("/v1/customer/jobs/templates").status_code == 200


def test_native_templates_name_jobs_too(hub: RunningHub) -> None:
    with hub.client(hub.token()) as api:
        created = api.post(
            "/v1/templates",
            json={
                "id": "sized",
                "app": "copy",
                "partitioner": "size",
                "params": {"app": {"verify": "checksum"}, "partitioner": {"bytes": 1048576}},
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["builtIn"] is False and created.json()["createdBy"] == "alice"
        ids = [t["id"] for t in api.get("/v1/templates").json()["templates"]]
        assert ids == ["copy", "convert", "python", "sized"]
        job = api.post(
            "/v1/jobs",
            json={
                "source": {"dataSourceDescriptor": "bypass"},
                "destination": {"dataSourceDescriptor": "bucket"},
                "template": "sized",
            },
        )
        assert job.status_code == 201, job.text
        shown = job.json()
        assert (shown["template"], shown["app"], shown["partitioner"], shown["params"]["app"]["verify"]) == (
            "sized",
            "copy",
            "size",
            "checksum",
        )
        assert (
            api.post(
                "/v1/jobs",
                json={
                    "source": {"dataSourceDescriptor": "bypass"},
                    "destination": {"dataSourceDescriptor": "bucket"},
                    "template": "sized",
                    "app": "convert",
                },
            ).status_code
            == 400
        )
        assert api.delete("/v1/templates/sized").status_code == 204
        assert api.get("/v1/templates/sized").status_code == 404
        assert api.delete("/v1/templates/sized").status_code == 404
