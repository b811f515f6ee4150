"""Foundation's use cases that have no native twin, built on the native sources, secrets and systems services.

A Foundation data source is a native data source, a data system a native system, a
link a native link. What Foundation adds lives here:

- labels: a Foundation label (1-3 letters or digits, "DSE") is the native label
  lowercased ("dse"), or that with the first 8 hex digits of the source's id appended
  ("dse-1a083d33") when another source of the same kind holds it;
- a source is created without a connection (a placeholder kind that stays
  "requires configuration"), and setting a connection later may switch its kind;
- env-key secrets are one native generic secret per source, `foundation-<id>`, merged
  into and bound to the source through `envSecretIds`; deleting the source deletes it
  unless another source uses it;
- a change that completes a configuration runs the native test at once.

Every right is decided by `services.authorization`, through the native services or here.
Functions return views that carry what Foundation's shapes show, so presenting needs no store.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import anyio
from sqlalchemy import select
from sqlalchemy.orm import Session

from headwater.connectors import catalogue
from headwater.errors import Conflict, HeadwaterError, InvalidInput, NotFound
from headwater.services import authorization, states
from headwater.services import secrets as secrets_service
from headwater.services import sources as sources_service
from headwater.services import systems as systems_service
from headwater.services.authorization import Action
from headwater.services.context import Caller
from headwater.services.hub import Hub
from headwater.store.models import Source, System

#: The kind a source created without a connection has until one is set: it needs an endpoint, so it stays 001.
PLACEHOLDER_KIND = "s3"
SECRET_PREFIX = "foundation-"
ENV_KEY_PATTERN = r"^[A-Z][A-Z0-9_]*$"
MAX_ENV_KEY = 250
_ENV_KEY = re.compile(ENV_KEY_PATTERN)
_DERIVED = re.compile(r"([a-z0-9]{1,3})(?:-[0-9a-f]{8})?")


@dataclass
class SourceView:
    """A data source with what Foundation shows beside it."""

    source: Source
    missing: list[str] = field(default_factory=list)  # what its configuration lacks, while it requires configuration
    parents: list[System] = field(default_factory=list)
    secret_keys: list[str] = field(default_factory=list)  # the keys of its bound key/value secrets (never values)


@dataclass
class SystemView:
    """A data system with the data sources linked under it that the caller may see."""

    system: System
    children: list[SourceView] = field(default_factory=list)


@dataclass(frozen=True)
class NewSource:
    """A Foundation data source as a caller describes it; `kind`/`params` already translated to native ones."""

    label: str
    name: str
    description: str
    entity_info: dict[str, Any]
    kind: str = PLACEHOLDER_KIND
    params: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    parent_id: str | None = None


def secret_id_for(source_id: str) -> str:
    """The native generic secret that holds a Foundation source's env-key values."""
    return SECRET_PREFIX + source_id


# -- labels ---------------------------------------------------------------------------------


def display_label(native: str) -> str:
    """The Foundation label of a native one: its derived stem uppercased, or a label of another form verbatim."""
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


