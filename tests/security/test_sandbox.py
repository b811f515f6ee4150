"""Finding 1: a `python` app's function runs sealed off from the hub, and whatever it tries it gets none of it.

Every job goes through the HTTP API to a real hub. The user functions live in
tests/sandboxed/, the only folder of the tests the sandbox shows (HEADWATER_SANDBOX_PATH).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import pytest

from headwater.services.jobs import sandbox
from headwater.settings import Settings
from tests.fixtures.hub import SANDBOXED, RunningHub
from tests.services.jobs.helpers import create_job, files_under, local_source, threaded_hub, wait_for

LIMITS = {
    "HEADWATER_SANDBOX_CPU_SECONDS": "1",
    "HEADWATER_SANDBOX_TIMEOUT_SECONDS": "15",
    "HEADWATER_SANDBOX_MEMORY_MB": "768",
    "HEADWATER_SANDBOX_PROCESSES": "32",
    "HEADWATER_SANDBOX_FILE_SIZE_MB": "4",
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    running = threaded_hub(tmp_path_factory.mktemp("sandbox-hub"), threads=2, **LIMITS)
    yield running
    running.stop()


@pytest.fixture
def api(hub: RunningHub) -> Iterator[httpx.Client]:
    with hub.client(hub.token()) as client:
        yield client


def run_function(
    api: httpx.Client, folder: Path, function: str, body: bytes = b"input", **params: Any
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Run `function` on one input file through the API; the settled job and every file it wrote."""
    (folder / "in").mkdir(parents=True)
    (folder / "in" / "part").write_bytes(body)
    src = local_source(api, folder / "in", access="read")
    dst = local_source(api, folder / "out")
    job = create_job(
        api,
        f"{src}://part",
        f"{dst}://",
        app="python",
        params={"app": {"function": function, "params": params}},
        run=True,
    )
    return wait_for(api, job["id"], timeout=90), files_under(folder / "out")


def sandbox_processes(uid: int = 65534) -> list[psutil.Process]:
    """The sandbox's processes started by this test process's hubs.

    Only descendants count: another test process may run its own sandboxes at the same time. None can
    hide from this: bubblewrap runs each sandbox in a pid namespace of its own, and whatever runs in it
    stays a descendant of bubblewrap, a child of the hub, until it ends.
    """
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if process.uids().real == uid:
                found.append(process)
        except psutil.NoSuchProcess:
            pass
    return found


def secret_values(hub: RunningHub) -> list[bytes]:
    """What must never leave the hub: the master key file's bytes and the values of its HEADWATER_* environment."""
    values = [hub.hub.settings.master_key_file.read_bytes().strip()]
    values += [v.encode() for k, v in os.environ.items() if k.startswith("HEADWATER_") and len(v) >= 8]
    return values


def assert_nothing_leaked(hub: RunningHub, job: dict[str, Any], outputs: dict[str, bytes], api: httpx.Client) -> None:
    logs = json.dumps(api.get(f"/v1/jobs/{job['id']}/logs").json()).encode()
    seen = b"".join(outputs.values()) + (job["errorMessage"] or "").encode() + logs
    for value in secret_values(hub):
        assert value not in seen
    assert b"Traceback" not in seen  # one line per failure: no traceback with the installation's paths


def test_a_normal_function_runs_under_its_own_unprivileged_uid_without_network_processes_or_hub_files(
    hub: RunningHub, api: httpx.Client, tmp_path: Path
) -> None:
    job, outputs = run_function(api, tmp_path, "hostile:whoami", body=b"x" * 1000)
    assert job["state"] == "complete", job["errorMessage"]
    seen = json.loads(outputs["part"])
    assert seen["input"] == 1000
    assert (seen["uid"], seen["euid"], seen["gid"], seen["groups"]) == (65534, 65534, 65534, [])
    assert set(seen["capabilities"].values()) == {"0000000000000000"} and seen["no_new_privs"] == "1"
    bound = [
        *sandbox.view(hub.hub.settings).visible,
        *sandbox.TOP_LIBRARIES,
        sandbox.CHILD_INSIDE,
        shutil.which("setpriv") or "",
    ]
    shown = {os.path.realpath(path).split("/")[1] for path in bound} | {path.split("/")[1] for path in bound}
    assert (
        set(seen["root"]) <= {"dev", "proc", "tmp"} | shown
    )  # the system libraries and Python installation, nothing else
    assert seen["processes"] == [1, 2]  # bubblewrap's init and the function: nothing of the hub's
    assert seen["interfaces"] == ["lo"]
    assert not [name for name in seen["environment"] if name.startswith(("HEADWATER", "AWS", "PG", "DATABASE"))]


