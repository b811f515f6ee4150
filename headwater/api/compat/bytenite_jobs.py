"""ByteNite's job routes: a thin translation onto the native jobs service (`/v1/jobs`).

Each route is served under `/v1/customer` and `/v1/computing`:

    POST   /jobs                          create: templateId, name, description, dataSource, dataDestination, params
    GET    /jobs                          list, newest first: pagination.limit, pagination.offset (orderBy accepted, ignored)
    GET    /jobs/{jobId}                  {"job": Job, "templateInfo": ...}
    PATCH  /jobs/{jobId}/datasource       set dataSource and/or dataDestination of a job not yet run
    POST   /jobs/{jobId}/run              generic response; the config (flat or under `config`) is accepted, not enforced
    POST   /jobs/{jobId}/abort            cancel; a job not yet run is deleted, as ByteNite documents
    GET    /jobs/{jobId}/results          {"results": [{"name", "link"}]}; 400 until the job is complete
    DELETE /jobs/{jobId}                  generic response; the data sources the job made are deleted with it
    POST   /jobs/uploadcompleted/{jobId}  the input file was uploaded (also `PATCH /jobs/{jobId}/uploadcompleted`)

plus `PUT /v1/uploads/signed/{token}`, the `tempUrl` of a `file` dataSource: it takes the
raw bytes without a token (the signed link is the credential, valid 24 hours), sending
again replaces them. It lives under `/v1/uploads` so its body streams uncapped.

A `dataSource`/`dataDestination` object becomes a data source the job owns
(`services.jobs.objects`); a missing one is `bypass`. A job shows its `dataSource` and
`dataDestination` exactly as the caller sent them (`aws` stays `aws`, legacy empty fields
stay), though the hub opens them normalised. `templateId` names a template
(`services.jobs.templates`, routes in `bytenite_templates`): a built-in one, `copy`,
`convert` or `python` (with or without a `-template` suffix), or one the organization
registered; none means `copy`; any other is 400. A template fixes the app, partitioner
and assembler and some of their params; `params.app`/`params.partitioner`/`params.assembler`
add to them (contradicting a fixed one is 400). Headwater's top-level `app`, `partitioner`
and `assembler` name the blocks without a template (default `copy`, `object`,
`passthrough`), and must agree with a template that is named too. `templateId` is shown as
given. A `jobId` in the create body is refused: the hub assigns ids (change a job with
`PATCH .../datasource`).

Shapes ([guess] where ByteNite documents none): states are `JOB_STATE_<NATIVE STATE>`
(NEW, READY, PARTITIONING, RUNNING, ASSEMBLING, COMPLETE, FAILED, CANCELED); int64
fields are strings (`numChunks`, `duration` in seconds, `pagination.total`/`offset`);
a side that is not a dataSource-describable connection is shown as
`{"dataSourceDescriptor": "headwater", "params": {"address": ...}}`; a result's
`link` is the bucket file's signed URL, or else the Data API URL of the output
(`/v1/connector/...`, which needs a token).
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Path, Query, Request

from headwater.addresses import parse_address
from headwater.api.compat.bytenite_models import (
    CUSTOMER_BASES,
    ERROR_RESPONSES,
    CreateJobRequest,
    DataSourceShape,
    RunRequest,
    SetDataSourceRequest,
    generic,
    request_id,
)
from headwater.api.deps import CallerDep, HubDep
from headwater.api.schemas import ERROR_RESPONSES as NATIVE_ERRORS
from headwater.api.schemas import ErrorOut
from headwater.errors import InvalidInput
from headwater.services import bytenite as bytenite_service
from headwater.services import ephemeral
from headwater.services import uploads as uploads_service
from headwater.services.context import Caller
from headwater.services.hub import Hub
from headwater.services.jobs import objects, service, templates
from headwater.services.jobs.objects import DataSourceObject
from headwater.services.jobs.service import JobRequest, JobView, Result
from headwater.services.jobs.spec import TERMINAL, JobState
from headwater.times import iso

router = APIRouter(tags=["bytenite"], responses=ERROR_RESPONSES)

STATES = {state.value: f"JOB_STATE_{state.name}" for state in JobState}
DEFAULT_LIMIT = 100
JobId = Annotated[str, Path(alias="jobId", description="The id of the job")]
RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def job_request_of(hub: Hub, caller: Caller, body: CreateJobRequest) -> JobRequest:
    """The native job request of a ByteNite create body, completed from its template (`copy` when none)."""
    named: set[str] = {name for name in ("partitioner", "assembler") if name in body.model_fields_set}
    if body.template_id and body.app:
        named.add("app")  # Headwater's `app` beside a templateId must agree with the template's
    request = JobRequest(
        source=endpoint(body.data_source),
        destination=endpoint(body.data_destination),
        app=(body.app or "copy").removesuffix(templates.SUFFIX),
        partitioner=body.partitioner,
        assembler=body.assembler,
        app_params=body.params.app,
        partitioner_params=body.params.partitioner,
        assembler_params=body.params.assembler,
        name=body.name,
        description=body.description,
        allow_upload=True,
    )
    return templates.apply(hub, caller, body.template_id or body.app, request, named)


def endpoint(shape: DataSourceShape | None) -> DataSourceObject:
    """A dataSource object as the jobs service takes it; a missing one is `bypass`."""
    if shape is None:
        return DataSourceObject("bypass")
    return DataSourceObject(shape.data_source_descriptor, dict(shape.params or {}), shape.as_sent())


# -- presenting ----------------------------------------------------------------------------


def template_info(
    hub: Hub, caller: Caller, view: JobView, known: dict[str, templates.Template | None] | None = None
) -> dict[str, Any]:
    """`templateInfo`: the job's template (as it is now, or as the job recorded it if it was deleted)."""
    job = view.job
    template_id = job.template_id or job.app
    memo = known if known is not None else {}
    if template_id not in memo:
        memo[template_id] = templates.find(hub, caller, template_id)
    found = memo[template_id]
    return {
        "id": template_id,
        "owner": found.owner if found is not None else caller.org_name,
        "description": found.description if found is not None else "",
        "app": job.app,
        "partitioner": job.partitioner,
        "assembler": job.assembler,
    }


