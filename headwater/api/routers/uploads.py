"""`/v1/uploads`: upload a file to the hub and get a `file` data source that serves it.

In one request (the body is the file's raw bytes, streamed to disk):

    PUT    /v1/uploads/{filename}?label=L&name=N&description=D         → 201 Upload (state "complete")

Resumable, in parts (for large files: a failed part is simply sent again):

    POST   /v1/uploads                 {"filename", "label"?, "name"?, "description"?}     → 201 Upload (state "open")
    PUT    /v1/uploads/{id}/parts/{n}  raw bytes of part n (1 to 10000, any size)           → 200 {"part", "size", "sha256"}
    GET    /v1/uploads/{id}            the upload's state and the parts received so far     → 200 Upload
    POST   /v1/uploads/{id}/complete   {"parts"?: [1, 2, ...], "label"?, "name"?, "description"?} → 201 Upload (state "complete")
    DELETE /v1/uploads/{id}            abort an open upload (or drop one whose source was deleted) → 204

Parts are joined in number order and must run 1..N without a gap. Completing
creates the source `file+LABEL://FILENAME` (label default `upload-<id prefix>`,
access `read`) and tests it, so it starts healthy. A complete upload carries
`tempUrl`, a signed link that downloads the file without a token until
`expiresAt` (one hour; each GET gives a fresh one). Uploads not completed within
24 hours are purged. The uploader needs a token that may change configuration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from headwater.api.deps import CallerDep, HubDep
from headwater.api.limits import json_model
from headwater.api.routers.sources import SourceOut, shape
from headwater.api.schemas import ERROR_RESPONSES, ApiModel
from headwater.services import uploads as service
from headwater.services.context import Caller
from headwater.services.uploads import Details, UploadView

router = APIRouter(prefix="/v1/uploads", tags=["uploads"], responses=ERROR_RESPONSES)
RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a JSON body this router reads itself (capped, since /v1/uploads bodies are not capped at the edge)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema(by_alias=True)}},
        }
    }


class UploadIn(ApiModel):
    filename: str = Field(
        min_length=1, max_length=255, description="The file's name: the path of the new source's one file."
    )
    label: str | None = Field(
        default=None, max_length=63, description="The new source's label (default upload-<id prefix>)."
    )
    name: str | None = Field(default=None, max_length=255)
    description: str = Field(default="", max_length=4000)


class CompleteIn(ApiModel):
    parts: list[int] | None = Field(
        default=None, description="The part numbers the client sent, to be checked against the hub's."
    )
    label: str | None = Field(default=None, max_length=63)
    name: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=4000)


class PartOut(ApiModel):
    part: int
    size: int
    sha256: str | None = None


class UploadOut(ApiModel):
    upload_id: str
    filename: str
    state: str = Field(description="open (taking parts), assembled (file stored, no source yet) or complete.")
    size: int | None
    parts: list[PartOut]
    label: str | None
    created_at: datetime
    source: SourceOut | None = None
    temp_url: str | None = Field(default=None, description="Signed download link, no token needed, until expiresAt.")
    expires_at: datetime | None = None


def _present(caller: Caller, view: UploadView, request: Request) -> UploadOut:
    upload = view.upload
    return UploadOut(
        upload_id=upload.id,
        filename=upload.filename,
        state=upload.state,
        size=upload.size,
        parts=[PartOut(part=p.number, size=p.size) for p in view.parts],
        label=upload.label,
        created_at=upload.created,
        source=shape(caller, view.source, view.parents) if view.source is not None else None,
        temp_url=str(request.base_url).rstrip("/") + view.link if view.link is not None else None,
        expires_at=view.expires_at,
    )


@router.post(
    "", status_code=201, response_model=UploadOut, summary="Start a resumable upload", openapi_extra=json_body(UploadIn)
)
async def start_upload(request: Request, caller: CallerDep, hub: HubDep) -> UploadOut:
    service.require_uploader(caller)  # refused before the body is read
    body = await json_model(request, UploadIn, hub.settings.max_json_body)
    details = Details(label=body.label, name=body.name, description=body.description)
    return _present(caller, await service.start(hub, caller, body.filename, details), request)


@router.put(
    "/{upload_id}/parts/{number}",
    response_model=PartOut,
    summary="Send one part of a resumable upload (again, to replace it)",
    openapi_extra=RAW_BODY,
)
async def put_part(upload_id: str, number: int, request: Request, caller: CallerDep, hub: HubDep) -> PartOut:
    part = await service.put_part(hub, caller, upload_id, number, request.stream())
    return PartOut(part=part.number, size=part.size, sha256=part.sha256)


@router.get("/{upload_id}", response_model=UploadOut, summary="An upload's state and the parts received")
async def get_upload(upload_id: str, request: Request, caller: CallerDep, hub: HubDep) -> UploadOut:
    return _present(caller, await service.get(hub, caller, upload_id), request)


@router.post(
    "/{upload_id}/complete",
    status_code=201,
    response_model=UploadOut,
    summary="Join the parts and create the file source",
    openapi_extra=json_body(CompleteIn),
)
async def complete_upload(upload_id: str, request: Request, caller: CallerDep, hub: HubDep) -> UploadOut:
    service.require_uploader(caller)  # refused before the body is read
    body = await json_model(request, CompleteIn, hub.settings.max_json_body)
    details = Details(label=body.label, name=body.name, description=body.description)
    return _present(caller, await service.complete(hub, caller, upload_id, body.parts, details), request)


@router.delete("/{upload_id}", status_code=204, summary="Abort an upload, or drop one whose source was deleted")
async def delete_upload(upload_id: str, caller: CallerDep, hub: HubDep) -> Response:
    await service.delete(hub, caller, upload_id)
    return Response(status_code=204)


@router.put(
    "/{filename}",
    status_code=201,
    response_model=UploadOut,
    summary="Upload a file in one request and create its source",
    openapi_extra=RAW_BODY,
)
async def upload_whole(
    filename: str,
    request: Request,
    caller: CallerDep,
    hub: HubDep,
    label: str | None = None,
    name: str | None = None,
    description: str = "",
) -> UploadOut:
    details = Details(label=label, name=name, description=description)
    return _present(caller, await service.upload_whole(hub, caller, filename, request.stream(), details), request)
