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

import re
import uuid
from typing import Annotated, Any
from uuid import UUID

import anyio
from fastapi import APIRouter, Body, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from headwater.api.compat import foundation_mapping as mapping
from headwater.api.compat import foundation_present as present
from headwater.api.compat.foundation_models import (
    ENV_KEY_PATTERN,
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
from headwater.errors import Conflict, InvalidInput, NotFound
from headwater.services import secrets as secrets_service
from headwater.services import sources as sources_service
from headwater.services import states
from headwater.services import systems as systems_service
from headwater.services.context import Caller
from headwater.services.hub import Hub
from headwater.store.models import Source

router = APIRouter(prefix="/api/data", tags=["foundation"], responses=ERROR_RESPONSES)
_ENV_KEY = re.compile(ENV_KEY_PATTERN)


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


# -- helpers --------------------------------------------------------------------------------


def _source(session: Session, caller: Caller, identifier: UUID) -> Source:
    return sources_service.get(session, caller, str(identifier))


def _check_source_type(entity_type: str) -> None:
    if entity_type not in SOURCE_TYPES:
        raise InvalidInput(f"entity.entity_type must be one of {', '.join(SOURCE_TYPES)}, not {entity_type!r}")


def _set_secrets(session: Session, hub: Hub, caller: Caller, source: Source, values: dict[str, str]) -> None:
    """Merge env-key values into the source's `foundation-` secret and bind it to the source."""
    for key in values:
        if not _ENV_KEY.fullmatch(key) or len(key) > 250:
            raise InvalidInput(f"secret key {key!r} must match {ENV_KEY_PATTERN} (1-250 characters)")
    secret_id = mapping.secret_id_for(source.id)
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
        sources_service.update(session, caller, source.id, {"env_secret_ids": [*(source.env_secret_ids or []), secret_id]}, data_dir=hub.settings.data_dir)
    sources_service.refresh_state(session, caller.org_id, secret_id)


def _settle(hub: Hub, caller: Caller, source_id: str) -> None:
    """Run the native test once the configuration is complete (from a worker thread of a sync route)."""
    with hub.store.session() as session:
        source = sources_service.get(session, caller, source_id)
        ready = sources_service.configuration_state(session, source).code == states.CONFIGURED
    if ready:
        anyio.from_thread.run(sources_service.test, hub, caller, source_id)


def _show(hub: Hub, caller: Caller, source_id: str) -> dict[str, Any]:
    with hub.store.session() as session:
        return present.source_response(session, caller, sources_service.get(session, caller, source_id))


def _apply_connection(session: Session, hub: Hub, caller: Caller, source: Source, connection: Any) -> None:
    kind, params = mapping.to_native(connection)
    mapping.switch_kind(session, caller, source, kind)
    changes: dict[str, Any] = {"params": params}
    if source.secret_id is not None:
        changes["secret_id"] = None
    sources_service.update(session, caller, source.id, changes, data_dir=hub.settings.data_dir)


# -- data sources ---------------------------------------------------------------------------


@router.post("/data_source", summary="Foundation: create a data source")
def foundation_create_data_source(body: CreateDataSourceRequest, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    _check_source_type(body.entity.entity_type)
    with hub.store.session() as session:
        kind, params = mapping.to_native(body.connection) if body.connection else (mapping.PLACEHOLDER_KIND, {})
        label = mapping.native_label(session, caller.org_id, kind, body.entity.label, None)
        spec = sources_service.SourceSpec(
            protocol=kind,
            label=label or f"{body.entity.label.lower()}-{uuid.uuid4().hex[:8]}",
            name=body.entity.name,
            description=body.entity.description,
            entity_info=body.entity_info.model_dump() if body.entity_info else {},
            params=params,
        )
        source = sources_service.create(session, caller, spec, data_dir=hub.settings.data_dir)
        if label is None:
            final = mapping.native_label(session, caller.org_id, kind, body.entity.label, source.id)
            if final is not None and final != source.label:
                sources_service.update(session, caller, source.id, {"label": final}, data_dir=hub.settings.data_dir)
        if body.secrets:
            _set_secrets(session, hub, caller, source, body.secrets)
        if body.parent is not None:
            systems_service.link(session, caller, body.parent.identifier, source.id)
        source_id = source.id
    _settle(hub, caller, source_id)
    return _show(hub, caller, source_id)


@router.get("/data_source/list", summary="Foundation: list data sources")
def foundation_list_data_sources(
    caller: FoundationCaller, hub: HubDep, has_child: bool | None = None, has_parent: bool | None = None
) -> dict[str, Any]:
    with hub.store.session() as session:
        found = sources_service.list_sources(session, caller)
        if has_parent is not None:
            found = [s for s in found if bool(systems_service.parents(session, s)) == has_parent]
        if has_child:
            found = []  # data sources have no children (data objects) here
        return {"entities": [present.source_listed(session, s) for s in found]}


@router.get("/data_source", summary="Foundation: show a data source")
def foundation_get_data_source(identifier: UUID, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    with hub.store.session() as session:
        return present.source_response(session, caller, _source(session, caller, identifier))


@router.put("/data_source", summary="Foundation: update a data source's entity")
def foundation_update_data_source(identifier: UUID, body: UpdateEntityRequest, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    _check_source_type(body.entity.entity_type)
    with hub.store.session() as session:
        source = _source(session, caller, identifier)
        changes: dict[str, Any] = {"name": body.entity.name, "description": body.entity.description}
        if mapping.display_label(source.label) != body.entity.label.upper():
            label = mapping.native_label(session, caller.org_id, source.protocol, body.entity.label, source.id)
            if label is None:
                raise Conflict(f"label {body.entity.label!r} is already used by another {source.protocol} data source")
            changes["label"] = label
        source = sources_service.update(session, caller, source.id, changes, data_dir=hub.settings.data_dir)
        return present.source_entity(session, source)


@router.delete("/data_source", summary="Foundation: delete a data source and its secrets")
def foundation_delete_data_source(identifier: UUID, caller: FoundationCaller, hub: HubDep, force: bool = False) -> dict[str, Any]:
    with hub.store.session() as session:
        source = _source(session, caller, identifier)
        secret_id = mapping.secret_id_for(source.id)
        sources_service.delete(session, caller, source.id)
        try:
            secrets_service.get(session, caller, secret_id)
        except NotFound:
            return {}
        if not secrets_service.users_of(session, caller.org_id, secret_id):
            secrets_service.delete(session, caller, secret_id)
    return {}


@router.get("/data_source/info", summary="Foundation: a data source's entity info")
def foundation_get_data_source_info(identifier: UUID, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    with hub.store.session() as session:
        return present.entity_info(_source(session, caller, identifier).entity_info)


@router.put("/data_source/info", summary="Foundation: replace a data source's entity info")
def foundation_put_data_source_info(identifier: UUID, body: EntityInfo, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    with hub.store.session() as session:
        source = sources_service.update(session, caller, str(identifier), {"entity_info": body.model_dump()}, data_dir=hub.settings.data_dir)
        return present.entity_info(source.entity_info)


@router.get("/data_source/link", summary="Foundation: a data source's links")
def foundation_data_source_links(identifier: UUID, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    with hub.store.session() as session:
        return present.source_links(session, _source(session, caller, identifier))


@router.put("/data_source/connection", summary="Foundation: configure a data source's connection")
def foundation_put_connection(identifier: UUID, body: ConnectionRequest, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    with hub.store.session() as session:
        _apply_connection(session, hub, caller, _source(session, caller, identifier), body.connection)
    _settle(hub, caller, str(identifier))
    with hub.store.session() as session:
        return present.connection_response(session, caller, _source(session, caller, identifier))


@router.get("/data_source/connection", summary="Foundation: a data source's connection")
def foundation_get_connection(identifier: UUID, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    with hub.store.session() as session:
        return present.connection_response(session, caller, _source(session, caller, identifier))


def _secrets_route(identifier: UUID, values: dict[str, str], caller: Caller, hub: Hub) -> dict[str, Any]:
    with hub.store.session() as session:
        source = _source(session, caller, identifier)
        _set_secrets(session, hub, caller, source, values)
    _settle(hub, caller, str(identifier))
    with hub.store.session() as session:
        return {"secrets": mapping.secret_keys(session, caller, _source(session, caller, identifier))}


@router.post("/data_source/secret", summary="Foundation: set connection secrets (merged; values never returned)")
def foundation_set_secrets(
    identifier: UUID, values: Annotated[dict[str, str], Body()], caller: FoundationCaller, hub: HubDep
) -> dict[str, Any]:
    return _secrets_route(identifier, values, caller, hub)


@router.put("/data_source/secret", summary="Foundation: update connection secrets (merged; values never returned)")
def foundation_update_secrets(
    identifier: UUID, values: Annotated[dict[str, str], Body()], caller: FoundationCaller, hub: HubDep
) -> dict[str, Any]:
    return _secrets_route(identifier, values, caller, hub)


# -- data systems ---------------------------------------------------------------------------


def _check_system_type(entity_type: str) -> None:
    if entity_type != "data_system":
        raise InvalidInput(f"entity.entity_type must be 'data_system', not {entity_type!r}")


@router.post("/data_system", summary="Foundation: create a data system")
def foundation_create_data_system(body: CreateDataSystemRequest, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    _check_system_type(body.entity.entity_type)
    fields = {
        "name": body.entity.name,
        "label": body.entity.label,
        "description": body.entity.description,
        "entity_info": body.entity_info.model_dump() if body.entity_info else {},
        "owner_person": body.entity.owner_person.model_dump(),
    }
    with hub.store.session() as session:
        return present.system_entity(systems_service.create(session, caller, fields))


@router.get("/data_system/list", summary="Foundation: list data systems")
def foundation_list_data_systems(
    caller: FoundationCaller, hub: HubDep, has_child: bool | None = None, has_parent: bool | None = None
) -> dict[str, Any]:
    with hub.store.session() as session:
        found = systems_service.list_systems(session, caller)
        if has_child is not None:
            found = [s for s in found if bool(systems_service.children(session, caller, s)) == has_child]
        if has_parent:
            found = []  # data systems have no parents
        return {"entities": [present.system_with_owner(s) for s in found]}


@router.get("/data_system", summary="Foundation: show a data system")
def foundation_get_data_system(identifier: UUID, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    with hub.store.session() as session:
        return present.system_response(session, caller, systems_service.get(session, caller, str(identifier)))


@router.put("/data_system", summary="Foundation: update a data system")
def foundation_update_data_system(identifier: UUID, body: UpdateDataSystemRequest, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    _check_system_type(body.entity.entity_type)
    changes = {
        "name": body.entity.name,
        "label": body.entity.label,
        "description": body.entity.description,
        "owner_person": body.entity.owner_person.model_dump(),
    }
    with hub.store.session() as session:
        return present.system_entity(systems_service.update(session, caller, str(identifier), changes))


@router.delete("/data_system", summary="Foundation: delete a data system (force unlinks its data sources)")
def foundation_delete_data_system(identifier: UUID, caller: FoundationCaller, hub: HubDep, force: bool = False) -> dict[str, Any]:
    with hub.store.session() as session:
        systems_service.delete(session, caller, str(identifier), force)
    return {}


@router.get("/data_system/info", summary="Foundation: a data system's entity info")
def foundation_get_data_system_info(identifier: UUID, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    with hub.store.session() as session:
        return present.entity_info(systems_service.get(session, caller, str(identifier)).entity_info)


@router.put("/data_system/info", summary="Foundation: replace a data system's entity info")
def foundation_put_data_system_info(identifier: UUID, body: EntityInfo, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    with hub.store.session() as session:
        system = systems_service.update(session, caller, str(identifier), {"entity_info": body.model_dump()})
        return present.entity_info(system.entity_info)


@router.get("/data_system/link", summary="Foundation: a data system's links")
def foundation_data_system_links(identifier: UUID, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    with hub.store.session() as session:
        return present.system_links(session, caller, systems_service.get(session, caller, str(identifier)))


# -- links ----------------------------------------------------------------------------------


@router.post("/link/data_system/data_source", summary="Foundation: link a data source under a data system")
def foundation_link(identifier: UUID, child_identifier: UUID, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    with hub.store.session() as session:
        system, source = systems_service.link(session, caller, str(identifier), str(child_identifier))
        return {"parent": present.system_node(system), "child": present.source_node(session, source)}


@router.delete("/link/data_system/data_source", summary="Foundation: unlink a data source from a data system")
def foundation_unlink(identifier: UUID, child_identifier: UUID, caller: FoundationCaller, hub: HubDep) -> dict[str, Any]:
    with hub.store.session() as session:
        systems_service.unlink(session, caller, str(identifier), str(child_identifier))
    return {}
