"""S3 access keys: an id and a secret for the S3 front door, acting as a child token of the caller's.

A key is backed by a child token (named `access key <id>`) issued by the same step as `POST
/v1/tokens` (`tokens.issue_child`, so `authorization.child_narrowing` grants its narrowing and it is
never an admin); the token carries the narrowing and the expiry, and revoking the key revokes the
token, which bumps the organization's `auth` stamp. The secret is shown once and kept sealed by the
vault, not hashed: SigV4 verification needs the secret itself. `resolve` turns a presented key id
into the caller it acts as and its secret, cached per process and trusted only while the
organization's `auth` stamp holds (`stamped_cache`), so a revocation by any process is honoured on
the next request.
"""

from __future__ import annotations

import base64
import secrets as pysecrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import anyio
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from headwater.errors import AccessKeyExpired, AccessKeyUnknown, NotFound, Unauthenticated
from headwater.services import authorization, tokens
from headwater.services.authorization import Narrowing
from headwater.services.context import Caller
from headwater.store import stamps
from headwater.store.models import AccessKey, Organization, OrgStamp, Token, User, now
from headwater.vault import Vault

if TYPE_CHECKING:
    from headwater.services.hub import Hub

KEY_PREFIX = "HW"
KEY_LENGTH = 20  # like AWS's access key ids
SECRET_LENGTH = 40
_KEY_ALPHABET = frozenset(string.ascii_uppercase + "234567")
#: `last_used_at` is written at most this often per key (it is never written on every request).
LAST_USED_EVERY = timedelta(minutes=15)


@dataclass(frozen=True)
class AccessKeyView:
    """What may be shown of a key: never its secret."""

    id: str
    name: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    read_only: bool
    source_ids: tuple[str, ...] | None
    path_prefix: str | None
    token_id: str


@dataclass(frozen=True)
class Resolved:
    """A cached resolution: the caller a key acts as and its plaintext secret."""

    caller: Caller
    secret: str


def new_key_id() -> str:
    """`HW` and 18 uppercase base32 characters: 20 characters, like an AWS access key id."""
    raw = base64.b32encode(pysecrets.token_bytes(15)).decode()  # 24 characters, no padding
    return KEY_PREFIX + raw[: KEY_LENGTH - len(KEY_PREFIX)]


def new_secret() -> str:
    """40 URL-safe characters (about 240 random bits), as long as an AWS secret access key."""
    return pysecrets.token_urlsafe(30)[:SECRET_LENGTH]


def well_formed(key_id: str) -> bool:
    return len(key_id) == KEY_LENGTH and key_id.startswith(KEY_PREFIX) and set(key_id[2:]) <= _KEY_ALPHABET


def _view(key: AccessKey, token: Token) -> AccessKeyView:
    return AccessKeyView(
        id=key.id,
        name=key.name,
        created_at=key.created_at,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
        read_only=token.read_only,
        source_ids=tuple(token.source_ids) if token.source_ids is not None else None,
        path_prefix=token.path_prefix,
        token_id=token.id,
    )


# -- issuing, listing, revoking -----------------------------------------------------------------


def create_blocking(hub: Hub, caller: Caller, *, name: str | None, narrowing: Narrowing) -> tuple[AccessKeyView, str]:
    """`create`, on the calling thread."""
    key_id, secret = new_key_id(), new_secret()
    with hub.store.session() as session:
        token, _ = tokens.issue_child(
            session,
            caller,
            user_name=None,
            admin=False,
            name=f"access key {key_id}",
            narrowing=authorization.inherited_narrowing(caller, narrowing),
        )
        key = AccessKey(
            id=key_id,
            org_id=caller.org_id,
            user_id=token.user_id,
            token_id=token.id,
            name=name,
            ciphertext=hub.vault.seal_access_key(secret, org_id=caller.org_id, key_id=key_id),
            created_at=now(),
            expires_at=token.expires_at,
            revoked=False,
        )
        session.add(key)
        session.flush()
        return _view(key, token), secret


async def create(hub: Hub, caller: Caller, *, name: str | None, narrowing: Narrowing) -> tuple[AccessKeyView, str]:
    """Issue a key for the caller, narrowed as asked and at least as the caller's token is, never broader or
    longer-lived; the secret is returned this once and never again."""
    return await anyio.to_thread.run_sync(lambda: create_blocking(hub, caller, name=name, narrowing=narrowing))


def _visible(session: Session, caller: Caller, token: Token) -> bool:
    """A key is seen (and revoked) by whoever may see its token: an admin the organization's, a member its user's,
    a narrowed token the keys it issued itself."""
    return authorization.token_visible(caller, token, tokens.lineage(session, token))


def list_blocking(hub: Hub, caller: Caller) -> list[AccessKeyView]:
    with hub.store.session() as session:
        rows = session.execute(
            select(AccessKey, Token)
            .join(Token, Token.id == AccessKey.token_id)
            .where(AccessKey.org_id == caller.org_id, AccessKey.revoked.is_(False), Token.revoked.is_(False))
            .order_by(AccessKey.created_at, AccessKey.id)
        ).all()
        return [_view(key, token) for key, token in rows if _visible(session, caller, token)]


async def list_keys(hub: Hub, caller: Caller) -> list[AccessKeyView]:
    """The caller's keys (an admin's: the organization's), live ones only, without their secrets."""
    return await anyio.to_thread.run_sync(list_blocking, hub, caller)


