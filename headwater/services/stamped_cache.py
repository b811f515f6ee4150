"""A per-process cache of things read under an organization's `auth` stamp (`store.stamps`).

An entry is trusted only while the organization's `auth` stamp still equals the one it was read
under (the caller checks that, with one primary-key read or inside the request's audit event), so
a revocation committed by any process is honoured on the very next request. Entries also end at
their own expiry (checked in memory on every hit), age out after `ttl` seconds, and the least
recently used go first beyond `size`. The authenticated callers of tokens (`caller_cache`) and of
S3 access keys (`access_keys`) are both kept in one of these.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from headwater.store.models import now

TTL = 60.0
SIZE = 4096

V = TypeVar("V")


@dataclass(frozen=True)
class Stamped(Generic[V]):
    """A cached value, the organization and `auth` stamp it was read under, and when it stops being valid."""

    value: V
    org_id: str
    auth: int
    expires_at: datetime | None
    stored: float


class StampedCache(Generic[V]):
    """Key → a value read under an `auth` stamp; thread-safe, bounded, aged."""

    def __init__(self, size: int = SIZE, ttl: float = TTL) -> None:
        self.size = size
        self.ttl = ttl
        self._entries: OrderedDict[str, Stamped[V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Stamped[V] | None:
        """The entry for `key` unless absent, aged out or past its expiry; its stamp is still the caller's to check."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None or time.monotonic() - entry.stored > self.ttl:
            return None
        if entry.expires_at is not None and entry.expires_at <= now():
            return None
        return entry

    def put(self, key: str, value: V, *, org_id: str, auth: int, expires_at: datetime | None) -> None:
        with self._lock:
            self._entries[key] = Stamped(value, org_id, auth, expires_at, time.monotonic())
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def drop(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
