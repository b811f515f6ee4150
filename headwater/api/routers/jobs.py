"""`/v1/jobs`: a data source in, an app over partitions, a data destination out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request, Response
from pydantic import Field

from headwater.api.deps import CallerDep, HubDep
from headwater.api.schemas import ERROR_RESPONSES, ApiModel
from headwater.services.jobs import catalog, service, templates
from headwater.services.jobs.objects import DataSourceObject, Endpoint
from headwater.services.jobs.service import JobRequest, JobView

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=ERROR_RESPONSES)


class JobParams(ApiModel):
    """Params of the three building blocks (ByteNite's `params` shape)."""

    app: dict[str, Any] = Field(default_factory=dict)
    partitioner: dict[str, Any] = Field(default_factory=dict)
    assembler: dict[str, Any] = Field(default_factory=dict)


class DataSourceIn(ApiModel):
    """A ByteNite-style `dataSource` object: the job makes (and, deleted, deletes) a data source from it."""

    data_source_descriptor: str = Field(
        min_length=1, max_length=32, description="aws, s3, gcp, storj, url, file, bucket or bypass"
    )
    params: dict[str, Any] | None = Field(
        default=None,
        description="The descriptor's params (bucketName, cloudRegion, name, secret_id, endpoint, url, uploadId).",
    )

    def endpoint(self) -> DataSourceObject:
        return DataSourceObject(self.data_source_descriptor, dict(self.params or {}))


def endpoint(given: str | DataSourceIn) -> Endpoint:
    return given if isinstance(given, str) else given.endpoint()


Address = Annotated[str, Field(max_length=2048)]


class JobIn(ApiModel):
    source: Address | DataSourceIn = Field(
        description="A native address, optionally with a glob (s3+in://bucket/raw/*.csv), or a dataSource object"
    )
    destination: Address | DataSourceIn = Field(
        description="A destination folder (s3+out://bucket/out/ or bucket+tmp://), or a dataSource object"
    )
    template: str | None = Field(
        default=None,
        max_length=128,
        description="A job template (GET /v1/templates): its app, partitioner, assembler and fixed params; app, partitioner and assembler given beside it must agree",
    )
    app: str = Field(default="copy", description="copy, convert or python", max_length=64)
    partitioner: str = Field(default="object", description="object, size or rows", max_length=32)
    assembler: str = Field(default="passthrough", description="passthrough, concatenate or zip", max_length=32)
    params: JobParams = Field(default_factory=JobParams)
    name: str = Field(default="", max_length=255)
    description: str = Field(default="", max_length=4000)
    run: bool = Field(default=False, description="Run the job at once.")


class ProgressOut(ApiModel):
    partitions_done: int
    partitions_total: int
    partitions_failed: int
    partitions_running: int
    bytes_in: int
    bytes_out: int


class JobOut(ApiModel):
    id: str
    name: str
    description: str
    state: str
    state_timestamps: dict[str, str]
    source: str
    destination: str
    template: str | None
    app: str
    partitioner: str
    assembler: str
    params: JobParams
    progress: ProgressOut
    outputs: int | None
    error_message: str | None
    settled_at: datetime | None = Field(
        description="When nothing of the job ran or stayed partial any more (terminal states)."
    )
    created_at: datetime
    updated_at: datetime


class JobList(ApiModel):
    jobs: list[JobOut]


class ResultOut(ApiModel):
    name: str
    size: int | None
    address: str
    link: str | None
    expires_at: str | None
    sha256: str | None


class ResultList(ApiModel):
    results: list[ResultOut]


class LogOut(ApiModel):
    id: int
    time: datetime
    level: str
    partition: int | None
    message: str


class LogList(ApiModel):
    logs: list[LogOut]
    next: int


class BlockOut(ApiModel):
    name: str
    title: str
    description: str
    params_schema: dict[str, Any] = Field(description="The JSON schema of the block's params (`params.app`, ...)")


class JobCatalog(ApiModel):
    request_schema: dict[str, Any] = Field(description="The JSON schema of `POST /v1/jobs`'s body")
    apps: list[BlockOut]
    partitioners: list[BlockOut]
    assemblers: list[BlockOut]


def present_block(given: catalog.Block) -> BlockOut:
    return BlockOut(name=given.name, title=given.title, description=given.description, params_schema=given.schema())


def present(view: JobView) -> JobOut:
    job, progress = view.job, view.progress
    return JobOut(
        id=job.id,
        name=job.name,
        description=job.description,
        state=job.state,
        state_timestamps=dict(job.state_timestamps or {}),
        source=job.source,
        destination=job.destination,
        template=job.template_id,
        app=job.app,
        partitioner=job.partitioner,
        assembler=job.assembler,
        params=JobParams(
            app=job.app_params or {}, partitioner=job.partitioner_params or {}, assembler=job.assembler_params or {}
        ),
        progress=ProgressOut(
            partitions_done=progress.done,
            partitions_total=progress.total,
            partitions_failed=progress.failed,
            partitions_running=progress.running,
            bytes_in=progress.bytes_in,
            bytes_out=progress.bytes_out,
        ),
        outputs=len(job.outputs) if job.outputs is not None else None,
        error_message=job.error_message,
        settled_at=job.settled_at,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


@router.post("", status_code=201, response_model=JobOut, summary="Create a job (and run it with run: true)")
async def create_job(body: JobIn, caller: CallerDep, hub: HubDep) -> JobOut:
    request = JobRequest(
        source=endpoint(body.source),
        destination=endpoint(body.destination),
        app=body.app,
        partitioner=body.partitioner,
        assembler=body.assembler,
        app_params=body.params.app,
        partitioner_params=body.params.partitioner,
        assembler_params=body.params.assembler,
        name=body.name,
        description=body.description,
    )
    if body.template is not None:
        named = {block for block in templates.BLOCKS if block in body.model_fields_set}
        request = await anyio.to_thread.run_sync(templates.apply, hub, caller, body.template, request, named)
    return present(await service.create(hub, caller, request, run=body.run))


@router.get("", response_model=JobList, summary="List jobs, newest first")
def list_jobs(
    caller: CallerDep,
    hub: HubDep,
    state: str | None = None,
    limit: int = Query(default=100, ge=1, le=service.MAX_LIST),
    offset: int = Query(default=0, ge=0),
) -> JobList:
    return JobList(jobs=[present(v) for v in service.list_jobs(hub, caller, state, limit, offset)])


@router.get(
    "/catalog",
    response_model=JobCatalog,
    summary="The apps, partitioners and assemblers a job may use, with their params' schemas",
)
def job_catalog(caller: CallerDep) -> JobCatalog:
    return JobCatalog(
        request_schema=JobIn.model_json_schema(by_alias=True),
        apps=[present_block(b) for b in catalog.APPS],
        partitioners=[present_block(b) for b in catalog.PARTITIONERS],
        assemblers=[present_block(b) for b in catalog.ASSEMBLERS],
    )


@router.get("/{job_id}", response_model=JobOut, summary="Show a job with its state and progress")
def get_job(job_id: str, caller: CallerDep, hub: HubDep) -> JobOut:
    return present(service.get(hub, caller, job_id))


@router.post("/{job_id}/run", response_model=JobOut, summary="Run a new job")
def run_job(job_id: str, caller: CallerDep, hub: HubDep) -> JobOut:
    return present(service.start(hub, caller, job_id))


@router.post("/{job_id}/cancel", response_model=JobOut, summary="Cancel a job; its outputs are removed")
def cancel_job(job_id: str, caller: CallerDep, hub: HubDep) -> JobOut:
    return present(service.cancel(hub, caller, job_id))


@router.delete("/{job_id}", status_code=204, summary="Delete a job that is not running")
def delete_job(job_id: str, caller: CallerDep, hub: HubDep) -> Response:
    service.delete(hub, caller, job_id)
    return Response(status_code=204)


@router.get("/{job_id}/results", response_model=ResultList, summary="The outputs of a complete job")
async def job_results(job_id: str, caller: CallerDep, hub: HubDep, request: Request) -> ResultList:
    base = str(request.base_url).rstrip("/")
    found = await service.results(hub, caller, job_id)
    return ResultList(
        results=[
            ResultOut(
                name=r.name,
                size=r.size,
                address=r.address,
                link=(base + r.link) if r.link and r.link.startswith("/") else r.link,
                expires_at=r.expires_at,
                sha256=r.sha256,
            )
            for r in found
        ]
    )


@router.get("/{job_id}/logs", response_model=LogList, summary="A job's log, oldest first")
async def job_logs(
    job_id: str,
    caller: CallerDep,
    hub: HubDep,
    after: int = Query(default=0, ge=0),
    limit: int = Query(default=1000, ge=1, le=10000),
) -> LogList:
    rows = await anyio.to_thread.run_sync(lambda: service.logs(hub, caller, job_id, after, limit))
    return LogList(
        logs=[LogOut(id=r.id, time=r.time, level=r.level, partition=r.partition, message=r.message) for r in rows],
        next=rows[-1].id if rows else after,
    )
