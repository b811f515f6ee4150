"""Looking for orphaned jobs is a duty: of the replicas on one store, one at a time scans; when it
stops, another takes the duty over at its next round."""

from __future__ import annotations

import time

from sqlalchemy import select

from headwater.services.jobs import driver
from headwater.store.models import DutyLease
from tests.fixtures.hub import RunningHub


def holder_of(running: RunningHub) -> str | None:
    with running.hub.store.session() as session:
        return session.scalar(select(DutyLease.holder).where(DutyLease.name == driver.RECOVERY))


def test_one_replica_at_a_time_looks_for_orphaned_jobs_and_another_takes_over_when_it_stops(
    replicas: tuple[RunningHub, RunningHub],
) -> None:
    first, second = replicas
    deadline = time.monotonic() + 10
    while (holder := holder_of(first)) is None:  # each replica's engine runs a round as it starts
        assert time.monotonic() < deadline, "no replica took the recovery duty"
        time.sleep(0.1)
    assert holder in {first.hub.replica, second.hub.replica}
    running, waiting = (first, second) if holder == first.hub.replica else (second, first)

    driver.engine_for(waiting.hub)._heartbeat()  # a round of the other replica: it renews its leases only
    assert holder_of(first) == running.hub.replica

    running.server.should_exit = True  # a clean stop releases the duty (the fixture closes the hub later)
    running.thread.join(timeout=15)
    driver.engine_for(waiting.hub)._heartbeat()
    assert holder_of(first) == waiting.hub.replica
