"""How Foundation's connections and states map onto native ones, both ways (pure shape translation).

Labels are derived by `services.foundation` (a Foundation label "DSE" is the native
"dse", or "dse-1a083d33" when taken); Foundation shows the stem uppercased.

Connections: `s3` → kind `s3` (params `endpoint` = url, `credentials` = {"envKey"}
references to the two env keys); `database` → kind `postgres` or `mysql` by the engine
(or the host's URL scheme), user and password as the same `credentials` references
(a MySQL `schema` is dropped: there it is the database); `synthetic` → kind
`synthetic` with no params (the kind's sample datasets). Sources of other kinds
show `{"connection_type": <kind>, ...params}` (params never hold secret values).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from headwater.api.compat.foundation_models import (
    ConnectionSecret,
    DatabaseConnection,
    S3Connection,
    SyntheticConnection,
)
from headwater.errors import InvalidInput
from headwater.services import sources as sources_service
from headwater.services import states
from headwater.services.foundation import PLACEHOLDER_KIND, SourceView
from headwater.store.models import Source

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
        credentials = {
            "accessKey": _ref(connection.access_key.env_key),
            "secretKey": _ref(connection.access_secret.env_key),
        }
        return "s3", {"endpoint": _value(connection.url), "credentials": credentials}
    if isinstance(connection, DatabaseConnection):
        host = connection.host
        if isinstance(host, str) and "://" in host:
            host = urlsplit(host).hostname or host
        kind = database_kind(connection)
        params: dict[str, Any] = {"host": _value(host), "port": connection.port, "database": connection.database}
        if connection.db_schema and kind == "postgres":  # a MySQL schema is its database
            params["schema"] = connection.db_schema
        params["credentials"] = {
            "accessKey": _ref(connection.user.env_key),
            "secretKey": _ref(connection.password.env_key),
        }
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
        return {
            "connection_type": "s3",
            "url": _shown(params.get("endpoint")),
            "access_key": user,
            "access_secret": secret,
        }
    if source.protocol in ENGINE_NAMES:
        shown = {"connection_type": "database", "engine": ENGINE_NAMES[source.protocol]}
        shown.update({k: _shown(params.get(k)) for k in ("host", "port", "schema", "database")})
        return {**shown, "user": user, "password": secret}
    if source.protocol == "synthetic":
        return {"connection_type": "synthetic", **{k: _shown(v) for k, v in params.items()}}
    return {"connection_type": source.protocol, **{k: _shown(v) for k, v in params.items()}}


# -- state ----------------------------------------------------------------------------------


def state(view: SourceView) -> dict[str, Any]:
    """Foundation's state ladder, read from the native state (see the router's docstring)."""
    source = view.source
    code = source.state_code
    if code == states.HEALTHY:
        return {"code": "000", "reason": "Connection verified.", "healthy": True}
    if code == states.REQUIRES_CONFIGURATION:
        if from_native(source) is None:
            return {"code": "001", "reason": "Requires configuration.", "healthy": False}
        missing = view.missing
        keys = [m.removeprefix("secret value ") for m in missing if m.startswith("secret value ")]
        if keys and len(keys) == len(missing):
            return {"code": "002", "reason": f"Requires secrets: {', '.join(keys)}.", "healthy": False}
        return {"code": "001", "reason": source.state_reason, "healthy": False}
    if code == states.CONFIGURED:
        return {"code": "002", "reason": "Configured, not tested.", "healthy": False}
    return {"code": "003", "reason": f"Connection failed: {source.state_reason}", "healthy": False}


def secret_keys(view: SourceView) -> list[dict[str, str]]:
    """The keys of the source's bound key/value secrets, each with its value masked."""
    return [{"key": key, "value": MASK} for key in view.secret_keys]
