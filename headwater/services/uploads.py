"""Uploads: a file sent to the hub becomes a `file` data source that serves it.

The use cases behind `/v1/uploads` and behind a job's uploaded input: start an upload,
take its parts or its whole body, complete it (join the parts, create and test the
`file` source `file+LABEL://FILENAME`), show it with a fresh signed download link,
abort it, and take the bytes sent to a job's signed PUT link. Rights are decided by
`services.authorization`: changing anything needs a token that may configure; a
data-narrowed token sees only uploads whose source it can see. The bytes themselves
are kept by `UploadStore` (the `file` kind's storage, beside its connector).
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from datetime import datetime

import anyio

from headwater import links
from headwater.addresses import check_label
from headwater.connectors.hosted_kinds import FILE_LINK_TTL, UPLOAD_TTL, Part, Upload, UploadStore, check_filename
from headwater.errors import Conflict, NotFound
from headwater.services import authorization
from headwater.services import sources as sources_service
from headwater.services import systems as systems_service
from headwater.services.authorization import Action
from headwater.services.context import Caller
from headwater.services.hub import Hub
from headwater.store.models import Source, System

#: The last segment of a signed upload link's path: `uploads/<org>/<upload id>/put`.
PUT_LINK = "put"
PUT_ROUTE = "/v1/uploads/signed/"


@dataclass(frozen=True)
class Details:
    """What a caller may say about the source an upload becomes."""

    label: str | None = None
    name: str | None = None
    description: str | None = None


@dataclass
class UploadView:
    """An upload as a caller sees it: its parts while open; once complete, a fresh signed link and its source."""

    upload: Upload
    parts: list[Part] = field(default_factory=list)
    link: str | None = None  # hub-relative signed download URL
    expires_at: datetime | None = None
    source: Source | None = None
    parents: list[System] = field(default_factory=list)  # the data systems the source is linked under


def store(hub: Hub) -> UploadStore:
    return UploadStore(hub.storage, hub.settings.chunk_size)


def require_uploader(caller: Caller) -> None:
    """Refuse a token that may not change configuration (an upload creates a data source)."""
    authorization.require(caller, Action.CONFIGURE, "uploads (an upload creates a data source)")


def _check_label_free(hub: Hub, caller: Caller, label: str) -> None:
    check_label(label)
    with hub.store.session() as session:
        try:
            sources_service.find(session, caller, "file", label)
        except NotFound:
            return
    raise Conflict(f"label {label!r} is already used by another file data source")


def _find(hub: Hub, caller: Caller, upload_id: str) -> Upload:
    """The upload, if the caller may see it: its organization's, and for a data-narrowed token through its source."""
    upload = store(hub).get(caller.org_id, upload_id)
    if authorization.data_narrowed(caller):
        with hub.store.session() as session:
            source = session.get(Source, upload.source_id) if upload.source_id else None
            if not authorization.upload_visible(caller, source):
                raise NotFound(f"upload {upload_id!r} does not exist")
    return upload


def _view(hub: Hub, caller: Caller, upload: Upload) -> UploadView:
    view = UploadView(upload, parts=store(hub).parts(upload) if upload.state == "open" else [])
    if upload.state == "complete":
        view.expires_at = links.expiry(FILE_LINK_TTL)
        view.link = links.signer(hub.settings.data_dir).url(upload.link_path, view.expires_at)
        with hub.store.session() as session:
            try:
                view.source = sources_service.get(session, caller, upload.source_id or "")
                view.parents = systems_service.parents(session, view.source)
            except NotFound:
                view.source = None
    return view


def _open(hub: Hub, caller: Caller, filename: str, details: Details) -> Upload:
    upload = store(hub).create(
        caller.org_id, filename, name=details.name, description=details.description or "", created_by=caller.user_id
    )
    upload.label = details.label or f"upload-{upload.id[:12]}"
    store(hub).save(upload)
    return upload


async def _finish(hub: Hub, caller: Caller, upload: Upload) -> UploadView:
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
    await anyio.to_thread.run_sync(store(hub).save, upload)
    await sources_service.test(hub, caller, upload.source_id)
    return await anyio.to_thread.run_sync(_view, hub, caller, upload)


# -- /v1/uploads ------------------------------------------------------------------------------


async def start(hub: Hub, caller: Caller, filename: str, details: Details) -> UploadView:
    """Open a resumable upload (its label, if given, must be free)."""
    require_uploader(caller)
    check_filename(filename)
    if details.label:
        await anyio.to_thread.run_sync(_check_label_free, hub, caller, details.label)
    upload = await anyio.to_thread.run_sync(_open, hub, caller, filename, details)
    return await anyio.to_thread.run_sync(_view, hub, caller, upload)


