"""Kinds whose bytes the hub keeps itself: `file` (an upload), `bucket` (temporary output), `bypass` (none).

Layout under the hub's data dir:

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
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Collection, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import anyio
from pydantic import Field, field_validator

from headwater.addresses import join, normalise_segment
from headwater.connectors.base import DEFAULT_CHUNK, PAGE_SIZE, Capabilities, Connector, Credentials, Entry, HostedFile, Listing, Params
from headwater.connectors.kind import BuildContext, Kind
from headwater.connectors.local import PARTIAL_PREFIX, LocalConnector
from headwater.errors import Conflict, InvalidInput, NotFound, NotSupported
from headwater.times import iso

UPLOADS = "uploads"
BUCKETS = "buckets"
BUCKET_TTL = timedelta(hours=48)
FILE_LINK_TTL = timedelta(hours=1)
UPLOAD_TTL = timedelta(hours=24)  # an upload not completed within this is abandoned
ORPHAN_GRACE = timedelta(hours=1)  # files of a deleted source are kept at least this long
MAX_PARTS = 10_000
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _data_dir(ctx: BuildContext) -> Path:
    return ctx.data_dir if ctx.data_dir is not None else ctx.hosted_dir.parent


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

    def __init__(self, data_dir: Path, org_id: str, upload_id: str, filename: str, *, chunk_size: int = DEFAULT_CHUNK, link_ttl: timedelta = FILE_LINK_TTL) -> None:
        self.filename = filename
        self.link_path = f"{UPLOADS}/{org_id}/{upload_id}/data/{filename}"
        self.link_ttl = link_ttl
        self._local = LocalConnector(data_dir / UPLOADS / org_id / upload_id / "data", chunk_size=chunk_size)

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
            entry = await self._local.stat(path)
        except NotFound:
            raise NotFound(f"the uploaded file {self.filename!r} is missing from the hub") from None
        return replace(entry, hosted=HostedFile(self.link_path, _now() + self.link_ttl))

    async def read(
        self, path: str, start: int | None = None, end: int | None = None, *, options: Mapping[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        self._own(path)
        async for chunk in self._local.read(path, start, end):
            yield chunk

    async def list(self, path: str, marker: str | None = None, limit: int = PAGE_SIZE) -> Listing:
        if path:
            self._own(path)
            raise InvalidInput(f"{path!r} is a file, not a directory")
        return Listing([], [] if marker else [await self.stat(self.filename)])


# -- bucket (temporary output) --------------------------------------------------------


class BucketParams(Params):
    """No parameters: a temporary bucket lives in the hub, one per data source."""


class BucketConnector(LocalConnector):
    """Files kept by the hub for BUCKET_TTL after they are written, each with a signed download link."""

    kind: ClassVar[str] = "bucket"
    capabilities: ClassVar[Capabilities] = Capabilities(input=False, output=True)

    def __init__(self, data_dir: Path, org_id: str, source_id: str, *, chunk_size: int = DEFAULT_CHUNK, ttl: timedelta = BUCKET_TTL) -> None:
        super().__init__(data_dir / BUCKETS / org_id / source_id, create=True, chunk_size=chunk_size)
        self.link_root = f"{BUCKETS}/{org_id}/{source_id}"
        self.ttl = ttl

    def _expires(self, entry: Entry) -> datetime:
        return (entry.modified or _now()) + self.ttl

    def _linked(self, path: str, entry: Entry) -> Entry:
        if entry.is_dir:
            return entry
        return replace(entry, hosted=HostedFile(f"{self.link_root}/{path}", self._expires(entry)))

    async def stat(self, path: str) -> Entry:
        entry = await super().stat(path)
        if not entry.is_dir and self._expires(entry) <= _now():
            raise NotFound(f"{path!r} has expired")
        return self._linked(path, entry)

    async def list(self, path: str, marker: str | None = None, limit: int = PAGE_SIZE) -> Listing:
        page = await super().list(path, marker, limit)
        now = _now()
        files = [self._linked(join(path, f.name), f) for f in page.files if self._expires(f) > now]
        return Listing(page.folders, files, page.marker)


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
    folder: Path = field(default=Path("."), repr=False)

    @property
    def data_file(self) -> Path:
        return self.folder / "data" / self.filename

    @property
    def link_path(self) -> str:
        return f"{UPLOADS}/{self.org_id}/{self.id}/data/{self.filename}"

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.created_at.replace("Z", "+00:00"))


async def _stream_to(path: Path, chunks: AsyncIterable[bytes]) -> tuple[int, str]:
    """Write a stream to `path` through a temporary name; return its size and SHA-256."""
    temp = path.parent / f"{PARTIAL_PREFIX}{uuid.uuid4().hex}"
    digest = hashlib.sha256()
    size = 0
    done = False
    try:
        async with await anyio.open_file(temp, "wb") as handle:
            async for chunk in chunks:
                if chunk:
                    digest.update(chunk)
                    size += len(chunk)
                    await handle.write(chunk)
        await anyio.to_thread.run_sync(os.replace, temp, path)
        done = True
    finally:
        if not done:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(lambda: temp.unlink(missing_ok=True))
    return size, digest.hexdigest()


class UploadStore:
    """Uploads of one hub: create, receive parts or a whole body, assemble, discard."""

    def __init__(self, data_dir: Path, chunk_size: int = DEFAULT_CHUNK) -> None:
        self.root = data_dir / UPLOADS
        self.chunk_size = chunk_size

    def create(self, org_id: str, filename: str, **fields: Any) -> Upload:
        upload = Upload(id=uuid.uuid4().hex, org_id=org_id, filename=check_filename(filename), created_at=iso(_now()), **fields)
        upload.folder = self.root / org_id / upload.id
        (upload.folder / "parts").mkdir(parents=True)
        (upload.folder / "data").mkdir()
        self.save(upload)
        return upload

    def get(self, org_id: str, upload_id: str) -> Upload:
        """The upload with this id in this organization; `NotFound` otherwise (other organizations' included)."""
        folder = self.root / org_id / upload_id
        try:
            if not _UPLOAD_ID.fullmatch(upload_id):
                raise FileNotFoundError
            raw = json.loads((folder / "meta.json").read_text())
        except (FileNotFoundError, NotADirectoryError, ValueError):
            raise NotFound(f"upload {upload_id!r} does not exist") from None
        return Upload(**raw, folder=folder)

    def save(self, upload: Upload) -> None:
        fields = asdict(upload)
        fields.pop("folder")
        temp = upload.folder / f"{PARTIAL_PREFIX}meta-{uuid.uuid4().hex}"
        temp.write_text(json.dumps(fields))
        os.replace(temp, upload.folder / "meta.json")

    def parts(self, upload: Upload) -> list[Part]:
        found = []
        for path in (upload.folder / "parts").glob("[0-9]" * 5):
            found.append(Part(int(path.name), path.stat().st_size))
        return sorted(found, key=lambda p: p.number)

    async def write_part(self, upload: Upload, number: int, chunks: AsyncIterable[bytes]) -> Part:
        """Store part `number` (1-based); sending a part again replaces it."""
        if upload.state != "open":
            raise Conflict(f"upload {upload.id!r} is {upload.state}: it takes no more parts")
        if not 1 <= number <= MAX_PARTS:
            raise InvalidInput(f"part number {number} is out of range: use 1 to {MAX_PARTS}")
        size, digest = await _stream_to(upload.folder / "parts" / f"{number:05d}", chunks)
        return Part(number, size, digest)

    async def write_whole(self, upload: Upload, chunks: AsyncIterable[bytes]) -> int:
        """Store the file in one piece and mark the upload assembled."""
        size, _ = await _stream_to(upload.data_file, chunks)
        upload.state, upload.size = "assembled", size
        await anyio.to_thread.run_sync(self.save, upload)
        return size

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
        lock = upload.folder / "completing"
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise Conflict(f"upload {upload.id!r} is already being completed") from None
        os.close(fd)
        try:
            size = await anyio.to_thread.run_sync(self._concatenate, upload, parts)
            upload.state, upload.size = "assembled", size
            await anyio.to_thread.run_sync(self.save, upload)
        finally:
            lock.unlink(missing_ok=True)
        shutil.rmtree(upload.folder / "parts", ignore_errors=True)
        return size

    def _concatenate(self, upload: Upload, parts: list[Part]) -> int:
        temp = upload.data_file.parent / f"{PARTIAL_PREFIX}{uuid.uuid4().hex}"
        try:
            with temp.open("wb") as out:
                for part in parts:
                    with (upload.folder / "parts" / f"{part.number:05d}").open("rb") as src:
                        shutil.copyfileobj(src, out, self.chunk_size)
            os.replace(temp, upload.data_file)
        finally:
            temp.unlink(missing_ok=True)
        return upload.data_file.stat().st_size

    def discard(self, upload: Upload) -> None:
        shutil.rmtree(upload.folder, ignore_errors=True)


# -- purging ------------------------------------------------------------------------------


def _older(path: Path, age: timedelta, now: datetime) -> bool:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc) + age <= now
    except FileNotFoundError:
        return False


