"""Multipart uploads of the S3 front door: passed straight through to an S3 backend, or staged in the hub.

An upload lives under `multipart/<org_id>/<upload_id>/` in the hub's storage (a folder or a bucket,
`HEADWATER_STORAGE_URL`): `meta.json` (the bucket, key and who began it). When the target's kind
takes multipart uploads itself (`data.takes_parts`: an S3 connection), the upload is a real one on
the backend: `meta.json` also records the backend's upload id, bucket and key (never shown to a
client), each part streams to the backend once, its ETag is the backend's, and completing is the
backend's own completion, whose object's ETag HeadObject then shows. Otherwise (hosted data, local
folders, HTTP) each part is staged as `NNNNN.part` beside `NNNNN.json` (its MD5 and size), and
completing streams the chosen parts in order into one `data.write` of the target. Either way a
failed or aborted upload leaves no object at all. Rights are decided on the target by the data
service: a write must be allowed when the upload begins, for each part, to list, complete or
abort it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from headwater.connectors.base import Connector, PartsUpload
from headwater.connectors.storage import Storage
from headwater.errors import (
    EntityTooSmall,
    HeadwaterError,
    InvalidInput,
    InvalidPart,
    InvalidPartOrder,
    NoSuchUpload,
    NotFound,
)
from headwater.services import data as data_service
from headwater.services import sources as sources_service
from headwater.services.context import Caller
from headwater.services.hub import Hub
from headwater.store.models import Source

log = logging.getLogger("headwater.multipart")

ROOT = "multipart"
#: S3's limits: parts are numbered 1 to 10,000; every part but the last holds at least 5 MiB.
MAX_PART_NUMBER = 10_000
MIN_PART_SIZE = 5 * 1024 * 1024
#: An upload neither completed nor aborted within this is abandoned: the retention duty drops its parts.
UPLOAD_TTL = timedelta(days=7)


@dataclass(frozen=True)
class Upload:
    upload_id: str
    bucket: str
    key: str
    user_id: str
    user_name: str
    started: datetime
    #: The upload on the target's backend when it is passed through; None when its parts are staged.
    backend: PartsUpload | None = None
    #: The path inside the connection and its source, as when it began (the retention duty aborts with them).
    path: str = ""
    source_id: str | None = None


@dataclass(frozen=True)
class Part:
    number: int
    etag: str  # MD5 hex, unquoted
    size: int
    modified: datetime | None = None


def _prefix(caller: Caller, upload_id: str) -> str:
    if not upload_id.isalnum() or len(upload_id) > 64:
        raise NoSuchUpload(f"no upload {upload_id!r}")
    return f"{ROOT}/{caller.org_id}/{upload_id}"


def _staging(hub: Hub, caller: Caller) -> Connector:
    return hub.storage.connector(f"{ROOT}/{caller.org_id}", create=True, chunk_size=hub.settings.chunk_size)


def _part_name(number: int) -> str:
    return f"{number:05d}"


def check_part_number(value: str | None) -> int:
    if value is None or not value.isdigit() or not 1 <= int(value) <= MAX_PART_NUMBER:
        raise InvalidInput(f"partNumber must be a whole number from 1 to {MAX_PART_NUMBER}")
    return int(value)


async def begin(hub: Hub, caller: Caller, target: data_service.Target, bucket: str, key: str) -> Upload:
    """Begin an upload to `target`, refused now if the caller may not write there; on the backend itself when
    the target's kind takes multipart uploads."""
    data_service.may_write(target)
    backend = await data_service.begin_parts(target) if data_service.takes_parts(target) else None
    upload = Upload(
        secrets.token_hex(16),
        bucket,
        key,
        caller.user_id,
        caller.user_name,
        datetime.now(UTC),
        backend,
        target.path,
        target.source_id,
    )
    meta: dict[str, Any] = {
        "bucket": bucket,
        "key": key,
        "user_id": caller.user_id,
        "user_name": caller.user_name,
        "started": upload.started.isoformat(),
        "path": target.path,
        "source_id": target.source_id,
    }
    if backend is not None:
        meta["backend"] = {"bucket": backend.bucket, "key": backend.key, "upload_id": backend.upload_id}
    try:
        await anyio.to_thread.run_sync(
            hub.storage.write_small, f"{_prefix(caller, upload.upload_id)}/meta.json", json.dumps(meta).encode()
        )
    except BaseException:
        if backend is not None:
            with anyio.CancelScope(shield=True):
                await _abort_backend(target, backend)
        raise
    return upload


