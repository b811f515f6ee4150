"""Job templates: an app with fixed params, a partitioner and an assembler, under an id jobs are made from.

The built-in templates are the hub's apps (`copy`, `convert`, `python`, each also reachable
as `<app>-template`) with the object partitioner and the passthrough assembler and no fixed
params. An organization registers its own under ids it chooses (never a built-in's). A job
made from a template takes the template's app, partitioner and assembler; its own params add
to the template's, and a param that contradicts a fixed one is refused, as is naming another
app, partitioner or assembler. A template's params are checked as a job's are, so a block
with a required param (the size partitioner's `bytes`) has it fixed by the template. Rights are decided by `authorization` (configuration: create
and delete need a token that may configure; every caller of the organization may list).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from headwater.errors import Conflict, InvalidInput, NotFound
from headwater.services import authorization
from headwater.services.authorization import Action
from headwater.services.context import Caller
from headwater.services.hub import Hub
from headwater.services.jobs import apps, assemblers, planning
from headwater.store.models import JobTemplate

if TYPE_CHECKING:
    from headwater.services.jobs.service import JobRequest

BUILT_IN_OWNER = "headwater"
SUFFIX = "-template"
DEFAULT = "copy"
BLOCKS = ("app", "partitioner", "assembler")
ID_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")
DESCRIPTIONS = {
    "copy": "Copy each input object byte for byte, verified",
    "convert": "Convert tables between CSV, JSONL and Parquet",
    "python": "Run a Python function over each partition",
}


@dataclass(frozen=True)
class Template:
    """A template as callers see it; `params` are the fixed params of each block."""

    id: str
    app: str
    partitioner: str = "object"
    assembler: str = "passthrough"
    description: str = ""
    params: dict[str, dict[str, Any]] = field(default_factory=lambda: {block: {} for block in BLOCKS})
    built_in: bool = False
    owner: str = BUILT_IN_OWNER
    created_by: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass
class TemplateSpec:
    """A template as a caller registers it."""

    id: str
    app: str
    partitioner: str = "object"
    assembler: str = "passthrough"
    description: str = ""
    app_params: dict[str, Any] = field(default_factory=dict)
    partitioner_params: dict[str, Any] = field(default_factory=dict)
    assembler_params: dict[str, Any] = field(default_factory=dict)


def built_in(name: str) -> Template | None:
    """The built-in template `name` (an app's name, with or without the `-template` suffix), shown under that name."""
    app = name.removesuffix(SUFFIX)
    if app not in apps.APPS:
        return None
    return Template(id=name, app=app, description=DESCRIPTIONS.get(app, app), built_in=True)


def built_ins() -> list[Template]:
    return [t for t in (built_in(name) for name in apps.APPS) if t is not None]


def _present(row: JobTemplate, org_name: str) -> Template:
    return Template(
        id=row.id,
        app=row.app,
        partitioner=row.partitioner,
        assembler=row.assembler,
        description=row.description or "",
        params={
            "app": dict(row.app_params or {}),
            "partitioner": dict(row.partitioner_params or {}),
            "assembler": dict(row.assembler_params or {}),
        },
        owner=org_name,
        created_by=row.created_by or "",
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def list_templates(hub: Hub, caller: Caller, *, include_built_ins: bool = True) -> list[Template]:
    """The built-in templates, then the organization's own by id."""
    authorization.require(caller, Action.VIEW, "job templates")
    with hub.store.session() as session:
        rows = session.scalars(select(JobTemplate).where(JobTemplate.org_id == caller.org_id).order_by(JobTemplate.id))
        own = [_present(row, caller.org_name) for row in rows]
    return (built_ins() if include_built_ins else []) + own


def find(hub: Hub, caller: Caller, template_id: str) -> Template | None:
    """A built-in template or one of the caller's organization, or None."""
    found = built_in(template_id)
    if found is not None:
        return found
    if len(template_id) > 128:
        return None
    with hub.store.session() as session:
        row = session.get(JobTemplate, (caller.org_id, template_id))
        return _present(row, caller.org_name) if row is not None else None


def get(hub: Hub, caller: Caller, template_id: str) -> Template:
    authorization.require(caller, Action.VIEW, "job templates")
    found = find(hub, caller, template_id)
    if found is None:
        raise NotFound(f"template {template_id!r} does not exist")
    return found


def _check(spec: TemplateSpec) -> None:
    """The id is free of the built-ins' names and well formed; the blocks exist and their fixed params are valid."""
    if not ID_RULE.fullmatch(spec.id):
        raise InvalidInput("id: 1 to 128 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
    if built_in(spec.id) is not None:
        raise Conflict(f"template {spec.id!r} is a built-in template: choose another id")
    if spec.app not in apps.APPS:
        raise InvalidInput(f"app {spec.app!r} is not an app of this hub: use one of {', '.join(apps.APPS)}")
    if len(spec.description) > 4000:
        raise InvalidInput("description must be at most 4000 characters")
    apps.get(spec.app).check_params(dict(spec.app_params))
    planning.check_params(spec.partitioner, dict(spec.partitioner_params))
    assemblers.check_params(spec.assembler, dict(spec.assembler_params))


def create(hub: Hub, caller: Caller, spec: TemplateSpec) -> Template:
    """Register a template of the caller's organization; its fixed params are kept as given (checked, not filled in)."""
    authorization.may_configure_templates(caller)
    _check(spec)
    try:
        with hub.store.session() as session:
            row = JobTemplate(
                org_id=caller.org_id,
                id=spec.id,
                description=spec.description,
                app=spec.app,
                app_params=dict(spec.app_params),
                partitioner=spec.partitioner,
                partitioner_params=dict(spec.partitioner_params),
                assembler=spec.assembler,
                assembler_params=dict(spec.assembler_params),
                created_by=caller.user_name,
            )
            session.add(row)
            session.flush()
            return _present(row, caller.org_name)
    except IntegrityError:
        raise Conflict(f"template {spec.id!r} exists already: delete it first to replace it") from None


def delete(hub: Hub, caller: Caller, template_id: str) -> None:
    """Delete one of the organization's templates (jobs made from it keep their app, partitioner and assembler)."""
    authorization.may_configure_templates(caller)
    if built_in(template_id) is not None:
        raise InvalidInput(f"template {template_id!r} is built in: it cannot be deleted")
    with hub.store.session() as session:
        row = session.get(JobTemplate, (caller.org_id, template_id)) if len(template_id) <= 128 else None
        if row is None:
            raise NotFound(f"template {template_id!r} does not exist")
        session.delete(row)


def _merge(template: Template, block: str, given: dict[str, Any]) -> dict[str, Any]:
    fixed = template.params.get(block, {})
    for key, value in given.items():
        if key in fixed and fixed[key] != value:
            raise InvalidInput(f"params.{block}.{key} is fixed to {fixed[key]!r} by template {template.id!r}")
    return {**fixed, **given}


def apply(
    hub: Hub,
    caller: Caller,
    template_id: str | None,
    request: JobRequest,
    named: set[str] | frozenset[str] = frozenset(),
) -> JobRequest:
    """The job request completed from a template (`copy` when none is named).

    `named` lists the blocks (app, partitioner, assembler) the caller named itself: each must
    agree with the template's.
    """
    chosen = template_id or DEFAULT
    template = find(hub, caller, chosen)
    if template is None:
        raise InvalidInput(
            f"templateId {chosen!r} is not a template of this organization: use one of {', '.join(apps.APPS)} "
            f"(optionally with {SUFFIX!r}) or one of its own templates (GET /v1/templates)"
        )
    for block in BLOCKS:
        value = getattr(request, block)
        if block in named and value != getattr(template, block):
            raise InvalidInput(
                f"{block} {value!r} differs from template {template.id!r}, whose {block} is {getattr(template, block)!r}: give one"
            )
    return replace(
        request,
        app=template.app,
        partitioner=template.partitioner,
        assembler=template.assembler,
        app_params=_merge(template, "app", dict(request.app_params or {})),
        partitioner_params=_merge(template, "partitioner", dict(request.partitioner_params or {})),
        assembler_params=_merge(template, "assembler", dict(request.assembler_params or {})),
        template_id=template.id,
    )
