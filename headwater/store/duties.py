"""Duty leases: a background duty (the retention purge) runs on one replica of the hub at a time.

A duty's lease is one row of `duty_leases` (name, holder, expiry). A replica takes it with a
conditional UPDATE that succeeds only while the lease is free, lapsed or already its own, or by
inserting the row when none exists (an insert that loses gracefully to a concurrent one): the
store decides, so on PostgreSQL and on SQLite shared by several processes alike exactly one
replica holds it. The holder takes it again every round, which renews it; a replica that
stops cleanly releases it, one that dies loses it when it lapses. Expiries are compared with
each replica's clock: replicas' clocks must agree to well within a lease (NTP does).
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy import or_, update

from headwater.store.database import Store
from headwater.store.models import DutyLease, now
from headwater.store.rows import insert_once


def holder_id() -> str:
    """A name for one replica (one hub in one process) that says where it runs."""
    return f"{socket.gethostname()[:32]}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


def take(store: Store, name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew the lease on duty `name` for `ttl`; False while another replica holds it."""
    moment = now()
    with store.session() as session:
        result = session.connection().execute(
            update(DutyLease)
            .where(DutyLease.name == name, or_(DutyLease.holder == holder, DutyLease.expires_at < moment))
            .values(holder=holder, expires_at=moment + ttl)
        )
        if result.rowcount == 1:
            return True
        return insert_once(session, DutyLease, {"name": name, "holder": holder, "expires_at": moment + ttl})


def release(store: Store, name: str, holder: str) -> None:
    """Let the duty go at once, if this replica holds it (a clean stop)."""
    with store.session() as session:
        session.execute(
            update(DutyLease)
            .where(DutyLease.name == name, DutyLease.holder == holder)
            .values(expires_at=now() - timedelta(seconds=1))
        )