def _load(hub: Hub, caller: Caller, upload_id: str) -> Upload:
    try:
        meta = json.loads(hub.storage.read_small(f"{_prefix(caller, upload_id)}/meta.json"))
    except NotFound:
        raise NoSuchUpload(f"no upload {upload_id!r}: it was never begun, or it was completed or aborted") from None
    return Upload(
        upload_id,
        meta["bucket"],
        meta["key"],
        meta["user_id"],
        meta["user_name"],
        datetime.fromisoformat(meta["started"]),
        _backend_of(meta),
        meta.get("path") or "",
        meta.get("source_id"),
    )


def _backend_of(meta: dict[str, Any]) -> PartsUpload | None:
    backend = meta.get("backend")
    if not isinstance(backend, dict):
        return None
    return PartsUpload(str(backend["bucket"]), str(backend["key"]), str(backend["upload_id"]))


async def find(hub: Hub, caller: Caller, upload_id: str, bucket: str, key: str) -> Upload:
    """The upload, checked to be for this bucket and key."""
    upload = await anyio.to_thread.run_sync(_load, hub, caller, upload_id)
    if (upload.bucket, upload.key) != (bucket, key):
        raise NoSuchUpload(f"no upload {upload_id!r} for this key")
    return upload


def _passed_through(upload: Upload, target: data_service.Target) -> PartsUpload | None:
    """The backend's upload when `upload` is passed through; refused when the target no longer takes it (the
    connection was replaced since the upload began)."""
    if upload.backend is None:
        return None
    if not data_service.takes_parts(target) or target.source_id != upload.source_id:
        raise NoSuchUpload(f"no upload {upload.upload_id!r}: its connection was replaced since it began")
    return upload.backend