def _switch_kind(session: Session, caller: Caller, source: Source, kind_name: str) -> None:
    """Give a source another kind, keeping its id and (where free) its label.

    `services.sources.update` refuses a protocol change; Foundation sets the kind with
    the connection, after creation. This does what such an update would (the caller
    then sets the params through `sources.update`, which recomputes the state).
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


# -- views ----------------------------------------------------------------------------------


def _missing(session: Session, source: Source) -> list[str]:
    if source.state_code != states.REQUIRES_CONFIGURATION:
        return []
    try:
        return sources_service.resolve(session, source).missing
    except HeadwaterError:
        return []


def _secret_keys(session: Session, caller: Caller, source: Source) -> list[str]:
    keys: set[str] = set()
    for secret_id in source.env_secret_ids or []:
        try:
            keys.update(secrets_service.get(session, caller, secret_id).value_keys or [])
        except HeadwaterError:
            continue
    return sorted(keys)


def _brief(session: Session, source: Source) -> SourceView:
    """The source and its configuration gaps (for lists and link nodes)."""
    return SourceView(source, missing=_missing(session, source))


def _full(session: Session, caller: Caller, source: Source) -> SourceView:
    """The source with its parents and secret keys too."""
    view = _brief(session, source)
    view.parents = systems_service.parents(session, source)
    view.secret_keys = _secret_keys(session, caller, source)
    return view


def _system_view(session: Session, caller: Caller, system: System) -> SystemView:
    return SystemView(system, [_brief(session, s) for s in systems_service.children(session, caller, system)])


def _show(hub: Hub, caller: Caller, source_id: str) -> SourceView:
    with hub.store.session() as session:
        return _full(session, caller, sources_service.get(session, caller, source_id))


async def _settle(hub: Hub, caller: Caller, source_id: str) -> None:
    """Run the native test once the configuration is complete."""

    def ready() -> bool:
        with hub.store.session() as session:
            source = sources_service.get(session, caller, source_id)
            return sources_service.configuration_state(session, source).code == states.CONFIGURED

    if await anyio.to_thread.run_sync(ready):
        await sources_service.test(hub, caller, source_id)


# -- secrets --------------------------------------------------------------------------------


def _set_secrets(session: Session, hub: Hub, caller: Caller, source: Source, values: dict[str, str]) -> None:
    """Merge env-key values into the source's `foundation-` secret and bind it to the source."""
    for key in values:
        if not _ENV_KEY.fullmatch(key) or len(key) > MAX_ENV_KEY:
            raise InvalidInput(f"secret key {key!r} must match {ENV_KEY_PATTERN} (1-{MAX_ENV_KEY} characters)")
    secret_id = secret_id_for(source.id)
    try:
        secrets_service.get(session, caller, secret_id)
        exists = True
    except NotFound:
        exists = False
    if exists:
        secrets_service.update(session, hub.vault, caller, secret_id, {}, values, merge=True)
    elif values:
        fields = secrets_service.SecretFields(name=f"Foundation secrets of {source.name}", secret_type="generic")
        secrets_service.create(session, hub.vault, caller, secret_id, fields, values)
    else:
        return
    if secret_id not in (source.env_secret_ids or []):
        changes = {"env_secret_ids": [*(source.env_secret_ids or []), secret_id]}
        sources_service.update(session, caller, source.id, changes, data_dir=hub.settings.data_dir)
    sources_service.refresh_state(session, caller.org_id, secret_id)


async def set_secrets(hub: Hub, caller: Caller, source_id: str, values: dict[str, str]) -> SourceView:
    """Merge env-key values into the source's secret (values are never shown again), then test it if it is complete."""

    def merge() -> None:
        with hub.store.session() as session:
            _set_secrets(session, hub, caller, sources_service.get(session, caller, source_id), values)

    await anyio.to_thread.run_sync(merge)
    await _settle(hub, caller, source_id)
    return await anyio.to_thread.run_sync(_show, hub, caller, source_id)


# -- data sources ---------------------------------------------------------------------------


async def create_source(hub: Hub, caller: Caller, new: NewSource) -> SourceView:
    """Create a data source (its label derived), set its secrets, link it under its parent, and test it if complete."""

    def create() -> str:
        with hub.store.session() as session:
            label = native_label(session, caller.org_id, new.kind, new.label, None)
            spec = sources_service.SourceSpec(
                protocol=new.kind,
                label=label or f"{new.label.lower()}-{uuid.uuid4().hex[:8]}",
                name=new.name,
                description=new.description,
                entity_info=new.entity_info,
                params=new.params,
            )
            source = sources_service.create(session, caller, spec, data_dir=hub.settings.data_dir)
            if label is None:
                final = native_label(session, caller.org_id, new.kind, new.label, source.id)
                if final is not None and final != source.label:
                    sources_service.update(session, caller, source.id, {"label": final}, data_dir=hub.settings.data_dir)
            if new.secrets:
                _set_secrets(session, hub, caller, source, new.secrets)
            if new.parent_id is not None:
                systems_service.link(session, caller, new.parent_id, source.id)
            return source.id

    source_id = await anyio.to_thread.run_sync(create)
    await _settle(hub, caller, source_id)
    return await anyio.to_thread.run_sync(_show, hub, caller, source_id)


def list_sources(
    hub: Hub, caller: Caller, has_child: bool | None = None, has_parent: bool | None = None
) -> list[SourceView]:
    """The data sources the caller may see; with `has_parent`, only those linked (or not) under a system."""
    with hub.store.session() as session:
        found = sources_service.list_sources(session, caller)
        if has_parent is not None:
            found = [s for s in found if bool(systems_service.parents(session, s)) == has_parent]
        if has_child:
            found = []  # data sources have no children (data objects) here
        return [_brief(session, s) for s in found]


