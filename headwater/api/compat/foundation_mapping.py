"""How Foundation's entities map onto native data sources and systems, both ways.

Labels: Foundation labels are 1-3 letters or digits ("DSE"); a native label is that,
lowercased ("dse"), or with the first 8 hex digits of the source's id appended
("dse-1a083d33") when another source of the same kind already holds it. Foundation
shows the native label's stem uppercased (a native label of another form, verbatim).

Connections: `s3` → kind `s3` (params `endpoint` = url, `credentials` = {"envKey"}
references to the two env keys); `database` → kind `postgres` or `mysql` by the engine
(or the host's URL scheme), user and password as the same `credentials` references
(a MySQL `schema` is dropped: there it is the database); `synthetic` → kind
`synthetic` with no params (the kind's sample datasets). Sources of other kinds
show `{"connection_type": <kind>, ...params}` (params never hold secret values).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from headwater.api.compat.foundation_models import (
    ConnectionSecret,
    DatabaseConnection,
    S3Connection,
    SyntheticConnection,
)
from headwater.connectors import catalogue
from headwater.errors import Conflict, HeadwaterError, InvalidInput
from headwater.services import authorization
from headwater.services.authorization import Action
from headwater.services import secrets as secrets_service
from headwater.services import sources as sources_service
from headwater.services import states
from headwater.services.context import Caller
from headwater.store.models import Source

#: The kind a source created without a connection has until one is set: it needs an endpoint, so it stays 001.
PLACEHOLDER_KIND = "s3"
SECRET_PREFIX = "foundation-"
MASK = "********"
S3_FAMILY = frozenset({"s3", "aws", "gcp", "storj"})
ENGINES = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "psql": "postgres",
    "pg": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
}
ENGINE_NAMES = {"postgres": "postgresql", "mysql": "mysql"}
_DERIVED = re.compile(r"([a-z0-9]{1,3})(?:-[0-9a-f]{8})?")


def secret_id_for(source_id: str) -> str:
    """The native generic secret that holds a Foundation source's env-key values."""
    return SECRET_PREFIX + source_id


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


# -- labels ---------------------------------------------------------------------------------


def display_label(native: str) -> str:
    match = _DERIVED.fullmatch(native)
    return match.group(1).upper() if match else native


def _taken(session: Session, org_id: str, protocol: str, label: str, source_id: str | None) -> bool:
    found = session.scalar(
        select(Source.id).where(Source.org_id == org_id, Source.protocol == protocol, Source.label == label)
    )
    return found is not None and found != source_id


def native_label(session: Session, org_id: str, protocol: str, label: str, source_id: str | None) -> str | None:
    """The native label for a Foundation label: its lowercase form, or that plus the id's stem; None if both are taken."""
    base = label.lower()
    if not _taken(session, org_id, protocol, base, source_id):
        return base
    if source_id is not None:
        suffixed = f"{base}-{source_id[:8]}"
        if not _taken(session, org_id, protocol, suffixed, source_id):
            return suffixed
    return None


def switch_kind(session: Session, caller: Caller, source: Source, kind_name: str) -> None:
    """Give a source another kind, keeping its id and (where free) its label.

    HOOK: `services.sources.update` refuses a protocol change; Foundation sets the kind
    with the connection, after creation. This does what such an update would (the
    caller then sets the params through `sources.update`, which recomputes the state).
    """
    kind = catalogue.get(kind_name)
    if source.protocol == kind.name:
        return
    authorization.require(caller, Action.CONFIGURE, "data sources")
    authorization.require_kind(caller, catalogue.get(source.protocol))  # an admin-only source stays the admin's
    authorization.require_kind(caller, kind)
    match = _DERIVED.fullmatch(source.label)
    stem = match.group(1) if match else source.label
    label = native_label(session, source.org_id, kind.name, stem, source.id)
    if label is None:
        raise Conflict(f"label {stem!r} is already used by another {kind.name} data source")
    source.protocol, source.label = kind.name, label


# -- connections ----------------------------------------------------------------------------


def _value(value: str | ConnectionSecret) -> Any:
    return {"envKey": value.env_key} if isinstance(value, ConnectionSecret) else value


def _ref(name: str) -> dict[str, str]:
    return {"envKey": name}


