"""The `local` kind: a folder on the hub's own disk. Also the engine of hosted `data://` storage."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat as stat_mod
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import anyio
from pydantic import Field

from headwater.connectors.base import (
    DEFAULT_CHUNK,
    PAGE_SIZE,
    Capabilities,
    Connector,
    Credentials,
    Entry,
    Listing,
    Opened,
    Params,
    Span,
    decode_marker,
    encode_marker,
)
from headwater.connectors.kind import BuildContext, Kind
from headwater.errors import Conflict, InvalidInput, NotAFile, NotFound, UpstreamError, UpstreamPermissionDenied

PARTIAL_PREFIX = ".headwater-partial-"


class LocalParams(Params):
    """A folder on the hub's disk; only administrators may create such a source."""

    path: str = Field(description="Absolute path of the folder on the hub's machine.", min_length=1)


def _etag(st: os.stat_result) -> str:
    return '"' + hashlib.sha1(f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:20] + '"'


def _entry(name: str, st: os.stat_result, is_dir: bool) -> Entry:
    return Entry(
        name=name,
        is_dir=is_dir,
        size=None if is_dir else st.st_size,
        modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        etag=None if is_dir else _etag(st),
    )


class LocalConnector(Connector):
    """Files under one root folder; writes go through a temporary name and an atomic rename."""

    kind: ClassVar[str] = "local"
    capabilities: ClassVar[Capabilities] = Capabilities(input=True, output=True, copies=True)

    def __init__(self, root: Path | str, *, create: bool = False, chunk_size: int = DEFAULT_CHUNK) -> None:
        self.root = Path(root).resolve()
        self._root = str(self.root)
        self._inside = self._root if self._root.endswith("/") else self._root + "/"  # what paths below it start with
        self.chunk_size = chunk_size
        if create:
            self.root.mkdir(parents=True, exist_ok=True)

    def _resolved(self, path: str) -> str:
        """`path` below the root with every symlink resolved (on strings: this runs for every operation);
        `NotFound` if it leads outside the root."""
        resolved = os.path.realpath(os.path.join(self._root, path) if path else self._root)
        if resolved != self._root and not resolved.startswith(self._inside):
            raise NotFound(f"{path!r} does not exist")
        return resolved

    def real_path(self, path: str) -> str:
        """The path with every symlink resolved, relative to the root; `NotFound` if it leads outside the root."""
        resolved = self._resolved(path)
        return "" if resolved == self._root else resolved[len(self._inside) :]

    def _path(self, path: str) -> Path:
        # Paths arrive normalised; this guards against symlinks that point outside the root.
        self._resolved(path)
        return (self.root / path) if path else self.root

    async def check(self, *, write: bool = False) -> None:
        def probe() -> None:
            if not self.root.is_dir():
                raise NotFound(f"folder {str(self.root)!r} does not exist on the hub")
            if write:
                probe_file = self.root / f"{PARTIAL_PREFIX}check-{uuid.uuid4().hex}"
                try:
                    probe_file.write_bytes(b"")
                    probe_file.unlink()
                except PermissionError as exc:
                    raise UpstreamPermissionDenied(f"folder {str(self.root)!r} is not writable by the hub") from exc

        await anyio.to_thread.run_sync(probe)

    async def stat(self, path: str) -> Entry:
        target = self._path(path)

        def do() -> Entry:
            try:
                st = target.stat()
            except (FileNotFoundError, NotADirectoryError):
                raise NotFound(f"{path or '/'!r} does not exist") from None
            return _entry(target.name, st, stat_mod.S_ISDIR(st.st_mode))

        return await anyio.to_thread.run_sync(do)

    async def read(
        self, path: str, start: int | None = None, end: int | None = None, *, options: Mapping[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        # One thread hop opens the file and reads its first chunk; a short read of a regular file is its
        # end, so a small file costs one hop in all.
        target = self._path(path)
        remaining = None if end is None else end - (start or 0)

        def want() -> int:
            return self.chunk_size if remaining is None else max(0, min(self.chunk_size, remaining))

        def first() -> tuple[Any, bool, bytes]:
            try:
                handle = open(target, "rb")  # noqa: SIM115 (closed below, or by the generator's end)
            except IsADirectoryError:
                raise InvalidInput(f"{path!r} is a directory") from None
            except (FileNotFoundError, NotADirectoryError):
                raise NotFound(f"{path!r} does not exist") from None
            try:
                regular = stat_mod.S_ISREG(os.fstat(handle.fileno()).st_mode)
                if start:
                    handle.seek(start)
                size = want()
                return handle, regular, handle.read(size) if size else b""
            except BaseException:
                handle.close()
                raise

        handle, regular, chunk = await anyio.to_thread.run_sync(first)
        try:
            while chunk:
                asked = want()
                if remaining is not None:
                    remaining -= len(chunk)
                last = (remaining is not None and remaining <= 0) or (regular and len(chunk) < asked)
                yield chunk
                if last:
                    break
                chunk = await anyio.to_thread.run_sync(handle.read, want())
        finally:
            handle.close()  # a file opened for reading: closing it does no I/O worth a thread

    async def open_read(
        self, path: str, span: Span | None = None, *, options: Mapping[str, str] | None = None
    ) -> Opened:
        """Open the file once; its entry comes from the open handle, so it describes the bytes served."""
        target = self._path(path)

        def do() -> tuple[BinaryIO, os.stat_result]:
            try:
                handle = open(target, "rb")  # noqa: SIM115 - closed by the Opened's release
            except IsADirectoryError:
                raise NotAFile(f"{path or '/'!r} is a directory") from None
            except (FileNotFoundError, NotADirectoryError):
                raise NotFound(f"{path or '/'!r} does not exist") from None
            st = os.fstat(handle.fileno())
            if stat_mod.S_ISDIR(st.st_mode):
                handle.close()
                raise NotAFile(f"{path or '/'!r} is a directory")
            return handle, st

        raw, st = await anyio.to_thread.run_sync(do)
        try:
            entry = _entry(target.name if path else self.root.name, st, False)
            bounds = span.resolve(st.st_size) if span is not None else None
        except BaseException:
            raw.close()
            raise
        handle = anyio.wrap_file(raw)
        start, end = bounds if bounds is not None else (None, None)
        return Opened(entry, bounds, self._chunks(handle, start, end), release=handle.aclose)

    async def _chunks(self, handle: anyio.AsyncFile[bytes], start: int | None, end: int | None) -> AsyncIterator[bytes]:
        """The bytes of an open file in [start, end); the caller closes the handle."""
        if start:
            await handle.seek(start)
        remaining = None if end is None else end - (start or 0)
        while remaining is None or remaining > 0:
            want = self.chunk_size if remaining is None else min(self.chunk_size, remaining)
            chunk = await handle.read(want)
            if not chunk:
                break
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk

    async def write(self, path: str, chunks: AsyncIterable[bytes], size_hint: int | None = None) -> Entry:
        # Thread hops: the temporary is opened with the first chunk written, and the last chunk is written
        # with the close, the rename and the stat (the entry comes from the written file, with no stat after
        # the rename): a file of one chunk costs one hop, a longer one a hop a chunk. Waiting for the next
        # chunk before writing one holds at most one chunk.
        target = self._writable(path)
        opened: tuple[Path, Any] | None = None

        def prepare() -> tuple[Path, Any]:
            temp = self._temporary(target, path)
            return temp, open(temp, "wb")  # closed by `commit` or `discard`

        def put(chunk: bytes) -> None:
            nonlocal opened
            if opened is None:
                opened = prepare()
            opened[1].write(chunk)

        def commit(last: bytes) -> os.stat_result:
            if last or opened is None:
                put(last)
            assert opened is not None
            temp, handle = opened
            handle.close()
            written = os.stat(temp)
            os.replace(temp, target)
            return written

        def discard() -> None:
            if opened is not None:
                temp, handle = opened
                handle.close()
                temp.unlink(missing_ok=True)

        committed = False
        try:
            held = b""
            async for chunk in chunks:
                if not chunk:
                    continue
                if held:
                    await anyio.to_thread.run_sync(put, held)
                held = chunk
            written = await anyio.to_thread.run_sync(commit, held)
            committed = True
        except OSError as exc:
            raise UpstreamError(f"writing {path!r} failed: {exc.strerror}") from exc
        finally:
            if not committed:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(discard)
        return _entry(target.name, written, False)

    def _writable(self, path: str) -> Path:
        """Where a file written at `path` goes (not the root)."""
        if not path:
            raise InvalidInput("cannot write to the root of a connection: give a file name")
        return self._path(path)

    @staticmethod
    def _temporary(target: Path, path: str) -> Path:
        """A free temporary name beside `target`, its parents made: the file is renamed onto `target`
        once whole. `Conflict` when `target` is a directory or a parent a file."""
        if target.is_dir():
            raise Conflict(f"{path!r} is a directory")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise Conflict(f"a parent of {path!r} is a file") from None
        return target.parent / f"{PARTIAL_PREFIX}{uuid.uuid4().hex}"

    async def copy(self, source: str, path: str, size: int | None = None) -> Entry:
        """Copy the file on the disk (the kernel moves the bytes) to a temporary name, then rename it onto `path`."""
        origin = self._path(source)
        target = self._writable(path)

        def do() -> os.stat_result:
            if origin.is_dir():
                raise NotAFile(f"{source or '/'!r} is a directory")
            temp = self._temporary(target, path)
            try:
                shutil.copyfile(origin, temp)
                written = os.stat(temp)
                os.replace(temp, target)
                return written
            except (FileNotFoundError, NotADirectoryError):
                raise NotFound(f"{source!r} does not exist") from None
            finally:
                temp.unlink(missing_ok=True)

        try:
            written = await anyio.to_thread.run_sync(do)
        except OSError as exc:
            raise UpstreamError(f"copying {source!r} to {path!r} failed: {exc.strerror}") from exc
        return _entry(target.name, written, False)

    async def delete(self, path: str) -> None:
        target = self._path(path)

        def do() -> None:
            if target.is_dir():
                raise InvalidInput(f"{path!r} is a directory: delete it as a directory")
            try:
                target.unlink()
            except FileNotFoundError:
                raise NotFound(f"{path!r} does not exist") from None

        await anyio.to_thread.run_sync(do)

    async def list(self, path: str, marker: str | None = None, limit: int = PAGE_SIZE) -> Listing:
        target = self._path(path)
        after = decode_marker(marker)

        def do() -> Listing:
            if not target.is_dir():
                if target.exists():
                    raise InvalidInput(f"{path!r} is a file, not a directory")
                raise NotFound(f"{path or '/'!r} does not exist")
            names = sorted(n for n in os.listdir(target) if not n.startswith(PARTIAL_PREFIX))
            if after is not None:
                names = [n for n in names if n > after]
            page, rest = names[:limit], names[limit:]
            folders: list[Entry] = []
            files: list[Entry] = []
            for name in page:
                try:
                    st = (target / name).stat()
                except FileNotFoundError:
                    continue
                is_dir = stat_mod.S_ISDIR(st.st_mode)
                (folders if is_dir else files).append(_entry(name, st, is_dir))
            return Listing(folders, files, encode_marker(page[-1]) if rest else None)

        return await anyio.to_thread.run_sync(do)

    async def mkdir(self, path: str) -> None:
        target = self._path(path)

        def do() -> None:
            if target.exists():
                raise Conflict(f"{path!r} already exists")
            try:
                target.mkdir(parents=True)
            except (FileExistsError, NotADirectoryError):
                raise Conflict(f"a parent of {path!r} is a file") from None

        await anyio.to_thread.run_sync(do)

    async def rmdir(self, path: str, recursive: bool = False) -> int:
        if not path:
            raise InvalidInput("cannot remove the root of a connection")
        target = self._path(path)

        def do() -> int:
            if not target.is_dir():
                if target.exists():
                    raise InvalidInput(f"{path!r} is a file, not a directory")
                raise NotFound(f"{path!r} does not exist")
            files = sum(len([f for f in fs if not f.startswith(PARTIAL_PREFIX)]) for _, _, fs in os.walk(target))
            if not recursive and any(target.iterdir()):
                raise Conflict(f"directory {path!r} is not empty: delete it with force")
            shutil.rmtree(target)
            return files

        return await anyio.to_thread.run_sync(do)


def _build(params: LocalParams, credentials: Credentials | None, ctx: BuildContext) -> Connector:
    return LocalConnector(Path(params.path), chunk_size=ctx.chunk_size)


KIND = Kind(
    name="local",
    title="Folder on the hub",
    description="A folder on the hub's own disk. Only administrators may create one.",
    params=LocalParams,
    capabilities=LocalConnector.capabilities,
    build=_build,
    admin_only=True,
)
