"""Data sources: create, configure, test and look up labelled connections."""

from __future__ import annotations

import dataclasses
import difflib
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from pydantic import ValidationError
from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from headwater import policy
from headwater.addresses import check_label, check_protocol
from headwater.connectors import catalogue
from headwater.connectors.base import Connector, Credentials
from headwater.errors import Conflict, HeadwaterError, InvalidInput, NotFound, UpstreamTimeout
from headwater.services import authorization, states
from headwater.services import secrets as secrets_service
from headwater.services.authorization import Action
from headwater.services.context import Caller
from headwater.services.hub import Hub
from headwater.store.models import Secret, Source, SystemLink, now

CHECK_TIMEOUT = 10.0
CREDENTIALS_PARAM = "credentials"
EMPTY: dict[str, Any] = {"params": dict, "entity_info": dict, "env_secret_ids": list, "description": str}
CONNECTION_FIELDS = frozenset({"params", "secret_id", "env_secret_ids", "protocol"})


@dataclass
class SourceSpec:
    """A data source as a caller describes it (already shaped by the API's models)."""

    protocol: str
    label: str
    name: str | None = None
    description: str = ""
    entity_info: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    secret_id: str | None = None
    env_secret_ids: list[str] = field(default_factory=list)
    path_restrictions: list[str] | None = None
    access: str | None = None  # default: "read", or "read-write" for output-only kinds


def env_ref(value: Any) -> str | None:
    """The env key named by a `{"envKey": NAME}` reference, or None for a plain value."""
    if isinstance(value, dict) and len(value) == 1:
        name = value.get("envKey", value.get("env_key"))
        if isinstance(name, str):
            return name
    return None


def _check_access(access: str) -> str:
    try:
        return policy.Access(access).value
    except ValueError:
        raise InvalidInput(f"access {access!r} is invalid: use 'read' or 'read-write'") from None


def _check_restrictions(patterns: list[str] | None) -> list[str]:
    if patterns is None:
        return list(policy.EVERYTHING)
    if not isinstance(patterns, list):
        raise InvalidInput("pathRestrictions must be a list of patterns")
    return [policy.validate_pattern(p) for p in patterns]


def _env_keys(session: Session, org_id: str, secret_ids: list[str]) -> dict[str, str]:
    """Env key → the bound secret that holds it."""
    found: dict[str, str] = {}
    for secret_id in secret_ids:
        secret = session.scalar(select(Secret).where(Secret.org_id == org_id, Secret.secret_id == secret_id))
        if secret is not None:
            for key in secret.value_keys:
                found.setdefault(key, secret_id)
    return found


@dataclass
class Resolution:
    """The outcome of validating a source's connection: a params model, or what is missing."""

    params: Any | None
    missing: list[str]
    credential_refs: dict[str, str]


