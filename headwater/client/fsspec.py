"""The hub as an fsspec filesystem: `headwater://<connection>/<path>`.

    import fsspec, pandas as pd
    df = pd.read_csv("headwater://s3+lake/bucket/team/a.csv", storage_options={"hub_url": URL, "token": TOKEN})
    fs = fsspec.filesystem("headwater")            # HEADWATER_URL, HEADWATER_TOKEN
    fs.ls("data/.my/reports")
    duckdb.connect().register_filesystem(fs)       # then read_parquet('headwater://...')

The first path segment names the connection: `protocol+label` (`protocol` alone means the
label `default`) or `data` for the hub's hosted storage; the rest is the path inside it, so
`headwater://s3+lake/bucket/key` is the address `s3+lake://bucket/key`. Addresses are parsed
by `headwater.addresses` (through the SDK), and every operation is one or more Data API
calls made with the caller's token: the hub decides what the token may do, this layer
adds nothing and bypasses nothing.

Reads are random access through HTTP `Range` (a Parquet footer and a few column chunks cost
only those bytes; sequential readers get a growing read-ahead); writes go to a spooled
temporary file (memory bounded by the block size and `SPOOL_MEMORY`) that is uploaded as one
streamed `PUT` when the file is closed or its transaction commits. `cp_file` streams a GET
into a PUT through this client (the Data API has no server-side copy); `put_file` and
`get_file` stream whole files. Directory listings are cached briefly (see `LISTINGS_TTL`).
"""

from __future__ import annotations

import errno
import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import IO, Any, NoReturn

import httpx
from fsspec.caching import BaseCache, register_cache
from fsspec.callbacks import DEFAULT_CALLBACK, Callback
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem
from fsspec.utils import stringify_path

from headwater.addresses import Address, looks_like_address, parse_address
from headwater.client.data import DEFAULT_CHUNK, DataDirectory, DataFile, _parse_time, to_address, url_of
from headwater.client.errors import (
    ClientError,
    ConflictError,
    InvalidInputError,
    NotSupportedError,
    UnauthenticatedError,
    UpstreamError,
)
from headwater.client.sdk import Client
from headwater.client.transport import DEFAULT_TIMEOUT, body_chunks, joined
from headwater.errors import InvalidInput

PROTOCOL = "headwater"
HOSTED = "data"
#: The block size: the write buffer, and the least a long sequential read fetches ahead.
READ_BLOCK = 4 * 1024 * 1024
#: The first read-ahead once reads turn out sequential; it doubles up to `SEQUENTIAL_READAHEAD`.
FIRST_READAHEAD = 64 * 1024
#: The most a long sequential read fetches ahead (at least the block size): fewer, larger GETs
#: keep a file read front to back near the speed of one streamed GET.
SEQUENTIAL_READAHEAD = 16 * 1024 * 1024
#: Seconds a directory listing answers `ls`/`info`/`isdir` before the hub is asked again.
#: This process's own writes drop the listings they touch at once; `use_listings_cache=False`
#: turns the cache off and `refresh=True` bypasses it for one call.
LISTINGS_TTL = 5.0
#: Bytes a file being written keeps in memory before its spool moves to disk.
SPOOL_MEMORY = 8 * 1024 * 1024

Info = dict[str, Any]


def _oserror(cls: type[OSError], code: int, path: str, cause: BaseException | None = None) -> OSError:
    message = f"{os.strerror(code)}: {cause}" if cause is not None else os.strerror(code)
    return cls(code, message, path)


