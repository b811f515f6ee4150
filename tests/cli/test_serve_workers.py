"""`headwater serve --workers 2` as real processes on one SQLite store: both workers answer, a
revocation or a source change made through one is honoured at once by the other, concurrent
writes over both succeed, a job started through either is driven by one, and SIGTERM or SIGINT
stops every worker.

Which worker answered a request is read from the operating system, not from the response: the
worker process holding the server end of the request's TCP connection (psutil), looked up while
the connection is still open.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.fixtures.network import free_port

START = 180.0  # seconds: two worker processes import the hub; slow on a busy machine


@dataclass
class Answer:
    status: int
    pid: int | None  # None: the worker had closed the connection before it could be looked up
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    token: str

    def workers(self) -> set[int]:
        """The worker processes: the supervisor's children that listen on the port."""
        found = set()
        for child in psutil.Process(self.process.pid).children():
            try:
                if any(
                    c.laddr and c.laddr.port == self.port and c.status == psutil.CONN_LISTEN
                    for c in child.net_connections("tcp")
                ):
                    found.add(child.pid)
            except psutil.NoSuchProcess:
                pass
        return found

    def ask(
        self, method: str, path: str, token: str | None = None, body: bytes | dict[str, Any] | None = None
    ) -> Answer:
        """One request on a new connection, and the pid of the worker that accepted it (looked up
        as soon as the response's headers arrive)."""
        token = token or self.token
        payload = json.dumps(body).encode() if isinstance(body, dict) else body
        headers = {"Authorization": f"Bearer {token}"}
        if isinstance(body, dict):
            headers["Content-Type"] = "application/json"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            pid = self._server_of(connection.sock.getsockname()[1])
            return Answer(response.status, pid, response.read())
        finally:
            connection.close()

    def _server_of(self, client_port: int) -> int | None:
        for pid in self.workers():
            try:
                for c in psutil.Process(pid).net_connections("tcp"):
                    if c.raddr and c.raddr.port == client_port and c.laddr.port == self.port:
                        return pid
            except psutil.NoSuchProcess:
                pass
        return None

    def until_both(self, request: Callable[[], Answer], least: int = 2, most: int = 300) -> list[Answer]:
        """Repeat a request on new connections until each worker answered it `least` times."""
        answers: list[Answer] = []
        workers = self.workers()
        while len(answers) < most:
            answers.append(request())
            if all(sum(a.pid == w for a in answers) >= least for w in workers):
                return answers
        raise AssertionError(f"one worker never answered: {[a.pid for a in answers]} of {workers}")


