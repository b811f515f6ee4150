"""Files and directories of the Data API: `client.file(address)` and `client.dir(address)`.

Addresses are parsed by `headwater.addresses.parse_address` (the one parser) and turned into
URLs with every path segment percent-encoded, so names with `+`, `%`, `#` or `?` survive.
Bytes stream both ways: memory per transfer is bounded by the chunk size.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import quote

import httpx

from headwater.addresses import Address, normalise_segment, parse_address, split_parent
from headwater.client.errors import ClientError, InvalidInputError, NotFoundError, UpstreamError, invalid, unreachable
from headwater.client.transport import body_chunks, joined
from headwater.errors import InvalidInput

if TYPE_CHECKING:
    from headwater.client.transport import Transport

DEFAULT_CHUNK = 1024 * 1024
#: Entries asked for per listing page: the hub's largest (a hub that predates `limit` sends its own 1,000).
LIST_PAGE = 10_000
Uploadable = bytes | bytearray | memoryview | str | IO[bytes] | Iterable[bytes]


def to_address(address: str | Address) -> Address:
    """Parse an address with the hub's own parser; a bad one raises `InvalidInputError` (a `ValueError`)."""
    if isinstance(address, Address):
        return address
    try:
        return parse_address(address)
    except InvalidInput as exc:
        raise invalid(exc) from None


def url_of(address: Address, *, directory: bool = False) -> str:
    """`data://org/p` → `/v1/data/org/p`; `proto+label://p` → `/v1/connector/proto+label/p`."""
    base = "/v1/data" if address.hosted else f"/v1/connector/{address.protocol}+{address.label}"
    segments = [quote(s, safe="") for s in address.path.split("/")] if address.path else []
    url = "/".join([base, *segments])
    return url + "/" if directory and segments else url


def _parse_time(text: str | None) -> datetime | None:
    return _parsed_time(text) if text else None


@functools.lru_cache(maxsize=4096)
def _parsed_time(text: str) -> datetime | None:
    """A listed or sent time, parsed once per distinct text: a folder's files share few modification times."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        try:
            return parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Entry:
    """One item of a directory listing."""

    name: str
    is_dir: bool
    address: str
    size: int | None = None
    modified: datetime | None = None


@dataclass(frozen=True)
class FileInfo:
    """What `HEAD` says about an address."""

    address: str
    type: str
    size: int | None
    modified: datetime | None
    etag: str | None
    content_type: str | None

    @property
    def is_dir(self) -> bool:
        return self.type == "directory"


class Download:
    """A streamed GET: iterate it for chunks (as they arrive, at most `chunk_size` bytes each),
    ideally inside `with` so the connection is released for the next request."""

    def __init__(
        self, transport: Transport, address: Address, url: str, chunk_size: int, headers: dict[str, str]
    ) -> None:
        self._transport = transport
        self._address = address
        self._url = url
        self._headers = headers
        self.chunk_size = chunk_size
        self._response: httpx.Response | None = None

    def open(self) -> httpx.Response:
        """Send the GET; a directory (which the hub answers with a listing) raises `InvalidInputError`."""
        if self._response is None:
            response = self._transport.send("GET", self._url, stream=True, headers=self._headers)
            if response.headers.get("x-data-type") != "file":
                response.close()
                raise InvalidInputError(f"{self._address} is a directory, not a file", status=400, code="invalid_input")
            self._response = response
        return self._response

    @property
    def size(self) -> int | None:
        """The body's length, when the hub sent one."""
        length = self.open().headers.get("content-length")
        return int(length) if length and length.isdigit() else None

    def __iter__(self) -> Iterator[bytes]:
        response = self.open()
        try:
            yield from body_chunks(response, self.chunk_size)
        except httpx.TransportError as exc:
            if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
                raise UpstreamError(f"the download of {self._address} was interrupted: {exc}") from None
            raise unreachable(exc, self._transport.url) from None
        finally:
            self.close()

    def close(self) -> None:
        if self._response is not None:
            self._response.close()

    def __enter__(self) -> Download:
        self.open()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _file_chunks(handle: IO[bytes], chunk_size: int) -> Iterator[bytes]:
    while chunk := handle.read(chunk_size):
        yield chunk


def _remaining_size(handle: IO[bytes]) -> int | None:
    """How many bytes a seekable file has left to read, or None."""
    try:
        if handle.seekable():
            return os.fstat(handle.fileno()).st_size - handle.tell()
    except (OSError, AttributeError, ValueError):
        pass
    return None


