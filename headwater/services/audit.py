"""The audit trail: one event per operation, written before the operation runs.

An event is inserted when a request has been authenticated (if that insert fails,
the operation is refused: there is no unaudited access), and completed with the
outcome, bytes and duration when the response ends. Both go through one writer that
commits them in batches (`audit_writer`): a request waits only until its own batch is
durable, awaiting it on the event loop without a thread. Events never hold a secret or
a token: a token that failed to authenticate is kept only as an HMAC under a
key every replica of the hub shares (`headwater.services.hub_keys`), so repeated attempts correlate without being readable (as Vault's
audit devices do).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from headwater.errors import AuditUnavailable, InvalidInput
from headwater.services import authorization
from headwater.services.audit_writer import LINGER_SECONDS, WAIT_SECONDS, AuditWriter, BatchFailed, Begin, Finish
from headwater.services.context import Caller
from headwater.store import stamps
from headwater.store.database import Store, rows_changed
from headwater.store.models import AuditEvent, now

MAX_PAGE = 1000


@dataclass
class Pending:
    """What the API layer learns about one request while it runs."""

    request_id: str
    method: str
    route: str
    client: str | None
    started: float
    operation: str = ""
    event_id: int | None = None
    caller: Caller | None = None
    source_id: str | None = None
    connection: str | None = None
    path: str | None = None
    token_hmac: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: (status, reason) of a failure told in the body of a response already begun as a success.
    late_failure: tuple[int, str] | None = None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean(text: str | None, limit: int) -> str | None:
    """Text fit for the trail: no NUL or control characters (PostgreSQL refuses NUL), bounded length."""
    return None if text is None else _CONTROL.sub("?", text)[:limit]


def outcome_of(status: int) -> str:
    if status < 400:
        return "allowed"
    if status in (401, 403, 404):
        return "refused"
    if status < 500:
        return "invalid"
    return "failed"


@dataclass(frozen=True)
class Filters:
    source: str | None = None
    user: str | None = None
    path_prefix: str | None = None
    operation: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditLog:
    """Appends and queries audit events in the metadata store."""

    def __init__(self, store: Store, key: bytes, retention_days: int = 90, linger: float = LINGER_SECONDS) -> None:
        self.store = store
        self.key = key
        self.retention_days = retention_days
        self.writer = AuditWriter(store.engine, AuditEvent.__table__, linger=linger, read_stamps=stamps.read_many)  # type: ignore[arg-type]

    def digest(self, value: str) -> str:
        """An HMAC of a value that must correlate without being readable."""
        return "hmac-sha256:" + hmac.new(self.key, value.encode(), hashlib.sha256).hexdigest()[:48]

    def _row(self, pending: Pending) -> dict[str, Any]:
        caller = pending.caller
        return {
            "request_id": pending.request_id,
            "time": now(),
            "org_id": caller.org_id if caller else None,
            "user_id": caller.user_id if caller else None,
            "user_name": clean(caller.user_name, 255) if caller else None,
            "token_id": caller.token_id if caller else None,
            "token_hmac": pending.token_hmac,
            "method": clean(pending.method, 10) or "",
            "route": clean(pending.route, 255) or "",
            "operation": clean(pending.operation or pending.route, 64) or "",
            "source_id": pending.source_id,
            "connection": clean(pending.connection, 100),
            "path": clean(pending.path, 4000),
            "outcome": "pending",
            "reason": None,
            "status": None,
            "bytes_in": 0,
            "bytes_out": 0,
            "duration_ms": None,
            "client": clean(pending.client, 100),
        }

    def _queue_begin(self, pending: Pending, expect: tuple[str, int] | None = None) -> Begin:
        item = Begin(pending, self._row(pending), expect=expect)
        self.writer.submit(item)
        return item

    async def begin_checked(self, pending: Pending, org_id: str, auth: int) -> stamps.Stamps | None:
        """`begin` for a caller cached under the `auth` stamp of its organization: the stamps are read
        in the event's own transaction, and the event is written only if that stamp still holds.

        Returns the organization's current stamps once the event is durable, or None (nothing
        written) when the stamp has moved on and the caller must be authenticated afresh.
        """
        item = self._queue_begin(pending, (org_id, auth))
        try:
            await asyncio.wrap_future(item.future)
        except BatchFailed as exc:
            raise AuditUnavailable("the audit trail cannot be written: the operation was refused") from exc
        return item.stamps if item.confirmed else None

    async def begin(self, pending: Pending) -> None:
        """Wait until the event is durable, before the operation runs; `AuditUnavailable` if it cannot be.

        The writer thread resolves the future through the event loop: no thread waits per request.
        """
        item = self._queue_begin(pending)
        try:
            await asyncio.wrap_future(item.future)
        except BatchFailed as exc:
            raise AuditUnavailable("the audit trail cannot be written: the operation was refused") from exc

    def begin_blocking(self, pending: Pending) -> None:
        """`begin` for code already running in a worker thread."""
        item = self._queue_begin(pending)
        try:
            item.future.result(WAIT_SECONDS)
        except (BatchFailed, TimeoutError) as exc:
            raise AuditUnavailable("the audit trail cannot be written: the operation was refused") from exc

    async def finish(
        self, pending: Pending, status: int, reason: str | None, bytes_in: int, bytes_out: int, duration_ms: float
    ) -> None:
        """Complete (or, for requests that never began one, append) the event, batched with others.

        The caller waits for the batch, so a response's last byte leaves after its event is complete;
        a completion that cannot be written is dropped (the operation already ran under its begun event).
        """
        values = {
            "status": status,
            "outcome": outcome_of(status),
            "reason": clean(reason or None, 2000),
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
            "duration_ms": duration_ms,
            "client": clean(pending.client, 100),
            "operation": clean(pending.operation or pending.route, 64) or "",
            "route": clean(pending.route, 255) or "",
            "source_id": pending.source_id,
            "connection": clean(pending.connection, 100),
            "path": clean(pending.path, 4000),
        }
        item = Finish(pending, functools.partial(self._row, pending), values)
        self.writer.submit(item)
        try:
            # Shielded: a request cancelled while it waits (its client left) leaves its completion queued.
            await asyncio.shield(asyncio.wrap_future(item.future))
        except BatchFailed:
            pass

    def close(self) -> None:
        """Write every queued event, then stop the writer."""
        self.writer.close()

    def query(
        self, caller: Caller, filters: Filters, after: int | None = None, limit: int = 100, newest_first: bool = False
    ) -> list[AuditEvent]:
        """One page of matching events in id order; `after` is the last id of the previous page.

        Oldest first, `after` selects the newer events; newest first, it selects the older ones,
        so the same cursor pages forward through either order.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
        scope = authorization.audit_scope(caller)
        query = select(AuditEvent).where(AuditEvent.org_id == scope.org_id, AuditEvent.outcome != "pending")
        if scope.user_id is not None:
            query = query.where(AuditEvent.user_id == scope.user_id)
        if scope.token_id is not None:
            query = query.where(AuditEvent.token_id == scope.token_id)
        if filters.source:
            query = query.where((AuditEvent.source_id == filters.source) | (AuditEvent.connection == filters.source))
        if filters.user:
            query = query.where(AuditEvent.user_name == filters.user)
        if filters.path_prefix:
            query = query.where(AuditEvent.path.startswith(filters.path_prefix, autoescape=True))
        if filters.operation:
            query = query.where(AuditEvent.operation == filters.operation)
        if filters.outcome:
            query = query.where(AuditEvent.outcome == filters.outcome)
        if filters.since:
            query = query.where(AuditEvent.time >= filters.since)
        if filters.until:
            query = query.where(AuditEvent.time < filters.until)
        if after is not None:
            query = query.where(AuditEvent.id < after if newest_first else AuditEvent.id > after)
        order = AuditEvent.id.desc() if newest_first else AuditEvent.id
        with self.store.session() as session:
            return list(session.scalars(query.order_by(order).limit(limit)))

    def export(self, caller: Caller, filters: Filters) -> Iterator[AuditEvent]:
        """Every matching event, page by page, so an export never loads the whole trail."""
        after: int | None = None
        while True:
            page = self.query(caller, filters, after, MAX_PAGE)
            yield from page
            if len(page) < MAX_PAGE:
                return
            after = page[-1].id

    def purge(self) -> int:
        """Drop events older than the retention period; return how many."""
        cutoff = now() - timedelta(days=self.retention_days)
        with self.store.session() as session:
            result = session.execute(delete(AuditEvent).where(AuditEvent.time < cutoff))
            return rows_changed(result)
