"""Signed, expiring links: URLs the hub serves without a token, proven by an HMAC.

A link names a file by its path relative to the hub's data dir and carries its
expiry; both are signed with HMAC-SHA256 under the hub's link key, which every replica
shares (`headwater.services.hub_keys`: sealed in the metadata store) and `Hub.open` installs here, so
a link signed by one replica verifies on every other. Anyone holding the link may
download the file until it expires; nobody can forge or extend one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from headwater.errors import LinkExpired, LinkInvalid

ROUTE = "/v1/links/"
#: The folders of the data dir a link may point into.
AREAS = ("uploads", "buckets")
_CONTEXT = b"headwater-link-v1\n"


@dataclass(frozen=True)
class Link:
    """What a verified link grants: one file (relative to the data dir) until `expires_at`."""

    path: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode() + b"=" * (-len(text) % 4))


class Signer:
    """Signs and verifies links with one key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, _CONTEXT + payload.encode(), hashlib.sha256).digest()[:24])

    def sign(self, path: str, expires_at: datetime) -> str:
        """A token for the file at `path` (relative to the data dir) valid until `expires_at`."""
        if path.split("/", 1)[0] not in AREAS:
            raise ValueError(f"links may only point into {AREAS}")
        body = json.dumps({"p": path, "e": int(expires_at.timestamp())}, separators=(",", ":"))
        payload = _b64(body.encode())
        return f"{payload}.{self._mac(payload)}"

    def url(self, path: str, expires_at: datetime) -> str:
        """The hub-relative URL of a signed link."""
        return ROUTE + self.sign(path, expires_at)

    def verify(self, token: str, now: datetime | None = None) -> Link:
        """The link a token grants; `LinkInvalid` if forged or altered, `LinkExpired` if out of date."""
        payload, _, mac = token.partition(".")
        if not payload or not mac or not hmac.compare_digest(mac.encode(), self._mac(payload).encode()):
            raise LinkInvalid("this link is not valid: it was not issued by this hub or was altered")
        try:
            body = json.loads(_unb64(payload))
            path, expires = str(body["p"]), int(body["e"])
        except (ValueError, KeyError, TypeError):
            raise LinkInvalid("this link is not valid") from None
        if path.split("/", 1)[0] not in AREAS:
            raise LinkInvalid("this link is not valid")
        expires_at = datetime.fromtimestamp(expires, tz=UTC)
        if expires_at <= (now or datetime.now(UTC)):
            raise LinkExpired(f"this link expired at {expires_at.isoformat()}")
        return Link(path, expires_at)


_signers: dict[Path, Signer] = {}
_lock = threading.Lock()


def install(data_dir: Path, key: bytes) -> Signer:
    """Make `key` the link key of the hub whose data dir this is (`Hub.open` does, once per process)."""
    with _lock:
        found = _signers[data_dir.resolve()] = Signer(key)
        return found


def signer(data_dir: Path) -> Signer:
    """The signer of the hub whose data dir this is; the hub must have been opened in this process."""
    with _lock:
        found = _signers.get(data_dir.resolve())
    if found is None:
        raise RuntimeError("no hub was opened on this data dir in this process: its link key is unknown")
    return found


def expiry(ttl: timedelta, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) + ttl
