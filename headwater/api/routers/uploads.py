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

import anyio
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, ValidationError

from headwater import links
from headwater.addresses import check_label
from headwater.api.errors import describe_validation
from headwater.api.routers.sources import SourceOut, present
from headwater.api.deps import CallerDep, HubDep
from headwater.api.schemas import ERROR_RESPONSES, ApiModel
from headwater.connectors.hosted_kinds import FILE_LINK_TTL, Upload, UploadStore, check_filename
from headwater.errors import Conflict, InvalidInput, NotFound
from headwater.services import authorization
from headwater.services import sources as sources_service
from headwater.services.authorization import Action
from headwater.services.context import Caller
from headwater.services.hub import Hub
from headwater.store.models import Source

router = APIRouter(prefix="/v1/uploads", tags=["uploads"], responses=ERROR_RESPONSES)
MAX_JSON = 64 * 1024
RAW_BODY = {"requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a JSON body this router reads itself (capped, since /v1/uploads bodies are not capped at the edge)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema(by_alias=True)}}}}


class UploadIn(ApiModel):
    filename: str = Field(min_length=1, max_length=255, description="The file's name: the path of the new source's one file.")
    label: str | None = Field(default=None, max_length=63, description="The new source's label (default upload-<id prefix>).")
    name: str | None = Field(default=None, max_length=255)
    description: str = Field(default="", max_length=4000)


class CompleteIn(ApiModel):
    parts: list[int] | None = Field(default=None, description="The part numbers the client sent, to be checked against the hub's.")
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


def _store(hub: Hub) -> UploadStore:
    return UploadStore(hub.settings.data_dir, hub.settings.chunk_size)


def _require_uploader(caller: Caller) -> None:
    authorization.require(caller, Action.CONFIGURE, "uploads (an upload creates a data source)")


async def _json(request: Request, model: type[ApiModel]) -> ApiModel:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_JSON:
            raise InvalidInput(f"request body is larger than {MAX_JSON} bytes")
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise InvalidInput(describe_validation(list(exc.errors()))) from None


def _check_label_free(hub: Hub, caller: Caller, label: str) -> None:
    check_label(label)
    with hub.store.session() as session:
        try:
            sources_service.find(session, caller, "file", label)
        except NotFound:
            return
    raise Conflict(f"label {label!r} is already used by another file data source")


async def _get(hub: Hub, caller: Caller, upload_id: str) -> Upload:
    def find() -> Upload:
        upload = _store(hub).get(caller.org_id, upload_id)
        if authorization.data_narrowed(caller):
            with hub.store.session() as session:
                source = session.get(Source, upload.source_id) if upload.source_id else None
                if not authorization.upload_visible(caller, source):
                    raise NotFound(f"upload {upload_id!r} does not exist")
        return upload

    return await anyio.to_thread.run_sync(find)


def _present(hub: Hub, caller: Caller, upload: Upload, request: Request) -> UploadOut:
    store = _store(hub)
    out = UploadOut(
        upload_id=upload.id,
        filename=upload.filename,
        state=upload.state,
        size=upload.size,
        parts=[PartOut(part=p.number, size=p.size) for p in store.parts(upload)] if upload.state == "open" else [],
        label=upload.label,
        created_at=upload.created,
    )
    if upload.state == "complete":
        expires = links.expiry(FILE_LINK_TTL)
        out.temp_url = str(request.base_url).rstrip("/") + links.signer(hub.settings.data_dir).url(upload.link_path, expires)
        out.expires_at = expires
        with hub.store.session() as session:
            try:
                out.source = present(session, caller, sources_service.get(session, caller, upload.source_id or ""))
            except NotFound:
                out.source = None
    return out


async def _finish(hub: Hub, caller: Caller, upload: Upload, request: Request) -> UploadOut:
    """Create and test the `file` source of an assembled upload; mark the upload complete."""
    assert upload.label is not None

    def create() -> str:
        with hub.store.session() as session:
            spec = sources_service.SourceSpec(
                protocol="file",
                label=upload.label or "",
                name=upload.name or upload.filename,
                description=upload.description,
                params={"uploadId": upload.id, "filename": upload.filename},
                access="read",
            )
            return sources_service.create(session, caller, spec, data_dir=hub.settings.data_dir).id

    upload.source_id = await anyio.to_thread.run_sync(create)
    upload.state = "complete"
    await anyio.to_thread.run_sync(_store(hub).save, upload)
    await sources_service.test(hub, caller, upload.source_id)
    return await anyio.to_thread.run_sync(_present, hub, caller, upload, request)


@router.post("", status_code=201, response_model=UploadOut, summary="Start a resumable upload", openapi_extra=json_body(UploadIn))
async def start_upload(request: Request, caller: CallerDep, hub: HubDep) -> UploadOut:
    _require_uploader(caller)
    body = await _json(request, UploadIn)
    assert isinstance(body, UploadIn)
    check_filename(body.filename)
    if body.label:
        await anyio.to_thread.run_sync(_check_label_free, hub, caller, body.label)

    def create() -> Upload:
        upload = _store(hub).create(
            caller.org_id, body.filename, name=body.name, description=body.description, created_by=caller.user_id
        )
        upload.label = body.label or f"upload-{upload.id[:12]}"
        _store(hub).save(upload)
        return upload

    upload = await anyio.to_thread.run_sync(create)
    return await anyio.to_thread.run_sync(_present, hub, caller, upload, request)


@router.put("/{upload_id}/parts/{number}", response_model=PartOut, summary="Send one part of a resumable upload (again, to replace it)", openapi_extra=RAW_BODY)
async def put_part(upload_id: str, number: int, request: Request, caller: CallerDep, hub: HubDep) -> PartOut:
    _require_uploader(caller)
    upload = await _get(hub, caller, upload_id)
    part = await _store(hub).write_part(upload, number, request.stream())
    return PartOut(part=part.number, size=part.size, sha256=part.sha256)


@router.get("/{upload_id}", response_model=UploadOut, summary="An upload's state and the parts received")
async def get_upload(upload_id: str, request: Request, caller: CallerDep, hub: HubDep) -> UploadOut:
    upload = await _get(hub, caller, upload_id)
    return await anyio.to_thread.run_sync(_present, hub, caller, upload, request)


@router.post("/{upload_id}/complete", status_code=201, response_model=UploadOut, summary="Join the parts and create the file source", openapi_extra=json_body(CompleteIn))
async def complete_upload(upload_id: str, request: Request, caller: CallerDep, hub: HubDep) -> UploadOut:
    _require_uploader(caller)
    body = await _json(request, CompleteIn)
    assert isinstance(body, CompleteIn)
    upload = await _get(hub, caller, upload_id)
    if upload.state == "complete":
        raise Conflict(f"upload {upload_id!r} is already complete")
    upload.label = body.label or upload.label
    upload.name = body.name if body.name is not None else upload.name
    upload.description = body.description if body.description is not None else upload.description
    await anyio.to_thread.run_sync(_check_label_free, hub, caller, upload.label or "")
    await _store(hub).assemble(upload, body.parts)
    return await _finish(hub, caller, upload, request)


@router.delete("/{upload_id}", status_code=204, summary="Abort an upload, or drop one whose source was deleted")
async def delete_upload(upload_id: str, caller: CallerDep, hub: HubDep) -> Response:
    _require_uploader(caller)
    upload = await _get(hub, caller, upload_id)
    if upload.state == "complete" and upload.source_id:

        def source_exists() -> bool:
            with hub.store.session() as session:
                try:
                    sources_service.get(session, caller, upload.source_id or "")
                    return True
                except NotFound:
                    return False

        if await anyio.to_thread.run_sync(source_exists):
            raise Conflict(f"upload {upload_id!r} backs data source file+{upload.label}: delete the source first")
    await anyio.to_thread.run_sync(_store(hub).discard, upload)
    return Response(status_code=204)


@router.put("/{filename}", status_code=201, response_model=UploadOut, summary="Upload a file in one request and create its source", openapi_extra=RAW_BODY)
async def upload_whole(
    filename: str, request: Request, caller: CallerDep, hub: HubDep, label: str | None = None, name: str | None = None, description: str = ""
) -> UploadOut:
    _require_uploader(caller)
    check_filename(filename)
    if label:
        await anyio.to_thread.run_sync(_check_label_free, hub, caller, label)
    store = _store(hub)
    upload = await anyio.to_thread.run_sync(
        lambda: store.create(caller.org_id, filename, name=name, description=description, created_by=caller.user_id)
    )
    upload.label = label or f"upload-{upload.id[:12]}"
    try:
        await store.write_whole(upload, request.stream())
        return await _finish(hub, caller, upload, request)
    except BaseException:
        if upload.state != "complete":  # no source was made: keep nothing
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(store.discard, upload)
        raise
