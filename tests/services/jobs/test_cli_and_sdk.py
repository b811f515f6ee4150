"""`headwater jobs` and the SDK's `Client.jobs` against a real hub."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from headwater.cli.main import app
from headwater.client import Client
from tests.fixtures.hub import RunningHub
from tests.services.jobs.helpers import files_under, local_source


def test_cli_create_watch_results_list(jobs_hub: RunningHub, tmp_path: Path) -> None:
    token = jobs_hub.token()
    env = {"HEADWATER_URL": jobs_hub.url, "HEADWATER_TOKEN": token}
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("x,y\n1,2\n3,4\n")
    with jobs_hub.client(token) as api:
        src = local_source(api, tmp_path / "in", access="read")
        dst = local_source(api, tmp_path / "out")
    runner = CliRunner()
    created = runner.invoke(
        app,
        [
            "jobs",
            "create",
            "--source",
            f"{src}://*.csv",
            "--destination",
            f"{dst}://j/",
            "--app",
            "convert",
            "--app-param",
            "to=jsonl",
            "--name",
            "cli-job",
            "--watch",
        ],
        env=env,
    )
    assert created.exit_code == 0, (created.stdout, created.stderr)
    job_id = created.stdout.strip().splitlines()[0]
    assert "complete" in created.stderr
    assert files_under(tmp_path / "out") == {"j/a.jsonl": b'{"x": 1, "y": 2}\n{"x": 3, "y": 4}\n'}

    results = runner.invoke(app, ["jobs", "results", job_id, "--json"], env=env)
    assert results.exit_code == 0 and json.loads(results.stdout)[0]["name"] == "a.jsonl"
    listed = runner.invoke(app, ["jobs", "list", "--state", "complete"], env=env)
    assert listed.exit_code == 0 and job_id in listed.stdout
    again = runner.invoke(app, ["jobs", "cancel", job_id], env=env)
    assert again.exit_code == 1 and again.stderr.startswith("error: ") and "complete" in again.stderr
    bad = runner.invoke(
        app, ["jobs", "create", "--source", f"{src}://*.csv", "--destination", f"{dst}://j/", "--app", "nope"], env=env
    )
    assert bad.exit_code == 1 and "unknown app" in bad.stderr


def test_sdk_jobs(jobs_hub: RunningHub, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "b.bin").write_bytes(b"\x00\x01" * 1000)
    with Client(jobs_hub.url, jobs_hub.token()) as hub:
        src = local_source(hub._transport.http, tmp_path / "in", access="read")
        dst = local_source(hub._transport.http, tmp_path / "out")
        job = hub.jobs.create(
            f"{src}://b.bin",
            f"{dst}://",
            partitioner="size",
            partitioner_params={"bytes": 500},
            assembler="zip",
            assembler_params={"name": "b.zip", "compression": "store"},
        )
        assert hub.jobs.run(job["id"])["state"] != "new"
        done = hub.jobs.wait(job["id"], timeout=60)
        assert done["state"] == "complete" and done["progress"]["partitionsTotal"] == 4
        assert [r["name"] for r in hub.jobs.results(job["id"])] == ["b.zip"]
        assert hub.jobs.logs(job["id"])["logs"]
        assert [j["id"] for j in hub.jobs.list(state="complete")] == [job["id"]]
