"""Foundation's documented data-source routes (`/api/data/...`), translated onto the hub's services.

A Foundation data source *is* a native data source (its `identifier` is the native
id; the native API, the CLI and the Data API see it), a data system is a native
system, and a link is a native link. Its env-key secrets are one native generic
secret, `foundation-<identifier>`, bound to the source through `envSecretIds`;
`POST` and `PUT .../secret` both merge into it; values are never returned (`********`).

Auth: `Authorization: Bearer <token>` and the required `x-org` header (422 without
it, 403 when the token belongs to another organization). Errors are FastAPI's
`{"detail": "..."}`, with 422 for anything malformed.

State ladder ([guess]: Foundation documents only 000 and 001), from the native state:

| Foundation | healthy | native state                                                      |
|------------|---------|-------------------------------------------------------------------|
| `000` "Connection verified." | true | `100` healthy (the hub's check passed)          |
| `001` "Requires configuration." | false | `001` with no connection set                |
| `001` <native reason> | false | `001` with a connection that lacks something other than secrets |
| `002` "Requires secrets: K1, K2." | false | `001` where only env-key values are missing |
| `002` "Configured, not tested." | false | `002` (reachable only through native edits) |
| `003` "Connection failed: <reason>" | false | any failure state `3xx` of the check        |

A Foundation route that changes a connection or secrets runs the native test as soon
as the configuration is complete, so the state walks 001 → 002 → 000 (or 003).

Other choices ([guess]): a data source may link under several data systems (the
native model); deleting a data source also deletes its `foundation-` secret unless
another source uses it; `force` is accepted on delete (sources have no children here);
`entity_type` may be `origin` (the seed) or `data_source` (the spec) for sources.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Header, Request
from fastapi.responses import JSONResponse, Response

from headwater.api.compat import foundation_mapping as mapping
from headwater.api.compat import foundation_present as present
from headwater.api.compat.foundation_models import (
    ERROR_RESPONSES,
    SOURCE_TYPES,
    ConnectionRequest,
    CreateDataSourceRequest,
    CreateDataSystemRequest,
    EntityInfo,
    UpdateDataSystemRequest,
    UpdateEntityRequest,
)
from headwater.api.deps import HubDep, get_caller
from headwater.api.errors import header_text, register_renderer
from headwater.errors import InvalidInput
from headwater.services import foundation as service
from headwater.services.context import Caller

router = APIRouter(prefix="/api/data", tags=["foundation"], responses=ERROR_RESPONSES)


def render_error(request: Request, status: int, code: str, message: str) -> Response:
    """FastAPI's `{"detail": ...}`; malformed input is 422 as FastAPI answers it."""
    status = 422 if status == 400 else status
    headers = {"X-Error-Message": header_text(message)}
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type="application/json")
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


register_renderer("/api/", render_error)


async def foundation_caller(request: Request, x_org: Annotated[str, Header(alias="x-org", min_length=1)]) -> Caller:
    """The caller, with Foundation's required `x-org` (checked against the token by `deps`)."""
    return await get_caller(request)


FoundationCaller = Annotated[Caller, Depends(foundation_caller)]


# -- data sources ---------------------------------------------------------------------------


def _check_source_type(entity_type: str) -> None:
    if entity_type not in SOURCE_TYPES:
        raise InvalidInput(f"entity.entity_type must be one of {', '.join(SOURCE_TYPES)}, not {entity_type!r}")


@router.post("/data_source", summary="Foundation: create a data source")
async def foundation_create_data_source(
    body: CreateDataSourceRequest, caller: FoundationCaller, hub: HubDep
) -> dict[str, Any]:
    _check_source_type(body.entity.entity_type)
    kind, params = mapping.to_native(body.connection) if body.connection else (service.PLACEHOLDER_KIND, {})
    new = service.NewSource(
        label=body.entity.label,
        name=body.entity.name,
        description=body.entity.description,
        entity_info=body.entity_info.model_dump() if body.entity_info else {},
        kind=kind,
        params=params,
        secrets=dict(body.secrets or {}),
        parent_id=body.parent.identifier if body.parent is not None else None,
    )
    return present.source_response(await service.create_source(hub, caller, new))


@router.get("/data_source/list", summary="Foundation: list data sources")
def foundation_list_data_sources(
    caller: FoundationCaller, hub: HubDep, has_child: bool | None = None, has_parent: bool | None = None
) -> dict[str, Any]:
    return {"entities": [present.source_listed(v) for v in service.list_sources(hub, caller, has_child, has_parent)]}


