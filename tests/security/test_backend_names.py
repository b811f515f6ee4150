"""Finding 12: names that come from a backend never join a path unnormalised.

A `url` source whose file name decodes to `../../escape.csv` used to be listed under that name, and
a job copying it wrote `out/job/../../escape.csv`: outside the destination folder and outside the
destination's path restrictions (`out/*` was checked as a string prefix). Now such names are left
out of every listing, and a job's paths are normalised before anything is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from headwater.services.jobs import driver
from tests.fixtures.http_server import HttpServer
from tests.fixtures.hub import RunningHub
from tests.services.jobs.helpers import THREADS, files_under, local_source, wait_for


@pytest.fixture
def jobs_api(sqlite_hub: RunningHub) -> Iterator[httpx.Client]:
    engine = driver.engine_for(sqlite_hub.hub)
    if engine._executor is None and engine.config is None:
        driver.configure(sqlite_hub.hub, THREADS)
    with sqlite_hub.client(sqlite_hub.token()) as client:
        yield client


def url_source(api: httpx.Client, http_server: HttpServer, encoded_name: str) -> str:
    http_server.files[encoded_name] = b"a,b\n1,2\n"
    label = f"u{uuid.uuid4().hex[:8]}"
    body = {
        "protocol": "url",
        "label": label,
        "params": {"url": f"{http_server.url}/files/{encoded_name}"},
        "access": "read",
    }
    assert api.post("/v1/sources", json=body).status_code == 201
    return f"url+{label}"


@pytest.mark.parametrize(
    "encoded",
    ["..%2F..%2Fescape-{id}.csv", "..%2fescape-{id}.csv", "sub%2Fescape-{id}.csv", "..%5C..%5Cescape-{id}.csv"],
)
def test_a_url_name_with_separators_cannot_place_a_job_output_outside_its_folder(
    jobs_api: httpx.Client, http_server: HttpServer, tmp_path: Path, encoded: str
) -> None:
    name = encoded.format(id=uuid.uuid4().hex[:6])
    src = url_source(jobs_api, http_server, name)
    (tmp_path / "dst" / "out").mkdir(parents=True)
    dst = local_source(jobs_api, tmp_path / "dst", pathRestrictions=["out/*"])
    job = jobs_api.post("/v1/jobs", json={"source": f"{src}://", "destination": f"{dst}://out/job/"})
    if job.status_code == 201:
        assert jobs_api.post(f"/v1/jobs/{job.json()['id']}/run").status_code == 200
        wait_for(jobs_api, job.json()["id"])
    else:
        assert job.status_code in (400, 403, 404), job.text
    assert all(path.startswith("out/job/") for path in files_under(tmp_path / "dst")), files_under(tmp_path / "dst")
    assert not any("escape" in p.name for p in tmp_path.rglob("*") if p.is_file())
    listed = jobs_api.get(f"/v1/connector/{src}/")
    assert listed.status_code == 200 and listed.json()["files"] == []  # the unusable name is not shown


def test_a_url_name_with_separators_cannot_escape_a_hosted_destination(
    jobs_api: httpx.Client, http_server: HttpServer, sqlite_hub: RunningHub
) -> None:
    name = f"..%2F..%2Fescape-{uuid.uuid4().hex[:6]}.csv"
    src = url_source(jobs_api, http_server, name)
    job = jobs_api.post("/v1/jobs", json={"source": f"{src}://", "destination": "data://.my/coll/job/"})
    if job.status_code == 201:
        assert jobs_api.post(f"/v1/jobs/{job.json()['id']}/run").status_code == 200
        wait_for(jobs_api, job.json()["id"])
    hosted = sqlite_hub.hub.settings.hosted_dir
    assert not any(p.name.startswith("escape-") for p in hosted.rglob("*"))
    assert jobs_api.get("/v1/data/.my/coll/job/").json().get("files", []) == []
