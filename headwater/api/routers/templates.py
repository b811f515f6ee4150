"""`/v1/templates`: job templates, an app with fixed params, a partitioner and an assembler under an id.

A job names one in `template` (natively) or `templateId` (ByteNite's routes). The
built-in templates (`copy`, `convert`, `python`) are listed first and cannot be deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio
from fastapi import APIRouter, Response
from pydantic import Field

from headwater.api.deps import CallerDep, HubDep
from headwater.api.schemas import ERROR_RESPONSES, ApiModel
from headwater.services.jobs import templates

router = APIRouter(prefix="/v1/templates", tags=["templates"], responses=ERROR_RESPONSES)


class TemplateParams(ApiModel):
    """The fixed params of each building block; a job's own params add to them."""

    app: dict[str, Any] = Field(default_factory=dict)
    partitioner: dict[str, Any] = Field(default_factory=dict)
    assembler: dict[str, Any] = Field(default_factory=dict)


class TemplateIn(ApiModel):
    id: str = Field(
        min_length=1, max_length=128, description="Letters, digits, '.', '_', '@', '-'; not a built-in template's name"
    )
    description: str = Field(default="", max_length=4000)
    app: str = Field(max_length=64, description="copy, convert or python")
    partitioner: str = Field(default="object", max_length=32, description="object, size or rows")
    assembler: str = Field(default="passthrough", max_length=32, description="passthrough, concatenate or zip")
    params: TemplateParams = Field(default_factory=TemplateParams)


class TemplateOut(ApiModel):
    id: str
    description: str
    app: str
    partitioner: str
    assembler: str
    params: TemplateParams
    built_in: bool
    created_by: str
    created_at: datetime | None
    updated_at: datetime | None


class TemplateList(ApiModel):
    templates: list[TemplateOut]


def present(template: templates.Template) -> TemplateOut:
    return TemplateOut(
        id=template.id,
        description=template.description,
        app=template.app,
        partitioner=template.partitioner,
        assembler=template.assembler,
        params=TemplateParams(**template.params),
        built_in=template.built_in,
        created_by=template.created_by,
        created_at=template.created_at,
        updated_at=template.updated_at,
    )


@router.post("", status_code=201, response_model=TemplateOut, summary="Register a job template of the organization")
def create_template(body: TemplateIn, caller: CallerDep, hub: HubDep) -> TemplateOut:
    spec = templates.TemplateSpec(
        id=body.id,
        app=body.app,
        partitioner=body.partitioner,
        assembler=body.assembler,
        description=body.description,
        app_params=body.params.app,
        partitioner_params=body.params.partitioner,
        assembler_params=body.params.assembler,
    )
    return present(templates.create(hub, caller, spec))


@router.get("", response_model=TemplateList, summary="The built-in templates, then the organization's")
async def list_templates(caller: CallerDep, hub: HubDep) -> TemplateList:
    found = await anyio.to_thread.run_sync(templates.list_templates, hub, caller)
    return TemplateList(templates=[present(t) for t in found])


@router.get("/{template_id}", response_model=TemplateOut, summary="A job template")
def get_template(template_id: str, caller: CallerDep, hub: HubDep) -> TemplateOut:
    return present(templates.get(hub, caller, template_id))


@router.delete("/{template_id}", status_code=204, summary="Delete one of the organization's templates")
def delete_template(template_id: str, caller: CallerDep, hub: HubDep) -> Response:
    templates.delete(hub, caller, template_id)
    return Response(status_code=204)
