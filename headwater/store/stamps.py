"""Change stamps: how every process learns, with one primary-key read, that an organization's
tokens, sources or secrets changed.

Every flush that adds, changes or deletes a token, user, source or secret bumps its
organization's counter in `org_stamps` in the same transaction, and a changed source or
secret also gets a new row `version`. Caches (authenticated callers, source rows, built
connectors) remember the stamp they were filled under and are used only while the stamp
read at the start of a request still equals it, so a revocation or a change committed by
any process is honoured on the very next request everywhere.

The bump is an ORM event on the store's sessions: no use case has to remember it. Bulk
`UPDATE`/`DELETE` statements on those tables bypass it and must not be used for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any

from sqlalchemy import Connection, bindparam, event, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from headwater.store.models import Organization, OrgStamp, Secret, Source, Token, User

#: Source columns whose change does not touch the connection (a check's outcome): no new version.
STATE_COLUMNS = frozenset({"state_code", "state_reason", "healthy", "checked_at", "latency_ms", "updated_at"})


@dataclass(frozen=True)
class Stamps:
    """An organization's change counters as read at one moment."""

    auth: int = 0
    data: int = 0


def read(session: Session | Connection, org_id: str) -> Stamps:
    """The organization's current stamps (zeros before its first change)."""
    row = session.execute(select(OrgStamp.auth, OrgStamp.data).where(OrgStamp.org_id == org_id)).first()
    return Stamps(int(row[0]), int(row[1])) if row is not None else Stamps()


_READ_MANY = select(OrgStamp.org_id, OrgStamp.auth, OrgStamp.data).where(
    OrgStamp.org_id.in_(bindparam("orgs", expanding=True))
)


def read_many(connection: Connection, org_ids: set[str]) -> dict[str, Stamps]:
    """Several organizations' current stamps in one read (zeros for one without a change yet)."""
    rows = connection.execute(_READ_MANY, {"orgs": sorted(org_ids)})
    found = {org_id: Stamps(int(auth), int(data)) for org_id, auth, data in rows}
    return {org_id: found.get(org_id, Stamps()) for org_id in org_ids}


def _changed(obj: Any) -> set[str]:
    state = inspect(obj)
    return {attr.key for attr in state.attrs if attr.history.has_changes()}


def _bump(session: Session, _context: Any, _instances: Any) -> None:
    auth: set[str] = set()
    data: set[str] = set()
    for obj in chain(session.new, session.dirty, session.deleted):
        dirty = obj not in session.new and obj not in session.deleted
        if isinstance(obj, (Token, User)):
            if not dirty or _changed(obj):
                auth.add(obj.org_id)
        elif isinstance(obj, Organization):
            if obj.id is not None and (not dirty or _changed(obj)):
                auth.add(obj.id)
        elif isinstance(obj, (Source, Secret)):
            changed = _changed(obj) if dirty else set()
            if dirty and not changed:
                continue
            data.add(obj.org_id)
            if dirty and not changed <= STATE_COLUMNS and "version" not in changed:
                obj.version = type(obj).version + 1  # evaluated in the UPDATE: concurrent changes never share a version
    if not auth and not data:
        return
    connection = session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    table = OrgStamp.__table__
    for org_id in sorted(auth | data):  # a fixed order: concurrent writers lock stamp rows alike
        a, d = int(org_id in auth), int(org_id in data)
        statement = dialect.insert(table).values(org_id=org_id, auth=a, data=d)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.org_id], set_={"auth": table.c.auth + a, "data": table.c.data + d}
        )
        connection.execute(statement)


def install(sessions: sessionmaker[Session]) -> None:
    """Bump stamps in every flush of sessions made by `sessions`."""
    event.listen(sessions, "before_flush", _bump)