def present_template(template: templates.Template) -> dict[str, Any]:
    """`jobJobTemplate` (protobuf JSON: empty fields left out)."""
    shown: dict[str, Any] = {
        "id": template.id,
        "isPublic": template.built_in,
        "app": template.app,
        "partitioner": template.partitioner,
        "assembler": template.assembler,
        "params": {block: dict(template.params.get(block, {})) for block in templates.BLOCKS},
        "owner": template.owner,
    }
    if template.description:
        shown["description"] = template.description
    if template.created_by:
        shown["userName"] = template.created_by
    for name, moment in (("createdAt", template.created_at), ("updatedAt", template.updated_at)):
        if moment is not None:
            shown[name] = iso(moment)
    return shown


def _side(hub: Hub, view: JobView, side: str, address: str) -> dict[str, Any]:
    """The dataSource object of one side of a job: as the caller sent it, or else described from the data source behind it."""
    sent = (view.job.sent_objects or {}).get(side)
    if isinstance(sent, dict):
        return copy.deepcopy(sent)
    source = objects.side_source(hub, view.job, side)
    shown = None
    if source is not None:
        shown = ephemeral.describe_object(
            source.protocol, dict(source.params or {}), source.secret_id, objects.address_path(address)
        )
    return shown or {"dataSourceDescriptor": "headwater", "params": {"address": address}}


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def present_job(
    hub: Hub, caller: Caller, view: JobView, base_url: str, known: dict[str, templates.Template | None] | None = None
) -> dict[str, Any]:
    """`jobJob` (protobuf JSON: empty fields left out, int64 as strings); `known` remembers templates across a page."""
    job = view.job
    info = template_info(hub, caller, view, known)
    stamps = dict(job.state_timestamps or {})
    body: dict[str, Any] = {
        "id": job.id,
        "templateId": info["id"],
        "name": job.name,
        "description": job.description,
        "state": STATES.get(job.state, job.state),
        "dataSource": _side(hub, view, objects.IN, job.source),
        "params": {
            "app": dict(job.app_params or {}),
            "partitioner": dict(job.partitioner_params or {}),
            "assembler": dict(job.assembler_params or {}),
        },
        "dataDestination": _side(hub, view, objects.OUT, job.destination),
        "createdAt": iso(job.created_at),
    }
    started = stamps.get(JobState.PARTITIONING.value)
    ended = next((stamps[s.value] for s in TERMINAL if s.value in stamps), None)
    for name, value in (("submittedAt", stamps.get(JobState.READY.value)), ("startedAt", started), ("endedAt", ended)):
        if value:
            body[name] = value
    start_moment, end_moment = _moment(started), _moment(ended)
    if start_moment is not None and end_moment is not None:
        body["duration"] = str(max(0, int((end_moment - start_moment).total_seconds())))
    body["numChunks"] = str(view.progress.total)
    if job.error_message:
        body["errorMessage"] = job.error_message
    body["stateTimestamps"] = {STATES.get(state, state): moment for state, moment in stamps.items()}
    body["appId"] = job.app
    body["templateInfo"] = info
    if job.state == JobState.NEW.value:
        link = objects.input_link(hub, job)
        if link is not None:
            params = body["dataSource"].setdefault("params", {})
            params["tempUrl"] = base_url.rstrip("/") + link
    return body


