"""Authenticated callers, cached by token hash and trusted only while their organization's stamp holds.

A hit costs one primary-key read of the organization's change stamps (`store.stamps`), on a
plain connection (no ORM session), or none of its own when the read is folded into the
request's begun audit event (`lookup`, then `audit.AuditLog.begin_checked`); any
change to the organization's tokens or users (a revocation, of the token or of an ancestor,
included) bumps the stamp in the same transaction, so the next request of every process
authenticates afresh. Expiry is checked in memory on every hit. Entries also age out after
`ttl` seconds and the least recently used go first beyond `size`. Failed tokens are never
cached.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from headwater.errors import Unauthenticated
from headwater.services import tokens
from headwater.services.context import Caller
from headwater.store import stamps
from headwater.store.database import Store
from headwater.store.models import now

TTL = 60.0
SIZE = 4096


@dataclass(frozen=True)
class _Entry:
    caller: Caller
    auth: int
    stored: float


class CallerCache:
    """Token hash → the caller it authenticated as, with the `auth` stamp it was read under."""

    def __init__(self, size: int = SIZE, ttl: float = TTL) -> None:
        self.size = size
        self.ttl = ttl
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def authenticate(self, store: Store, plaintext: str) -> tuple[Caller, stamps.Stamps]:
        """The caller of a presented token and its organization's current stamps; `Unauthenticated` if none.

        Blocking (it reads the store): call it from a worker thread.
        """
        digest = tokens.hash_token(plaintext)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None:
                self._entries.move_to_end(digest)
        if entry is not None and self._fresh(entry):
            with store.engine.connect() as connection:
                current = stamps.read(connection, entry.caller.org_id)
            if current.auth == entry.auth:
                self.hits += 1
                return entry.caller, current
        self.misses += 1
        try:
            with store.session() as session:
                caller, current = tokens.authenticate_stamped(session, plaintext)
        except Unauthenticated:
            with self._lock:
                self._entries.pop(digest, None)
            raise
        with self._lock:
            self._entries[digest] = _Entry(caller, current.auth, time.monotonic())
            self._entries.move_to_end(digest)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return caller, current

    def lookup(self, plaintext: str) -> tuple[Caller, int] | None:
        """The cached caller of a token and the `auth` stamp it was read under, without reading the
        store: usable only once the stamp is confirmed current (the audit writer does that in the
        transaction of the request's begun event, see `deps.get_caller`). None when not cached or stale."""
        digest = tokens.hash_token(plaintext)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None:
                self._entries.move_to_end(digest)
        if entry is None or not self._fresh(entry):
            return None
        return entry.caller, entry.auth

    def _fresh(self, entry: _Entry) -> bool:
        if time.monotonic() - entry.stored > self.ttl:
            return False
        return entry.caller.expires_at is None or entry.caller.expires_at > now()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
