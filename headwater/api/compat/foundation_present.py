"""Foundation's response shapes, built from the views `services.foundation` returns."""

from __future__ import annotations

from typing import Any

from headwater.api.compat import foundation_mapping as mapping
from headwater.services.foundation import SourceView, SystemView, display_label
from headwater.store.models import System
from headwater.times import iso

SYSTEM_STATE = {"code": "000", "reason": "Created.", "healthy": True}
SOURCE_URN_TYPE = "origin"
SOURCE_LINK_TYPE = "data_source"


def urn(entity_type: str, identifier: str) -> str:
    return f"urn:meshx:backend:data:root:{entity_type}:{identifier}"


def entity_info(stored: dict[str, Any] | None) -> dict[str, Any]:
    info = stored or {}
    return {
        "owner": info.get("owner"),
        "contact_ids": list(info.get("contact_ids") or []),
        "links": list(info.get("links") or []),
    }


def source_entity(view: SourceView) -> dict[str, Any]:
    """`EntityWithOwner` of a data source."""
    source = view.source
    return {
        "identifier": source.id,
        "urn": urn(SOURCE_URN_TYPE, source.id),
        "name": source.name,
        "is_system": False,
        "description": source.description,
        "label": display_label(source.label),
        "created_at": iso(source.created_at),
        "state": mapping.state(view),
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
        "created_at": iso(system.created_at),
        "state": dict(SYSTEM_STATE),
        "owner_person": system.owner_person,
    }


def system_with_owner(system: System) -> dict[str, Any]:
    """`DataSystemEntityWithOwner`."""
    person = system.owner_person or {}
    return {**system_entity(system), "owner": person.get("email")}


def source_node(view: SourceView) -> dict[str, Any]:
    """`LinkNode` of a data source."""
    return {**source_entity(view), "entity_type": SOURCE_LINK_TYPE}


def system_node(system: System) -> dict[str, Any]:
    """`LinkNode` of a data system."""
    node = system_with_owner(system)
    node.pop("owner_person")
    return {**node, "entity_type": "data_system"}


def source_links(view: SourceView) -> dict[str, Any]:
    return {"parents": [system_node(s) for s in view.parents], "children": []}


def system_links(view: SystemView) -> dict[str, Any]:
    return {"parents": [], "children": [source_node(s) for s in view.children]}


def source_response(view: SourceView) -> dict[str, Any]:
    """`DataSourceResponse`: the entity, its info, links, secret keys (values masked) and connection."""
    return {
        "entity": source_entity(view),
        "entity_info": entity_info(view.source.entity_info),
        "links": source_links(view),
        "compute_identifier": None,
        "secrets": mapping.secret_keys(view),
        "connection": mapping.from_native(view.source),
    }


def source_listed(view: SourceView) -> dict[str, Any]:
    """`DataSourceWithConnection`: the flat entity and its connection."""
    return {**source_entity(view), "connection": mapping.from_native(view.source)}


def connection_response(view: SourceView) -> dict[str, Any]:
    """`DataSourceConnectionResponse`."""
    return {"connection": mapping.from_native(view.source), "secrets": mapping.secret_keys(view)}


def system_response(view: SystemView) -> dict[str, Any]:
    """`DataSystemResponse`."""
    return {
        "entity": system_with_owner(view.system),
        "entity_info": entity_info(view.system.entity_info),
        "links": system_links(view),
    }
