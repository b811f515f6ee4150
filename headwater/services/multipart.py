"""Multipart uploads of the S3 front door: parts staged in the hub's own storage, joined into the target's write.

An upload lives under `multipart/<org_id>/<upload_id>/` in the hub's storage (a folder or a bucket,
`HEADWATER_STORAGE_URL`): `meta.json` (the bucket, key and who began it), each part as
`NNNNN.part` beside `NNNNN.json` (its MD5 and size). Completing streams the chosen parts in order
into one `data.write` of the target, which is atomic: a failed or aborted upload leaves no object
at all. Rights are decided on the target by the data service when the upload begins (a write must
be allowed) and again when it completes (the write itself).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio

from headwater.connectors.base import Connector, Entry
from headwater.connectors.storage import Storage
from headwater.errors import InvalidInput, NotFound
from headwater.services import data as data_service
from headwater.services.context import Caller
from headwater.services.hub import Hub

ROOT = "multipart"
#: S3's limits: parts are numbered 1 to 10,000; every part but the last holds at least 5 MiB.
MAX_PART_NUMBER = 10_000
MIN_PART_SIZE = 5 * 1024 * 1024
#: An upload neither completed nor aborted within this is abandoned: the retention duty drops its parts.
UPLOAD_TTL = timedelta(days=7)


class NoSuchUpload(NotFound):
    """The upload id is unknown (never begun, completed, aborted, or another organization's)."""


class InvalidPart(InvalidInput):
    """A part named when completing was never uploaded, or its ETag differs."""


class InvalidPartOrder(InvalidInput):
    """The parts named when completing are not in ascending order."""


class EntityTooSmall(InvalidInput):
    """A part other than the last is smaller than `MIN_PART_SIZE`."""


@dataclass(frozen=True)
class Upload:
    upload_id: str
    bucket: str
    key: str
    user_id: str
    user_name: str
    started: datetime


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
    """Begin an upload to `target`, refused now if the caller may not write there."""
    data_service.may_write(target)
    upload = Upload(secrets.token_hex(16), bucket, key, caller.user_id, caller.user_name, datetime.now(UTC))
    meta = {
        "bucket": bucket,
        "key": key,
        "user_id": caller.user_id,
        "user_name": caller.user_name,
        "started": upload.started.isoformat(),
    }
    await anyio.to_thread.run_sync(
        hub.storage.write_small, f"{_prefix(caller, upload.upload_id)}/meta.json", json.dumps(meta).encode()
    )
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
    )


async def find(hub: Hub, caller: Caller, upload_id: str, bucket: str, key: str) -> Upload:
    """The upload, checked to be for this bucket and key."""
    upload = await anyio.to_thread.run_sync(_load, hub, caller, upload_id)
    if (upload.bucket, upload.key) != (bucket, key):
        raise NoSuchUpload(f"no upload {upload_id!r} for this key")
    return upload


async def _hashed(chunks: AsyncIterable[bytes], digest: hashlib._Hash, sizes: list[int]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        digest.update(chunk)
        sizes[0] += len(chunk)
        yield chunk


async def put_part(hub: Hub, caller: Caller, upload: Upload, number: int, chunks: AsyncIterable[bytes]) -> Part:
    """Stage one part (replacing an earlier part of the same number); its MD5 is its ETag."""
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


async def list_parts(hub: Hub, caller: Caller, upload: Upload) -> list[Part]:
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
        if part is None or etag.strip('"').lower() != part.etag:
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


async def complete(hub: Hub, caller: Caller, upload: Upload, target: data_service.Target, parts: list[Part]) -> Entry:
    """Write the parts (`chosen` from those staged), in order, as the target's object (atomically), then drop the upload."""
    staging = _staging(hub, caller)
    try:
        entry = await data_service.write(target, _joined(staging, upload, parts), sum(p.size for p in parts))
    finally:
        await staging.close()
    await abort(hub, caller, upload)
    return entry


async def abort(hub: Hub, caller: Caller, upload: Upload) -> None:
    """Drop the upload and every part staged for it."""
    await anyio.to_thread.run_sync(hub.storage.delete_tree, _prefix(caller, upload.upload_id))


def purge_abandoned(storage: Storage, now: datetime | None = None) -> int:
    """Drop every upload begun more than `UPLOAD_TTL` ago (in any organization); return how many objects went.

    Blocking: the retention duty runs it in a worker thread. An upload whose `meta.json` is missing or
    unreadable is judged by its files' ages instead.
    """
    now = now or datetime.now(UTC)
    newest: dict[str, datetime] = {}
    started: dict[str, datetime] = {}
    for stored in storage.walk(ROOT):
        pieces = stored.key.split("/")
        if len(pieces) < 4:
            continue
        upload = "/".join(pieces[:3])
        newest[upload] = max(newest.get(upload, stored.modified), stored.modified)
        if pieces[3] == "meta.json":
            try:
                started[upload] = datetime.fromisoformat(json.loads(storage.read_small(stored.key))["started"])
            except (NotFound, ValueError, KeyError, TypeError):
                pass
    gone = 0
    for upload, last in newest.items():
        if started.get(upload, last) + UPLOAD_TTL <= now:
            gone += storage.delete_tree(upload)
    return gone
