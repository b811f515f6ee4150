"""Organizations, users and tokens. Tokens are random, stored only as a SHA-256 hash, shown once.

The use cases (`issue_token`, `list_tokens`, `revoke_token`, `sign_in`, `ensure_bootstrap_token`,
`create_local_token`, `create_first_token`) take the hub and own their transaction; the functions
that take a `Session` are steps.
"""

from __future__ import annotations

import hashlib
import re
import secrets as pysecrets
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from headwater.errors import InvalidInput, NotFound, Unauthenticated
from headwater.services import authorization
from headwater.services.authorization import Narrowing
from headwater.services.context import Caller
from headwater.store.models import Organization, OrgStamp, Token, User, now
from headwater.store.stamps import Stamps

if TYPE_CHECKING:  # the hub's caller cache builds on this module
    from headwater.services.hub import Hub

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


MAX_LINEAGE = 32


def create_token(
    session: Session,
    *,
    org_name: str,
    user_name: str,
    admin: bool = False,
    name: str | None = None,
    narrowing: Narrowing = Narrowing(),
    value: str | None = None,
    parent_id: str | None = None,
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
        parent_id=parent_id,
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


def _dead(token: Token) -> str | None:
    if token.revoked:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now():
        return "expired"
    return None


def authenticate(session: Session, plaintext: str) -> Caller:
    """Resolve a presented token to its caller, or raise `Unauthenticated`; a token dies with any of its ancestors."""
    return authenticate_stamped(session, plaintext)[0]


def authenticate_stamped(session: Session, plaintext: str) -> tuple[Caller, Stamps]:
    """`authenticate`, with the organization's change stamps read in the same statement as the token.

    The stamps are read no later than anything the caller is derived from, so a change that
    commits while this runs leaves a newer stamp behind and the cached caller is refused.
    """
    row = session.execute(
        select(Token, Organization, User, OrgStamp.auth, OrgStamp.data)
        .join(Organization, Organization.id == Token.org_id)
        .join(User, User.id == Token.user_id)
        .outerjoin(OrgStamp, OrgStamp.org_id == Token.org_id)
        .where(Token.token_hash == hash_token(plaintext))
    ).first()
    if row is None or row[0].revoked:
        raise Unauthenticated("the token is not valid")
    token, org, user, auth_stamp, data_stamp = row
    return caller_of_row(session, token, org, user), Stamps(int(auth_stamp or 0), int(data_stamp or 0))


def caller_of_row(session: Session, token: Token, org: Organization, user: User) -> Caller:
    """The caller a live token acts as, its expiry the earliest of its lineage's; `Unauthenticated` if it or an
    ancestor is dead (an S3 access key resolves its token through here too)."""
    if _dead(token) == "expired":
        raise Unauthenticated("the token has expired")
    expires_at = token.expires_at
    for ancestor in _ancestors(session, token):
        reason = _dead(ancestor)
        if reason is not None:
            raise Unauthenticated(f"the token that issued this one was {reason}")
        if ancestor.expires_at is not None and (expires_at is None or ancestor.expires_at < expires_at):
            expires_at = ancestor.expires_at
    return caller_of(token, org, user, expires_at)


def _ancestors(session: Session, token: Token) -> list[Token]:
    found: list[Token] = []
    parent_id = token.parent_id
    while parent_id is not None and len(found) < MAX_LINEAGE:
        parent = session.get(Token, parent_id)
        if parent is None:
            break
        found.append(parent)
        parent_id = parent.parent_id
    return found


def caller_of(token: Token, org: Organization, user: User, expires_at: datetime | None = None) -> Caller:
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
        expires_at=expires_at if expires_at is not None else token.expires_at,
    )


def issue_token(
    hub: Hub, caller: Caller, *, user_name: str | None, admin: bool, name: str | None, narrowing: Narrowing
) -> tuple[Token, str]:
    """A token issued through the API: a child of the caller's, never broader or longer-lived."""
    with hub.store.session() as session:
        return issue_child(session, caller, user_name=user_name, admin=admin, name=name, narrowing=narrowing)


def issue_child(
    session: Session, caller: Caller, *, user_name: str | None, admin: bool, name: str | None, narrowing: Narrowing
) -> tuple[Token, str]:
    """`issue_token`'s step: the child token, its narrowing granted by `authorization.child_narrowing`
    (also the step behind an S3 access key, `services.access_keys`)."""
    granted = authorization.child_narrowing(
        caller, admin=admin, other_user=bool(user_name and user_name != caller.user_name), wanted=narrowing
    )
    return create_token(
        session,
        org_name=caller.org_name,
        user_name=user_name or caller.user_name,
        admin=admin,
        name=name,
        narrowing=granted,
        parent_id=caller.token_id,
    )


def lineage(session: Session, token: Token) -> list[str]:
    """The ids of the tokens above `token`, nearest first (what `authorization.token_visible` weighs)."""
    return [t.id for t in _ancestors(session, token)]


def list_tokens(hub: Hub, caller: Caller) -> list[Token]:
    with hub.store.session() as session:
        query = select(Token).where(Token.org_id == caller.org_id, Token.revoked.is_(False))
        rows = session.scalars(query.order_by(Token.created_at))
        return [t for t in rows if authorization.token_visible(caller, t, lineage(session, t))]


def revoke_token(hub: Hub, caller: Caller, token_id: str) -> None:
    """Revoke a token and, with it, every token it issued."""
    with hub.store.session() as session:
        token = session.get(Token, token_id)
        if token is None or not authorization.token_visible(caller, token, lineage(session, token)):
            raise NotFound(f"token {token_id!r} does not exist")
        pending = [token]
        while pending:
            current = pending.pop()
            current.revoked = True
            pending.extend(
                session.scalars(select(Token).where(Token.parent_id == current.id, Token.revoked.is_(False)))
            )


def sign_in(hub: Hub, plaintext: str) -> Caller:
    """`authenticate`, in a transaction of its own (the portal's sign-in)."""
    with hub.store.session() as session:
        return authenticate(session, plaintext)


def create_local_token(
    hub: Hub, *, org_name: str, user_name: str, admin: bool, name: str | None, narrowing: Narrowing
) -> tuple[Token, str]:
    """`create_token`, in a transaction of its own: `headwater token create`, on the hub's own store."""
    with hub.store.session() as session:
        return create_token(
            session, org_name=org_name, user_name=user_name, admin=admin, name=name, narrowing=narrowing
        )


def create_first_token(hub: Hub, *, org_name: str, user_name: str) -> str | None:
    """On a store with no token at all, create an admin token and return its value (else None)."""
    with hub.store.session() as session:
        if session.scalar(select(func.count()).select_from(Token)):
            return None
        _, value = create_token(session, org_name=org_name, user_name=user_name, admin=True, name="first-start")
    return value


def ensure_bootstrap_token(hub: Hub) -> None:
    """`HEADWATER_BOOTSTRAP_TOKEN`: an admin token with exactly that value in organization `default`.

    Replicas given the same token may start at once: one that loses the race to create the
    organization or the token looks again, and finds what the winner committed."""
    value = hub.settings.bootstrap_token
    if not value:
        return
    try:
        with hub.store.session() as session:
            ensure_token(session, org_name="default", user_name="admin", value=value)
    except IntegrityError:
        with hub.store.session() as session:
            ensure_token(session, org_name="default", user_name="admin", value=value)
