"""The audit trail: one event per operation, written before the operation runs.

An event is inserted when a request has been authenticated (if that insert fails,
the operation is refused: there is no unaudited access), and completed with the
outcome, bytes and duration when the response ends. Events never hold a secret or
a token: a token that failed to authenticate is kept only as an HMAC under a
per-hub key, so repeated attempts correlate without being readable (as Vault's
audit devices do).
"""

from __future__ import annotations

import hashlib
import re
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from headwater.errors import HeadwaterError, InvalidInput
from headwater.keys import load_or_create
from headwater.services import authorization
from headwater.services.context import Caller
from headwater.store.database import Store
from headwater.store.models import AuditEvent, now

MAX_PAGE = 1000


class AuditUnavailable(HeadwaterError):
    """The audit event could not be written, so the operation is refused."""

    code = "audit_unavailable"
    status = 503


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

    def __init__(self, store: Store, key_file: Any, retention_days: int = 90) -> None:
        self.store = store
        self.key = load_or_create(key_file)
        self.retention_days = retention_days

    def digest(self, value: str) -> str:
        """An HMAC of a value that must correlate without being readable."""
        return "hmac-sha256:" + hmac.new(self.key, value.encode(), hashlib.sha256).hexdigest()[:48]

    def _row(self, pending: Pending) -> AuditEvent:
        caller = pending.caller
        return AuditEvent(
            request_id=pending.request_id,
            org_id=caller.org_id if caller else None,
            user_id=caller.user_id if caller else None,
            user_name=caller.user_name if caller else None,
            token_id=caller.token_id if caller else None,
            token_hmac=pending.token_hmac,
            method=pending.method,
            route=clean(pending.route, 255) or "",
            operation=clean(pending.operation or pending.route, 64) or "",
            source_id=pending.source_id,
            connection=pending.connection,
            path=clean(pending.path, 4000),
            outcome="pending",
        )

    def begin(self, pending: Pending) -> None:
        """Insert the event before the operation runs; raise `AuditUnavailable` if it cannot be."""
        try:
            with self.store.session() as session:
                row = self._row(pending)
                session.add(row)
                session.flush()
                pending.event_id = row.id
        except SQLAlchemyError as exc:
            raise AuditUnavailable("the audit trail cannot be written: the operation was refused") from exc

    def finish(self, pending: Pending, status: int, reason: str | None, bytes_in: int, bytes_out: int, duration_ms: float) -> None:
        """Complete (or, for requests that never authenticated, append) the event."""
        values = {
            "status": status,
            "outcome": outcome_of(status),
            "reason": clean(reason or None, 2000),
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
            "duration_ms": duration_ms,
            "client": pending.client,
            "operation": clean(pending.operation or pending.route, 64) or "",
            "route": clean(pending.route, 255) or "",
            "source_id": pending.source_id,
            "connection": pending.connection,
            "path": clean(pending.path, 4000),
        }
        try:
            with self.store.session() as session:
                if pending.event_id is None:
                    row = self._row(pending)
                    for name, value in values.items():
                        setattr(row, name, value)
                    session.add(row)
                else:
                    session.execute(update(AuditEvent).where(AuditEvent.id == pending.event_id).values(**values))
        except SQLAlchemyError:
            # The operation already ran under its begun event; its completion is best effort.
            pass

    def query(self, caller: Caller, filters: Filters, after: int | None = None, limit: int = 100) -> list[AuditEvent]:
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
            query = query.where(AuditEvent.id > after)
        with self.store.session() as session:
            return list(session.scalars(query.order_by(AuditEvent.id).limit(limit)))

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
            return int(getattr(result, "rowcount", 0) or 0)
