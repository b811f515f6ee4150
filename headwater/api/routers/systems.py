"""`/v1/systems`: data systems and the links of data sources under them."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import Field

from headwater.api.deps import CallerDep, HubDep
from headwater.api.routers.sources import EntityInfo, LinkOut, LinksOut, urn
from headwater.api.schemas import ERROR_RESPONSES, ApiModel
from headwater.services import native
from headwater.services.context import Caller

router = APIRouter(prefix="/v1/systems", tags=["systems"], responses=ERROR_RESPONSES)


class Person(ApiModel):
    email: str = Field(max_length=255)
    full_name: str = Field(default="", max_length=255)


class SystemIn(ApiModel):
    name: str = Field(min_length=1, max_length=255)
    label: str = Field(default="", max_length=63)
    description: str = Field(default="", max_length=4000)
    entity_info: EntityInfo = Field(default_factory=EntityInfo)
    owner_person: Person | None = None


class SystemUpdate(ApiModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    label: str | None = Field(default=None, max_length=63)
    description: str | None = Field(default=None, max_length=4000)
    entity_info: EntityInfo | None = None
    owner_person: Person | None = None


class SystemOut(ApiModel):
    id: str
    urn: str
    name: str
    label: str
    description: str
    entity_info: EntityInfo
    owner_person: Person | None
    links: LinksOut
    created_at: datetime


class SystemList(ApiModel):
    systems: list[SystemOut]


def present(caller: Caller, view: native.SystemView) -> SystemOut:
    system = view.system
    return SystemOut(
        id=system.id,
        urn=urn(caller, "system", system.id),
        name=system.name,
        label=system.label,
        description=system.description,
        entity_info=EntityInfo.model_validate(system.entity_info or {}),
        owner_person=Person.model_validate(system.owner_person) if system.owner_person else None,
        links=LinksOut(parents=[], children=[LinkOut(id=s.id, name=s.name) for s in view.children]),
        created_at=system.created_at,
    )


def _fields(body: SystemIn | SystemUpdate) -> dict[str, object]:
    fields = {name: getattr(body, name) for name in body.model_fields_set}
    for name in ("entity_info", "owner_person"):
        if fields.get(name) is not None:
            fields[name] = getattr(body, name).model_dump()
    return fields


@router.post("", status_code=201, response_model=SystemOut, summary="Create a data system")
def create_system(body: SystemIn, caller: CallerDep, hub: HubDep) -> SystemOut:
    fields = _fields(body)
    fields["name"] = body.name
    return present(caller, native.create_system(hub, caller, fields))


@router.get("", response_model=SystemList, summary="List data systems")
def list_systems(caller: CallerDep, hub: HubDep) -> SystemList:
    return SystemList(systems=[present(caller, v) for v in native.list_systems(hub, caller)])


@router.get("/{system_id}", response_model=SystemOut, summary="Show a data system with its linked sources")
def get_system(system_id: str, caller: CallerDep, hub: HubDep) -> SystemOut:
    return present(caller, native.get_system(hub, caller, system_id))


@router.patch("/{system_id}", response_model=SystemOut, summary="Change a data system")
def update_system(system_id: str, body: SystemUpdate, caller: CallerDep, hub: HubDep) -> SystemOut:
    return present(caller, native.update_system(hub, caller, system_id, _fields(body)))


@router.delete("/{system_id}", status_code=204, summary="Delete a data system (force unlinks its sources)")
def delete_system(system_id: str, caller: CallerDep, hub: HubDep, force: bool = False) -> Response:
    native.delete_system(hub, caller, system_id, force)
    return Response(status_code=204)


@router.put("/{system_id}/sources/{source_id}", response_model=SystemOut, summary="Link a data source under the system")
def link_source(system_id: str, source_id: str, caller: CallerDep, hub: HubDep) -> SystemOut:
    return present(caller, native.link(hub, caller, system_id, source_id))


@router.delete(
    "/{system_id}/sources/{source_id}", response_model=SystemOut, summary="Unlink a data source from the system"
)
def unlink_source(system_id: str, source_id: str, caller: CallerDep, hub: HubDep) -> SystemOut:
    return present(caller, native.unlink(hub, caller, system_id, source_id))
