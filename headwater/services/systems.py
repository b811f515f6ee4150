"""Data systems: grouping entities that data sources link under."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from headwater.errors import Conflict, InvalidInput, NotFound
from headwater.services import authorization
from headwater.services import sources as sources_service
from headwater.services.authorization import Action
from headwater.services.context import Caller
from headwater.store.models import Source, System, SystemLink


def get(session: Session, caller: Caller, system_id: str) -> System:
    try:
        uuid.UUID(system_id)
    except ValueError:
        raise NotFound(f"data system {system_id!r} does not exist") from None
    system = session.get(System, system_id)
    if system is None or system.org_id != caller.org_id:
        raise NotFound(f"data system {system_id!r} does not exist")
    return system


def list_systems(session: Session, caller: Caller) -> list[System]:
    return list(session.scalars(select(System).where(System.org_id == caller.org_id).order_by(System.name)))


def _check_name(session: Session, caller: Caller, name: str, exclude: str | None = None) -> str:
    if not name or len(name) > 255:
        raise InvalidInput("name must be 1-255 characters")
    clash = session.scalar(select(System.id).where(System.org_id == caller.org_id, System.name == name))
    if clash is not None and clash != exclude:
        raise Conflict(f"a data system named {name!r} already exists")
    return name


def create(session: Session, caller: Caller, fields: dict[str, Any]) -> System:
    authorization.require(caller, Action.CONFIGURE, "data systems")
    system = System(
        org_id=caller.org_id,
        name=_check_name(session, caller, fields.get("name") or ""),
        label=fields.get("label") or "",
        description=fields.get("description") or "",
        entity_info=fields.get("entity_info") or {},
        owner_person=fields.get("owner_person"),
    )
    session.add(system)
    session.flush()
    return system


def update(session: Session, caller: Caller, system_id: str, changes: dict[str, Any]) -> System:
    authorization.require(caller, Action.CONFIGURE, "data systems")
    system = get(session, caller, system_id)
    if "name" in changes:
        system.name = _check_name(session, caller, changes["name"] or "", exclude=system.id)
    for name in ("label", "description"):
        if name in changes:
            setattr(system, name, changes[name] or "")
    if "entity_info" in changes:
        system.entity_info = changes["entity_info"] or {}
    if "owner_person" in changes:
        system.owner_person = changes["owner_person"]
    session.flush()
    return system


def delete(session: Session, caller: Caller, system_id: str, force: bool = False) -> None:
    authorization.require(caller, Action.CONFIGURE, "data systems")
    system = get(session, caller, system_id)
    links = list(session.scalars(select(SystemLink).where(SystemLink.system_id == system.id)))
    if links and not force:
        raise Conflict(
            f"data system {system.name!r} has {len(links)} linked data sources: unlink them or delete with force"
        )
    for link in links:
        session.delete(link)
    session.delete(system)
    session.flush()


def link(session: Session, caller: Caller, system_id: str, source_id: str) -> tuple[System, Source]:
    authorization.require(caller, Action.CONFIGURE, "data systems")
    system = get(session, caller, system_id)
    source = sources_service.get(session, caller, source_id)
    if session.get(SystemLink, (system.id, source.id)) is None:
        session.add(SystemLink(system_id=system.id, source_id=source.id))
        session.flush()
    return system, source


def unlink(session: Session, caller: Caller, system_id: str, source_id: str) -> None:
    authorization.require(caller, Action.CONFIGURE, "data systems")
    system = get(session, caller, system_id)
    source = sources_service.get(session, caller, source_id)
    row = session.get(SystemLink, (system.id, source.id))
    if row is None:
        raise NotFound("the data source is not linked to this data system")
    session.delete(row)
    session.flush()


def children(session: Session, caller: Caller, system: System) -> list[Source]:
    """The sources linked under a system that the caller may see."""
    ids = session.scalars(select(SystemLink.source_id).where(SystemLink.system_id == system.id))
    return authorization.visible_sources(caller, (s for s in (session.get(Source, i) for i in ids) if s is not None))


def parents(session: Session, source: Source) -> list[System]:
    ids = session.scalars(select(SystemLink.system_id).where(SystemLink.source_id == source.id))
    return [s for s in (session.get(System, i) for i in ids) if s is not None]