def _purge_bucket(root: Path, ttl: timedelta, now: datetime, everything: bool) -> int:
    """Delete the expired files of one bucket (all of them if `everything`), then its emptied folders."""
    removed = 0
    emptied: set[Path] = set()
    for folder, _, files in os.walk(root, topdown=False):
        here = Path(folder)
        for name in files:
            if everything or _older(here / name, ttl, now):
                (here / name).unlink(missing_ok=True)
                removed += 1
                emptied.add(here)
        if here != root and (here in emptied or _older(here, ttl, now)) and not any(here.iterdir()):
            here.rmdir()
            emptied.add(here.parent)
    if everything:
        shutil.rmtree(root, ignore_errors=True)
    return removed


def purge_expired(
    data_dir: Path,
    now: datetime | None = None,
    *,
    live_sources: Collection[str] | None = None,
    bucket_ttl: timedelta = BUCKET_TTL,
) -> int:
    """Delete expired bucket files and abandoned uploads; return how many files went.

    With `live_sources` (the ids of every existing data source), the buckets and
    completed uploads of deleted sources go too, once older than ORPHAN_GRACE.
    """
    now = now or _now()
    removed = 0
    for org in sorted((data_dir / BUCKETS).glob("*")):
        for bucket in sorted(org.glob("*")):
            orphan = live_sources is not None and bucket.name not in live_sources and _older(bucket, ORPHAN_GRACE, now)
            removed += _purge_bucket(bucket, bucket_ttl, now, orphan)
    store = UploadStore(data_dir)
    for folder in sorted((data_dir / UPLOADS).glob("*/*")):
        try:
            upload = store.get(folder.parent.name, folder.name)
        except NotFound:
            if _older(folder, UPLOAD_TTL, now):
                removed += sum(len(files) for _, _, files in os.walk(folder))
                shutil.rmtree(folder, ignore_errors=True)
            continue
        abandoned = upload.state != "complete" and upload.created + UPLOAD_TTL <= now
        orphan = (
            upload.state == "complete"
            and live_sources is not None
            and upload.source_id not in live_sources
            and _older(folder / "meta.json", ORPHAN_GRACE, now)
        )
        if abandoned or orphan:
            removed += sum(len(files) for _, _, files in os.walk(folder))
            store.discard(upload)
    return removed


# -- the catalogue ------------------------------------------------------------------------


def _build_bypass(params: BypassParams, credentials: Credentials | None, ctx: BuildContext) -> Connector:
    return BypassConnector()


def _build_file(params: FileParams, credentials: Credentials | None, ctx: BuildContext) -> Connector:
    org_id, _ = _owner(ctx, "file")
    return FileConnector(_data_dir(ctx), org_id, params.upload_id, params.filename, chunk_size=ctx.chunk_size)


def _build_bucket(params: BucketParams, credentials: Credentials | None, ctx: BuildContext) -> Connector:
    org_id, source_id = _owner(ctx, "bucket")
    return BucketConnector(_data_dir(ctx), org_id, source_id, chunk_size=ctx.chunk_size)


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
