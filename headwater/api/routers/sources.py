"""`/v1/sources`: data sources, their lifecycle and their connection test."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import Field

from headwater.addresses import Address
from headwater.api.deps import CallerDep, HubDep
from headwater.api.schemas import ERROR_RESPONSES, ApiModel
from headwater.connectors import catalogue
from headwater.services import native
from headwater.services import sources as service
from headwater.services.context import Caller
from headwater.store.models import Source, System

router = APIRouter(prefix="/v1/sources", tags=["sources"], responses=ERROR_RESPONSES)


class EntityInfo(ApiModel):
    owner: str | None = Field(default=None, max_length=255)
    contact_ids: list[str] = Field(default_factory=list)
    links: list[str] = Field(default_factory=list)


class SourceIn(ApiModel):
    protocol: str = Field(description="The kind of connection, e.g. s3, local, url.", max_length=32)
    label: str = Field(description="Unique per organization and protocol: 1-63 of a-z, 0-9, '-', '_'.", max_length=63)
    name: str | None = Field(default=None, max_length=255)
    description: str = Field(default="", max_length=4000)
    entity_info: EntityInfo = Field(default_factory=EntityInfo)
    params: dict[str, Any] = Field(
        default_factory=dict,
        description='Validated by the kind\'s schema; {"envKey": NAME} values are resolved from bound secrets.',
    )
    secret_id: str | None = Field(default=None, max_length=128)
    env_secret_ids: list[str] = Field(
        default_factory=list, description="Key/value secrets that {envKey} references resolve against."
    )
    path_restrictions: list[str] | None = Field(
        default=None, description="Patterns: 'bucket/file', 'bucket/*', 'bucket*'. Default: everything."
    )
    access: Literal["read", "read-write"] | None = Field(
        default=None, description="Default: read, or read-write for output-only kinds such as bucket."
    )


class SourceUpdate(ApiModel):
    label: str | None = Field(default=None, max_length=63)
    name: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=4000)
    entity_info: EntityInfo | None = None
    params: dict[str, Any] | None = None
    secret_id: str | None = Field(default=None, max_length=128)
    env_secret_ids: list[str] | None = None
    path_restrictions: list[str] | None = None
    access: Literal["read", "read-write"] | None = None


class StateOut(ApiModel):
    code: str
    reason: str
    healthy: bool
    checked_at: datetime | None
    latency_ms: float | None


class Capabilities(ApiModel):
    input: bool
    output: bool


class LinkOut(ApiModel):
    id: str
    name: str


class LinksOut(ApiModel):
    parents: list[LinkOut]
    children: list[LinkOut] = Field(default_factory=list)


class SourceOut(ApiModel):
    id: str
    urn: str
    address: str
    protocol: str
    label: str
    name: str
    description: str
    entity_info: EntityInfo
    params: dict[str, Any]
    secret_id: str | None
    env_secret_ids: list[str]
    path_restrictions: list[str]
    access: str
    capabilities: Capabilities
    state: StateOut
    links: LinksOut
    created_at: datetime
    updated_at: datetime


class CreatedSourceOut(SourceOut):
    warnings: list[str] = Field(
        default_factory=list,
        description="What will keep the new source from working, found without contacting it (e.g. an endpoint this hub refuses).",
    )


class SourceList(ApiModel):
    sources: list[SourceOut]


def urn(caller: Caller, kind: str, ident: str) -> str:
    return f"urn:headwater:{caller.org_name}:{kind}:{ident}"


def present(caller: Caller, view: native.SourceView) -> SourceOut:
    return shape(caller, view.source, view.parents)


def shape(caller: Caller, source: Source, parents: list[System]) -> SourceOut:
    """A source as the API shows it, given the data systems it is linked under."""
    kind = catalogue.get(source.protocol)
    return SourceOut(
        id=source.id,
        urn=urn(caller, "source", source.id),
        address=str(Address(source.protocol, source.label, "")),
        protocol=source.protocol,
        label=source.label,
        name=source.name,
        description=source.description,
        entity_info=EntityInfo.model_validate(source.entity_info or {}),
        params=source.params or {},
        secret_id=source.secret_id,
        env_secret_ids=list(source.env_secret_ids or []),
        path_restrictions=list(source.path_restrictions),
        access=source.access,
        capabilities=Capabilities(input=kind.capabilities.input, output=kind.capabilities.output),
        state=StateOut(
            code=source.state_code,
            reason=source.state_reason,
            healthy=source.healthy,
            checked_at=source.checked_at,
            latency_ms=source.latency_ms,
        ),
        links=LinksOut(parents=[LinkOut(id=s.id, name=s.name) for s in parents]),
        created_at=source.created_at,
        updated_at=source.updated_at,
    )


@router.post("", status_code=201, response_model=CreatedSourceOut, summary="Create a data source")
def create_source(body: SourceIn, caller: CallerDep, hub: HubDep) -> CreatedSourceOut:
    spec = service.SourceSpec(
        protocol=body.protocol,
        label=body.label,
        name=body.name,
        description=body.description,
        entity_info=body.entity_info.model_dump(),
        params=body.params,
        secret_id=body.secret_id,
        env_secret_ids=body.env_secret_ids,
        path_restrictions=body.path_restrictions,
        access=body.access,
    )
    view = native.create_source(hub, caller, spec)
    return CreatedSourceOut(**dict(present(caller, view)), warnings=view.warnings)


@router.get("", response_model=SourceList, summary="List data sources")
def list_sources(caller: CallerDep, hub: HubDep, protocol: str | None = None) -> SourceList:
    return SourceList(sources=[present(caller, v) for v in native.list_sources(hub, caller, protocol)])


@router.get("/{source_id}", response_model=SourceOut, summary="Show a data source")
def get_source(source_id: str, caller: CallerDep, hub: HubDep) -> SourceOut:
    return present(caller, native.get_source(hub, caller, source_id))


@router.patch(
    "/{source_id}", response_model=SourceOut, summary="Change a data source; a connection change resets its state"
)
def update_source(source_id: str, body: SourceUpdate, caller: CallerDep, hub: HubDep) -> SourceOut:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    if "entity_info" in changes and changes["entity_info"] is not None:
        changes["entity_info"] = changes["entity_info"].model_dump()
    return present(caller, native.update_source(hub, caller, source_id, changes))


@router.delete("/{source_id}", status_code=204, summary="Delete a data source")
def delete_source(source_id: str, caller: CallerDep, hub: HubDep) -> Response:
    native.delete_source(hub, caller, source_id)
    return Response(status_code=204)


@router.post(
    "/{source_id}/test", response_model=SourceOut, summary="Check the connection for real and record its state"
)
async def test_source(source_id: str, caller: CallerDep, hub: HubDep) -> SourceOut:
    return present(caller, await native.test_source(hub, caller, source_id))