def resolve(session: Session, source: Source, env_values: dict[str, str] | None = None) -> Resolution:
    """Validate a source's params against its kind's schema, resolving `{envKey}` references.

    With `env_values`, references are substituted (to build a connector); without, they
    only have to exist in a bound secret (to decide the state). Malformed values raise
    `InvalidInput` naming the field; absent ones are reported as missing.
    """
    kind = catalogue.get(source.protocol)
    raw = dict(source.params or {})
    credential_refs: dict[str, str] = {}
    missing: list[str] = []
    available = _env_keys(session, source.org_id, source.env_secret_ids or [])
    creds = raw.pop(CREDENTIALS_PARAM, None)
    if creds is not None:
        if not isinstance(creds, dict):
            raise InvalidInput("params.credentials must be an object of {envKey} references")
        for slot, value in creds.items():
            name = env_ref(value)
            if name is None:
                raise InvalidInput(
                    f'params.credentials.{slot} must be an {{"envKey": NAME}} reference: put secret values in a secret'
                )
            credential_refs[slot] = name
            if name not in available:
                missing.append(f"secret value {name}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = env_ref(value)
        if name is None:
            values[key] = value
        elif env_values is not None and name in env_values:
            values[key] = env_values[name]
        elif name not in available:
            missing.append(f"secret value {name}")
    try:
        model = kind.params.model_validate(values)
    except ValidationError as exc:
        bad: list[str] = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            if error["type"] == "missing":
                if where not in raw:
                    missing.append(f"params.{where}")
            else:
                bad.append(f"params.{where}: {error['msg']}")
        if bad:
            raise InvalidInput("; ".join(bad)) from None
        model = None
    if kind.credentials == "required" and not source.secret_id and not credential_refs:
        missing.append("secretId")
    return Resolution(model if not missing else None, missing, credential_refs)


def configuration_state(session: Session, source: Source) -> states.State:
    resolution = resolve(session, source)
    if resolution.missing:
        return states.requires_configuration(resolution.missing)
    return states.configured()


def _set_state(source: Source, state: states.State) -> None:
    source.state_code, source.state_reason, source.healthy = state.code, state.reason, state.healthy


def get(session: Session, caller: Caller, source_id: str) -> Source:
    try:
        uuid.UUID(source_id)
    except ValueError:
        raise NotFound(f"data source {source_id!r} does not exist") from None
    source = session.get(Source, source_id)
    if not authorization.source_visible(caller, source):
        raise NotFound(f"data source {source_id!r} does not exist")
    assert source is not None
    return source


def missing_connection(session: Session, caller: Caller, protocol: str, label: str) -> NotFound:
    """The error for a connection that does not exist, suggesting the closest one the caller can see."""
    wanted = f"{protocol}+{label}"
    known = [f"{s.protocol}+{s.label}" for s in list_sources(session, caller)]
    close = difflib.get_close_matches(wanted, known, n=1, cutoff=0.6)
    hint = f": did you mean {close[0]}?" if close else ""
    return NotFound(f"no connection {wanted} in this organization{hint}")


def find(session: Session, caller: Caller, protocol: str, label: str) -> Source:
    source = session.scalar(
        select(Source).where(Source.org_id == caller.org_id, Source.protocol == protocol, Source.label == label)
    )
    if not authorization.source_visible(caller, source):
        raise missing_connection(session, caller, protocol, label)
    assert source is not None
    return source


def list_sources(session: Session, caller: Caller, protocol: str | None = None) -> list[Source]:
    query = select(Source).where(Source.org_id == caller.org_id)
    if protocol:
        query = query.where(Source.protocol == protocol)
    return authorization.visible_sources(caller, session.scalars(query.order_by(Source.protocol, Source.label)))


def _check_secret_refs(session: Session, caller: Caller, source: Source) -> None:
    for secret_id in ([source.secret_id] if source.secret_id else []) + list(source.env_secret_ids or []):
        secrets_service.get(session, caller, secret_id)


def create(session: Session, caller: Caller, spec: SourceSpec, *, data_dir: Path) -> Source:
    authorization.require(caller, Action.CONFIGURE, "data sources")
    kind = catalogue.get(check_protocol(spec.protocol))
    check_label(spec.label)
    if not isinstance(spec.params, dict):
        raise InvalidInput("params must be an object")
    authorization.may_configure_source(caller, kind, spec.params, data_dir)
    taken = session.scalar(
        select(Source.id).where(
            Source.org_id == caller.org_id, Source.protocol == kind.name, Source.label == spec.label
        )
    )
    if taken is not None:
        raise Conflict(f"label {spec.label!r} is already used by another {kind.name} data source")
    source = Source(
        org_id=caller.org_id,
        protocol=kind.name,
        label=spec.label,
        name=spec.name or spec.label,
        description=spec.description or "",
        entity_info=spec.entity_info or {},
        params=spec.params,
        secret_id=spec.secret_id,
        env_secret_ids=list(spec.env_secret_ids or []),
        path_restrictions=_check_restrictions(spec.path_restrictions),
        access=_check_access(spec.access or ("read" if kind.capabilities.input else "read-write")),
        created_by=caller.user_id,
    )
    _check_secret_refs(session, caller, source)
    _set_state(source, configuration_state(session, source))
    session.add(source)
    session.flush()
    return source


def update(session: Session, caller: Caller, source_id: str, changes: dict[str, Any], *, data_dir: Path) -> Source:
    """Change the given fields; a change to the connection resets the state to untested."""
    source = get(session, caller, source_id)  # what the caller cannot see is missing, whatever its rights
    authorization.require(caller, Action.CONFIGURE, "data sources")
    params = changes.get("params", source.params)
    authorization.may_configure_source(caller, catalogue.get(source.protocol), params, data_dir)
    if "protocol" in changes and changes["protocol"] != source.protocol:
        raise InvalidInput("protocol cannot be changed: create a new data source")
    if "label" in changes and changes["label"] != source.label:
        label = check_label(changes["label"])
        taken = session.scalar(
            select(Source.id).where(
                Source.org_id == caller.org_id, Source.protocol == source.protocol, Source.label == label
            )
        )
        if taken is not None:
            raise Conflict(f"label {label!r} is already used by another {source.protocol} data source")
        source.label = label
    if "access" in changes:
        source.access = _check_access(changes["access"])
    if "path_restrictions" in changes:
        source.path_restrictions = _check_restrictions(changes["path_restrictions"])
    for name in ("name", "description", "entity_info", "params", "secret_id", "env_secret_ids"):
        if name in changes:
            value = changes[name]
            if value is None and name in EMPTY:
                value = EMPTY[name]()
            if name == "params" and not isinstance(value, dict):
                raise InvalidInput("params must be an object")
            setattr(source, name, value)
    _check_secret_refs(session, caller, source)
    if CONNECTION_FIELDS & set(changes):
        _set_state(source, configuration_state(session, source))
        source.checked_at = None
        source.latency_ms = None
    source.updated_at = now()
    session.flush()
    return source


def delete(session: Session, caller: Caller, source_id: str) -> None:
    source = get(session, caller, source_id)
    authorization.require(caller, Action.CONFIGURE, "data sources")
    authorization.require_kind(caller, catalogue.get(source.protocol))
    session.execute(sql_delete(SystemLink).where(SystemLink.source_id == source.id))
    session.delete(source)
    session.flush()


def refresh_state(session: Session, org_id: str, secret_id: str) -> None:
    """Recompute the configuration state of the sources that use a secret whose keys changed."""
    for source in secrets_service.users_of(session, org_id, secret_id):
        if source.state_code in {states.REQUIRES_CONFIGURATION, states.CONFIGURED}:
            _set_state(source, configuration_state(session, source))


def credentials_for(
    session: Session, hub: Hub, source: Source, resolution: Resolution
) -> tuple[Credentials | None, dict[str, str]]:
    """Decrypt what a source's connector needs: its secret, and the values of its env references."""
    env_values: dict[str, str] = {}
    for secret_id in source.env_secret_ids or []:
        creds = secrets_service.credentials(session, hub.vault, source.org_id, secret_id)
        for key, value in creds.values.items():
            env_values.setdefault(key, value)
    access_key: str | None = None
    values: dict[str, str] = {}
    if source.secret_id:
        creds = secrets_service.credentials(session, hub.vault, source.org_id, source.secret_id)
        access_key, values = creds.access_key, dict(creds.values)
    for slot, name in resolution.credential_refs.items():
        if slot == "accessKey":
            access_key = env_values.get(name)
        else:
            values[slot] = env_values.get(name, "")
    if access_key is None and not values:
        return None, env_values
    return Credentials(access_key=access_key, values=values), env_values


def connector_for(session: Session, hub: Hub, source: Source) -> Connector:
    """Build the connector of a configured source, with decrypted credentials, inside the hub."""
    first = resolve(session, source)
    if first.missing:
        raise InvalidInput(
            f"data source {source.protocol}+{source.label} requires configuration: missing {', '.join(first.missing)}"
        )
    kind = catalogue.get(source.protocol)
    if kind.name == "local":  # a row written before the rule existed is refused here too
        authorization.check_local_root(str(getattr(first.params, "path", "")), hub.settings.data_dir)
    creds, env_values = credentials_for(session, hub, source, first)
    resolution = resolve(session, source, env_values)
    context = dataclasses.replace(hub.build_context, org_id=source.org_id, source_id=source.id)
    return kind.build(resolution.params, creds, context)


async def run_check(connector: Connector, *, write: bool) -> float:
    """Run a connector's check within the time bound; return its latency in milliseconds."""
    started = time.perf_counter()
    try:
        with anyio.fail_after(CHECK_TIMEOUT):
            await connector.check(write=write)
    except TimeoutError:
        raise UpstreamTimeout(f"the check did not finish within {CHECK_TIMEOUT:.0f} s") from None
    finally:
        await connector.close()
    return (time.perf_counter() - started) * 1000


async def test(hub: Hub, caller: Caller, source_id: str) -> Source:
    """Check a source for real and record the outcome; its configuration is never changed."""

    authorization.require(caller, Action.TEST, "data sources (a check may write a probe)")

    def prepare() -> tuple[Source, Connector | None, HeadwaterError | None]:
        with hub.store.session() as session:
            source = get(session, caller, source_id)
            state = configuration_state(session, source)
            if state.code == states.REQUIRES_CONFIGURATION:
                raise InvalidInput(f"data source cannot be tested yet: {state.reason}")
            try:
                return source, connector_for(session, hub, source), None
            except HeadwaterError as exc:
                return source, None, exc

    source, connector, error = await anyio.to_thread.run_sync(prepare)
    latency: float | None = None
    if connector is not None:
        try:
            latency = await run_check(connector, write=source.access == policy.Access.READ_WRITE.value)
        except HeadwaterError as exc:
            error = exc
    outcome = states.failed(error) if error is not None else states.healthy()

    def record() -> Source:
        with hub.store.session() as session:
            row = get(session, caller, source_id)
            _set_state(row, outcome)
            row.checked_at = now()
            row.latency_ms = latency
            session.flush()
            return row

    return await anyio.to_thread.run_sync(record)