async def _hashed(chunks: AsyncIterable[bytes], digest: hashlib._Hash, sizes: list[int]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        digest.update(chunk)
        sizes[0] += len(chunk)
        yield chunk


async def put_part(
    hub: Hub,
    caller: Caller,
    upload: Upload,
    target: data_service.Target,
    number: int,
    chunks: AsyncIterable[bytes],
    size: int | None,
    md5: str | None = None,
) -> Part:
    """Take one part (replacing an earlier part of the same number), refused if the caller may not write the
    target. Passed through, it streams to the backend (its `size` must be known) and its ETag is the backend's;
    staged, its MD5 is its ETag."""
    backend = _passed_through(upload, target)
    if backend is not None:
        if size is None:
            raise InvalidInput("a part passed on to the backend needs its length (Content-Length)")
        taken = await data_service.put_part(target, backend, number, chunks, size, md5)
        return Part(taken.number, taken.etag, taken.size, taken.modified)
    data_service.may_write(target)
    digest = hashlib.md5(usedforsecurity=False)
    sizes = [0]
    staging = _staging(hub, caller)
    name = f"{upload.upload_id}/{_part_name(number)}"
    try:
        await staging.write(f"{name}.part", _hashed(chunks, digest, sizes))
    finally:
        await staging.close()
    modified = datetime.now(UTC)
    part = Part(number, digest.hexdigest(), sizes[0], modified)
    info = json.dumps({"etag": part.etag, "size": part.size, "modified": modified.isoformat()}).encode()
    await anyio.to_thread.run_sync(hub.storage.write_small, f"{ROOT}/{caller.org_id}/{name}.json", info)
    return part


def _parts(hub: Hub, caller: Caller, upload: Upload) -> list[Part]:
    prefix = _prefix(caller, upload.upload_id)
    parts: list[Part] = []
    for stored in hub.storage.walk(prefix):
        name = stored.key.rsplit("/", 1)[-1]
        if not name.endswith(".json") or not name[:-5].isdigit():
            continue
        try:
            info = json.loads(hub.storage.read_small(f"{prefix}/{name}"))
        except NotFound:
            continue
        parts.append(Part(int(name[:-5]), info["etag"], info["size"], datetime.fromisoformat(info["modified"])))
    return sorted(parts, key=lambda p: p.number)


async def list_parts(hub: Hub, caller: Caller, upload: Upload, target: data_service.Target) -> list[Part]:
    """The parts uploaded so far (the backend's, when passed through), refused if the caller may not write."""
    backend = _passed_through(upload, target)
    if backend is not None:
        listed = await data_service.list_parts(target, backend)
        return [Part(p.number, p.etag, p.size, p.modified) for p in listed]
    data_service.may_write(target)
    return await anyio.to_thread.run_sync(_parts, hub, caller, upload)


def _uploads(hub: Hub, caller: Caller, bucket: str) -> list[Upload]:
    found: list[Upload] = []
    for stored in hub.storage.walk(f"{ROOT}/{caller.org_id}"):
        pieces = stored.key.rsplit("/", 2)
        if len(pieces) < 3 or pieces[2] != "meta.json":
            continue
        upload_id = pieces[1]
        try:
            upload = _load(hub, caller, upload_id)
        except NoSuchUpload:
            continue
        if upload.bucket == bucket:
            found.append(upload)
    return sorted(found, key=lambda u: (u.key, u.started))


async def list_uploads(hub: Hub, caller: Caller, bucket: str) -> list[Upload]:
    """The uploads in progress to `bucket` in the caller's organization."""
    return await anyio.to_thread.run_sync(_uploads, hub, caller, bucket)


def final_etag(parts: list[Part]) -> str:
    """S3's multipart ETag: the MD5 of the parts' binary MD5s, then `-N`."""
    joined = b"".join(bytes.fromhex(p.etag) for p in parts)
    return f"{hashlib.md5(joined, usedforsecurity=False).hexdigest()}-{len(parts)}"


def chosen(staged: list[Part], wanted: list[tuple[int, str]]) -> list[Part]:
    """The staged parts a completion names, checked: ascending, uploaded, same ETags, big enough."""
    if not wanted:
        raise InvalidInput("a completion must name at least one part")
    numbers = [n for n, _ in wanted]
    if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
        raise InvalidPartOrder("the parts must be listed in ascending order of their numbers")
    by_number = {p.number: p for p in staged}
    parts: list[Part] = []
    for number, etag in wanted:
        part = by_number.get(number)
        if part is None or etag.strip('"').lower() != part.etag.lower():
            raise InvalidPart(f"part {number} was not uploaded, or its ETag is not {etag!r}")
        parts.append(part)
    for part in parts[:-1]:
        if part.size < MIN_PART_SIZE:
            raise EntityTooSmall(f"part {part.number} is {part.size} bytes: every part but the last needs 5 MiB")
    return parts


async def _joined(staging: Connector, upload: Upload, parts: list[Part]) -> AsyncIterator[bytes]:
    for part in parts:
        chunks = staging.read(f"{upload.upload_id}/{_part_name(part.number)}.part")
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]


async def complete(hub: Hub, caller: Caller, upload: Upload, target: data_service.Target, parts: list[Part]) -> str:
    """Make the parts (`chosen` from those uploaded), in order, the target's object (atomically), drop the
    upload, and return the object's ETag: the backend's own when passed through (HeadObject shows the same),
    else S3's MD5 of the parts' MD5s."""
    backend = _passed_through(upload, target)
    if backend is not None:
        entry = await data_service.complete_parts(target, backend, [(p.number, p.etag) for p in parts])
        await _drop(hub, caller, upload)
        return (entry.etag or "").strip('"') or final_etag(parts)
    staging = _staging(hub, caller)
    try:
        await data_service.write(target, _joined(staging, upload, parts), sum(p.size for p in parts))
    finally:
        await staging.close()
    await _drop(hub, caller, upload)
    return final_etag(parts)


async def abort(hub: Hub, caller: Caller, upload: Upload, target: data_service.Target) -> None:
    """Drop the upload, refused if the caller may not write the target: the backend's upload is aborted,
    or every part staged for it deleted."""
    backend = _passed_through(upload, target)
    if backend is not None:
        try:
            await data_service.abort_parts(target, backend)
        except NoSuchUpload:
            pass  # the backend has dropped it already
    else:
        data_service.may_write(target)
    await _drop(hub, caller, upload)