def job_response(hub: Hub, caller: Caller, view: JobView, base_url: str) -> dict[str, Any]:
    """`{"job": Job, "templateInfo": ...}`, as create, get and the updates answer."""
    job = present_job(hub, caller, view, base_url)
    return {"job": job, "templateInfo": job["templateInfo"]}


def result_link(base_url: str, result: Result) -> str:
    """A bucket file's signed link, or the Data API URL of the output."""
    link = result.link
    if link is None:
        address = parse_address(result.address)
        path = quote(address.path, safe="/")
        link = f"/v1/data/{path}" if address.hosted else f"/v1/connector/{address.connection}/{path}"
    return base_url.rstrip("/") + link if link.startswith("/") else link


# -- routes --------------------------------------------------------------------------------


async def bytenite_create_job(
    body: CreateJobRequest, request: Request, caller: CallerDep, hub: HubDep
) -> dict[str, Any]:
    """Create a job in state JOB_STATE_NEW from ByteNite's fields."""
    if body.job_id:
        raise InvalidInput("jobId: this hub assigns job ids; change a job with PATCH /jobs/{jobId}/datasource")
    job_request = await anyio.to_thread.run_sync(job_request_of, hub, caller, body)
    view = await service.create(hub, caller, job_request)
    return await anyio.to_thread.run_sync(job_response, hub, caller, view, str(request.base_url))


def bytenite_list_jobs(
    request: Request,
    caller: CallerDep,
    hub: HubDep,
    limit: Annotated[
        int, Query(alias="pagination.limit", ge=0, le=service.MAX_LIST, description="Rows per page (0: 100)")
    ] = 0,
    offset: Annotated[int, Query(alias="pagination.offset", ge=0, le=2**31)] = 0,
    order_by: Annotated[
        str | None, Query(alias="orderBy", max_length=64, description="Accepted; jobs come newest first")
    ] = None,
) -> dict[str, Any]:
    """`{"pagination": {...}, "data": [Job]}`."""
    views = service.list_jobs(hub, caller, None, limit or DEFAULT_LIMIT, offset)
    total = service.count(hub, caller)
    base = str(request.base_url)
    known: dict[str, templates.Template | None] = {}
    return {
        "pagination": {
            "total": str(total),
            "offset": str(offset),
            "hasPrevious": offset > 0,
            "hasNext": offset + len(views) < total,
        },
        "data": [present_job(hub, caller, view, base, known) for view in views],
    }


def bytenite_get_job(job_id: JobId, request: Request, caller: CallerDep, hub: HubDep) -> dict[str, Any]:
    """A job with its state."""
    return job_response(hub, caller, service.get(hub, caller, job_id), str(request.base_url))


async def bytenite_set_datasource(
    job_id: JobId, body: SetDataSourceRequest, request: Request, caller: CallerDep, hub: HubDep
) -> dict[str, Any]:
    """Replace the data source and/or destination of a job not yet run."""
    if body.data_source is None and body.data_destination is None:
        raise InvalidInput("give dataSource, dataDestination or both")
    view = await service.set_endpoints(
        hub,
        caller,
        job_id,
        endpoint(body.data_source) if body.data_source is not None else None,
        endpoint(body.data_destination) if body.data_destination is not None else None,
        allow_upload=True,
    )
    return await anyio.to_thread.run_sync(job_response, hub, caller, view, str(request.base_url))


def bytenite_run_job(
    job_id: JobId, request: Request, caller: CallerDep, hub: HubDep, body: RunRequest | None = None
) -> dict[str, Any]:
    """Submit a new job to the executor."""
    service.start(hub, caller, job_id)
    return generic(request_id(request), f"job {job_id} submitted")


