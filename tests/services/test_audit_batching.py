"""The audit writer's group commit against real stores (SQLite and PostgreSQL): batches, failures, draining."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from headwater.services.audit import AuditLog, AuditUnavailable, Pending
from headwater.store.database import Store
from tests.fixtures.loops import run_coroutine
from tests.fixtures.postgres import create_database, drop_database, url_of


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    name = None
    if request.param == "postgres":
        name = create_database()
        store = Store(url_of(name))
    else:
        store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    try:
        yield store
    finally:
        store.dispose()
        if name:
            drop_database(name)


def audit_log(store: Store, tmp_path: Path, linger: float = 0.002) -> AuditLog:
    return AuditLog(store, b"k" * 32, linger=linger)


def pending(n: int = 0) -> Pending:
    return Pending(
        request_id=str(uuid.uuid4()),
        method="GET",
        route=f"/v1/thing/{n}",
        client="127.0.0.1",
        started=time.perf_counter(),
    )


def count(store: Store, where: str = "1=1") -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM audit_events WHERE {where}")).scalar() or 0)


@contextmanager
def writer_held(store: Store) -> Iterator[Connection]:
    """Hold the audit table's write lock from another connection, so the writer's next batch waits."""
    with store.engine.connect() as conn:
        if store.engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.begin()
            conn.execute(text("LOCK TABLE audit_events IN EXCLUSIVE MODE"))
        yield conn


def begin_in_thread(log: AuditLog, item: Pending) -> threading.Thread:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            log.begin_blocking(item)
        except AuditUnavailable as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_concurrent_begins_share_transactions_and_each_gets_its_own_event(store: Store, tmp_path: Path) -> None:
    log = audit_log(store, tmp_path)
    items = [pending(i) for i in range(200)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(log.begin_blocking, items))
    ids = [item.event_id for item in items]
    assert None not in ids and len(set(ids)) == 200
    with store.engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, request_id FROM audit_events")).fetchall())
    assert {rows[item.event_id] for item in items if item.event_id} == {item.request_id for item in items}
    stats = log.writer.stats
    assert stats.begins == 200 and stats.batches < 200 and stats.largest > 1
    log.close()


def test_a_failed_batch_refuses_every_request_in_it(store: Store, tmp_path: Path) -> None:
    log = audit_log(store, tmp_path)
    log.begin_blocking(pending())  # the writer is running
    with writer_held(store) as lock:
        blocked = begin_in_thread(log, pending())  # its batch now waits for the lock
        time.sleep(0.3)
        queued = [pending(i) for i in range(20)]
        results: list[str] = []

        def attempt(item: Pending) -> None:
            try:
                log.begin_blocking(item)
                results.append("written")
            except AuditUnavailable:
                results.append("refused")

        threads = [threading.Thread(target=attempt, args=(item,)) for item in queued]
        for thread in threads:
            thread.start()
        time.sleep(0.3)  # all 20 wait in the queue behind the blocked batch
        failed_before = log.writer.stats.failed_batches
        lock.execute(text("ALTER TABLE audit_events RENAME TO audit_events_away"))
        lock.commit()
    for thread in [blocked, *threads]:
        thread.join(30)
    assert results == ["refused"] * 20
    assert all(item.event_id is None for item in queued)
    # the 20 failed together, in one batch (the blocked one may have failed on its own too)
    assert 1 <= log.writer.stats.failed_batches - failed_before <= 2
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_events_away RENAME TO audit_events"))
    log.begin_blocking(pending())  # the writer recovers once the table is back
    log.close()


def test_a_waiting_request_leaves_the_event_loop_free(store: Store, tmp_path: Path) -> None:
    log = audit_log(store, tmp_path)
    log.begin_blocking(pending())

    async def scenario() -> tuple[int, bool]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticking = asyncio.create_task(ticker())
        with writer_held(store) as lock:
            waiting = asyncio.gather(*(log.begin(pending(i)) for i in range(8)))
            await asyncio.sleep(0.5)
            still_waiting = not waiting.done()
            lock.rollback()
        await waiting
        ticking.cancel()
        return ticks, still_waiting

    ticks, still_waiting = run_coroutine(scenario())
    assert still_waiting and ticks >= 20  # the loop kept running while eight requests waited for their batch
    assert count(store) == 9
    log.close()


def test_closing_drains_every_queued_event(store: Store, tmp_path: Path) -> None:
    log = audit_log(store, tmp_path, linger=0.05)
    log.begin_blocking(pending())
    with writer_held(store) as lock:
        first = begin_in_thread(log, pending())
        time.sleep(0.2)
        others = [begin_in_thread(log, pending(i)) for i in range(30)]
        time.sleep(0.2)
        closing = threading.Thread(target=log.close)
        closing.start()  # asked to close while 30 events wait in the queue
        time.sleep(0.1)
        lock.rollback()
    closing.join(30)
    for thread in [first, *others]:
        thread.join(30)
    assert count(store) == 32
    with pytest.raises(AuditUnavailable):
        log.begin_blocking(pending())  # a closed writer refuses, it does not lose


def test_completions_update_their_event_or_append_one_for_requests_that_never_began(
    store: Store, tmp_path: Path
) -> None:
    log = audit_log(store, tmp_path)
    begun, never = pending(1), pending(2)
    log.begin_blocking(begun)

    async def finish_both() -> None:
        await asyncio.gather(log.finish(begun, 200, None, 3, 5, 1.0), log.finish(never, 401, "no token", 0, 10, 0.5))

    run_coroutine(finish_both())
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT request_id, status, outcome, bytes_out FROM audit_events ORDER BY id")
        ).fetchall()
    assert [tuple(r) for r in rows] == [(begun.request_id, 200, "allowed", 5), (never.request_id, 401, "refused", 10)]
    log.close()


def test_a_cached_callers_event_is_written_only_while_its_auth_stamp_holds(store: Store, tmp_path: Path) -> None:
    """The stamp check folded into the begun event's transaction: a moved stamp writes nothing."""
    log = audit_log(store, tmp_path)
    org = str(uuid.uuid4())
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO org_stamps (org_id, auth, data) VALUES (:o, 3, 7)"), {"o": org})
    try:
        held = pending(1)
        current = run_coroutine(log.begin_checked(held, org, 3))
        assert current is not None and (current.auth, current.data) == (3, 7)
        assert held.event_id is not None and count(store, f"id = {held.event_id}") == 1
        with store.engine.begin() as conn:  # a revocation, committed by any process
            conn.execute(text("UPDATE org_stamps SET auth = auth + 1 WHERE org_id = :o"), {"o": org})
        moved = pending(2)
        assert run_coroutine(log.begin_checked(moved, org, 3)) is None
        assert moved.event_id is None and count(store, f"route = '{moved.route}'") == 0
        unknown = pending(3)  # an organization without a change yet reads as zeros
        assert run_coroutine(log.begin_checked(unknown, str(uuid.uuid4()), 0)) is not None
        assert unknown.event_id is not None
    finally:
        log.close()
