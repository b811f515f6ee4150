"""Tables as objects: a database or synthetic connection's `schema/table.parquet|.csv|.jsonl` as a file
with a size, readable by byte ranges, for the S3 front door.

A database connector generates a table's file as it reads it, so it knows no size and cannot serve
ranges, while S3 readers (DuckDB, Spark, Arrow) ask the size first and then read a Parquet file's
footer and row groups by ranges. The first read of a table file exports it whole, once, into the
hub's storage (`table-exports/`), and every read and stat of that file within
`STAGED_SECONDS` is answered from that staged copy: a reader's HEAD, footer read and row-group
reads cost one export, not one each. Concurrent first reads wait for the one export. A table read
through S3 is thus a snapshot up to `STAGED_SECONDS` old. Each process keeps its own staged copies and
drops those unread for twice that when it stages another (copies left by a stopped process stay in
the folder until it is cleaned).
Through S3 these connections are read-only: the rights of the target are narrowed to reading.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from headwater import policy
from headwater.connectors.base import PAGE_SIZE, Connector, Entry, Listing

if TYPE_CHECKING:
    from headwater.services.data import Target
    from headwater.services.hub import Hub

ROOT = "table-exports"
STAGED_SECONDS = 300.0
FORMATS = (".parquet", ".csv", ".jsonl")


@dataclass(frozen=True)
class Staged:
    """One staged export: where it lies in the hub's storage, its entry (with its size) and when it was made."""

    name: str
    entry: Entry
    made: float


_staged: dict[tuple[str, str], Staged] = {}  # by (source id, path)
_exporting: dict[tuple[str, str], asyncio.Lock] = {}


def table_file(path: str) -> bool:
    """Whether `path` names a table's exported file (as opposed to a schema or a table's description)."""
    return "/" in path and path.endswith(FORMATS)


class StagedTables(Connector):
    """A table connection whose table files are read from staged exports (stat with a size, ranged reads)."""

    def __init__(self, hub: Hub, inner: Connector, source_id: str) -> None:
        self.hub = hub
        self.inner = inner
        self.kind = inner.kind  # type: ignore[misc]
        self.source_id = source_id

    def _storage(self) -> Connector:
        return self.hub.storage.connector(ROOT, create=True, chunk_size=self.hub.settings.chunk_size)

    async def _stage(self, path: str) -> Staged:
        key = (self.source_id, path)
        found = _staged.get(key)
        if found is not None and time.monotonic() - found.made < STAGED_SECONDS:
            return found
        lock = _exporting.setdefault(key, asyncio.Lock())
        async with lock:
            found = _staged.get(key)
            if found is not None and time.monotonic() - found.made < STAGED_SECONDS:
                return found
            described = await self.inner.stat(path)
            name = f"{hashlib.sha256(f'{self.source_id}/{path}'.encode()).hexdigest()[:32]}-{secrets.token_hex(4)}"
            storage = self._storage()
            try:
                written = await storage.write(name, self.inner.read(path))
            finally:
                await storage.close()
            entry = replace(
                described,
                size=written.size,
                modified=written.modified,
                etag=hashlib.md5(name.encode(), usedforsecurity=False).hexdigest(),
            )
            staged = Staged(name, entry, time.monotonic())
            _staged[key] = staged
            if found is not None:
                await self._forget(found.name)
            await self._sweep()
            return staged

    async def _sweep(self) -> None:
        """Drop the staged copies no read has wanted for twice their lifetime (of any table)."""
        moment = time.monotonic()
        for key, old in list(_staged.items()):
            if moment - old.made > 2 * STAGED_SECONDS and not _exporting[key].locked():
                del _staged[key]
                await self._forget(old.name)

    async def _forget(self, name: str) -> None:
        storage = self._storage()
        try:
            await storage.delete(name)
        except Exception:
            pass  # a reader may still hold it open on some stores; a later clean-up of the folder takes it
        finally:
            await storage.close()

    async def check(self, *, write: bool = False) -> None:
        await self.inner.check(write=write)

    async def stat(self, path: str) -> Entry:
        if not table_file(path):
            return await self.inner.stat(path)
        return (await self._stage(path)).entry

    async def read(
        self, path: str, start: int | None = None, end: int | None = None, *, options: Mapping[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        if not table_file(path):
            async for chunk in self.inner.read(path, start, end, options=options):
                yield chunk
            return
        staged = await self._stage(path)
        storage = self._storage()
        try:
            async for chunk in storage.read(staged.name, start, end):
                yield chunk
        finally:
            await storage.close()

    async def list(self, path: str, marker: str | None = None, limit: int = PAGE_SIZE) -> Listing:
        return await self.inner.list(path, marker, limit)

    async def close(self) -> None:
        await self.inner.close()


def staged_tables(hub: Hub, target: Target) -> Target:
    """`target` on a table connection, read-only, its table files served from staged exports."""
    connector = StagedTables(hub, target.connector, target.source_id or target.address.connection)
    rights = replace(target.rights, access=policy.Access.READ)
    return replace(target, connector=connector, rights=rights)
