"""The interface every kind of connection implements, and the shapes it returns.

A connector receives plain, already-decrypted configuration in its constructor and
is the only code that talks to the outside system. It knows nothing of HTTP,
tokens or the store; it raises the typed errors of `headwater.errors`.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from headwater.errors import InvalidInput, NotAFile, NotSupported, RangeNotSatisfiable

DEFAULT_CHUNK = 1024 * 1024
#: Entries per listing page unless the caller asks otherwise (Algorithmia's page size).
PAGE_SIZE = 1000
#: The largest listing page a caller may ask for.
MAX_PAGE_SIZE = 10_000


@dataclass(frozen=True)
class Capabilities:
    """What a kind can do: be read from (input), be written to (output), run read-only SQL (queries),
    copy a file within the connection without its bytes passing through the hub (copies), take a
    multipart upload part by part on the backend itself (parts: the `*_parts` methods)."""

    input: bool = True
    output: bool = True
    queries: bool = False
    copies: bool = False
    parts: bool = False


@dataclass(frozen=True)
class PartsUpload:
    """A multipart upload begun on the backend (`Connector.begin_parts`): where it writes and the backend's
    own id of it. The hub keeps it beside its own upload id and never shows it to a client."""

    bucket: str
    key: str
    upload_id: str


@dataclass(frozen=True)
class UploadedPart:
    """One part of a backend multipart upload: its number, the backend's ETag (unquoted), size and time."""

    number: int
    etag: str
    size: int
    modified: datetime | None = None


@dataclass(frozen=True)
class HostedFile:
    """A file the hub keeps in its own data dir (an upload, a temporary bucket's output): its path
    there, and until when it may be handed out. The services sign links to it from this."""

    path: str
    expires_at: datetime


@dataclass(frozen=True)
class Entry:
    """One file or directory as a connector sees it."""

    name: str
    is_dir: bool
    size: int | None = None
    modified: datetime | None = None
    etag: str | None = None
    content_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    hosted: HostedFile | None = None


@dataclass(frozen=True)
class Listing:
    """One page of a directory: folders and files, and the marker of the next page (or None)."""

    folders: list[Entry]
    files: list[Entry]
    marker: str | None = None


@dataclass(frozen=True)
class Span:
    """A byte range as a client asks for it, before the file's size is known.

    `[start, end)` (`end` None: to the end of the file), or the last `suffix` bytes.
    """

    start: int = 0
    end: int | None = None
    suffix: int | None = None

    def resolve(self, size: int) -> tuple[int, int]:
        """The range as [start, end) within a file of `size` bytes; `RangeNotSatisfiable` if it selects nothing."""
        if self.suffix is not None:
            if self.suffix == 0 or size == 0:
                raise RangeNotSatisfiable(f"the last {self.suffix} bytes of an empty range or file", size)
            return max(0, size - self.suffix), size
        end = size if self.end is None else min(self.end, size)
        if self.start >= size or end <= self.start:
            raise RangeNotSatisfiable(
                f"the range starting at byte {self.start} is outside the file's {size} bytes", size
            )
        return self.start, end

    @property
    def header(self) -> str:
        """The range as an HTTP `Range` header value."""
        if self.suffix is not None:
            return f"bytes=-{self.suffix}"
        return f"bytes={self.start}-{'' if self.end is None else self.end - 1}"


@dataclass
class Opened:
    """A file opened for reading by one backend request: its entry (the whole file's size), the
    range being served (None: all of it) and its bytes. `aclose` releases it, read to the end or not."""

    entry: Entry
    span: tuple[int, int] | None
    chunks: AsyncIterator[bytes]
    release: Callable[[], Awaitable[None]] | None = None

    async def aclose(self) -> None:
        closer = getattr(self.chunks, "aclose", None)
        try:
            if closer is not None:
                await closer()
        finally:
            if self.release is not None:
                release, self.release = self.release, None
                await release()


@dataclass(frozen=True)
class Credentials:
    """Decrypted credentials handed to a connector: the secret's access key and its values."""

    access_key: str | None = None
    values: dict[str, str] = field(default_factory=dict)

    @property
    def secret_key(self) -> str | None:
        return self.values.get("secretKey")

    def __repr__(self) -> str:  # never print a credential, even in a traceback
        return f"Credentials(access_key={'set' if self.access_key else None}, values=[{len(self.values)} hidden])"

    __str__ = __repr__