def revoke_blocking(hub: Hub, caller: Caller, key_id: str) -> None:
    with hub.store.session() as session:
        row = session.execute(
            select(AccessKey, Token)
            .join(Token, Token.id == AccessKey.token_id)
            .where(AccessKey.id == key_id, AccessKey.org_id == caller.org_id, AccessKey.revoked.is_(False))
        ).first()
        if row is None or row[1].revoked or not _visible(session, caller, row[1]):
            raise NotFound(f"access key {key_id!r} does not exist")
        key, token = row
        key.revoked = True
        token.revoked = True  # bumps the organization's auth stamp: every process's cached resolution is refused
        session.flush()
    hub.access_keys.drop(key_id)


async def revoke(hub: Hub, caller: Caller, key_id: str) -> None:
    """Revoke a key and its token at once, for every process on the next request."""
    await anyio.to_thread.run_sync(revoke_blocking, hub, caller, key_id)


# -- resolving a presented key ----------------------------------------------------------------


def resolve_blocking(hub: Hub, key_id: str) -> tuple[Caller, str]:
    """`resolve`, on the calling thread (it reads the store: never on the event loop)."""
    caller, secret, _ = resolve_stamped_blocking(hub, key_id)
    return caller, secret


def resolve_stamped_blocking(hub: Hub, key_id: str) -> tuple[Caller, str, stamps.Stamps]:
    """`resolve`, with the organization's stamps as read to confirm it (the S3 front door hands them to the
    data service, which then needs no read of its own: one store read per request, as with tokens)."""
    if not well_formed(key_id):
        raise AccessKeyUnknown("the access key id is not one this hub issued")
    entry = hub.access_keys.get(key_id)
    if entry is not None:
        with hub.store.connection() as connection:
            current = stamps.read(connection, entry.org_id)
        if current.auth == entry.auth:
            return entry.value.caller, entry.value.secret, current
    try:
        with hub.store.session() as session:
            acting, secret, auth = _load(session, hub.vault, key_id)
            current = stamps.read(session, acting.org_id)
    except Unauthenticated:
        hub.access_keys.drop(key_id)
        raise
    hub.access_keys.put(key_id, Resolved(acting, secret), org_id=acting.org_id, auth=auth, expires_at=acting.expires_at)
    return acting, secret, current


def lookup(hub: Hub, key_id: str) -> tuple[Caller, str, int] | None:
    """The cached caller and secret of a key and the `auth` stamp they were read under, without reading
    the store: to be trusted only once that stamp is confirmed current (the S3 front door confirms it in
    the transaction of the request's begun audit event, as the Data API does for tokens). None when not
    cached, aged out or past the key's expiry."""
    entry = hub.access_keys.get(key_id)
    return (entry.value.caller, entry.value.secret, entry.auth) if entry is not None else None


async def resolve(hub: Hub, key_id: str) -> tuple[Caller, str]:
    """The caller a presented key id acts as and its plaintext secret (for SigV4 verification).

    `AccessKeyUnknown` for an id that names no live key (never issued, revoked, or its token or an
    ancestor revoked), `AccessKeyExpired` past its expiry."""
    return await anyio.to_thread.run_sync(resolve_blocking, hub, key_id)


async def resolve_stamped(hub: Hub, key_id: str) -> tuple[Caller, str, stamps.Stamps]:
    """`resolve`, and the organization's current stamps."""
    return await anyio.to_thread.run_sync(resolve_stamped_blocking, hub, key_id)


def _load(session: Session, vault: Vault, key_id: str) -> tuple[Caller, str, int]:
    """The key's caller, secret and the `auth` stamp read in the same statement (no later than the rows)."""
    row = session.execute(
        select(AccessKey, Token, Organization, User, OrgStamp.auth)
        .join(Token, Token.id == AccessKey.token_id)
        .join(Organization, Organization.id == AccessKey.org_id)
        .join(User, User.id == Token.user_id)
        .outerjoin(OrgStamp, OrgStamp.org_id == AccessKey.org_id)
        .where(AccessKey.id == key_id)
    ).first()
    if row is None or row[0].revoked or row[1].revoked:
        raise AccessKeyUnknown("the access key id is not one this hub issued, or it was revoked")
    key, token, org, user, auth = row
    moment = now()
    if token.expires_at is not None and token.expires_at <= moment:
        raise AccessKeyExpired(f"the access key expired at {token.expires_at.isoformat()}")
    try:  # a dead ancestor; an expired one expired no later than this token (`child_narrowing`)
        acting = tokens.caller_of_row(session, token, org, user)
    except Unauthenticated as exc:
        raise AccessKeyUnknown(f"the access key is no longer valid: {exc.message}") from exc
    secret = vault.open_access_key(key.ciphertext, org_id=key.org_id, key_id=key.id)
    if key.last_used_at is None or moment - key.last_used_at >= LAST_USED_EVERY:
        # a plain UPDATE: access keys bump no stamp (the token carries what caches depend on)
        session.execute(update(AccessKey).where(AccessKey.id == key.id).values(last_used_at=moment))
    return acting, secret, int(auth or 0)


def reseal(session: Session, vault: Vault, key: bytes) -> int:
    """Seal every access key's secret again under the master key `key` (`secrets.rotate_master_key`); how many."""
    count = 0
    for row in session.scalars(select(AccessKey)):
        secret = vault.open_access_key(row.ciphertext, org_id=row.org_id, key_id=row.id)
        row.ciphertext = vault.seal_access_key(secret, org_id=row.org_id, key_id=row.id, key=key)
        count += 1
    return count