def bytenite_abort_job(job_id: JobId, request: Request, caller: CallerDep, hub: HubDep) -> dict[str, Any]:
    """Cancel a job; one not yet run is deleted."""
    if bytenite_service.abort_job(hub, caller, job_id):
        return generic(request_id(request), f"job {job_id} had not started: deleted")
    return generic(request_id(request), f"job {job_id} aborted")


async def bytenite_job_results(job_id: JobId, request: Request, caller: CallerDep, hub: HubDep) -> dict[str, Any]:
    """`{"results": [{"name", "link"}]}` of a complete job."""
    state = (await anyio.to_thread.run_sync(service.get, hub, caller, job_id)).job.state
    if state in {s.value for s in TERMINAL} and state != JobState.COMPLETE.value:
        raise InvalidInput(f"job {job_id} is {STATES[state]}: it has no results")
    if state != JobState.COMPLETE.value:
        raise InvalidInput(f"job has not yet been completed: job {job_id} is {STATES.get(state, state)}")
    found = await service.results(hub, caller, job_id)
    base = str(request.base_url)
    return {"results": [{"name": r.name, "link": result_link(base, r)} for r in found]}


def bytenite_delete_job(job_id: JobId, request: Request, caller: CallerDep, hub: HubDep) -> dict[str, Any]:
    """Delete a job that is not running, with the data sources it made."""
    service.delete(hub, caller, job_id)
    return generic(request_id(request), f"job {job_id} deleted")


def bytenite_upload_completed(job_id: JobId, request: Request, caller: CallerDep, hub: HubDep) -> dict[str, Any]:
    """The job's input file was PUT to its tempUrl: the job may run."""
    service.upload_completed(hub, caller, job_id)
    return generic(request_id(request), f"the input of job {job_id} is uploaded")


async def bytenite_upload_bytes(token: str, request: Request, hub: HubDep) -> dict[str, Any]:
    """The raw bytes of a job's input file, sent to its tempUrl (no token: the signed link is the credential)."""
    size = await uploads_service.receive(hub, token, request.stream())
    return generic(request_id(request), f"{size} bytes received")


ROUTES: list[tuple[str, Any, str, str, str]] = [
    ("/jobs", bytenite_create_job, "POST", "create_job", "create a job"),
    ("/jobs", bytenite_list_jobs, "GET", "list_jobs", "list jobs, newest first"),
    (
        "/jobs/uploadcompleted/{jobId}",
        bytenite_upload_completed,
        "POST",
        "upload_completed",
        "the job's input file is uploaded",
    ),
    ("/jobs/{jobId}", bytenite_get_job, "GET", "get_job", "get a job"),
    ("/jobs/{jobId}", bytenite_delete_job, "DELETE", "delete_job", "delete a job and the data sources it made"),
    (
        "/jobs/{jobId}/datasource",
        bytenite_set_datasource,
        "PATCH",
        "set_datasource",
        "set a job's data source and destination",
    ),
    ("/jobs/{jobId}/run", bytenite_run_job, "POST", "run_job", "run a job"),
    ("/jobs/{jobId}/abort", bytenite_abort_job, "POST", "abort_job", "abort a job"),
    ("/jobs/{jobId}/results", bytenite_job_results, "GET", "job_results", "the results of a complete job"),
    (
        "/jobs/{jobId}/uploadcompleted",
        bytenite_upload_completed,
        "PATCH",
        "upload_completed_patch",
        "the job's input file is uploaded",
    ),
]

for _base in CUSTOMER_BASES:
    for _path, _endpoint, _method, _name, _summary in ROUTES:
        router.add_api_route(
            _base + _path,
            _endpoint,
            methods=[_method],
            name=f"bytenite_{_name}",
            operation_id=f"bytenite_{_name}_{_base.rsplit('/', 1)[-1]}",
            summary=f"ByteNite: {_summary}",
        )

#: The tempUrl is not a ByteNite route: it answers in the hub's own error shape, like the rest of /v1/uploads.
signed_uploads = APIRouter(
    tags=["uploads"], responses={**NATIVE_ERRORS, 410: {"model": ErrorOut, "description": "The link has expired"}}
)
signed_uploads.add_api_route(
    "/v1/uploads/signed/{token}",
    bytenite_upload_bytes,
    methods=["PUT"],
    name="bytenite_upload_bytes",
    operation_id="bytenite_upload_bytes",
    summary="ByteNite: upload a job's input file to its tempUrl (no token needed)",
    openapi_extra=RAW_BODY,
)