def get_source(hub: Hub, caller: Caller, source_id: str) -> SourceView:
    return _show(hub, caller, source_id)


def update_source(hub: Hub, caller: Caller, source_id: str, *, label: str, name: str, description: str) -> SourceView:
    """Change a source's entity; a new Foundation label takes its derived native form."""
    with hub.store.session() as session:
        source = sources_service.get(session, caller, source_id)
        changes: dict[str, Any] = {"name": name, "description": description}
        if display_label(source.label) != label.upper():
            native = native_label(session, caller.org_id, source.protocol, label, source.id)
            if native is None:
                raise Conflict(f"label {label!r} is already used by another {source.protocol} data source")
            changes["label"] = native
        return _brief(
            session, sources_service.update(session, caller, source.id, changes, data_dir=hub.settings.data_dir)
        )


def delete_source(hub: Hub, caller: Caller, source_id: str) -> None:
    """Delete a source, and its `foundation-` secret unless another source uses it."""
    with hub.store.session() as session:
        source = sources_service.get(session, caller, source_id)
        secret_id = secret_id_for(source.id)
        sources_service.delete(session, caller, source.id)
        try:
            secrets_service.get(session, caller, secret_id)
        except NotFound:
            return
        if not secrets_service.users_of(session, caller.org_id, secret_id):
            secrets_service.delete(session, caller, secret_id)


def set_source_info(hub: Hub, caller: Caller, source_id: str, info: dict[str, Any]) -> Source:
    with hub.store.session() as session:
        return sources_service.update(session, caller, source_id, {"entity_info": info}, data_dir=hub.settings.data_dir)


async def set_connection(hub: Hub, caller: Caller, source_id: str, kind: str, params: dict[str, Any]) -> SourceView:
    """Set a source's connection (switching its kind if need be, dropping a direct secret), then test it if complete."""

    def apply() -> None:
        with hub.store.session() as session:
            source = sources_service.get(session, caller, source_id)
            _switch_kind(session, caller, source, kind)
            changes: dict[str, Any] = {"params": params}
            if source.secret_id is not None:
                changes["secret_id"] = None
            sources_service.update(session, caller, source.id, changes, data_dir=hub.settings.data_dir)

    await anyio.to_thread.run_sync(apply)
    await _settle(hub, caller, source_id)
    return await anyio.to_thread.run_sync(_show, hub, caller, source_id)


# -- data systems ---------------------------------------------------------------------------


def create_system(hub: Hub, caller: Caller, fields: dict[str, Any]) -> System:
    with hub.store.session() as session:
        return systems_service.create(session, caller, fields)


def list_systems(
    hub: Hub, caller: Caller, has_child: bool | None = None, has_parent: bool | None = None
) -> list[System]:
    """The organization's data systems; with `has_child`, only those with (or without) sources the caller may see."""
    with hub.store.session() as session:
        found = systems_service.list_systems(session, caller)
        if has_child is not None:
            found = [s for s in found if bool(systems_service.children(session, caller, s)) == has_child]
        if has_parent:
            found = []  # data systems have no parents
        return found


def get_system(hub: Hub, caller: Caller, system_id: str) -> SystemView:
    with hub.store.session() as session:
        return _system_view(session, caller, systems_service.get(session, caller, system_id))


def update_system(hub: Hub, caller: Caller, system_id: str, changes: dict[str, Any]) -> System:
    with hub.store.session() as session:
        return systems_service.update(session, caller, system_id, changes)


def delete_system(hub: Hub, caller: Caller, system_id: str, force: bool) -> None:
    with hub.store.session() as session:
        systems_service.delete(session, caller, system_id, force)


def link(hub: Hub, caller: Caller, system_id: str, source_id: str) -> tuple[System, SourceView]:
    with hub.store.session() as session:
        system, source = systems_service.link(session, caller, system_id, source_id)
        return system, _brief(session, source)


def unlink(hub: Hub, caller: Caller, system_id: str, source_id: str) -> None:
    with hub.store.session() as session:
        systems_service.unlink(session, caller, system_id, source_id)
