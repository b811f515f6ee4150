"""Foundation's response shapes, built from native sources and systems."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from headwater.api.compat import foundation_mapping as mapping
from headwater.services import systems as systems_service
from headwater.services.context import Caller
from headwater.store.models import Source, System

SYSTEM_STATE = {"code": "000", "reason": "Created.", "healthy": True}
SOURCE_URN_TYPE = "origin"
SOURCE_LINK_TYPE = "data_source"


def urn(entity_type: str, identifier: str) -> str:
    return f"urn:meshx:backend:data:root:{entity_type}:{identifier}"


def entity_info(stored: dict[str, Any] | None) -> dict[str, Any]:
    info = stored or {}
    return {"owner": info.get("owner"), "contact_ids": list(info.get("contact_ids") or []), "links": list(info.get("links") or [])}


def source_entity(session: Session, source: Source) -> dict[str, Any]:
    """`EntityWithOwner` of a data source."""
    return {
        "identifier": source.id,
        "urn": urn(SOURCE_URN_TYPE, source.id),
        "name": source.name,
        "is_system": False,
        "description": source.description,
        "label": mapping.display_label(source.label),
        "created_at": mapping.iso(source.created_at),
        "state": mapping.state(session, source),
        "owner": None,
    }


def system_entity(system: System) -> dict[str, Any]:
    """`DataSystemEntity`."""
    return {
        "identifier": system.id,
        "urn": urn("data_system", system.id),
        "name": system.name,
        "is_system": False,
        "description": system.description,
        "label": system.label,
        "created_at": mapping.iso(system.created_at),
        "state": dict(SYSTEM_STATE),
        "owner_person": system.owner_person,
    }


def system_with_owner(system: System) -> dict[str, Any]:
    """`DataSystemEntityWithOwner`."""
    person = system.owner_person or {}
    return {**system_entity(system), "owner": person.get("email")}


def source_node(session: Session, source: Source) -> dict[str, Any]:
    """`LinkNode` of a data source."""
    return {**source_entity(session, source), "entity_type": SOURCE_LINK_TYPE}


def system_node(system: System) -> dict[str, Any]:
    """`LinkNode` of a data system."""
    node = system_with_owner(system)
    node.pop("owner_person")
    return {**node, "entity_type": "data_system"}


def source_links(session: Session, source: Source) -> dict[str, Any]:
    return {"parents": [system_node(s) for s in systems_service.parents(session, source)], "children": []}


def system_links(session: Session, caller: Caller, system: System) -> dict[str, Any]:
    return {"parents": [], "children": [source_node(session, s) for s in systems_service.children(session, caller, system)]}


def source_response(session: Session, caller: Caller, source: Source) -> dict[str, Any]:
    """`DataSourceResponse`: the entity, its info, links, secret keys (values masked) and connection."""
    return {
        "entity": source_entity(session, source),
        "entity_info": entity_info(source.entity_info),
        "links": source_links(session, source),
        "compute_identifier": None,
        "secrets": mapping.secret_keys(session, caller, source),
        "connection": mapping.from_native(source),
    }


def source_listed(session: Session, source: Source) -> dict[str, Any]:
    """`DataSourceWithConnection`: the flat entity and its connection."""
    return {**source_entity(session, source), "connection": mapping.from_native(source)}


def connection_response(session: Session, caller: Caller, source: Source) -> dict[str, Any]:
    """`DataSourceConnectionResponse`."""
    return {"connection": mapping.from_native(source), "secrets": mapping.secret_keys(session, caller, source)}


def system_response(session: Session, caller: Caller, system: System) -> dict[str, Any]:
    """`DataSystemResponse`."""
    return {"entity": system_with_owner(system), "entity_info": entity_info(system.entity_info), "links": system_links(session, caller, system)}
