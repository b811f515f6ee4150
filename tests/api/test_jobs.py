"""`/v1/jobs` through HTTP on SQLite and PostgreSQL: lifecycle, listing, results, logs, refusals, tenancy."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from headwater.services.jobs import driver
from tests.fixtures.hub import RunningHub
from tests.services.jobs.helpers import THREADS, create_job, files_under, local_source, wait_for


@pytest.fixture
def jobs_api(hub_server: RunningHub) -> Iterator[httpx.Client]:
    """An admin of a fresh organization on a hub whose embedded Dask runs in threads."""
    engine = driver.engine_for(hub_server.hub)
    if engine._executor is None and engine.config is None:
        driver.configure(hub_server.hub, THREADS)
    with hub_server.client(hub_server.token()) as client:
        yield client


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    (tmp_path / "in" / "keep").mkdir(parents=True)
    for i in range(3):
        (tmp_path / "in" / f"{i}.csv").write_text(f"a,b\n{i},{i * 2}\n")
    (tmp_path / "in" / "keep" / "x.csv").write_text("a,b\n9,9\n")
    return tmp_path


def test_lifecycle_states_progress_results_and_logs(jobs_api: httpx.Client, folders: Path) -> None:
    src = local_source(jobs_api, folders / "in", access="read")
    dst = local_source(jobs_api, folders / "out")
    created = create_job(jobs_api, f"{src}://*.csv", f"{dst}://copies/", name="nightly")
    assert created["state"] == "new" and list(created["stateTimestamps"]) == ["new"]
    assert created["progress"] == {
        "partitionsDone": 0,
        "partitionsTotal": 0,
        "partitionsFailed": 0,
        "partitionsRunning": 0,
        "bytesIn": 0,
        "bytesOut": 0,
    }
    assert created["params"] == {"app": {"verify": "size"}, "partitioner": {}, "assembler": {}}
    job_id = created["id"]
    early = jobs_api.get(f"/v1/jobs/{job_id}/results")
    assert early.status_code == 409 and "complete" in early.json()["error"]["message"]

    ran = jobs_api.post(f"/v1/jobs/{job_id}/run")
    assert ran.status_code == 200 and ran.json()["state"] != "new"
    done = wait_for(jobs_api, job_id)
    assert done["state"] == "complete", done["errorMessage"]
    assert list(done["stateTimestamps"]) == ["new", "ready", "partitioning", "running", "assembling", "complete"]
    assert done["progress"]["partitionsDone"] == done["progress"]["partitionsTotal"] == 3
    assert (
        done["progress"]["bytesIn"] == done["progress"]["bytesOut"] == sum(len(f"a,b\n{i},{i * 2}\n") for i in range(3))
    )
    assert files_under(folders / "out") == {f"copies/{i}.csv": f"a,b\n{i},{i * 2}\n".encode() for i in range(3)}

    results = jobs_api.get(f"/v1/jobs/{job_id}/results").json()["results"]
    assert [(r["name"], r["address"]) for r in results] == [(f"{i}.csv", f"{dst}://copies/{i}.csv") for i in range(3)]
    logs = jobs_api.get(f"/v1/jobs/{job_id}/logs").json()
    assert logs["logs"][0]["message"].startswith("created") and "complete" in logs["logs"][-1]["message"]
    assert jobs_api.get(f"/v1/jobs/{job_id}/logs", params={"after": logs["next"]}).json()["logs"] == []
    assert jobs_api.post(f"/v1/jobs/{job_id}/run").status_code == 409
    assert jobs_api.post(f"/v1/jobs/{job_id}/cancel").status_code == 409

    listed = jobs_api.get("/v1/jobs", params={"state": "complete"}).json()["jobs"]
    assert [j["id"] for j in listed] == [job_id] and listed[0]["name"] == "nightly"
    assert jobs_api.get("/v1/jobs", params={"state": "running"}).json()["jobs"] == []
    assert jobs_api.get("/v1/jobs", params={"state": "bogus"}).status_code == 400

    assert jobs_api.delete(f"/v1/jobs/{job_id}").status_code == 204
    assert jobs_api.get(f"/v1/jobs/{job_id}").status_code == 404
    assert (folders / "out" / "copies" / "0.csv").exists()  # deleting a job keeps its outputs


def test_a_directory_source_reads_every_file_below_it(jobs_api: httpx.Client, folders: Path) -> None:
    src = local_source(jobs_api, folders / "in", access="read")
    dst = local_source(jobs_api, folders / "out")
    job = create_job(jobs_api, f"{src}://", f"{dst}://all/", run=True)
    assert wait_for(jobs_api, job["id"])["state"] == "complete"
    assert sorted(files_under(folders / "out")) == ["all/0.csv", "all/1.csv", "all/2.csv", "all/keep/x.csv"]


def refusal(api: httpx.Client, status: int, words: str, **body: object) -> None:
    response = api.post("/v1/jobs", json=body)
    assert response.status_code == status, response.text
    assert words in response.json()["error"]["message"], response.json()


def test_destinations_the_job_could_not_write_are_refused_at_create(jobs_api: httpx.Client, folders: Path) -> None:
    src = local_source(jobs_api, folders / "in", access="read")
    readonly = local_source(jobs_api, folders / "ro", access="read")
    fenced = local_source(jobs_api, folders / "fenced", pathRestrictions=["allowed/*"])
    synthetic = f"s{uuid.uuid4().hex[:6]}"
    assert jobs_api.post("/v1/sources", json={"protocol": "synthetic", "label": synthetic}).status_code == 201

    refusal(jobs_api, 403, "read-only", source=f"{src}://*.csv", destination=f"{readonly}://out/")
    refusal(jobs_api, 405, "input-only", source=f"{src}://*.csv", destination=f"synthetic+{synthetic}://out/")
    refusal(
        jobs_api, 403, "outside the path restrictions", source=f"{src}://*.csv", destination=f"{fenced}://elsewhere/"
    )
    refusal(
        jobs_api,
        403,
        "outside the path restrictions",
        source=f"{fenced}://elsewhere/*.csv",
        destination=f"{readonly}://x/",
    )
    refusal(jobs_api, 404, "no connection", source=f"{src}://*.csv", destination="local+nope://out/")
    ok = jobs_api.post("/v1/jobs", json={"source": f"{src}://*.csv", "destination": f"{fenced}://allowed/"})
    assert ok.status_code == 201, ok.text


def test_an_output_only_kind_is_refused_as_a_source(jobs_api: httpx.Client, folders: Path) -> None:
    pytest.importorskip("headwater.connectors.hosted_kinds")
    bucket = f"tmp{uuid.uuid4().hex[:6]}"
    assert (
        jobs_api.post("/v1/sources", json={"protocol": "bucket", "label": bucket, "access": "read-write"}).status_code
        == 201
    )
    dst = local_source(jobs_api, folders / "out")
    refusal(jobs_api, 405, "output-only", source=f"bucket+{bucket}://x/*.csv", destination=f"{dst}://")


def test_a_narrowed_token_cannot_give_a_job_more_than_it_has(
    hub_server: RunningHub, jobs_api: httpx.Client, folders: Path
) -> None:
    src = local_source(jobs_api, folders / "in", access="read")
    dst = local_source(jobs_api, folders / "out")
    org = jobs_api.get("/v1/me").json()["organization"]
    body = {"source": f"{src}://*.csv", "destination": f"{dst}://out/"}

    with hub_server.client(hub_server.token(org=org, admin=False, read_only=True)) as reader:
        response = reader.post("/v1/jobs", json=body)
        assert response.status_code == 403 and "read-only" in response.json()["error"]["message"]
    with hub_server.client(hub_server.token(org=org, admin=False, path_prefix=f"{src}://")) as fenced:
        response = fenced.post("/v1/jobs", json=body)
        assert response.status_code == 403 and "limited to" in response.json()["error"]["message"]
    with hub_server.client(hub_server.token(org=org, admin=False, path_prefix=f"{dst}://out/")) as fenced:
        response = fenced.post("/v1/jobs", json=body)
        assert response.status_code == 403 and "limited to" in response.json()["error"]["message"]
    ids = {s["label"]: s["id"] for s in jobs_api.get("/v1/sources").json()["sources"]}
    only_source = (ids[src.split("+", 1)[1]],)
    with hub_server.client(hub_server.token(org=org, admin=False, source_ids=only_source)) as narrowed:
        response = narrowed.post("/v1/jobs", json=body)
        assert response.status_code == 404  # the destination is invisible to this token
        job = create_job(jobs_api, **body)
        assert narrowed.get(f"/v1/jobs/{job['id']}").status_code == 404
        assert narrowed.get("/v1/jobs").json()["jobs"] == []


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"app": "teleport"}, "unknown app"),
        ({"partitioner": "random"}, "unknown partitioner"),
        ({"assembler": "tar"}, "unknown assembler"),
        ({"app": "convert", "params": {"app": {"to": "xml"}}}, "'to' must be one of"),
        ({"partitioner": "size", "params": {"partitioner": {"bytes": 0}}}, "positive integer"),
        ({"partitioner": "rows"}, "positive integer"),
        ({"params": {"app": {"colour": "red"}}}, "unknown params"),
        ({"destination": "local+x://out/*.csv"}, "no glob"),
        ({"source": "local+x://../etc/*"}, "not allowed"),
        ({"assembler": "zip", "params": {"assembler": {"name": "a/b.zip"}}}, "file name"),
    ],
)
def test_malformed_jobs_are_refused_with_400(
    jobs_api: httpx.Client, folders: Path, change: dict[str, object], words: str
) -> None:
    src = local_source(jobs_api, folders / "in", access="read")
    dst = local_source(jobs_api, folders / "out")
    body: dict[str, object] = {"source": f"{src}://*.csv", "destination": f"{dst}://out/", **change}
    refusal(jobs_api, 400, words, **body)


def test_overlapping_source_and_destination_are_refused(jobs_api: httpx.Client, folders: Path) -> None:
    both = local_source(jobs_api, folders / "in")
    refusal(jobs_api, 400, "overlaps", source=f"{both}://", destination=f"{both}://copies/")
    refusal(jobs_api, 400, "overlaps", source=f"{both}://*.csv", destination=f"{both}://")
    refusal(jobs_api, 400, "overlaps", source=f"{both}://keep/x.csv", destination=f"{both}://keep/")
    assert (
        jobs_api.post("/v1/jobs", json={"source": f"{both}://*.csv", "destination": f"{both}://copies/"}).status_code
        == 201
    )


def test_another_organization_sees_no_job(hub_server: RunningHub, jobs_api: httpx.Client, folders: Path) -> None:
    src = local_source(jobs_api, folders / "in", access="read")
    dst = local_source(jobs_api, folders / "out")
    job = create_job(jobs_api, f"{src}://*.csv", f"{dst}://out/")
    with hub_server.client(hub_server.token()) as stranger:
        for method, path in [
            ("GET", ""),
            ("POST", "/run"),
            ("POST", "/cancel"),
            ("GET", "/results"),
            ("GET", "/logs"),
            ("DELETE", ""),
        ]:
            response = stranger.request(method, f"/v1/jobs/{job['id']}{path}")
            assert response.status_code == 404, (method, path, response.text)
        assert stranger.get("/v1/jobs").json()["jobs"] == []
        assert stranger.get("/v1/jobs/not-a-job").status_code == 404
