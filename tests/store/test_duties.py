"""A duty's lease in the store: exactly one replica holds it, on PostgreSQL and on SQLite shared by processes."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from headwater.store import duties
from headwater.store.database import Store

MINUTE = timedelta(minutes=1)


@pytest.fixture
def pg_store(fresh_postgres_url: str) -> Iterator[Store]:
    store = Store(fresh_postgres_url)
    store.migrate()
    yield store
    store.dispose()


def test_of_replicas_taking_a_duty_at_once_exactly_one_holds_it(pg_store: Store) -> None:
    taken: list[str] = []
    start = threading.Barrier(8)

    def take(holder: str) -> None:
        start.wait()
        if duties.take(pg_store, "retention", holder, MINUTE):
            taken.append(holder)

    threads = [threading.Thread(target=take, args=(f"replica-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 1


def test_the_holder_renews_its_lease_and_another_takes_it_only_once_released_or_lapsed(pg_store: Store) -> None:
    assert duties.take(pg_store, "retention", "a", MINUTE)
    assert duties.take(pg_store, "retention", "a", MINUTE)
    assert not duties.take(pg_store, "retention", "b", MINUTE)
    duties.release(pg_store, "retention", "b")  # not the holder: nothing changes
    assert not duties.take(pg_store, "retention", "b", MINUTE)
    duties.release(pg_store, "retention", "a")
    assert duties.take(pg_store, "retention", "b", timedelta(seconds=-1))  # taken, and already lapsed
    assert duties.take(pg_store, "retention", "a", MINUTE)
    assert duties.take(pg_store, "other-duty", "b", MINUTE)


TAKE = """
import sys
from datetime import timedelta
from headwater.store import duties
from headwater.store.database import Store
store = Store(sys.argv[1])
sys.stdin.readline()
print(int(duties.take(store, "retention", sys.argv[2], timedelta(minutes=1))))
"""


def test_on_sqlite_one_of_several_processes_holds_the_duty(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Store(url).migrate()
    env_path = str(Path(__file__).resolve().parents[2])
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", TAKE, url, f"process-{i}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        )
        for i in range(4)
    ]
    outputs = []
    for process in processes:  # every process has imported and opened the store: release them together
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    for process in processes:
        out, _ = process.communicate(timeout=60)
        outputs.append(out.strip())
    assert sorted(outputs) == ["0", "0", "0", "1"]
