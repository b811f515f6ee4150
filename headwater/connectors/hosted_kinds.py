"""Kinds whose bytes the hub keeps itself: `file` (an upload), `bucket` (temporary output), `bypass` (none).

Layout below the root of the hub's storage (`headwater.connectors.storage`: the data dir, or a bucket prefix):

    uploads/<org_id>/<upload_id>/meta.json      an upload's state (open → assembled → complete)
    uploads/<org_id>/<upload_id>/parts/00001    parts of a resumable upload, until assembled
    uploads/<org_id>/<upload_id>/data/<name>    the uploaded file: the one object of a `file` source
    buckets/<org_id>/<source_id>/...            files written to a `bucket` source, kept BUCKET_TTL

Their entries say where each file is kept and until when (`Entry.hosted`), from which the
services sign expiring download links (`headwater.links`); `purge_expired` deletes expired
bucket files and abandoned uploads.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Collection, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import anyio
from pydantic import Field, field_validator

from headwater.addresses import join, normalise_segment
from headwater.connectors.base import (
    DEFAULT_CHUNK,
    PAGE_SIZE,
    Capabilities,
    Connector,
    Credentials,
    Entry,
    HostedFile,
    Listing,
    Opened,
    Params,
    Span,
)
from headwater.connectors.kind import BuildContext, Kind
from headwater.connectors.storage import FolderStorage, Storage, Stored
from headwater.errors import Conflict, InvalidInput, NotFound, NotSupported
from headwater.times import iso

UPLOADS = "uploads"
BUCKETS = "buckets"
BUCKET_TTL = timedelta(hours=48)
FILE_LINK_TTL = timedelta(hours=1)
UPLOAD_TTL = timedelta(hours=24)  # an upload not completed within this is abandoned
ORPHAN_GRACE = timedelta(hours=1)  # files of a deleted source are kept at least this long
MAX_PARTS = 10_000
META = "meta.json"
COMPLETING = "completing"  # the lock object of an upload being assembled
HIDDEN = ".headwater-"  # names the hub keeps for itself (temporaries, folder markers): not counted as files
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_PART = re.compile(r"[0-9]{5}")


def _now() -> datetime:
    return datetime.now(UTC)


def _data_dir(ctx: BuildContext) -> Path:
    return ctx.data_dir if ctx.data_dir is not None else ctx.hosted_dir.parent


def _storage(ctx: BuildContext) -> Storage:
    return ctx.storage if ctx.storage is not None else FolderStorage(_data_dir(ctx))


def _owner(ctx: BuildContext, kind: str) -> tuple[str, str]:
    if not ctx.org_id or not ctx.source_id:
        raise InvalidInput(f"a {kind} connection can only be opened as a data source of an organization")
    return ctx.org_id, ctx.source_id


def check_filename(name: str) -> str:
    """A file name safe as one path segment (no separators, '.', '..' or control characters)."""
    try:
        return normalise_segment(name)
    except InvalidInput as exc:
        raise InvalidInput(f"file name {name!r} is not allowed: {exc.message}") from None


# -- bypass -------------------------------------------------------------------------------


class BypassParams(Params):
    """No parameters: a bypass connection has no data."""


class BypassConnector(Connector):
    """No data: listings are empty, nothing is found, writes are accepted and discarded."""

    kind: ClassVar[str] = "bypass"
    capabilities: ClassVar[Capabilities] = Capabilities(input=True, output=True)

    async def check(self, *, write: bool = False) -> None:
        return None

    async def stat(self, path: str) -> Entry:
        if path == "":
            return Entry(name="", is_dir=True)
        raise NotFound(f"{path!r} does not exist: a bypass connection holds no data")

    async def read(
        self, path: str, start: int | None = None, end: int | None = None, *, options: Mapping[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        raise NotFound(f"{path!r} does not exist: a bypass connection holds no data")
        yield b""  # pragma: no cover - makes this an async generator

    async def write(self, path: str, chunks: AsyncIterable[bytes], size_hint: int | None = None) -> Entry:
        if not path:
            raise InvalidInput("cannot write to the root of a connection: give a file name")
        size = 0
        async for chunk in chunks:
            size += len(chunk)
        return Entry(name=path.rsplit("/", 1)[-1], is_dir=False, size=size, modified=_now())

    async def delete(self, path: str) -> None:
        raise NotFound(f"{path!r} does not exist: a bypass connection holds no data")

    async def list(self, path: str, marker: str | None = None, limit: int = PAGE_SIZE) -> Listing:
        if path:
            raise NotFound(f"{path!r} does not exist: a bypass connection holds no data")
        return Listing([], [])

    async def mkdir(self, path: str) -> None:
        return None  # accepted and discarded, like writes

    async def rmdir(self, path: str, recursive: bool = False) -> int:
        raise NotFound(f"{path!r} does not exist: a bypass connection holds no data")


# -- file (an upload) -------------------------------------------------------------------


class FileParams(Params):
    """The uploaded file a `file` source serves; set by the hub when an upload completes."""

    upload_id: str = Field(alias="uploadId", description="The upload that holds the file.")
    filename: str = Field(description="The file's name: the one path of the source.", min_length=1, max_length=255)

    @field_validator("upload_id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _UPLOAD_ID.fullmatch(value):
            raise ValueError("is not an upload id of this hub")
        return value

    @field_validator("filename")
    @classmethod
    def _check_name(cls, value: str) -> str:
        try:
            return normalise_segment(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None


class FileConnector(Connector):
    """One uploaded file, addressed by its name; each entry carries a signed download link."""

    kind: ClassVar[str] = "file"
    capabilities: ClassVar[Capabilities] = Capabilities(input=True, output=False)

    def __init__(
        self,
        storage: Storage,
        org_id: str,
        upload_id: str,
        filename: str,
        *,
        chunk_size: int = DEFAULT_CHUNK,
        link_ttl: timedelta = FILE_LINK_TTL,
    ) -> None:
        self.filename = filename
        self.link_path = f"{UPLOADS}/{org_id}/{upload_id}/data/{filename}"
        self.link_ttl = link_ttl
        self._files = storage.connector(f"{UPLOADS}/{org_id}/{upload_id}/data", chunk_size=chunk_size)

    def _own(self, path: str) -> None:
        if path != self.filename:
            raise NotFound(f"{path!r} does not exist: this file source holds only {self.filename!r}")

    async def check(self, *, write: bool = False) -> None:
        if write:
            raise NotSupported("a file source is input-only: give it access 'read'")
        await self.stat(self.filename)

    async def stat(self, path: str) -> Entry:
        if path == "":
            return Entry(name="", is_dir=True)
        self._own(path)
        try:
            entry = await self._files.stat(path)
        except NotFound:
            raise NotFound(f"the uploaded file {self.filename!r} is missing from the hub") from None
        return replace(entry, hosted=HostedFile(self.link_path, _now() + self.link_ttl))

    async def read(
        self, path: str, start: int | None = None, end: int | None = None, *, options: Mapping[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        self._own(path)
        async for chunk in self._files.read(path, start, end):
            yield chunk

    async def list(self, path: str, marker: str | None = None, limit: int = PAGE_SIZE) -> Listing:
        if path:
            self._own(path)
            raise InvalidInput(f"{path!r} is a file, not a directory")
        return Listing([], [] if marker else [await self.stat(self.filename)])

    async def close(self) -> None:
        await self._files.close()


# -- bucket (temporary output) --------------------------------------------------------


class BucketParams(Params):
    """No parameters: a temporary bucket lives in the hub, one per data source."""


class BucketConnector(Connector):
    """Files kept by the hub for BUCKET_TTL after they are written, each with a signed download link."""

    kind: ClassVar[str] = "bucket"
    capabilities: ClassVar[Capabilities] = Capabilities(input=False, output=True)

    def __init__(
        self,
        storage: Storage,
        org_id: str,
        source_id: str,
        *,
        chunk_size: int = DEFAULT_CHUNK,
        ttl: timedelta = BUCKET_TTL,
    ) -> None:
        self.link_root = f"{BUCKETS}/{org_id}/{source_id}"
        self.ttl = ttl
        self.files = storage.connector(self.link_root, create=True, chunk_size=chunk_size)  # where its bytes are

    def _expires(self, entry: Entry) -> datetime:
        return (entry.modified or _now()) + self.ttl

    def _linked(self, path: str, entry: Entry) -> Entry:
        if entry.is_dir:
            return entry
        return replace(entry, hosted=HostedFile(f"{self.link_root}/{path}", self._expires(entry)))

    def real_path(self, path: str) -> str:
        return self.files.real_path(path)

    async def check(self, *, write: bool = False) -> None:
        await self.files.check(write=write)

    async def stat(self, path: str) -> Entry:
        entry = await self.files.stat(path)
        if not entry.is_dir and self._expires(entry) <= _now():
            raise NotFound(f"{path!r} has expired")
        return self._linked(path, entry)

    def read(
        self, path: str, start: int | None = None, end: int | None = None, *, options: Mapping[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        return self.files.read(path, start, end)

    async def open_read(
        self, path: str, span: Span | None = None, *, options: Mapping[str, str] | None = None
    ) -> Opened:
        return await self.files.open_read(path, span)

    async def write(self, path: str, chunks: AsyncIterable[bytes], size_hint: int | None = None) -> Entry:
        return await self.files.write(path, chunks, size_hint)

    async def delete(self, path: str) -> None:
        await self.files.delete(path)

    async def list(self, path: str, marker: str | None = None, limit: int = PAGE_SIZE) -> Listing:
        page = await self.files.list(path, marker, limit)
        now = _now()
        files = [self._linked(join(path, f.name), f) for f in page.files if self._expires(f) > now]
        return Listing(page.folders, files, page.marker)

    async def mkdir(self, path: str) -> None:
        await self.files.mkdir(path)

    async def rmdir(self, path: str, recursive: bool = False) -> int:
        return await self.files.rmdir(path, recursive)

    async def close(self) -> None:
        await self.files.close()


# -- uploads: staging of the `file` kind's bytes ------------------------------------------


@dataclass
class Part:
    number: int
    size: int
    sha256: str | None = None


@dataclass
class Upload:
    """An upload's state, kept in its meta.json."""

    id: str
    org_id: str
    filename: str
    created_at: str
    state: str = "open"  # open → assembled → complete
    size: int | None = None
    label: str | None = None
    name: str | None = None
    description: str = ""
    source_id: str | None = None
    created_by: str | None = None

    @property
    def key(self) -> str:
        """The upload's folder below the storage root."""
        return f"{UPLOADS}/{self.org_id}/{self.id}"

    @property
    def link_path(self) -> str:
        return f"{self.key}/data/{self.filename}"

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.created_at.replace("Z", "+00:00"))