@router.get("/data_source", summary="Foundation: show a data source")
def foundation_get_data_source(identifier: UUID, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    return present.source_response(service.get_source(hub, caller, str(identifier)))


@router.put("/data_source", summary="Foundation: update a data source's entity")
def foundation_update_data_source(
    identifier: UUID, body: UpdateEntityRequest, caller: FoundationCaller, hub: HubDep
) -> dict[str, Any]:
    _check_source_type(body.entity.entity_type)
    entity = body.entity
    view = service.update_source(
        hub, caller, str(identifier), label=entity.label, name=entity.name, description=entity.description
    )
    return present.source_entity(view)


@router.delete("/data_source", summary="Foundation: delete a data source and its secrets")
def foundation_delete_data_source(
    identifier: UUID, caller: FoundationCaller, hub: HubDep, force: bool = False
) -> dict[str, Any]:
    service.delete_source(hub, caller, str(identifier))
    return {}


@router.get("/data_source/info", summary="Foundation: a data source's entity info")
def foundation_get_data_source_info(identifier: UUID, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    return present.entity_info(service.get_source(hub, caller, str(identifier)).source.entity_info)


@router.put("/data_source/info", summary="Foundation: replace a data source's entity info")
def foundation_put_data_source_info(
    identifier: UUID, body: EntityInfo, caller: FoundationCaller, hub: HubDep
) -> dict[str, Any]:
    return present.entity_info(service.set_source_info(hub, caller, str(identifier), body.model_dump()).entity_info)


@router.get("/data_source/link", summary="Foundation: a data source's links")
def foundation_data_source_links(identifier: UUID, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    return present.source_links(service.get_source(hub, caller, str(identifier)))


@router.put("/data_source/connection", summary="Foundation: configure a data source's connection")
async def foundation_put_connection(
    identifier: UUID, body: ConnectionRequest, caller: FoundationCaller, hub: HubDep
) -> dict[str, Any]:
    kind, params = mapping.to_native(body.connection)
    return present.connection_response(await service.set_connection(hub, caller, str(identifier), kind, params))


@router.get("/data_source/connection", summary="Foundation: a data source's connection")
def foundation_get_connection(identifier: UUID, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    return present.connection_response(service.get_source(hub, caller, str(identifier)))


@router.post("/data_source/secret", summary="Foundation: set connection secrets (merged; values never returned)")
async def foundation_set_secrets(
    identifier: UUID, values: Annotated[dict[str, str], Body()], caller: FoundationCaller, hub: HubDep
) -> dict[str, Any]:
    return {"secrets": mapping.secret_keys(await service.set_secrets(hub, caller, str(identifier), values))}


@router.put("/data_source/secret", summary="Foundation: update connection secrets (merged; values never returned)")
async def foundation_update_secrets(
    identifier: UUID, values: Annotated[dict[str, str], Body()], caller: FoundationCaller, hub: HubDep
) -> dict[str, Any]:
    return {"secrets": mapping.secret_keys(await service.set_secrets(hub, caller, str(identifier), values))}


# -- data systems ---------------------------------------------------------------------------


def _check_system_type(entity_type: str) -> None:
    if entity_type != "data_system":
        raise InvalidInput(f"entity.entity_type must be 'data_system', not {entity_type!r}")


@router.post("/data_system", summary="Foundation: create a data system")
def foundation_create_data_system(
    body: CreateDataSystemRequest, caller: FoundationCaller, hub: HubDep
) -> dict[str, Any]:
    _check_system_type(body.entity.entity_type)
    fields = {
        "name": body.entity.name,
        "label": body.entity.label,
        "description": body.entity.description,
        "entity_info": body.entity_info.model_dump() if body.entity_info else {},
        "owner_person": body.entity.owner_person.model_dump(),
    }
    return present.system_entity(service.create_system(hub, caller, fields))


@router.get("/data_system/list", summary="Foundation: list data systems")
def foundation_list_data_systems(
    caller: FoundationCaller, hub: HubDep, has_child: bool | None = None, has_parent: bool | None = None
) -> dict[str, Any]:
    return {
        "entities": [present.system_with_owner(s) for s in service.list_systems(hub, caller, has_child, has_parent)]
    }


@router.get("/data_system", summary="Foundation: show a data system")
def foundation_get_data_system(identifier: UUID, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    return present.system_response(service.get_system(hub, caller, str(identifier)))


@router.put("/data_system", summary="Foundation: update a data system")
def foundation_update_data_system(
    identifier: UUID, body: UpdateDataSystemRequest, caller: FoundationCaller, hub: HubDep
) -> dict[str, Any]:
    _check_system_type(body.entity.entity_type)
    changes = {
        "name": body.entity.name,
        "label": body.entity.label,
        "description": body.entity.description,
        "owner_person": body.entity.owner_person.model_dump(),
    }
    return present.system_entity(service.update_system(hub, caller, str(identifier), changes))


@router.delete("/data_system", summary="Foundation: delete a data system (force unlinks its data sources)")
def foundation_delete_data_system(
    identifier: UUID, caller: FoundationCaller, hub: HubDep, force: bool = False
) -> dict[str, Any]:
    service.delete_system(hub, caller, str(identifier), force)
    return {}


@router.get("/data_system/info", summary="Foundation: a data system's entity info")
def foundation_get_data_system_info(identifier: UUID, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    return present.entity_info(service.get_system(hub, caller, str(identifier)).system.entity_info)


@router.put("/data_system/info", summary="Foundation: replace a data system's entity info")
def foundation_put_data_system_info(
    identifier: UUID, body: EntityInfo, caller: FoundationCaller, hub: HubDep
) -> dict[str, Any]:
    return present.entity_info(
        service.update_system(hub, caller, str(identifier), {"entity_info": body.model_dump()}).entity_info
    )


@router.get("/data_system/link", summary="Foundation: a data system's links")
def foundation_data_system_links(identifier: UUID, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    return present.system_links(service.get_system(hub, caller, str(identifier)))


# -- links ----------------------------------------------------------------------------------


@router.post("/link/data_system/data_source", summary="Foundation: link a data source under a data system")
def foundation_link(identifier: UUID, child_identifier: UUID, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    system, source = service.link(hub, caller, str(identifier), str(child_identifier))
    return {"parent": present.system_node(system), "child": present.source_node(source)}


@router.delete("/link/data_system/data_source", summary="Foundation: unlink a data source from a data system")
def foundation_unlink(
    identifier: UUID, child_identifier: UUID, caller: FoundationCaller, hub: HubDep
) -> dict[str, Any]:
    service.unlink(hub, caller, str(identifier), str(child_identifier))
    return {}