async def _abort_backend(target: data_service.Target, backend: PartsUpload) -> None:
    """Abort a backend upload the hub began and will not record: best effort (an abandoned one stays)."""
    try:
        await target.connector.abort_parts(target.path, backend)
    except Exception as exc:
        log.warning("aborting a multipart upload on the backend failed: %s", type(exc).__name__)


async def _drop(hub: Hub, caller: Caller, upload: Upload) -> None:
    """Delete the hub's records of the upload (and any staged parts)."""
    await anyio.to_thread.run_sync(hub.storage.delete_tree, _prefix(caller, upload.upload_id))


#: How the retention duty aborts an abandoned upload's backend upload: given the organization and the upload's
#: `meta.json`; raises `NotFound` when there is nothing to abort any more (the source or the upload is gone).
Aborter = Callable[[str, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class _Abandoned:
    prefix: str
    org_id: str
    meta: dict[str, Any] | None


def _abandoned(storage: Storage, now: datetime) -> list[_Abandoned]:
    """Every upload begun more than `UPLOAD_TTL` ago; one whose `meta.json` is missing or unreadable is judged
    by its files' ages instead."""
    newest: dict[str, datetime] = {}
    metas: dict[str, dict[str, Any]] = {}
    for stored in storage.walk(ROOT):
        pieces = stored.key.split("/")
        if len(pieces) < 4:
            continue
        upload = "/".join(pieces[:3])
        newest[upload] = max(newest.get(upload, stored.modified), stored.modified)
        if pieces[3] == "meta.json":
            try:
                meta = json.loads(storage.read_small(stored.key))
                datetime.fromisoformat(meta["started"])
            except (NotFound, ValueError, KeyError, TypeError):
                continue
            metas[upload] = meta
    found: list[_Abandoned] = []
    for upload, last in newest.items():
        meta = metas.get(upload)
        started = datetime.fromisoformat(meta["started"]) if meta is not None else last
        if started + UPLOAD_TTL <= now:
            found.append(_Abandoned(upload, upload.split("/")[1], meta))
    return found


def backend_aborter(hub: Hub) -> Aborter:
    """The retention duty's way to abort an abandoned upload on its backend: through the upload's source,
    opened afresh with its current secret, at the path and backend upload `meta.json` records."""

    async def abort(org_id: str, meta: dict[str, Any]) -> None:
        backend, source_id = _backend_of(meta), meta.get("source_id")
        if backend is None or not isinstance(source_id, str):
            raise NotFound("the upload names no backend upload or no source")
        connector = await anyio.to_thread.run_sync(_source_connector, hub, org_id, source_id)
        try:
            await connector.abort_parts(str(meta.get("path") or ""), backend)
        finally:
            await connector.close()

    return abort


def _source_connector(hub: Hub, org_id: str, source_id: str) -> Connector:
    with hub.store.session() as session:
        source = session.get(Source, source_id)
        if source is None or source.org_id != org_id:
            raise NotFound("the upload's source no longer exists")
        return sources_service.connector_for(session, hub, source)


async def purge_abandoned(storage: Storage, now: datetime | None = None, abort_backend: Aborter | None = None) -> int:
    """Drop every upload begun more than `UPLOAD_TTL` ago (in any organization); return how many objects went.

    An upload passed through to a backend is aborted there first with `abort_backend`; when that fails (the
    backend is down, say) its records stay for the next round, and without `abort_backend` they stay too.
    """
    now = now or datetime.now(UTC)
    gone = 0
    for upload in await anyio.to_thread.run_sync(_abandoned, storage, now):
        if upload.meta is not None and _backend_of(upload.meta) is not None:
            if abort_backend is None:
                continue
            try:
                await abort_backend(upload.org_id, upload.meta)
            except NotFound:
                pass  # the source, or the backend's upload, is gone: nothing is left to abort
            except HeadwaterError as exc:
                log.warning("aborting an abandoned multipart upload on its backend failed: %s", exc.message)
                continue
        gone += await anyio.to_thread.run_sync(storage.delete_tree, upload.prefix)
    return gone