class Params(BaseModel):
    """Base of every kind's connection parameters: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def encode_marker(value: str) -> str:
    """An opaque page marker for a position (the last name returned)."""
    return base64.urlsafe_b64encode(value.encode()).decode()


def decode_marker(marker: str | None) -> str | None:
    if not marker:
        return None
    try:
        return base64.urlsafe_b64decode(marker.encode() + b"=" * (-len(marker) % 4)).decode()
    except Exception as exc:
        raise InvalidInput("marker is not one this hub returned") from exc


class Connector(ABC):
    """One open connection of some kind. Paths are normalised and relative to the connection's root."""

    kind: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: The read options (e.g. a table's `columns`, `limit`) this kind accepts; others are never passed.
    read_options: ClassVar[frozenset[str]] = frozenset()
    #: Whether one instance may serve many requests at once and be kept between them (the hub caches it).
    reusable: ClassVar[bool] = True

    def real_path(self, path: str) -> str:
        """Where `path` really leads, relative to the root: kinds with links (a local folder) resolve them.

        Rights are decided on this path too, so a link cannot lead past the path restrictions.
        """
        return path

    @abstractmethod
    async def check(self, *, write: bool = False) -> None:
        """Prove the connection works (and, with `write`, that writes are allowed); raise a typed error if not."""

    @abstractmethod
    async def stat(self, path: str) -> Entry:
        """The entry at `path`; `NotFound` if there is none."""

    @abstractmethod
    def read(
        self, path: str, start: int | None = None, end: int | None = None, *, options: Mapping[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        """Stream the bytes of the file at `path`, optionally the range [start, end).

        `options` is passed only with names in `read_options`, so kinds without any need not accept it.
        """

    async def open_read(
        self, path: str, span: Span | None = None, *, options: Mapping[str, str] | None = None
    ) -> Opened:
        """Open the file at `path` (or its `span`) for reading: its entry and its bytes, together.

        `NotAFile` when `path` is a directory, `NotFound` when nothing is there, `RangeNotSatisfiable`
        when the span selects nothing. This default asks `stat` and then `read`; kinds whose backend
        answers a read with the file's metadata override it to make one request.
        """
        entry = await self.stat(path)
        if entry.is_dir:
            raise NotAFile(f"{path or '/'!r} is a directory")
        bounds = span.resolve(entry.size) if span is not None and entry.size is not None else None
        start, end = bounds if bounds is not None else (None, None)
        chunks = self.read(path, start, end, options=options) if options else self.read(path, start, end)
        return Opened(entry, bounds, chunks)

    async def write(self, path: str, chunks: AsyncIterable[bytes], size_hint: int | None = None) -> Entry:
        """Store the streamed bytes at `path` atomically: all of them, or nothing on failure."""
        raise NotSupported(f"kind {self.kind!r} cannot be written to")

    async def copy(self, source: str, path: str, size: int | None = None) -> Entry | None:
        """Copy the file at `source` to `path` within this connection, its bytes never passing through
        the hub (a server-side copy), atomically as `write`: the new file's entry.

        None when this copy cannot be made so (the kind has no such copy, or not between these two
        paths): the caller streams the bytes with `open_read` and `write` instead. `size` is the
        source's, when the caller knows it. Kinds whose capabilities declare `copies` implement it.
        """
        return None

    async def begin_parts(self, path: str) -> PartsUpload:
        """Begin a multipart upload of the file at `path` on the backend. Kinds whose capabilities declare
        `parts` implement the `*_parts` methods; the bytes of each part go to the backend once, and
        nothing is visible at `path` until `complete_parts`."""
        raise NotSupported(f"kind {self.kind!r} takes no multipart uploads of its own")

    async def put_part(
        self,
        path: str,
        upload: PartsUpload,
        number: int,
        chunks: AsyncIterable[bytes],
        size: int,
        md5: str | None = None,
    ) -> UploadedPart:
        """Stream part `number` (`size` bytes; `md5` the client's base64 `Content-MD5`, if any) to the upload."""
        raise NotSupported(f"kind {self.kind!r} takes no multipart uploads of its own")

    async def list_parts(self, path: str, upload: PartsUpload) -> list[UploadedPart]:
        """The parts uploaded so far, in number order."""
        raise NotSupported(f"kind {self.kind!r} takes no multipart uploads of its own")

    async def complete_parts(self, path: str, upload: PartsUpload, parts: Sequence[tuple[int, str]]) -> Entry:
        """Join the named parts (number, ETag) into the file at `path`, atomically; its entry."""
        raise NotSupported(f"kind {self.kind!r} takes no multipart uploads of its own")

    async def abort_parts(self, path: str, upload: PartsUpload) -> None:
        """Abort the upload: the backend drops its parts."""
        raise NotSupported(f"kind {self.kind!r} takes no multipart uploads of its own")

    async def delete(self, path: str) -> None:
        """Delete the file at `path`."""
        raise NotSupported(f"kind {self.kind!r} cannot delete")

    @abstractmethod
    async def list(self, path: str, marker: str | None = None, limit: int = PAGE_SIZE) -> Listing:
        """One page of the directory at `path`, folders and files sorted by name."""

    async def scan(self, path: str, marker: str | None = None, limit: int = PAGE_SIZE) -> AsyncIterator[Listing]:
        """One page of the directory at `path` in pieces, as the backend yields them; the last piece holds the marker.

        Errors about the directory itself (`NotFound`, a file) come before the first piece. Files come
        in name order across pieces; folders may come in any order. This default yields `list`'s page whole.
        """
        yield await self.list(path, marker, limit)

    async def list_root(
        self, named: Sequence[str] | None, marker: str | None = None, limit: int = PAGE_SIZE
    ) -> AsyncIterator[Listing]:
        """The root's listing in pieces, as `scan`. `named` is the root entries the path restrictions name
        (None when they reach entries they do not name); kinds whose root holds containers that cannot
        all be listed (the buckets of an S3 endpoint) may list just those."""
        async for piece in self.scan("", marker, limit):
            yield piece

    def query(self, sql: str, fmt: str, limit: int | None = None) -> AsyncGenerator[bytes, None]:
        """Stream the result of one read-only statement as `fmt` (csv, jsonl, parquet): kinds whose
        capabilities declare `queries` implement it."""
        raise NotSupported(f"kind {self.kind!r} cannot run queries")

    async def mkdir(self, path: str) -> None:
        raise NotSupported(f"kind {self.kind!r} has no directories to create")

    async def rmdir(self, path: str, recursive: bool = False) -> int:
        """Remove the directory at `path`; return the number of files deleted. Non-empty needs `recursive`."""
        raise NotSupported(f"kind {self.kind!r} has no directories to remove")

    async def close(self) -> None:  # noqa: B027 - a hook: most kinds hold nothing to release
        """Release whatever the connection holds."""