async def _hashed(chunks: AsyncIterable[bytes], digest: Any) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        if chunk:
            digest.update(chunk)
            yield chunk


class UploadStore:
    """Uploads of one hub, in its storage: create, receive parts or a whole body, assemble, discard.

    The synchronous calls (create, get, save, parts, discard) do I/O: run them in a worker thread.
    Bytes go through the storage's connectors, whose writes are atomic (nothing partial on failure).
    """

    def __init__(self, storage: Storage, chunk_size: int = DEFAULT_CHUNK) -> None:
        self.storage = storage
        self.chunk_size = chunk_size

    def _files(self, upload: Upload) -> Connector:
        return self.storage.connector(upload.key, chunk_size=self.chunk_size)

    def create(self, org_id: str, filename: str, **fields: Any) -> Upload:
        upload = Upload(
            id=uuid.uuid4().hex, org_id=org_id, filename=check_filename(filename), created_at=iso(_now()), **fields
        )
        self.save(upload)
        return upload

    def get(self, org_id: str, upload_id: str) -> Upload:
        """The upload with this id in this organization; `NotFound` otherwise (other organizations' included)."""
        try:
            if not _UPLOAD_ID.fullmatch(upload_id) or not org_id or "/" in org_id or org_id in {".", ".."}:
                raise NotFound(upload_id)
            raw = json.loads(self.storage.read_small(f"{UPLOADS}/{org_id}/{upload_id}/{META}"))
            upload = Upload(**raw)
        except (NotFound, ValueError, TypeError):
            raise NotFound(f"upload {upload_id!r} does not exist") from None
        if upload.org_id != org_id or upload.id != upload_id:
            raise NotFound(f"upload {upload_id!r} does not exist")
        return upload

    def save(self, upload: Upload) -> None:
        self.storage.write_small(f"{upload.key}/{META}", json.dumps(asdict(upload)).encode())

    def parts(self, upload: Upload) -> list[Part]:
        found = []
        for stored in self.storage.walk(f"{upload.key}/parts"):
            name = stored.key.rsplit("/", 1)[-1]
            if _PART.fullmatch(name):
                found.append(Part(int(name), stored.size))
        return sorted(found, key=lambda p: p.number)

    async def write_part(self, upload: Upload, number: int, chunks: AsyncIterable[bytes]) -> Part:
        """Store part `number` (1-based); sending a part again replaces it."""
        if upload.state != "open":
            raise Conflict(f"upload {upload.id!r} is {upload.state}: it takes no more parts")
        if not 1 <= number <= MAX_PARTS:
            raise InvalidInput(f"part number {number} is out of range: use 1 to {MAX_PARTS}")
        digest = hashlib.sha256()
        files = self._files(upload)
        try:
            entry = await files.write(f"parts/{number:05d}", _hashed(chunks, digest))
        finally:
            await files.close()
        return Part(number, entry.size or 0, digest.hexdigest())

    async def write_whole(self, upload: Upload, chunks: AsyncIterable[bytes]) -> int:
        """Store the file in one piece and mark the upload assembled."""
        files = self._files(upload)
        try:
            entry = await files.write(f"data/{upload.filename}", chunks)
        finally:
            await files.close()
        upload.state, upload.size = "assembled", entry.size or 0
        await anyio.to_thread.run_sync(self.save, upload)
        return upload.size

    async def assemble(self, upload: Upload, expected: list[int] | None = None) -> int:
        """Concatenate the parts in order into the file (streamed, bounded memory); mark it assembled."""
        if upload.state != "open":
            return upload.size or 0
        parts = await anyio.to_thread.run_sync(self.parts, upload)
        numbers = [p.number for p in parts]
        if not numbers:
            raise InvalidInput(f"upload {upload.id!r} has no parts: PUT /v1/uploads/{upload.id}/parts/1 first")
        missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
        if missing:
            raise InvalidInput(f"upload {upload.id!r} is missing part {missing[0]}: parts are numbered 1, 2, 3, ...")
        if expected is not None and sorted(expected) != numbers:
            raise InvalidInput(f"parts {sorted(expected)} were expected but the hub has {numbers}")
        lock = f"{upload.key}/{COMPLETING}"
        if not await anyio.to_thread.run_sync(self.storage.create_exclusive, lock):
            raise Conflict(f"upload {upload.id!r} is already being completed")
        files = self._files(upload)
        try:

            async def joined() -> AsyncIterator[bytes]:
                for part in parts:
                    async for chunk in files.read(f"parts/{part.number:05d}"):
                        yield chunk

            entry = await files.write(f"data/{upload.filename}", joined(), sum(p.size for p in parts))
            upload.state, upload.size = "assembled", entry.size or 0
            await anyio.to_thread.run_sync(self.save, upload)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.storage.delete, [lock])
                await files.close()
        await anyio.to_thread.run_sync(self.storage.delete_tree, f"{upload.key}/parts")
        return upload.size

    def discard(self, upload: Upload) -> None:
        self.storage.delete_tree(upload.key)


