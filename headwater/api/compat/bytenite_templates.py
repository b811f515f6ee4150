"""ByteNite's job templates, on the hub's templates service (`services.jobs.templates`, natively `/v1/templates`).

    GET    /v1/customer/jobs/templates    {"templates": [jobJobTemplate]}: the built-in templates and the organization's
    POST   /v1/dev/templates              register a template (`jobJobTemplate`): generic response
    GET    /v1/dev/templates              {"templates": [jobJobTemplate]}: the organization's own templates
    GET    /v1/dev/templates/{id}         one template (built-in or own), the object itself
    DELETE /v1/dev/templates/{id}         generic response

The customer route is served under `/v1/computing` too. ByteNite documents the list
route's path and the developer API's `POST /templates`, `GET /templates/{id}` and
`GET /templates` with the `jobJobTemplate` fields (id, description, app, partitioner,
assembler, params, isPublic, owner, userName, createdAt, updatedAt). [guess] where it
is silent: the list's envelope key `templates`; `DELETE /templates/{id}`; the generic
response after create and delete; `owner` = the organization's name (`headwater` for
built-ins, which are `isPublic: true`); an organization's templates are private to it,
so `isPublic: true` is refused, and so are `dataSource`/`dataDestination` in a template;
`app` names one of the hub's apps (ByteNite's app tags name uploaded apps).
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Path, Request

from headwater.api.compat.bytenite_jobs import present_template
from headwater.api.compat.bytenite_models import CUSTOMER_BASES, ERROR_RESPONSES, TemplateRequest, generic, request_id
from headwater.api.deps import CallerDep, HubDep
from headwater.errors import InvalidInput
from headwater.services.jobs import templates

DEV_BASE = "/v1/dev"
TemplateId = Annotated[str, Path(description="The template's id", max_length=128)]

router = APIRouter(tags=["bytenite"], responses=ERROR_RESPONSES)


def spec_of(body: TemplateRequest) -> templates.TemplateSpec:
    if body.is_public:
        raise InvalidInput("isPublic: a template is private to its organization on this hub")
    for name, value in (("dataSource", body.data_source), ("dataDestination", body.data_destination)):
        if value is not None:
            raise InvalidInput(f"{name}: a template carries no data here: give it when creating the job")
    return templates.TemplateSpec(
        id=body.id,
        app=body.app,
        partitioner=body.partitioner,
        assembler=body.assembler,
        description=body.description,
        app_params=body.params.app,
        partitioner_params=body.params.partitioner,
        assembler_params=body.params.assembler,
    )


async def bytenite_list_templates(caller: CallerDep, hub: HubDep) -> dict[str, Any]:
    """The templates a job's `templateId` may name: the built-in ones and the organization's."""
    found = await anyio.to_thread.run_sync(templates.list_templates, hub, caller)
    return {"templates": [present_template(t) for t in found]}


def bytenite_create_template(body: TemplateRequest, request: Request, caller: CallerDep, hub: HubDep) -> dict[str, Any]:
    """Register a template of the organization; jobs name it in `templateId`."""
    created = templates.create(hub, caller, spec_of(body))
    return generic(request_id(request), f"template {created.id!r} created")


def bytenite_list_own_templates(caller: CallerDep, hub: HubDep) -> dict[str, Any]:
    """The organization's own templates."""
    return {"templates": [present_template(t) for t in templates.list_templates(hub, caller, include_built_ins=False)]}


def bytenite_get_template(template_id: TemplateId, caller: CallerDep, hub: HubDep) -> dict[str, Any]:
    return present_template(templates.get(hub, caller, template_id))


def bytenite_delete_template(
    template_id: TemplateId, request: Request, caller: CallerDep, hub: HubDep
) -> dict[str, Any]:
    templates.delete(hub, caller, template_id)
    return generic(request_id(request), f"template {template_id!r} deleted")


for _base in CUSTOMER_BASES:
    router.add_api_route(
        _base + "/jobs/templates",
        bytenite_list_templates,
        methods=["GET"],
        name="bytenite_list_templates",
        operation_id=f"bytenite_list_templates_{_base.rsplit('/', 1)[-1]}",
        summary="ByteNite: the job templates (built-in and the organization's)",
    )

router.add_api_route(
    f"{DEV_BASE}/templates", bytenite_create_template, methods=["POST"], summary="ByteNite: register a job template"
)
router.add_api_route(
    f"{DEV_BASE}/templates",
    bytenite_list_own_templates,
    methods=["GET"],
    summary="ByteNite: the organization's job templates",
)
router.add_api_route(
    f"{DEV_BASE}/templates/{{template_id}}", bytenite_get_template, methods=["GET"], summary="ByteNite: a job template"
)
router.add_api_route(
    f"{DEV_BASE}/templates/{{template_id}}",
    bytenite_delete_template,
    methods=["DELETE"],
    summary="ByteNite: delete a job template",
)