def test_reading_the_master_key_fails_the_job_and_yields_no_key_bytes(
    hub: RunningHub, api: httpx.Client, tmp_path: Path
) -> None:
    key_file = hub.hub.settings.master_key_file
    assert key_file.read_bytes()  # the hub has one: the function reads a real path
    job, outputs = run_function(api, tmp_path, "hostile:read", path=str(key_file))
    assert job["state"] == "failed"
    assert "FileNotFoundError" in job["errorMessage"], job["errorMessage"]
    assert outputs == {}
    assert_nothing_leaked(hub, job, outputs, api)


def test_the_data_dir_is_masked_even_inside_a_folder_the_sandbox_shows(tmp_path: Path) -> None:
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "peek.py").write_text((SANDBOXED / "hostile.py").read_text())
    data_dir = modules / "hub-data"
    running = threaded_hub(data_dir, threads=1, HEADWATER_SANDBOX_PATH=str(modules))
    try:
        with running.client(running.token()) as api:
            for target in (data_dir / "master.key", data_dir / "headwater.db"):
                assert target.exists()
                job, outputs = run_function(api, tmp_path / target.name, "peek:read", path=str(target))
                assert job["state"] == "failed" and "FileNotFoundError" in job["errorMessage"], job["errorMessage"]
                assert outputs == {}
                assert_nothing_leaked(running, job, outputs, api)
    finally:
        running.stop()


def test_a_storage_folder_outside_the_data_dir_is_hidden_like_the_data_dir(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"HEADWATER_DATA_DIR": str(tmp_path / "data"), "HEADWATER_STORAGE_URL": str(tmp_path / "shared")}
    )
    hidden = sandbox.secret_paths(settings)
    assert str(tmp_path / "data") in hidden and str(tmp_path / "shared") in hidden


def test_the_environment_of_the_sandbox_init_and_of_the_parent_are_out_of_reach(
    hub: RunningHub, api: httpx.Client, tmp_path: Path
) -> None:
    job, outputs = run_function(api, tmp_path / "one", "hostile:read", path="/proc/1/environ")
    assert job["state"] == "failed" and "PermissionError" in job["errorMessage"], job["errorMessage"]
    assert_nothing_leaked(hub, job, outputs, api)
    job, outputs = run_function(api, tmp_path / "parent", "hostile:parent_environment")
    assert job["state"] == "failed" and "PermissionError" in job["errorMessage"], job["errorMessage"]
    assert_nothing_leaked(hub, job, outputs, api)
    job, outputs = run_function(api, tmp_path / "hub", "hostile:read", path=f"/proc/{os.getpid()}/environ")
    assert job["state"] == "failed" and "FileNotFoundError" in job["errorMessage"], job["errorMessage"]
    assert_nothing_leaked(hub, job, outputs, api)


def test_a_socket_reaches_nothing_not_even_the_hub_on_loopback(
    hub: RunningHub, api: httpx.Client, tmp_path: Path
) -> None:
    port = int(hub.url.rsplit(":", 1)[1])
    job, outputs = run_function(api, tmp_path, "hostile:connect", host="127.0.0.1", port=port)
    assert job["state"] == "failed"
    assert "ConnectionRefusedError" in job["errorMessage"], job["errorMessage"]  # the sandbox's own, empty loopback
    assert outputs == {}


def test_a_fork_bomb_is_stopped_by_the_process_limit_and_leaves_no_process(api: httpx.Client, tmp_path: Path) -> None:
    job, _outputs = run_function(api, tmp_path, "hostile:fork_bomb")
    assert job["state"] == "failed"
    assert "BlockingIOError" in job["errorMessage"] and "Resource temporarily unavailable" in job["errorMessage"], job[
        "errorMessage"
    ]
    deadline = time.monotonic() + 10
    while sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sandbox_processes() == []