class DataFile:
    """A file at an address: get, put, info, exists, delete."""

    def __init__(self, transport: Transport, address: str | Address, chunk_size: int = DEFAULT_CHUNK) -> None:
        self.address = to_address(address)
        self._transport = transport
        self.chunk_size = chunk_size
        if not self.address.path:
            raise invalid(InvalidInput(f"{self.address} is a root, not a file"))
        self.url = url_of(self.address)

    def __repr__(self) -> str:
        return f"DataFile({str(self.address)!r})"

    @property
    def name(self) -> str:
        return split_parent(self.address.path)[1]

    def get(self, start: int | None = None, end: int | None = None) -> Download:
        """Stream the file (or the byte range [start, end)) as chunks."""
        headers: dict[str, str] = {}
        if start is not None or end is not None:
            headers["Range"] = f"bytes={start or 0}-{'' if end is None else end - 1}"
        return Download(self._transport, self.address, self.url, self.chunk_size, headers)

    def get_bytes(self) -> bytes:
        with self.get() as download:
            return joined(download)

    def get_file(self, path: str | os.PathLike[str]) -> Path:
        """Download into a local file, streamed: written under a temporary name beside it, then
        renamed, so an interrupted download leaves the old file (or none) in place."""
        target = Path(path)
        temp = target.with_name(f".{target.name}.{os.getpid()}.part")
        try:
            with self.get() as download, temp.open("wb") as sink:
                for chunk in download:
                    sink.write(chunk)
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return target

    def get_text(self, encoding: str = "utf-8") -> str:
        return self.get_bytes().decode(encoding)

    def put(self, data: Uploadable, size: int | None = None) -> DataFile:
        """Write the file from bytes, a str (UTF-8), a binary file object or an iterator of chunks."""
        headers = {"Content-Type": "application/octet-stream"}
        content: bytes | Iterator[bytes]
        if isinstance(data, str):
            content = data.encode("utf-8")
        elif isinstance(data, (bytes, bytearray, memoryview)):
            content = bytes(data)
        elif hasattr(data, "read"):
            handle: IO[bytes] = data  # type: ignore[assignment]
            size = size if size is not None else _remaining_size(handle)
            content = _file_chunks(handle, self.chunk_size)
        elif isinstance(data, Iterable):
            content = iter(data)
        else:
            raise TypeError(
                f"cannot upload a {type(data).__name__}: give bytes, str, a binary file or an iterator of bytes"
            )
        if size is not None and not isinstance(content, bytes):
            headers["Content-Length"] = str(size)
        self._transport.send("PUT", self.url, content=content, headers=headers)
        return self

    def put_file(self, path: str | os.PathLike[str]) -> DataFile:
        """Upload a local file, streamed."""
        with Path(path).open("rb") as handle:
            return self.put(handle)

    def info(self) -> FileInfo:
        """`HEAD`: type, size, modification time, etag."""
        response = self._transport.send("HEAD", self.url)
        headers = response.headers
        length = headers.get("content-length")
        kind = headers.get("x-data-type", "file")
        return FileInfo(
            address=str(self.address),
            type=kind,
            size=int(length) if length and length.isdigit() and kind == "file" else None,
            modified=_parse_time(headers.get("last-modified")),
            etag=headers.get("etag"),
            content_type=headers.get("content-type"),
        )

    def exists(self) -> bool:
        """True when a file (not a directory) is at the address."""
        try:
            return not self.info().is_dir
        except NotFoundError:
            return False

    def delete(self) -> None:
        self._transport.send("DELETE", self.url)


class DataDirectory:
    """A directory at an address: list (every page), files, dirs, create, delete, exists."""

    def __init__(self, transport: Transport, address: str | Address, chunk_size: int = DEFAULT_CHUNK) -> None:
        parsed = to_address(address)
        self.address = Address(parsed.protocol, parsed.label, parsed.path, True)
        self._transport = transport
        self.chunk_size = chunk_size
        self.url = url_of(self.address, directory=True)

    def __repr__(self) -> str:
        return f"DataDirectory({str(self.address)!r})"

    @property
    def name(self) -> str:
        return split_parent(self.address.path)[1]

    def file(self, name: str) -> DataFile:
        return DataFile(self._transport, self._child(name), self.chunk_size)

    def dir(self, name: str) -> DataDirectory:
        return DataDirectory(self._transport, self._child(name), self.chunk_size)

    @staticmethod
    def _name(name: str) -> str:
        """A listed name, checked to be one path segment (a hub cannot hand out `..` or `a/b`)."""
        try:
            return normalise_segment(name)
        except InvalidInput as exc:
            raise invalid(exc) from None

    def _child(self, name: str) -> Address:
        try:
            return self.address.child(name)
        except InvalidInput as exc:
            raise invalid(exc) from None

    def list(self, page_size: int = LIST_PAGE) -> Iterator[Entry]:
        """Every entry, folders then files page by page (`page_size` entries each), following the hub's `marker`."""
        marker: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": page_size}
            if marker:
                params["marker"] = marker
            page = self._transport.json("GET", self.url, params=params) or {}
            base = str(self.address)  # a child's address is this plus its (checked) name
            for folder in page.get("folders") or []:
                yield Entry(folder["name"], True, base + self._name(folder["name"]) + "/")
            for item in page.get("files") or []:
                name = item["filename"]
                yield Entry(
                    name, False, base + self._name(name), item.get("size"), _parse_time(item.get("last_modified"))
                )
            marker = page.get("marker") or None
            if not marker:
                return

    def files(self) -> Iterator[Entry]:
        return (e for e in self.list() if not e.is_dir)

    def dirs(self) -> Iterator[Entry]:
        return (e for e in self.list() if e.is_dir)

    def exists(self) -> bool:
        """True when a directory is at the address."""
        try:
            response = self._transport.send("HEAD", self.url)
        except NotFoundError:
            return False
        return bool(response.headers.get("x-data-type", "directory") == "directory")

    def create(self, exist_ok: bool = False) -> DataDirectory:
        """Create the directory (`POST {"name": ...}` on its parent)."""
        parent, name = split_parent(self.address.path)
        if not name:
            raise invalid(InvalidInput(f"{self.address} is a root: it cannot be created"))
        parent_url = url_of(Address(self.address.protocol, self.address.label, parent))
        try:
            self._transport.send("POST", parent_url, json={"name": name})
        except ClientError as exc:
            if not (exist_ok and exc.status == 409 and self.exists()):
                raise
        return self

    def delete(self, force: bool = False) -> int:
        """Delete the directory; `force` deletes its contents too. Returns the number of files deleted."""
        params = {"force": "true"} if force else None
        body = self._transport.json("DELETE", self.url, params=params) or {}
        result = body.get("result") if isinstance(body, dict) else None
        return int(result.get("deleted", 0)) if isinstance(result, dict) else 0