# -- purging ------------------------------------------------------------------------------


def _purge_buckets(storage: Storage, now: datetime, live_sources: Collection[str] | None, ttl: timedelta) -> int:
    """Delete expired bucket files; every file of a deleted source's bucket once its newest is ORPHAN_GRACE old."""
    buckets: dict[tuple[str, str], list[Stored]] = {}
    for stored in storage.walk(BUCKETS):
        parts = stored.key.split("/")
        if len(parts) >= 4:
            buckets.setdefault((parts[1], parts[2]), []).append(stored)
    removed = 0
    for (org_id, source_id), files in sorted(buckets.items()):
        root = f"{BUCKETS}/{org_id}/{source_id}"
        orphan = (
            live_sources is not None
            and source_id not in live_sources
            and all(f.modified + ORPHAN_GRACE <= now for f in files)
        )
        gone = [f.key for f in files if orphan or f.modified + ttl <= now]
        storage.delete(gone)
        removed += sum(1 for key in gone if not key.rsplit("/", 1)[-1].startswith(HIDDEN))
        if orphan:
            storage.delete_tree(root)
        else:
            storage.tidy(root, gone)
    return removed


def _purge_uploads(storage: Storage, now: datetime, live_sources: Collection[str] | None) -> int:
    """Delete abandoned uploads, and completed ones whose source is gone (after ORPHAN_GRACE)."""
    uploads: dict[tuple[str, str], list[Stored]] = {}
    for stored in storage.walk(UPLOADS):
        parts = stored.key.split("/")
        if len(parts) >= 4:
            uploads.setdefault((parts[1], parts[2]), []).append(stored)
    store = UploadStore(storage)
    removed = 0
    for (org_id, upload_id), files in sorted(uploads.items()):
        meta = next((f for f in files if f.key.endswith(f"/{upload_id}/{META}")), None)
        try:
            upload = store.get(org_id, upload_id)
        except NotFound:
            upload = None
        if upload is None:
            drop = all(f.modified + UPLOAD_TTL <= now for f in files)
        else:
            abandoned = upload.state != "complete" and upload.created + UPLOAD_TTL <= now
            orphan = (
                upload.state == "complete"
                and live_sources is not None
                and upload.source_id not in live_sources
                and meta is not None
                and meta.modified + ORPHAN_GRACE <= now
            )
            drop = abandoned or orphan
        if drop:
            removed += storage.delete_tree(f"{UPLOADS}/{org_id}/{upload_id}")
    return removed