def start(data_dir: Path, *extra: str) -> Served:
    port = free_port()
    token = "hw_workers-" + uuid.uuid4().hex
    env = {
        **os.environ,
        "HEADWATER_DATA_DIR": str(data_dir),
        "HEADWATER_BOOTSTRAP_TOKEN": token,
        "HEADWATER_DASK_PROCESSES": "0",
    }
    for name in ("HEADWATER_MASTER_KEY", "HEADWATER_DATABASE_URL", "HEADWATER_WORKERS"):
        env.pop(name, None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "headwater.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--log-level",
            "warning",
            *extra,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    served = Served(process, port, token)
    deadline = time.monotonic() + START
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
        if len(served.workers()) == 2:
            return served
        time.sleep(0.2)
    stop(process)
    raise TimeoutError("the two workers did not start")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    process.send_signal(sig)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    hub = start(tmp_path_factory.mktemp("workers") / "hub")
    try:
        yield hub
    finally:
        stop(hub.process)


def test_requests_are_answered_by_both_workers(served: Served) -> None:
    answers = served.until_both(lambda: served.ask("GET", "/v1/me"))
    assert all(a.status == 200 for a in answers)
    assert {a.pid for a in answers} - {None} == served.workers() and len(served.workers()) == 2
    assert served.process.pid not in {a.pid for a in answers}


def test_a_revoked_token_is_refused_at_once_by_every_worker(served: Served) -> None:
    child = served.ask("POST", "/v1/tokens", body={"name": "revoked-" + uuid.uuid4().hex[:6]}).json()
    # Both workers have authenticated (and cached) the token.
    served.until_both(lambda: served.ask("GET", "/v1/me", token=child["token"]))
    assert served.ask("DELETE", f"/v1/tokens/{child['id']}").status == 204
    after = served.until_both(lambda: served.ask("GET", "/v1/me", token=child["token"]), least=3)
    assert [a.status for a in after] == [401] * len(after)


def test_a_changed_source_is_seen_at_once_by_every_worker(served: Served, tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.txt").write_text(f"from {name}")
    label = "disk" + uuid.uuid4().hex[:6]
    created = served.ask(
        "POST", "/v1/sources", body={"protocol": "local", "label": label, "params": {"path": str(tmp_path / "a")}}
    )
    assert created.status == 201, created.body
    read = lambda: served.ask("GET", f"/v1/connector/local+{label}/x.txt")  # noqa: E731
    assert {a.body for a in served.until_both(read)} == {b"from a"}  # both workers hold an opened connector
    changed = served.ask("PATCH", f"/v1/sources/{created.json()['id']}", body={"params": {"path": str(tmp_path / "b")}})
    assert changed.status == 200, changed.body
    assert {a.body for a in served.until_both(read, least=3)} == {b"from b"}
    assert (
        served.ask("PATCH", f"/v1/sources/{created.json()['id']}", body={"pathRestrictions": ["y.txt"]}).status == 200
    )
    assert {a.status for a in served.until_both(read, least=3)} == {403}


def test_concurrent_writes_over_both_workers_all_succeed(served: Served) -> None:
    collection = "w" + uuid.uuid4().hex[:8]

    def put(i: int) -> Answer:
        return served.ask("PUT", f"/v1/data/.my/{collection}/f{i:03}.bin", body=os.urandom(4096 + i))

    def secret(i: int) -> Answer:
        return served.ask(
            "POST",
            "/v1/secrets",
            body={"id": f"{collection}-{i}", "name": "s", "secretType": "generic", "values": {"K": "v"}},
        )

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(put, range(60))) + list(pool.map(secret, range(30)))
    assert [a.status for a in answers if a.status >= 300] == []
    assert {a.pid for a in answers} - {None} == served.workers()
    listing = served.ask("GET", f"/v1/data/.my/{collection}").json()
    assert sorted(f["filename"] for f in listing["files"]) == [f"f{i:03}.bin" for i in range(60)]


def test_a_job_started_through_either_worker_completes(served: Served, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for i in range(3):
        (tmp_path / "in" / f"{i}.csv").write_text(f"a,b\n{i},x\n")
    label = "jobs" + uuid.uuid4().hex[:6]
    assert (
        served.ask(
            "POST",
            "/v1/sources",
            body={"protocol": "local", "label": label, "access": "read-write", "params": {"path": str(tmp_path)}},
        ).status
        == 201
    )
    jobs = []
    for answer in served.until_both(
        lambda: served.ask(
            "POST",
            "/v1/jobs",
            body={
                "source": f"local+{label}://in/*.csv",
                "destination": f"local+{label}://out{uuid.uuid4().hex[:6]}/",
                "app": "copy",
                "run": True,
            },
        ),
        least=1,
        most=40,
    ):
        assert answer.status == 201, answer.body
        jobs.append(answer.json()["id"])
    deadline = time.monotonic() + 120
    states: list[str] = []
    while time.monotonic() < deadline:
        states = [served.ask("GET", f"/v1/jobs/{j}").json()["state"] for j in jobs]
        if all(s in ("complete", "failed", "canceled") for s in states):
            break
        time.sleep(0.5)
    assert set(states) == {"complete"}, states


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_worker(tmp_path: Path, sig: int) -> None:
    hub = start(tmp_path / "hub")
    workers = [psutil.Process(pid) for pid in hub.workers()]
    assert len(workers) == 2
    assert stop(hub.process, sig) == 0
    _gone, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == []
