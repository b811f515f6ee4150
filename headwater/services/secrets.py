"""Secrets: typed bundles of credentials whose values are write-only and encrypted at rest."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from headwater.connectors.base import Credentials
from headwater.errors import Conflict, InvalidInput, NotFound, SecretExpired
from headwater.services import access_keys, authorization, hub_keys
from headwater.services.authorization import Action
from headwater.services.context import Caller
from headwater.store.database import Store
from headwater.store.models import Secret, Source, now
from headwater.vault import Keyring, Vault, generate_key, write_key_file

SECRET_TYPES = ("aws", "gcp", "storj", "s3", "http", "database", "generic", "other")
_SECRET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,249}")
MAX_VALUE_BYTES = 64 * 1024


@dataclass(frozen=True)
class SecretFields:
    """The readable fields of a secret, as a caller sets them."""

    name: str | None = None
    secret_type: str = "generic"
    access_key: str | None = None
    params: dict[str, Any] | None = None
    expires_at: datetime | None = None


def check_secret_id(secret_id: str) -> str:
    if not _SECRET_ID.fullmatch(secret_id or ""):
        raise InvalidInput(
            f"secret id {secret_id!r} is invalid: use 1-128 letters, digits, '.', '-' or '_', starting with a letter or digit"
        )
    return secret_id


def check_values(values: dict[str, str]) -> dict[str, str]:
    for key, value in values.items():
        if key != "secretKey" and not _ENV_KEY.fullmatch(key):
            raise InvalidInput(f"secret value key {key!r} is invalid: use letters, digits and '_'")
        if not isinstance(value, str):
            raise InvalidInput(f"secret value {key!r} must be a string")
        if len(value.encode()) > MAX_VALUE_BYTES:
            raise InvalidInput(f"secret value {key!r} is longer than {MAX_VALUE_BYTES} bytes")
    return values


def _check_type(secret_type: str) -> str:
    if secret_type not in SECRET_TYPES:
        raise InvalidInput(f"secretType {secret_type!r} is invalid: use one of {', '.join(SECRET_TYPES)}")
    return secret_type


def is_expired(secret: Secret) -> bool:
    return secret.expires_at is not None and secret.expires_at <= now()


def get(session: Session, caller: Caller, secret_id: str) -> Secret:
    secret = session.scalar(select(Secret).where(Secret.org_id == caller.org_id, Secret.secret_id == secret_id))
    if secret is None or not authorization.secret_visible(
        caller, secret_id, users_of(session, caller.org_id, secret_id)
    ):
        raise NotFound(f"secret {secret_id!r} does not exist")
    return secret


def list_secrets(session: Session, caller: Caller, secret_type: str | None = None) -> list[Secret]:
    query = select(Secret).where(Secret.org_id == caller.org_id)
    if secret_type:
        types = {"aws", "s3"} if secret_type in {"aws", "s3"} else {secret_type}
        query = query.where(Secret.secret_type.in_(types))
    found = list(session.scalars(query.order_by(Secret.secret_id)))
    if not authorization.data_narrowed(caller):
        return found
    return [
        s
        for s in found
        if authorization.secret_visible(caller, s.secret_id, users_of(session, caller.org_id, s.secret_id))
    ]


def create(
    session: Session, vault: Vault, caller: Caller, secret_id: str, fields: SecretFields, values: dict[str, str]
) -> Secret:
    authorization.require(caller, Action.CONFIGURE, "secrets")
    check_secret_id(secret_id)
    _check_type(fields.secret_type)
    check_values(values)
    if not values:
        raise InvalidInput("a secret needs a value: give secretKey or values")
    exists = session.scalar(select(Secret.uid).where(Secret.org_id == caller.org_id, Secret.secret_id == secret_id))
    if exists is not None:
        raise Conflict(f"secret {secret_id!r} already exists: update it instead")
    secret = Secret(
        org_id=caller.org_id,
        secret_id=secret_id,
        name=fields.name,
        secret_type=fields.secret_type,
        access_key=fields.access_key,
        params=fields.params or {},
        expires_at=fields.expires_at,
        value_keys=sorted(values),
        ciphertext=vault.seal(values, org_id=caller.org_id, secret_id=secret_id),
    )
    session.add(secret)
    session.flush()
    return secret


def update(
    session: Session,
    vault: Vault,
    caller: Caller,
    secret_id: str,
    changes: dict[str, Any],
    values: dict[str, str] | None,
    *,
    merge: bool = False,
) -> Secret:
    """Change the readable fields named in `changes`; replace (or with `merge`, add to) the values."""
    authorization.require(caller, Action.CONFIGURE, "secrets")
    secret = get(session, caller, secret_id)
    if "secret_type" in changes:
        secret.secret_type = _check_type(changes["secret_type"])
    for field in ("name", "access_key", "params", "expires_at"):
        if field in changes:
            setattr(secret, field, changes[field] if field != "params" else (changes[field] or {}))
    if values is not None:
        check_values(values)
        if merge:
            merged = vault.open_values(secret.ciphertext, org_id=caller.org_id, secret_id=secret_id)
            merged.update(values)
            values = merged
        if not values:
            raise InvalidInput("a secret needs a value: give secretKey or values")
        secret.ciphertext = vault.seal(values, org_id=caller.org_id, secret_id=secret_id)
        secret.value_keys = sorted(values)
    secret.updated_at = now()
    session.flush()
    return secret


def users_of(session: Session, org_id: str, secret_id: str) -> list[Source]:
    """The sources that reference a secret, directly or as a bound key/value secret."""
    candidates = session.scalars(
        select(Source).where(
            Source.org_id == org_id, or_(Source.secret_id == secret_id, Source.env_secret_ids.is_not(None))
        )
    )
    return [s for s in candidates if s.secret_id == secret_id or secret_id in (s.env_secret_ids or [])]


def delete(session: Session, caller: Caller, secret_id: str) -> None:
    authorization.require(caller, Action.CONFIGURE, "secrets")
    secret = get(session, caller, secret_id)
    users = users_of(session, caller.org_id, secret_id)
    if users:
        named = ", ".join(f"{s.protocol}+{s.label}" for s in users)
        raise Conflict(f"secret {secret_id!r} is used by the data sources {named}: change or delete them first")
    session.delete(secret)
    session.flush()


def expiry_error(secret: Secret) -> SecretExpired:
    assert secret.expires_at is not None
    return SecretExpired(f"secret {secret.secret_id!r} expired at {secret.expires_at.isoformat()}")


def credentials(session: Session, vault: Vault, org_id: str, secret_id: str) -> Credentials:
    """Decrypt a secret for use by a connector; refuse expired or missing ones."""
    secret = session.scalar(select(Secret).where(Secret.org_id == org_id, Secret.secret_id == secret_id))
    if secret is None:
        raise NotFound(f"secret {secret_id!r} does not exist")
    if is_expired(secret):
        raise expiry_error(secret)
    values = vault.open_values(secret.ciphertext, org_id=org_id, secret_id=secret_id)
    return Credentials(access_key=secret.access_key, values=values)


def rotate_master_key(store: Store, vault: Vault, new_key: str | None = None) -> int:
    """Re-encrypt every secret, the hub's shared keys (`headwater.services.hub_keys`) and the S3 access keys'
    secrets (`headwater.services.access_keys`) under a new master key; return how many secrets were re-sealed.

    The key file first holds both keys (new first), so a running hub can still open rows
    sealed under either while they are re-sealed; the old key is dropped at the end. All rows
    change in one transaction: a replica reads them all under the old key or all under the new.
    """
    if new_key is None and vault.key_file is None:
        raise InvalidInput(
            "the master key comes from HEADWATER_MASTER_KEY: give the new key (set the variable to NEW,OLD first)"
        )
    new = Keyring.parse(new_key or generate_key()).primary
    old_keys = vault.keyring.keys
    vault.keyring = Keyring([new, *old_keys])
    if vault.key_file is not None:
        write_key_file(vault.key_file, vault.keyring)
    count = 0
    with store.session() as session:
        for secret in session.scalars(select(Secret)):
            values = vault.open_values(secret.ciphertext, org_id=secret.org_id, secret_id=secret.secret_id)
            secret.ciphertext = vault.seal(values, org_id=secret.org_id, secret_id=secret.secret_id, key=new)
            count += 1
        hub_keys.reseal(session, vault, new)
        access_keys.reseal(session, vault, new)
    vault.keyring = Keyring([new])
    if vault.key_file is not None:
        write_key_file(vault.key_file, vault.keyring)
    return count