def purge_expired(
    storage: Storage,
    now: datetime | None = None,
    *,
    live_sources: Collection[str] | None = None,
    bucket_ttl: timedelta = BUCKET_TTL,
) -> int:
    """Delete expired bucket files and abandoned uploads; return how many files went (synchronous I/O).

    With `live_sources` (the ids of every existing data source), the buckets and
    completed uploads of deleted sources go too, once older than ORPHAN_GRACE.
    """
    now = now or _now()
    return _purge_buckets(storage, now, live_sources, bucket_ttl) + _purge_uploads(storage, now, live_sources)


# -- the catalogue ------------------------------------------------------------------------


def _build_bypass(params: BypassParams, credentials: Credentials | None, ctx: BuildContext) -> Connector:
    return BypassConnector()


def _build_file(params: FileParams, credentials: Credentials | None, ctx: BuildContext) -> Connector:
    org_id, _ = _owner(ctx, "file")
    return FileConnector(_storage(ctx), org_id, params.upload_id, params.filename, chunk_size=ctx.chunk_size)


def _build_bucket(params: BucketParams, credentials: Credentials | None, ctx: BuildContext) -> Connector:
    org_id, source_id = _owner(ctx, "bucket")
    return BucketConnector(_storage(ctx), org_id, source_id, chunk_size=ctx.chunk_size)


FILE = Kind(
    name="file",
    title="Uploaded file",
    description="One file uploaded to the hub (POST /v1/uploads); input only. Its entries carry a signed download link valid for an hour.",
    params=FileParams,
    capabilities=FileConnector.capabilities,
    build=_build_file,
)
BUCKET = Kind(
    name="bucket",
    title="Temporary bucket",
    description="Output kept by the hub for 48 hours, each file downloadable through a signed link; output only.",
    params=BucketParams,
    capabilities=BucketConnector.capabilities,
    build=_build_bucket,
)
BYPASS = Kind(
    name="bypass",
    title="No data",
    description="A source or destination with no data, for jobs that need none: listings are empty and writes are discarded.",
    params=BypassParams,
    capabilities=BypassConnector.capabilities,
    build=_build_bypass,
)
