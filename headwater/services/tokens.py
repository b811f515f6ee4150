"""Organizations, users and tokens. Tokens are random, stored only as a SHA-256 hash, shown once."""

from __future__ import annotations

import hashlib
import re
import secrets as pysecrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from headwater.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from headwater.services.context import Caller
from headwater.store.models import Organization, Token, User, now

TOKEN_PREFIX = "hw_"
_ORG_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def hash_token(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_token_value() -> str:
    return TOKEN_PREFIX + pysecrets.token_urlsafe(32)


def check_org_name(name: str) -> str:
    if not _ORG_NAME.fullmatch(name):
        raise InvalidInput(f"organization name {name!r} is invalid: use 1-63 lowercase letters, digits, '-' or '_'")
    return name


def ensure_org(session: Session, name: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.name == check_org_name(name)))
    if org is None:
        org = Organization(name=name)
        session.add(org)
        session.flush()
    return org


def ensure_user(session: Session, org: Organization, name: str) -> User:
    if not name or len(name) > 255:
        raise InvalidInput("user name must be 1-255 characters")
    user = session.scalar(select(User).where(User.org_id == org.id, User.name == name))
    if user is None:
        user = User(org_id=org.id, name=name)
        session.add(user)
        session.flush()
    return user


@dataclass(frozen=True)
class Narrowing:
    """What a new token is limited to, beyond its user's rights."""

    read_only: bool = False
    source_ids: tuple[str, ...] | None = None
    path_prefix: str | None = None
    expires_at: datetime | None = None


def create_token(
    session: Session,
    *,
    org_name: str,
    user_name: str,
    admin: bool = False,
    name: str | None = None,
    narrowing: Narrowing = Narrowing(),
    value: str | None = None,
) -> tuple[Token, str]:
    """Create a token and return it with its plaintext value, which is never stored."""
    org = ensure_org(session, org_name)
    user = ensure_user(session, org, user_name)
    plaintext = value or new_token_value()
    if len(plaintext) < 16:
        raise InvalidInput("a token value must be at least 16 characters")
    token = Token(
        org_id=org.id,
        user_id=user.id,
        token_hash=hash_token(plaintext),
        name=name,
        admin=admin,
        read_only=narrowing.read_only,
        source_ids=list(narrowing.source_ids) if narrowing.source_ids is not None else None,
        path_prefix=narrowing.path_prefix,
        expires_at=narrowing.expires_at,
    )
    session.add(token)
    session.flush()
    return token, plaintext


def ensure_token(session: Session, *, org_name: str, user_name: str, value: str, admin: bool = True) -> Token:
    """Make sure a token with exactly `value` exists (the bootstrap token of `serve`)."""
    existing = session.scalar(select(Token).where(Token.token_hash == hash_token(value)))
    if existing is not None:
        return existing
    token, _ = create_token(session, org_name=org_name, user_name=user_name, admin=admin, name="bootstrap", value=value)
    return token


def authenticate(session: Session, plaintext: str) -> Caller:
    """Resolve a presented token to its caller, or raise `Unauthenticated`."""
    row = session.execute(
        select(Token, Organization, User)
        .join(Organization, Organization.id == Token.org_id)
        .join(User, User.id == Token.user_id)
        .where(Token.token_hash == hash_token(plaintext))
    ).first()
    if row is None or row[0].revoked:
        raise Unauthenticated("the token is not valid")
    token, org, user = row
    if token.expires_at is not None and token.expires_at <= now():
        raise Unauthenticated("the token has expired")
    return caller_of(token, org, user)


def caller_of(token: Token, org: Organization, user: User) -> Caller:
    return Caller(
        org_id=org.id,
        org_name=org.name,
        user_id=user.id,
        user_name=user.name,
        token_id=token.id,
        admin=token.admin,
        read_only=token.read_only,
        source_ids=tuple(token.source_ids) if token.source_ids is not None else None,
        path_prefix=token.path_prefix,
    )


def issue_token(
    session: Session, caller: Caller, *, user_name: str | None, admin: bool, name: str | None, narrowing: Narrowing
) -> tuple[Token, str]:
    """A token issued through the API: never broader than the caller's own."""
    if (admin or (user_name and user_name != caller.user_name)) and not caller.admin:
        raise PermissionDenied("only an administrator may create admin tokens or tokens for other users")
    if caller.read_only and not narrowing.read_only:
        raise PermissionDenied("a read-only token can only issue read-only tokens")
    if caller.source_ids is not None:
        wanted = narrowing.source_ids
        if wanted is None or not set(wanted) <= set(caller.source_ids):
            raise PermissionDenied("a token limited to some sources can only issue tokens limited to those")
    if caller.path_prefix is not None:
        if narrowing.path_prefix is None or not narrowing.path_prefix.startswith(caller.path_prefix):
            raise PermissionDenied("a token limited to a path prefix can only issue tokens under that prefix")
    return create_token(
        session,
        org_name=caller.org_name,
        user_name=user_name or caller.user_name,
        admin=admin,
        name=name,
        narrowing=narrowing,
    )


def list_tokens(session: Session, caller: Caller) -> list[Token]:
    query = select(Token).where(Token.org_id == caller.org_id, Token.revoked.is_(False))
    if not caller.admin:
        query = query.where(Token.user_id == caller.user_id)
    return list(session.scalars(query.order_by(Token.created_at)))


def revoke_token(session: Session, caller: Caller, token_id: str) -> None:
    token = session.get(Token, token_id)
    if token is None or token.org_id != caller.org_id or (not caller.admin and token.user_id != caller.user_id):
        raise NotFound(f"token {token_id!r} does not exist")
    token.revoked = True
