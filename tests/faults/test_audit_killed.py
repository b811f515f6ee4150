"""The hub SIGKILLed under concurrent writes: every operation that ran has its event in the store.

Sixteen writers, each with a token of its own, PUT distinct hosted files one after another
until the hub is killed. Each writer has at most one request in flight, so for each token:
every file whose PUT answered 200 has its completed event (by request id), and at most one
file (the request in flight) lacks a completed event, in which case that token's begun
event for it is in the store, still pending. A file with no event would break the rule.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import threading
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from hubprocess import start_hub

from headwater.store.database import normalise_url
from tests.fixtures.postgres import create_database, drop_database, url_of

WRITERS = 16
KILL_AFTER = 150  # successful PUTs before the kill


def writer(url: str, token: str, index: int, answered: dict[str, str], stop: threading.Event, done: list[int]) -> None:
    """PUT f-<index>-<n>.bin until the hub dies; record request id of each 200 by file name."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        n = 0
        while not stop.is_set():
            name = f"f-{index}-{n}.bin"
            try:
                response = client.put(f"/v1/data/.my/crowd/{name}", content=os.urandom(2048))
            except httpx.HTTPError:
                return  # the hub is gone
            if response.status_code == 200:
                answered[name] = response.headers["x-request-id"]
                done[0] += 1
            n += 1


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_sigkill_under_load_leaves_no_operation_without_its_event(tmp_path: Path, store: str) -> None:
    data_dir = tmp_path / "hub"
    database = create_database() if store == "postgres" else None
    database_url = url_of(database) if database else f"sqlite:///{data_dir / 'headwater.db'}"
    # A long linger widens the window between queuing an event and its commit: an operation that
    # ran before its event were durable would show here as a file without one.
    hub = start_hub(data_dir, HEADWATER_DATABASE_URL=database_url, HEADWATER_AUDIT_LINGER_MS="20")
    try:
        with httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.token}"}, timeout=30) as api:
            api.post("/v1/data/.my", json={"name": "crowd"}).raise_for_status()
            created = [api.post("/v1/tokens", json={"name": f"writer-{i}"}).json() for i in range(WRITERS)]
        tokens = {t["id"]: t["token"] for t in created}
        answered: dict[str, str] = {}
        stop, done = threading.Event(), [0]
        threads = [
            threading.Thread(target=writer, args=(hub.url, value, i, answered, stop, done))
            for i, value in enumerate(tokens.values())
        ]
        for thread in threads:
            thread.start()
        while done[0] < KILL_AFTER and hub.process.poll() is None:
            threading.Event().wait(0.01)
        # Responses leave right after a batch commits: kill a little later, in the middle of the next one.
        threading.Event().wait(random.uniform(0.005, 0.015))
        os.kill(hub.pid, signal.SIGKILL)
        hub.process.wait(timeout=10)
        stop.set()
        for thread in threads:
            thread.join(30)
        token_of = {value: token_id for token_id, value in tokens.items()}
        index_of = {i: token_of[value] for i, value in enumerate(tokens.values())}

        files = {p.name for p in (data_dir / "hosted").rglob("f-*.bin")}
        engine = create_engine(normalise_url(database_url))
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT request_id, token_id, path, status, outcome FROM audit_events WHERE token_id IS NOT NULL")
            ).fetchall()
        engine.dispose()
    finally:
        if hub.process.poll() is None:
            hub.process.kill()
        if database:
            drop_database(database)

    assert done[0] >= KILL_AFTER and len(files) >= KILL_AFTER
    by_request = {r.request_id: r for r in rows}
    for name, request_id in answered.items():  # every answered write: its event, completed, names its file
        event = by_request[request_id]
        assert (event.status, event.outcome, event.path) == (200, "allowed", f"crowd/{name}")
    completed = {r.path.rsplit("/", 1)[-1] for r in rows if r.outcome != "pending" and r.path}
    pending_per_token: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.outcome == "pending":
            pending_per_token[r.token_id] += 1
    unmatched_per_token: dict[str, list[str]] = defaultdict(list)
    for name in files - completed:
        unmatched_per_token[index_of[int(name.split("-")[1])]].append(name)
    for token_id, names in unmatched_per_token.items():
        # a writer has one request in flight: at most one file without a completed event, and its begun event is there
        assert len(names) == 1 and pending_per_token[token_id] >= 1, (token_id, names)
    assert all(count <= 1 for count in pending_per_token.values())
