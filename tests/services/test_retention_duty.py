"""The retention duty (audit, links, uploads, temporary bucket purges) runs on one replica of a hub at a time."""

from __future__ import annotations

import time

from sqlalchemy import select

from headwater.services import links as links_service
from headwater.services.hub import Hub
from headwater.store.models import DutyLease
from tests.fixtures.hub import RunningHub
from tests.fixtures.loops import run_coroutine


def purge_once(hub: Hub) -> int | None:
    """One round of the retention duty (on a loop of its own: see `run_coroutine`)."""
    return run_coroutine(links_service.purge_once(hub))


def holder_of(running: RunningHub) -> str | None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # each replica runs a round as it starts
        with running.hub.store.session() as session:
            holder = session.scalar(select(DutyLease.holder).where(DutyLease.name == links_service.RETENTION))
        if holder is not None:
            return holder
        time.sleep(0.1)
    return None


def test_two_replicas_on_one_store_run_the_retention_duty_once(replicas: tuple[RunningHub, RunningHub]) -> None:
    first, second = replicas
    holder = holder_of(first)
    assert holder in {first.hub.replica, second.hub.replica}
    running, waiting = (first, second) if holder == first.hub.replica else (second, first)
    assert purge_once(running.hub) is not None
    assert purge_once(waiting.hub) is None
    assert purge_once(running.hub) is not None


def test_when_the_holding_replica_stops_the_other_takes_the_duty_over(replicas: tuple[RunningHub, RunningHub]) -> None:
    first, second = replicas
    holder = holder_of(first)
    running, waiting = (first, second) if holder == first.hub.replica else (second, first)
    assert purge_once(waiting.hub) is None
    running.server.should_exit = True  # a clean stop releases the lease (the fixture closes the hub later)
    running.thread.join(timeout=15)
    assert purge_once(waiting.hub) is not None