def test_cpu_time_memory_and_file_size_are_limited(api: httpx.Client, tmp_path: Path) -> None:
    job, _ = run_function(api, tmp_path / "cpu", "hostile:spin")
    assert job["state"] == "failed" and "CPU time limit of 1 s" in job["errorMessage"], job["errorMessage"]
    job, _ = run_function(api, tmp_path / "memory", "hostile:allocate", mebibytes=2048)
    assert job["state"] == "failed" and "ran out of memory (limit 768 MiB)" in job["errorMessage"], job["errorMessage"]
    job, _ = run_function(api, tmp_path / "file", "hostile:write_big_file", mebibytes=64)
    assert job["state"] == "failed" and "File too large" in job["errorMessage"], job["errorMessage"]


def test_the_wall_clock_limit_kills_the_whole_sandbox(api: httpx.Client, tmp_path: Path) -> None:
    started = time.monotonic()
    job, outputs = run_function(api, tmp_path, "hostile:sleep")
    assert job["state"] == "failed"
    assert "stopped after 15 s, the sandbox's wall-clock limit" in job["errorMessage"], job["errorMessage"]
    assert time.monotonic() - started < 45 and outputs == {}
    assert sandbox_processes() == []


def test_finding_1_a_pickle_fed_to_numpy_read_array_cannot_read_the_master_key(
    hub: RunningHub, api: httpx.Client, tmp_path: Path
) -> None:
    key_file = hub.hub.settings.master_key_file

    class Payload:
        def __reduce__(self) -> tuple[Any, ...]:
            code = f"import os; os.write(3, open({str(key_file)!r}, 'rb').read()); os.write(3, open('/proc/1/environ', 'rb').read())"
            return (exec, (code,))

    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array([Payload()], dtype=object), allow_pickle=True)
    job, outputs = run_function(api, tmp_path, "numpy.lib.format:read_array", body=buffer.getvalue())
    assert job["state"] == "failed", job
    assert "FileNotFoundError" in job["errorMessage"], job["errorMessage"]
    assert_nothing_leaked(hub, job, outputs, api)


def test_without_a_working_bubblewrap_python_jobs_are_refused_at_creation(tmp_path: Path) -> None:
    running = threaded_hub(tmp_path / "hub", threads=1, HEADWATER_SANDBOX_BWRAP="no-such-bwrap")
    try:
        with running.client(running.token()) as api:
            src = local_source(api, tmp_path / "in", access="read")
            dst = local_source(api, tmp_path / "out")
            body = {
                "source": f"{src}://",
                "destination": f"{dst}://",
                "app": "python",
                "params": {"app": {"function": "jobs_app.upper:run"}},
            }
            response = api.post("/v1/jobs", json=body)
            assert response.status_code == 409, response.text
            assert "bubblewrap" in response.json()["error"]["message"]
            copy = api.post("/v1/jobs", json={**body, "app": "copy", "params": {}})
            assert copy.status_code == 201, copy.text  # hub apps need no sandbox
    finally:
        running.stop()


def test_the_hub_never_imports_the_module_a_user_names(api: httpx.Client, tmp_path: Path) -> None:
    import sys

    src = local_source(api, tmp_path / "in", access="read")
    dst = local_source(api, tmp_path / "out")
    response = api.post(
        "/v1/jobs",
        json={
            "source": f"{src}://",
            "destination": f"{dst}://",
            "app": "python",
            "params": {"app": {"function": "hostile:whoami"}},
        },
    )
    assert response.status_code == 201, response.text
    assert "hostile" not in sys.modules
    refused = api.post(
        "/v1/jobs",
        json={
            "source": f"{src}://",
            "destination": f"{dst}://",
            "app": "python",
            "params": {"app": {"function": "headwater.settings:Settings"}},
        },
    )
    assert refused.status_code == 400 and "not installed" in refused.json()["error"]["message"]
    assert Settings  # the hub's own code is not in the sandbox's view
