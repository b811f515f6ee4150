"""Authenticated callers, cached by token hash and trusted only while their organization's stamp holds.

A hit costs one primary-key read of the organization's change stamps (`store.stamps`), on a
plain connection (no ORM session), or none of its own when the read is folded into the
request's begun audit event (`lookup`, then `audit.AuditLog.begin_checked`); any
change to the organization's tokens or users (a revocation, of the token or of an ancestor,
included) bumps the stamp in the same transaction, so the next request of every process
authenticates afresh. Expiry is checked in memory on every hit. Entries also age out after
`ttl` seconds and the least recently used go first beyond `size` (`stamped_cache`). Failed
tokens are never cached.
"""

from __future__ import annotations

from headwater.errors import Unauthenticated
from headwater.services import tokens
from headwater.services.context import Caller
from headwater.services.stamped_cache import SIZE, TTL, StampedCache
from headwater.store import stamps
from headwater.store.database import Store


class CallerCache:
    """Token hash → the caller it authenticated as, with the `auth` stamp it was read under."""

    def __init__(self, size: int = SIZE, ttl: float = TTL) -> None:
        self.hits = 0
        self.misses = 0
        self._entries: StampedCache[Caller] = StampedCache(size, ttl)

    def authenticate(self, store: Store, plaintext: str) -> tuple[Caller, stamps.Stamps]:
        """The caller of a presented token and its organization's current stamps; `Unauthenticated` if none.

        Blocking (it reads the store): call it from a worker thread.
        """
        digest = tokens.hash_token(plaintext)
        entry = self._entries.get(digest)
        if entry is not None:
            with store.connection() as connection:
                current = stamps.read(connection, entry.org_id)
            if current.auth == entry.auth:
                self.hits += 1
                return entry.value, current
        self.misses += 1
        try:
            with store.session() as session:
                found, current = tokens.authenticate_stamped(session, plaintext)
        except Unauthenticated:
            self._entries.drop(digest)
            raise
        self._entries.put(digest, found, org_id=found.org_id, auth=current.auth, expires_at=found.expires_at)
        return found, current

    def lookup(self, plaintext: str) -> tuple[Caller, int] | None:
        """The cached caller of a token and the `auth` stamp it was read under, without reading the
        store: usable only once the stamp is confirmed current (the audit writer does that in the
        transaction of the request's begun event, see `deps.get_caller`). None when not cached or stale."""
        entry = self._entries.get(tokens.hash_token(plaintext))
        return (entry.value, entry.auth) if entry is not None else None

    def clear(self) -> None:
        self._entries.clear()
