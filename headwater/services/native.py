"""The native API's use cases for secrets, data sources and data systems.

Each takes the hub, runs in one transaction of its own and returns what the API shows,
so presenting needs no store. They are built on the steps in `secrets`, `sources` and
`systems`, which take a `Session` and join the transaction of the use case that calls
them; `foundation` and `bytenite` do the same for the compat APIs. Every right is
decided by `services.authorization`, through those steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from headwater.services import authorization
from headwater.services import secrets as secrets_service
from headwater.services import sources as sources_service
from headwater.services import systems as systems_service
from headwater.services.authorization import Action
from headwater.services.context import Caller
from headwater.services.endpoint_warnings import endpoint_warnings
from headwater.services.hub import Hub
from headwater.store.models import Secret, Source, System


@dataclass
class SourceView:
    """A data source with the data systems it is linked under."""

    source: Source
    parents: list[System] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # on creation: what will keep it from working


@dataclass
class SystemView:
    """A data system with the data sources linked under it that the caller may see."""

    system: System
    children: list[Source] = field(default_factory=list)


# Secrets


def create_secret(
    hub: Hub, caller: Caller, secret_id: str, fields: secrets_service.SecretFields, values: dict[str, str]
) -> Secret:
    with hub.store.session() as session:
        return secrets_service.create(session, hub.vault, caller, secret_id, fields, values)


def list_secrets(hub: Hub, caller: Caller, secret_type: str | None = None) -> list[Secret]:
    with hub.store.session() as session:
        return secrets_service.list_secrets(session, caller, secret_type)


def get_secret(hub: Hub, caller: Caller, secret_id: str) -> Secret:
    with hub.store.session() as session:
        return secrets_service.get(session, caller, secret_id)


def update_secret(
    hub: Hub, caller: Caller, secret_id: str, changes: dict[str, Any], values: dict[str, str] | None
) -> Secret:
    """Change a secret, and the configuration state of the sources that use it, in one transaction."""
    with hub.store.session() as session:
        secret = secrets_service.update(session, hub.vault, caller, secret_id, changes, values)
        sources_service.refresh_state(session, caller.org_id, secret_id)
        return secret


def delete_secret(hub: Hub, caller: Caller, secret_id: str) -> None:
    with hub.store.session() as session:
        secrets_service.delete(session, caller, secret_id)


# Data sources


def create_source(hub: Hub, caller: Caller, spec: sources_service.SourceSpec) -> SourceView:
    # Before the write, so no store transaction waits on a DNS answer; after the right to configure,
    # so a caller who may not create a source gets no name resolved.
    authorization.require(caller, Action.CONFIGURE, "data sources")
    warnings = endpoint_warnings(spec.params, allow_private=hub.settings.allow_private_endpoints)
    with hub.store.session() as session:
        source = sources_service.create(session, caller, spec, data_dir=hub.settings.data_dir)
        return SourceView(source, systems_service.parents(session, source), warnings)


def list_sources(hub: Hub, caller: Caller, protocol: str | None = None) -> list[SourceView]:
    with hub.store.session() as session:
        found = sources_service.list_sources(session, caller, protocol)
        return [SourceView(s, systems_service.parents(session, s)) for s in found]


def get_source(hub: Hub, caller: Caller, source_id: str) -> SourceView:
    with hub.store.session() as session:
        source = sources_service.get(session, caller, source_id)
        return SourceView(source, systems_service.parents(session, source))


def update_source(hub: Hub, caller: Caller, source_id: str, changes: dict[str, Any]) -> SourceView:
    with hub.store.session() as session:
        source = sources_service.update(session, caller, source_id, changes, data_dir=hub.settings.data_dir)
        return SourceView(source, systems_service.parents(session, source))


def delete_source(hub: Hub, caller: Caller, source_id: str) -> None:
    with hub.store.session() as session:
        sources_service.delete(session, caller, source_id)


async def test_source(hub: Hub, caller: Caller, source_id: str) -> SourceView:
    """Check a source for real and record the outcome (`sources.test`), then show it as it now is."""
    await sources_service.test(hub, caller, source_id)
    return get_source(hub, caller, source_id)


# Data systems


def _system_view(session: Session, caller: Caller, system: System) -> SystemView:
    return SystemView(system, systems_service.children(session, caller, system))


def create_system(hub: Hub, caller: Caller, fields: dict[str, Any]) -> SystemView:
    with hub.store.session() as session:
        return _system_view(session, caller, systems_service.create(session, caller, fields))


def list_systems(hub: Hub, caller: Caller) -> list[SystemView]:
    with hub.store.session() as session:
        return [_system_view(session, caller, s) for s in systems_service.list_systems(session, caller)]


def get_system(hub: Hub, caller: Caller, system_id: str) -> SystemView:
    with hub.store.session() as session:
        return _system_view(session, caller, systems_service.get(session, caller, system_id))


def update_system(hub: Hub, caller: Caller, system_id: str, changes: dict[str, Any]) -> SystemView:
    with hub.store.session() as session:
        return _system_view(session, caller, systems_service.update(session, caller, system_id, changes))


def delete_system(hub: Hub, caller: Caller, system_id: str, force: bool = False) -> None:
    with hub.store.session() as session:
        systems_service.delete(session, caller, system_id, force)


def link(hub: Hub, caller: Caller, system_id: str, source_id: str) -> SystemView:
    """Link a source under a system; the system as it now is."""
    with hub.store.session() as session:
        system, _ = systems_service.link(session, caller, system_id, source_id)
        return _system_view(session, caller, system)


def unlink(hub: Hub, caller: Caller, system_id: str, source_id: str) -> SystemView:
    """Unlink a source from a system; the system as it now is."""
    with hub.store.session() as session:
        systems_service.unlink(session, caller, system_id, source_id)
        return _system_view(session, caller, systems_service.get(session, caller, system_id))