def database_kind(connection: DatabaseConnection) -> str:
    engine = connection.engine.strip().lower()
    if "://" in engine:
        engine = urlsplit(engine).scheme
    elif isinstance(connection.host, str) and "://" in connection.host:
        engine = urlsplit(connection.host).scheme or engine
    engine = engine.split("+", 1)[0]
    kind = ENGINES.get(engine)
    if kind is None:
        raise InvalidInput(f"connection.engine {connection.engine!r} is not supported: use postgresql or mysql")
    return kind


def to_native(connection: S3Connection | DatabaseConnection | SyntheticConnection) -> tuple[str, dict[str, Any]]:
    """The native kind and params of a Foundation connection."""
    if isinstance(connection, S3Connection):
        credentials = {"accessKey": _ref(connection.access_key.env_key), "secretKey": _ref(connection.access_secret.env_key)}
        return "s3", {"endpoint": _value(connection.url), "credentials": credentials}
    if isinstance(connection, DatabaseConnection):
        host = connection.host
        if isinstance(host, str) and "://" in host:
            host = urlsplit(host).hostname or host
        kind = database_kind(connection)
        params: dict[str, Any] = {"host": _value(host), "port": connection.port, "database": connection.database}
        if connection.db_schema and kind == "postgres":  # a MySQL schema is its database
            params["schema"] = connection.db_schema
        params["credentials"] = {"accessKey": _ref(connection.user.env_key), "secretKey": _ref(connection.password.env_key)}
        return kind, params
    return "synthetic", {}


def _shown(value: Any) -> Any:
    name = sources_service.env_ref(value)
    return {"env_key": name} if name is not None else value


def from_native(source: Source) -> dict[str, Any] | None:
    """The Foundation connection of a source; None while it has none."""
    params = dict(source.params or {})
    if source.protocol == PLACEHOLDER_KIND and not params and not source.secret_id:
        return None
    credentials = params.pop("credentials", None) or {}
    user, secret = _shown(credentials.get("accessKey")), _shown(credentials.get("secretKey"))
    if source.protocol in S3_FAMILY:
        return {"connection_type": "s3", "url": _shown(params.get("endpoint")), "access_key": user, "access_secret": secret}
    if source.protocol in ENGINE_NAMES:
        shown = {"connection_type": "database", "engine": ENGINE_NAMES[source.protocol]}
        shown.update({k: _shown(params.get(k)) for k in ("host", "port", "schema", "database")})
        return {**shown, "user": user, "password": secret}
    if source.protocol == "synthetic":
        return {"connection_type": "synthetic", **{k: _shown(v) for k, v in params.items()}}
    return {"connection_type": source.protocol, **{k: _shown(v) for k, v in params.items()}}


# -- state ----------------------------------------------------------------------------------


def state(session: Session, source: Source) -> dict[str, Any]:
    """Foundation's state ladder, read from the native state (see the router's docstring)."""
    code = source.state_code
    if code == states.HEALTHY:
        return {"code": "000", "reason": "Connection verified.", "healthy": True}
    if code == states.REQUIRES_CONFIGURATION:
        if from_native(source) is None:
            return {"code": "001", "reason": "Requires configuration.", "healthy": False}
        try:
            missing = sources_service.resolve(session, source).missing
        except HeadwaterError:
            missing = []
        keys = [m.removeprefix("secret value ") for m in missing if m.startswith("secret value ")]
        if keys and len(keys) == len(missing):
            return {"code": "002", "reason": f"Requires secrets: {', '.join(keys)}.", "healthy": False}
        return {"code": "001", "reason": source.state_reason, "healthy": False}
    if code == states.CONFIGURED:
        return {"code": "002", "reason": "Configured, not tested.", "healthy": False}
    return {"code": "003", "reason": f"Connection failed: {source.state_reason}", "healthy": False}


# -- secrets --------------------------------------------------------------------------------


def secret_keys(session: Session, caller: Caller, source: Source) -> list[dict[str, str]]:
    """The keys of the source's bound key/value secrets, each with its value masked."""
    keys: set[str] = set()
    for secret_id in source.env_secret_ids or []:
        try:
            keys.update(secrets_service.get(session, caller, secret_id).value_keys or [])
        except HeadwaterError:
            continue
    return [{"key": key, "value": MASK} for key in sorted(keys)]