class HeadwaterFileSystem(AbstractFileSystem):
    """Every connection of a hub, and its hosted data, as one fsspec filesystem.

    `url` and `token` default to `HEADWATER_URL` and `HEADWATER_TOKEN` (fsspec's own
    configuration, such as `FSSPEC_HEADWATER_TOKEN`, fills them for `fsspec.filesystem`).
    `hub_url` is another name for `url`, for callers such as pandas that pass storage options
    through `fsspec.core.url_to_fs(url, **options)`, whose own first parameter is `url`.
    Listings are cached for `listings_expiry_time` seconds (default 5).
    """

    protocol = PROTOCOL
    root_marker = ""
    blocksize = READ_BLOCK

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        hub_url: str | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        chunk_size: int = DEFAULT_CHUNK,
        **storage_options: Any,
    ) -> None:
        storage_options.setdefault("listings_expiry_time", LISTINGS_TTL)
        super().__init__(**storage_options)
        self._url = url or hub_url
        self._token = token
        self._timeout = timeout
        self.chunk_size = chunk_size
        self._pid = os.getpid()
        self._hub = Client(self._url, token, timeout=timeout, chunk_size=chunk_size)

    # -- plumbing

    @property
    def hub(self) -> Client:
        """The SDK client (a fresh one in a forked child: connections are not shared across processes)."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._hub = Client(self._url, self._token, timeout=self._timeout, chunk_size=self.chunk_size)
        return self._hub

    @property
    def fsid(self) -> str:
        return f"{PROTOCOL}-{self.hub.url}"

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        """`headwater://c/p` → `c/p`; a hub address `proto+label://p` or `data://p` is accepted too."""
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        text = stringify_path(path)
        if looks_like_address(text) and not text.startswith(PROTOCOL + "://"):
            text = text.replace("://", "/", 1)  # a hub address: `s3+lake://b/k` is `s3+lake/b/k`
        text = super()._strip_protocol(text).lstrip("/")
        # The connection segment in its normal form (`S3+lake` → `s3+lake`), by the one address parser.
        connection, slash, rest = text.partition("/")
        if connection:
            try:
                address = parse_address(f"{connection}://")
            except InvalidInput:
                return text  # left for `_address` to refuse with the parser's reason
            text = (address.protocol if "+" not in connection else address.connection) + slash + rest
        return text

    def unstrip_protocol(self, name: str) -> str:
        return name if name.startswith(PROTOCOL + "://") else f"{PROTOCOL}://{name}"

    def _address(self, path: str, *, directory: bool = False) -> Address:
        """The hub address of a filesystem path (parsed by the one address parser)."""
        path = self._strip_protocol(path)
        connection, _, rest = path.partition("/")
        if not connection:
            raise ValueError("the root of the filesystem lists connections: it is not an address")
        address = to_address(f"{connection}://{rest}")
        if directory and not address.is_dir:
            address = Address(address.protocol, address.label, address.path, True)
        return address

    def _file(self, path: str) -> DataFile:
        address = self._address(path)
        if not address.path:
            raise _oserror(IsADirectoryError, errno.EISDIR, path)
        return self.hub.file(address)

    def _dir(self, path: str) -> DataDirectory:
        return self.hub.dir(self._address(path))

    @contextmanager
    def _errors(self, path: str) -> Iterator[None]:
        """Authentication failures become `PermissionError`; other hub errors pass through."""
        try:
            yield
        except UnauthenticatedError as exc:
            raise _oserror(PermissionError, errno.EACCES, path, exc) from exc

    # -- metadata

    def _root_listing(self) -> list[Info]:
        entries = [{"name": HOSTED, "size": 0, "type": "directory"}]
        with self._errors(""):
            for source in self.hub.sources.list():
                entries.append({"name": f"{source['protocol']}+{source['label']}", "size": 0, "type": "directory"})
        return entries

    def info(self, path: str, refresh: bool = False, **kwargs: Any) -> Info:
        """Name, type, size and mtime, from a fresh listing of the parent or else a `HEAD`
        (which adds the etag and content type)."""
        path = self._strip_protocol(path)
        if path == "":
            return {"name": "", "size": 0, "type": "directory"}
        if not refresh:
            cached = self._ls_from_cache(path)  # FileNotFoundError when a fresh parent listing lacks it
            if cached is not None:
                found = [entry for entry in cached if entry["name"] == path]
                return dict(found[0]) if found else {"name": path, "size": 0, "type": "directory"}
        address = self._address(path)
        url = url_of(address, directory=address.is_dir)
        try:
            with self._errors(path):
                headers = self.hub._transport.send("HEAD", url).headers
        except NotSupportedError:
            if address.path:
                raise
            # A connection that names no bucket cannot describe its root, but it is a directory.
            return {"name": path, "size": 0, "type": "directory", "mtime": None}
        kind = headers.get("x-data-type", "file")
        length = headers.get("content-length")
        info: Info = {
            "name": path,
            "size": int(length) if kind == "file" and length and length.isdigit() else 0,
            "type": "directory" if kind == "directory" else "file",
            "mtime": _parse_time(headers.get("last-modified")),
        }
        if kind == "file":
            info["etag"] = headers.get("etag")
            info["content_type"] = headers.get("content-type")
        return info

    def ls(self, path: str, detail: bool = True, refresh: bool = False, **kwargs: Any) -> list[Any]:
        """The entries of a directory (every page), or `[info]` of a file, as fsspec does."""
        path = self._strip_protocol(path)
        entries = None if refresh else self._cached_listing(path)
        if entries is None:
            entries = self._root_listing() if path == "" else self._list(path)
        return [dict(e) for e in entries] if detail else [e["name"] for e in entries]

    def _cached_listing(self, path: str) -> list[Info] | None:
        """A fresh cached listing of `path`, `[info]` when a cached parent listing shows it is a file, or None."""
        try:
            return list(self.dircache[path])
        except KeyError:
            pass
        found = self._ls_from_cache(path)  # FileNotFoundError when a fresh parent listing lacks it
        if found and found[0]["type"] == "file":
            return list(found)
        return None

    def _list(self, path: str) -> list[Info]:
        directory = self._dir(path)
        entries: list[Info] = []
        try:
            with self._errors(path):
                for entry in directory.list():
                    name = posixpath.join(path, entry.name)
                    # Whole seconds, as HEAD's Last-Modified says: info() is the same from either.
                    mtime = entry.modified.replace(microsecond=0) if entry.modified else None
                    if entry.is_dir:
                        entries.append({"name": name, "size": 0, "type": "directory", "mtime": mtime})
                    else:
                        entries.append({"name": name, "size": entry.size or 0, "type": "file", "mtime": mtime})
        except InvalidInputError:
            info = self.info(path, refresh=True)  # the hub refuses to list a file: show the file itself
            if info["type"] == "file":
                return [info]
            raise
        self.dircache[path] = entries
        return entries

    def invalidate_cache(self, path: str | None = None) -> None:
        """Forget the listings of `path`, of everything below it and of its parents."""
        if path is None:
            self.dircache.clear()
            return
        path = self._strip_protocol(path)
        for key in list(self.dircache):
            if key == path or key.startswith(path + "/"):
                self.dircache.pop(key, None)
        while path:
            path = self._parent(path)
            self.dircache.pop(path, None)

    def created(self, path: str) -> datetime:
        """Not available: the Data API reports a modification time only."""
        raise NotImplementedError("the hub reports no creation time; use modified()")

    def modified(self, path: str) -> datetime:
        mtime = self.info(path).get("mtime")
        if mtime is None:
            raise NotImplementedError(f"the hub reports no modification time for {path}")
        return mtime

    def ukey(self, path: str) -> str:
        info = self.info(path, refresh=True)
        return str(info.get("etag") or (info["size"], info.get("mtime")))

    # -- directories

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Create a directory (one `POST`); FileExistsError when the name is taken."""
        path = self._strip_protocol(path)
        address = self._address(path)
        if not address.path:
            raise _oserror(FileExistsError, errno.EEXIST, path)
        if not create_parents:
            parent = self._parent(path)
            if not self.isdir(parent):
                raise _oserror(FileNotFoundError, errno.ENOENT, parent)
        self.invalidate_cache(path)
        try:
            with self._errors(path):
                self.hub.dir(address).create()
        except ConflictError as exc:
            if self.exists(path):
                raise _oserror(FileExistsError, errno.EEXIST, path, exc) from exc
            raise _oserror(NotADirectoryError, errno.ENOTDIR, path, exc) from exc

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Create a directory and its parents. With `exist_ok` (as `fsspec.open` asks for a file's
        parent before writing it), an existing directory costs one `HEAD`, or nothing when cached."""
        path = self._strip_protocol(path)
        if exist_ok:
            try:
                if self.info(path)["type"] == "directory":
                    return
                raise _oserror(FileExistsError, errno.EEXIST, path)
            except FileNotFoundError:
                pass
        try:
            self.mkdir(path, create_parents=True)
        except FileExistsError:
            if not (exist_ok and self.isdir(path)):
                raise

    def rmdir(self, path: str) -> None:
        """Remove an empty directory."""
        path = self._strip_protocol(path)
        if self.isfile(path):
            raise _oserror(NotADirectoryError, errno.ENOTDIR, path)
        self._delete(path, recursive=False)

    def rm_file(self, path: str) -> None:
        path = self._strip_protocol(path)
        if self.isdir(path):
            raise _oserror(IsADirectoryError, errno.EISDIR, path)
        self._delete(path, recursive=False)

    def _rm(self, path: str) -> None:
        self.rm_file(path)

    def rm(self, path: str | list[str], recursive: bool = False, maxdepth: int | None = None) -> None:
        """Delete files and directories: one `DELETE` each (`?force=true` removes a whole tree).

        Without `recursive`, a directory is removed only when it is empty (OSError ENOTEMPTY otherwise).
        """
        if maxdepth is not None:
            for p in reversed(self.expand_path(path, recursive=recursive, maxdepth=maxdepth)):
                self._delete(p, recursive=False)
            return
        paths = self.expand_path(path, recursive=False)
        # Deepest first, so that a directory's listed children go before it.
        for p in sorted(paths, key=lambda p: -p.count("/")):
            try:
                self._delete(p, recursive)
            except FileNotFoundError:
                if not recursive:
                    raise  # with recursive, it went with a directory deleted before it

    def _delete(self, path: str, recursive: bool) -> None:
        """`DELETE` a file or a directory (the hub tells which)."""
        address = self._address(path)
        if not address.path:
            raise _oserror(PermissionError, errno.EPERM, path, ValueError("the root of a connection cannot be removed"))
        self.invalidate_cache(path)
        try:
            with self._errors(path):
                self.hub._transport.send("DELETE", url_of(address), params={"force": "true"} if recursive else None)
        except ConflictError as exc:
            raise _oserror(OSError, errno.ENOTEMPTY, path, exc) from exc

    # -- reading and writing

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> HeadwaterFile:
        path = self._strip_protocol(path)
        if mode == "xb" and self._exists_now(path):
            raise _oserror(FileExistsError, errno.EEXIST, path)
        return HeadwaterFile(
            self, path, mode, block_size or self.blocksize, autocommit, cache_options=cache_options, **kwargs
        )

    def _get(self, path: str, start: int | None = None, end: int | None = None) -> bytes:
        """One GET of the file or of the byte range [start, end)."""
        if start is not None and end is not None and end <= start:
            return b""
        headers: dict[str, str] = {}
        if start or end is not None:
            headers["Range"] = f"bytes={start or 0}-{'' if end is None else end - 1}"
        data = self._file(path)
        try:
            with self._errors(path):
                response = self.hub._transport.send("GET", data.url, stream=True, headers=headers)
        except ClientError as exc:
            if exc.status == 416:
                return b""
            raise
        try:
            if response.headers.get("x-data-type") != "file":
                raise _oserror(IsADirectoryError, errno.EISDIR, path)
            with self._errors(path):
                body = joined(_Download(response, self.chunk_size, path))
        finally:
            response.close()
        if response.status_code == 200 and headers:  # the hub sent the whole file: cut the range here
            body = body[start or 0 : end]
        return body

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        path = self._strip_protocol(path)
        if (start is not None and start < 0) or (end is not None and end < 0):
            size = self.info(path)["size"]
            start = max(0, size + start) if start is not None and start < 0 else start
            end = max(0, size + end) if end is not None and end < 0 else end
        return self._get(path, start, end)

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        if mode == "create" and self._exists_now(path):
            raise _oserror(FileExistsError, errno.EEXIST, path)
        self._put(path, lambda f: f.put(bytes(value)))

    def _exists_now(self, path: str) -> bool:
        """Whether anything is at `path`, asking the hub (no cached listing) for an exclusive create.

        The Data API has no conditional PUT: "x" modes check, then write (not atomic)."""
        try:
            self.info(path, refresh=True)
        except FileNotFoundError:
            return False
        return True

    def _put(self, path: str, upload: Callable[[DataFile], object]) -> None:
        """Run an upload, turning the hub's conflicts into the errors a filesystem raises."""
        data = self._file(path)
        self.invalidate_cache(path)
        try:
            with self._errors(path):
                upload(data)
        except ConflictError as exc:
            if self.isdir(path):
                raise _oserror(IsADirectoryError, errno.EISDIR, path, exc) from exc
            raise _oserror(NotADirectoryError, errno.ENOTDIR, path, exc) from exc
        finally:
            self.invalidate_cache(path)

    def _stream_from(self, path: str, start: int) -> Iterator[bytes]:
        """The file's bytes from `start` to its end, as one streamed GET (closed with the generator)."""
        data = self._file(path)
        with self._errors(path):
            response = self.hub._transport.send(
                "GET", data.url, stream=True, headers={"Range": f"bytes={start}-"} if start else {}
            )
        try:
            skip = start if response.status_code == 200 else 0  # the hub sent the whole file: skip to `start`
            with self._errors(path):
                for piece in _Download(response, self.chunk_size, path):
                    if skip >= len(piece):
                        skip -= len(piece)
                        continue
                    yield piece[skip:] if skip else piece
                    skip = 0
        finally:
            response.close()

    @contextmanager
    def _download(self, path: str) -> Iterator[_Download | None]:
        """A streamed GET of a file, or None when the path is a directory."""
        data = self._file(path)
        with self._errors(path):
            response = self.hub._transport.send("GET", data.url, stream=True)
        try:
            yield _Download(response, self.chunk_size, path) if response.headers.get("x-data-type") == "file" else None
        finally:
            response.close()

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Copy through the client: the download streams straight into the upload (no server-side copy)."""
        path1, path2 = self._strip_protocol(path1), self._strip_protocol(path2)
        with self._download(path1) as download:
            if download is not None:
                self._put(path2, lambda f: f.put(iter(download), size=download.size))
                return
        self.makedirs(path2, exist_ok=True)

    def put_file(
        self, lpath: str, rpath: str, callback: Callback = DEFAULT_CALLBACK, mode: str = "overwrite", **kwargs: Any
    ) -> None:
        """Upload a local file as one streamed PUT (a local directory becomes a directory)."""
        rpath = self._strip_protocol(rpath)
        if mode == "create" and self._exists_now(rpath):
            raise _oserror(FileExistsError, errno.EEXIST, rpath)
        if os.path.isdir(lpath):
            self.makedirs(rpath, exist_ok=True)
            return
        size = os.path.getsize(lpath)
        callback.set_size(size)
        with open(lpath, "rb") as handle:
            self._put(rpath, lambda f: f.put(_counted(handle, self.chunk_size, callback), size=size))

    def get_file(
        self,
        rpath: str,
        lpath: Any,
        callback: Callback = DEFAULT_CALLBACK,
        outfile: IO[bytes] | None = None,
        **kwargs: Any,
    ) -> None:
        """Download a file as one streamed GET (a directory becomes a local directory)."""
        rpath = self._strip_protocol(rpath)
        if outfile is None and hasattr(lpath, "write"):
            outfile = lpath
        with self._download(rpath) as download:
            if download is None:
                if outfile is not None:
                    raise _oserror(IsADirectoryError, errno.EISDIR, rpath)
                os.makedirs(lpath, exist_ok=True)
                return
            callback.set_size(download.size)
            if outfile is not None:
                _copy(download, outfile, callback)
                return
            os.makedirs(os.path.dirname(os.path.abspath(lpath)), exist_ok=True)
            with open(lpath, "wb") as sink:
                _copy(download, sink, callback)

    def sign(self, path: str, expiration: int = 100, **kwargs: Any) -> NoReturn:
        raise NotImplementedError("the hub issues no signed URLs: share a narrowed token instead")


class _Download:
    """The body of a streamed GET, chunk by chunk; a broken stream raises `UpstreamError`."""

    def __init__(self, response: httpx.Response, chunk_size: int, path: str) -> None:
        self.response = response
        self.chunk_size = chunk_size
        self.path = path
        length = response.headers.get("content-length")
        self.size = int(length) if length and length.isdigit() else None

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from body_chunks(self.response, self.chunk_size)
        except httpx.TransportError as exc:
            raise UpstreamError(f"the download of {self.path} was interrupted: {exc}") from None


def _counted(handle: IO[bytes], chunk_size: int, callback: Callback) -> Iterator[bytes]:
    while chunk := handle.read(chunk_size):
        callback.relative_update(len(chunk))
        yield chunk


def _copy(chunks: Any, sink: IO[bytes], callback: Callback) -> None:
    for chunk in chunks:
        sink.write(chunk)
        callback.relative_update(len(chunk))


class SequentialReadahead(BaseCache):
    """Fetch exactly what is asked for, and read ahead only while the reads are sequential.

    A Parquet or DuckDB reader jumping between column chunks gets each range as asked
    (no block of extra bytes per jump); a CSV parser reading on from where it stopped
    gets a read-ahead that doubles from 64 KiB up to 16 MiB (or the block size). Once the
    read-ahead is at its ceiling, a file read front to back is read from one streamed GET of
    the rest of the file (`stream`), as a download is: no request per span, no span joined to
    the last one's tail; a jump elsewhere ends that GET. Holds one span.
    """

    name = "hw-sequential"

    def __init__(
        self,
        blocksize: int,
        fetcher: Callable[[int, int], bytes],
        size: int,
        stream: Callable[[int], Iterator[bytes]] | None = None,
        **_: Any,
    ) -> None:
        super().__init__(blocksize, fetcher, size)
        self.cache = b""
        self.start = 0
        self.end = 0
        self.readahead = 0
        self._opens = stream
        self._stream: Iterator[bytes] | None = None

    def _fetch(self, start: int | None, end: int | None) -> bytes:
        start = 0 if start is None else start
        end = self.size if end is None else min(end, self.size)
        if start >= end:
            return b""
        if self.start <= start and end <= self.end:
            self.hit_count += 1
            return self.cache[start - self.start : end - self.start]
        self.miss_count += 1
        sequential = self.start <= start <= self.end and self.end > 0
        if not sequential:
            self.close()
        ceiling = max(self.blocksize, SEQUENTIAL_READAHEAD)
        self.readahead = min(max(2 * self.readahead, FIRST_READAHEAD), ceiling) if sequential else 0
        kept = self.cache[start - self.start :] if sequential else b""
        if sequential and self._opens is not None and self.readahead >= ceiling:
            return self._streamed(start, end, kept)
        first = self.end if sequential else start
        stop = min(self.size, end + self.readahead)
        fetched = self.fetcher(first, stop)
        self.total_requested_bytes += stop - first
        self.cache = kept + fetched
        self.start, self.end = start, start + len(self.cache)
        return self.cache[: end - start]

    def _streamed(self, start: int, end: int, kept: bytes) -> bytes:
        """[start, end) from the streamed GET (opened at the span's end); what came beyond `end` is kept."""
        assert self._opens is not None
        if self._stream is None:
            self._stream = self._opens(self.end)
        pieces, held, wanted = [kept], len(kept), end - start
        while held < wanted:
            piece = next(self._stream, None)
            if piece is None:
                break
            self.total_requested_bytes += len(piece)
            pieces.append(piece)
            held += len(piece)
        beyond = max(0, held - wanted)
        if beyond:
            last = pieces[-1]
            pieces[-1], tail = last[: len(last) - beyond], last[len(last) - beyond :]
        else:
            tail = b""
        out = b"".join(pieces)
        self.cache, self.start, self.end = tail, start + len(out), start + len(out) + len(tail)
        return out

    def close(self) -> None:
        """End the streamed GET, if one is open (a jump elsewhere, or the file closed)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()  # type: ignore[attr-defined]


register_cache(SequentialReadahead, clobber=True)


class HeadwaterFile(AbstractBufferedFile):
    """A file of the hub: ranged GETs for reading; for writing, a spool uploaded on commit."""

    fs: HeadwaterFileSystem

    def __init__(
        self,
        fs: HeadwaterFileSystem,
        path: str,
        mode: str = "rb",
        block_size: int = READ_BLOCK,
        autocommit: bool = True,
        cache_type: str = SequentialReadahead.name,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if mode not in {"rb", "wb", "xb", "ab"}:
            raise ValueError(f"mode {mode!r} is not supported: use rb, wb, xb or ab")
        self._spool: IO[bytes] | None = None
        if mode == "rb":
            info = fs.info(path, refresh=True)
            if info["type"] != "file":
                raise _oserror(IsADirectoryError, errno.EISDIR, path)
            kwargs.setdefault("size", info["size"])
            self._details = info
            if cache_type == SequentialReadahead.name:
                cache_options = {"stream": partial(fs._stream_from, path), **(cache_options or {})}
        super().__init__(
            fs, path, mode, block_size, autocommit, cache_type=cache_type, cache_options=cache_options, **kwargs
        )
        if mode == "ab":
            self._start_spool()
            try:
                fs.get_file(path, None, outfile=self._spool)
            except FileNotFoundError:
                pass
            assert self._spool is not None
            self.loc = self._spool.tell()

    def close(self) -> None:
        if isinstance(getattr(self, "cache", None), SequentialReadahead):
            self.cache.close()
        super().close()

    def _fetch_range(self, start: int, end: int) -> bytes:
        if start >= self.size:
            return b""
        return self.fs._get(self.path, start, min(end, self.size))

    def _start_spool(self) -> None:
        if self._spool is None:
            # Held open for the file object's life and closed with it, so no with block.
            self._spool = tempfile.SpooledTemporaryFile(max_size=max(SPOOL_MEMORY, self.blocksize))  # noqa: SIM115

    def _initiate_upload(self) -> None:
        self._start_spool()

    def _upload_chunk(self, final: bool = False) -> bool:
        assert self._spool is not None
        self.buffer.seek(0)
        shutil.copyfileobj(self.buffer, self._spool)
        if final and self.autocommit:
            self.commit()
        return True

    def commit(self) -> None:
        """Upload the spooled bytes as one streamed PUT."""
        if self._spool is None:
            self._start_spool()
        spool = self._spool
        assert spool is not None
        size = spool.tell()
        spool.seek(0)
        try:
            self.fs._put(self.path, lambda f: f.put(_counted(spool, self.fs.chunk_size, DEFAULT_CALLBACK), size=size))
        finally:
            self.discard()

    def discard(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None