async def put_part(hub: Hub, caller: Caller, upload_id: str, number: int, chunks: AsyncIterable[bytes]) -> Part:
    """Store part `number` of an open upload (again, to replace it)."""
    require_uploader(caller)
    upload = await anyio.to_thread.run_sync(_find, hub, caller, upload_id)
    return await store(hub).write_part(upload, number, chunks)


async def get(hub: Hub, caller: Caller, upload_id: str) -> UploadView:
    upload = await anyio.to_thread.run_sync(_find, hub, caller, upload_id)
    return await anyio.to_thread.run_sync(_view, hub, caller, upload)


async def complete(hub: Hub, caller: Caller, upload_id: str, parts: list[int] | None, details: Details) -> UploadView:
    """Join the parts (checked against `parts` when given), then create and test the file source."""
    require_uploader(caller)
    upload = await anyio.to_thread.run_sync(_find, hub, caller, upload_id)
    if upload.state == "complete":
        raise Conflict(f"upload {upload_id!r} is already complete")
    upload.label = details.label or upload.label
    upload.name = details.name if details.name is not None else upload.name
    upload.description = details.description if details.description is not None else upload.description
    await anyio.to_thread.run_sync(_check_label_free, hub, caller, upload.label or "")
    await store(hub).assemble(upload, parts)
    return await _finish(hub, caller, upload)


async def delete(hub: Hub, caller: Caller, upload_id: str) -> None:
    """Abort an upload, or drop a complete one whose source was deleted (one that backs a source is kept)."""
    require_uploader(caller)
    upload = await anyio.to_thread.run_sync(_find, hub, caller, upload_id)
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
    await anyio.to_thread.run_sync(store(hub).discard, upload)


async def upload_whole(
    hub: Hub, caller: Caller, filename: str, chunks: AsyncIterable[bytes], details: Details
) -> UploadView:
    """Store a file sent in one request and create its source; nothing is kept if that fails."""
    require_uploader(caller)
    check_filename(filename)
    if details.label:
        await anyio.to_thread.run_sync(_check_label_free, hub, caller, details.label)
    files = store(hub)
    upload = await anyio.to_thread.run_sync(
        lambda: files.create(
            caller.org_id, filename, name=details.name, description=details.description or "", created_by=caller.user_id
        )
    )
    upload.label = details.label or f"upload-{upload.id[:12]}"
    try:
        await files.write_whole(upload, chunks)
        return await _finish(hub, caller, upload)
    except BaseException:
        if upload.state != "complete":  # no source was made: keep nothing
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(files.discard, upload)
        raise


# -- a job's uploaded input ---------------------------------------------------------------------


def open_pending(hub: Hub, caller: Caller, filename: str, description: str) -> Upload:
    """An open upload whose bytes will come through a signed PUT link (a job's input file)."""
    require_uploader(caller)
    return store(hub).create(
        caller.org_id, check_filename(filename), created_by=caller.user_id, description=description
    )


def find(hub: Hub, org_id: str, upload_id: str) -> Upload:
    """An upload of an organization, for a use case that already decided the caller may reach it."""
    return store(hub).get(org_id, upload_id)


def attach(hub: Hub, upload: Upload, source: Source) -> None:
    """Record the data source an upload backs."""
    upload.label, upload.source_id = source.label, source.id
    store(hub).save(upload)


def mark_complete(hub: Hub, upload: Upload) -> None:
    if upload.state != "complete":
        upload.state = "complete"
        store(hub).save(upload)


def discard(hub: Hub, upload: Upload) -> None:
    store(hub).discard(upload)


def put_link(hub: Hub, upload: Upload) -> str:
    """The hub-relative signed URL that takes the upload's bytes (`PUT`), valid as long as the upload is kept."""
    expires = upload.created + UPLOAD_TTL
    token = links.signer(hub.settings.data_dir).sign(
        f"{links.AREAS[0]}/{upload.org_id}/{upload.id}/{PUT_LINK}", expires
    )
    return PUT_ROUTE + token


def upload_for_link(hub: Hub, token: str, now: datetime | None = None) -> Upload:
    """The upload a signed PUT link names; `LinkInvalid`/`LinkExpired` for a bad link, `Conflict` once complete."""
    link = links.signer(hub.settings.data_dir).verify(token, now)
    area, org_id, upload_id, last = [*link.path.split("/"), "", "", "", ""][:4]
    if area != links.AREAS[0] or last != PUT_LINK or link.path.count("/") != 3:
        raise links.LinkInvalid("this link is not an upload link")
    upload = store(hub).get(org_id, upload_id)
    if upload.state == "complete":
        raise Conflict("this upload is complete: it takes no more bytes")
    return upload


async def receive(hub: Hub, token: str, chunks: AsyncIterable[bytes]) -> int:
    """Store the bytes sent to a signed PUT link (sending again replaces them); the upload becomes `assembled`."""
    upload = await anyio.to_thread.run_sync(upload_for_link, hub, token)
    return await store(hub).write_whole(upload, chunks)
