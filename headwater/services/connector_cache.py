"""Opened connectors kept for reuse, so a small read does not build a backend client (and its
connection pool) every time.

Two maps, both in this process's memory only:
- source rows by (organization, protocol, label), valid while the organization's `data`
  stamp (`store.stamps`) is the one they were read under, with the versions and expiry of
  the secrets they use;
- opened connectors by (source id, source version, its secrets' versions, event loop). A
  changed source or secret has a new version, so the old connector is never found again:
  it is retired at once and closed as soon as its last user releases it.

A connector is leased by a request and released (not closed) when the request ends. Beyond
`size` connectors the least recently used idle one is closed; one unused for `idle` seconds
is closed too; one whose secret expires is not used past the expiry. Kinds whose connectors
hold per-request state (`Connector.reusable` false) are never cached. Rights are not cached:
they are decided per request by `services.authorization` from the (current) source row.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from headwater.connectors.base import Connector
from headwater.store.models import now

if TYPE_CHECKING:
    from headwater.store.models import Source

log = logging.getLogger(__name__)

SWEEP_EVERY = 5.0
ROWS = 4096

#: (source id, source version, ((secret id, secret version), ...), event loop id)
Key = tuple[str, int, tuple[tuple[str, int], ...], int]


@dataclass(frozen=True)
class SourceRow:
    """A source as read from the store (detached; never changed), and what its secrets are at."""

    source: Source
    secrets: tuple[tuple[str, int], ...]
    secrets_expire: datetime | None
    data_stamp: int


@dataclass(eq=False)
class _Slot:
    key: Key
    connector: Connector
    expires: datetime | None
    users: int = 0
    last_used: float = field(default_factory=time.monotonic)
    retired: bool = False


class Lease:
    """One request's use of a cached connector; `release` hands it back."""

    def __init__(self, cache: ConnectorCache, slot: _Slot) -> None:
        self._cache = cache
        self._slot: _Slot | None = slot
        self.connector = slot.connector

    async def release(self) -> None:
        slot, self._slot = self._slot, None
        if slot is not None:
            self._cache._release(slot)
            await self._cache.reap()


class ConnectorCache:
    """Opened connectors and the source rows they were built from, for one hub process."""

    def __init__(self, size: int = 128, idle: float = 300.0) -> None:
        self.size = size
        self.idle = idle
        self.builds = 0  # connectors built for the cache (what tests and the bench count)
        self.closes = 0  # cached connectors closed (evicted, retired, idle, or at shutdown)
        self._slots: OrderedDict[Key, _Slot] = OrderedDict()
        self._rows: OrderedDict[tuple[str, str, str], SourceRow] = OrderedDict()
        self._doomed: list[Connector] = []
        self._lock = threading.Lock()
        self._swept = time.monotonic()

    # -- source rows --------------------------------------------------------------------------

    def row(self, org_id: str, protocol: str, label: str, data_stamp: int) -> SourceRow | None:
        """The cached row of a source, if it was read under the organization's current stamp."""
        with self._lock:
            row = self._rows.get((org_id, protocol, label))
        if row is None or row.data_stamp != data_stamp:
            return None
        return row

    def remember(self, org_id: str, protocol: str, label: str, row: SourceRow) -> None:
        with self._lock:
            self._rows[(org_id, protocol, label)] = row
            self._rows.move_to_end((org_id, protocol, label))
            while len(self._rows) > ROWS:
                self._rows.popitem(last=False)

    def close_rows(self) -> None:
        """Forget every cached source row (the next request of each organization reads its rows again)."""
        with self._lock:
            self._rows.clear()

    # -- connectors ---------------------------------------------------------------------------

    def acquire(self, key: Key) -> Lease | None:
        """Lease the cached connector of `key`, if there is a usable one."""
        with self._lock:
            self._sweep()
            slot = self._slots.get(key)
            if slot is None:
                return None
            if slot.expires is not None and slot.expires <= now():
                self._retire(slot)
                return None
            slot.users += 1
            slot.last_used = time.monotonic()
            self._slots.move_to_end(key)
            return Lease(self, slot)

    def insert(self, key: Key, connector: Connector, expires: datetime | None) -> tuple[Connector, Lease]:
        """Cache a newly built connector (or, if another request cached one first, use that one)."""
        with self._lock:
            self.builds += 1
            existing = self._slots.get(key)
            if existing is not None:
                self._doomed.append(connector)
                existing.users += 1
                existing.last_used = time.monotonic()
                return existing.connector, Lease(self, existing)
            for other in [s for s in self._slots.values() if s.key[0] == key[0] and s.key[3] == key[3]]:
                self._retire(other)  # an older version of the same source: never used again
            slot = _Slot(key, connector, expires, users=1)
            self._slots[key] = slot
            self._evict()
            return connector, Lease(self, slot)

    def _release(self, slot: _Slot) -> None:
        with self._lock:
            slot.users -= 1
            slot.last_used = time.monotonic()
            if slot.retired and slot.users == 0:
                self._doomed.append(slot.connector)

    def _retire(self, slot: _Slot) -> None:
        """Take a slot out of the cache; its connector closes when its last user is done (lock held)."""
        if self._slots.get(slot.key) is slot:
            del self._slots[slot.key]
        if not slot.retired:
            slot.retired = True
            if slot.users == 0:
                self._doomed.append(slot.connector)

    def _evict(self) -> None:
        """Beyond `size`, retire the least recently used idle connectors (lock held)."""
        excess = len(self._slots) - self.size
        for slot in list(self._slots.values()):
            if excess <= 0:
                return
            if slot.users == 0:
                self._retire(slot)
                excess -= 1

    def _sweep(self) -> None:
        """Retire connectors idle for longer than `idle` (lock held; at most every few seconds)."""
        moment = time.monotonic()
        if moment - self._swept < min(SWEEP_EVERY, self.idle):
            return
        self._swept = moment
        for slot in list(self._slots.values()):
            if slot.users == 0 and moment - slot.last_used > self.idle:
                self._retire(slot)

    async def reap(self) -> None:
        """Close the connectors retired so far (on the caller's event loop)."""
        with self._lock:
            if not self._doomed:
                return
            doomed, self._doomed = self._doomed, []
            self.closes += len(doomed)
        for connector in doomed:
            try:
                await connector.close()
            except Exception:  # a connector of a finished event loop, or a backend already gone
                log.debug("closing a cached %s connector failed", connector.kind, exc_info=True)

    async def close_all(self) -> None:
        """Close every cached connector (the hub is stopping)."""
        with self._lock:
            for slot in list(self._slots.values()):
                self._retire(slot)
            self._rows.clear()
        await self.reap()

    def connectors(self) -> list[Connector]:
        """The connectors cached now (for inspection)."""
        with self._lock:
            return [slot.connector for slot in self._slots.values()]

    def __len__(self) -> int:
        return len(self._slots)
