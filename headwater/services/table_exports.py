"""Staged table exports: a table read as one file is exported once into the hub's storage, then served from there.

Tables (database and synthetic connections) are generated as they are read: they have no size before
the export ends and no byte ranges. S3 clients need both (a Content-Length on HEAD, the Parquet footer
by Range). So the first HEAD or GET of a table file exports it, streaming, into the hub's own storage
under `tables/<org_id>/<source_id>/v<version>/<digest of the path>.<format>` (written atomically: a
temporary name then a rename, or one object PUT), and every HEAD, GET and range is served from that
copy while it is fresh: younger than `HEADWATER_TABLE_EXPORT_TTL` seconds (60 by default) and of the
source's current version (an edited source is a new version, hence a new key). The retention duty
deletes copies older than `PURGE_AFTER` (an hour, or twice the TTL if that is longer).

Concurrent first readers wait for one export: within a process on a per-key lock, across processes
and replicas on an exclusive lock object beside the copy (its expiry written in it, so a crashed
exporter's lock is broken once it lapses). Should two exports ever race anyway, each write is atomic
and either copy is whole.

Rights are decided by the caller's target on every request (`data.Target.authorize`), before the
copy is looked at: the copy is reachable by no other route (its keys are the hub's, not a caller's).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import anyio

from headwater import policy
from headwater.addresses import Address
from headwater.connectors.base import MAX_PAGE_SIZE, Connector, Entry, Opened, Span
from headwater.connectors.databases.base import split_name
from headwater.connectors.databases.formats import CONTENT_TYPES
from headwater.connectors.storage import Storage
from headwater.errors import HeadwaterError, InvalidInput, NotFound
from headwater.services import data as data_service
from headwater.services.hub import Hub

ROOT = "tables"
#: How long an exporter holds its lock before another process may take over (an export may be long).
EXPORT_LEASE = timedelta(minutes=10)
#: How often a reader waiting on another process's export looks again.
POLL_SECONDS = 0.2
#: Copies (and locks) older than this are deleted by the retention duty (twice the TTL if that is longer).
PURGE_AFTER = timedelta(hours=1)
LOCK_SUFFIX = ".lock"

#: Exports run by this process, per (source id, table path): for tests to count, never served.
EXPORTS: Counter[tuple[str, str]] = Counter()


@dataclass(frozen=True)
class Stager:
    """Where and for how long table files are staged: the hub's storage, `HEADWATER_TABLE_EXPORT_TTL`."""

    storage: Storage
    ttl: float  # seconds a copy is served after its export ended
    chunk_size: int

    @classmethod
    def of(cls, hub: Hub) -> Stager:
        return cls(hub.storage, hub.settings.table_export_ttl, hub.settings.chunk_size)

    @property
    def purge_after(self) -> timedelta:
        """The age at which the retention duty deletes a copy: `PURGE_AFTER`, or twice the TTL if longer."""
        return max(PURGE_AFTER, timedelta(seconds=2 * self.ttl))


@dataclass(frozen=True)
class Staged:
    """Where the copy of one table file of one source version lives in the hub's storage."""

    org_id: str
    source_id: str
    version: int
    path: str  # the table file in the connection, e.g. `public/orders.parquet`
    fmt: str

    @property
    def folder(self) -> str:
        return f"{ROOT}/{self.org_id}"

    @property
    def name(self) -> str:
        """The copy's key below `folder`: the path is hashed, so no caller-given name reaches the storage."""
        digest = hashlib.sha256(self.path.encode()).hexdigest()[:32]
        return f"{self.source_id}/v{self.version}/{digest}.{self.fmt}"

    @property
    def lock(self) -> str:
        return f"{self.folder}/{self.name}{LOCK_SUFFIX}"


def table_format(path: str) -> str | None:
    """The format of a table file's path (`.csv`, `.jsonl`, `.parquet`), or None when it names no table file."""
    _, fmt = split_name(path.rsplit("/", 1)[-1])
    return fmt


def staged_of(org_id: str, target: data_service.Target) -> Staged:
    """The copy a target's table file is staged as; `NotFound` for a path that is no table file."""
    fmt = table_format(target.path)
    if fmt is None or target.address.is_dir or target.source_id is None:
        raise NotFound(f"{target.path!r} is no table file: keys are TABLE.csv, .jsonl or .parquet")
    if target.source_version is None:
        raise InvalidInput("this connection's version is unknown: its tables cannot be staged")
    return Staged(org_id, target.source_id, target.source_version, target.path, fmt)


def _now() -> datetime:
    return datetime.now(UTC)


def _fresh(entry: Entry | None, ttl: float) -> bool:
    return entry is not None and entry.modified is not None and entry.modified + timedelta(seconds=ttl) > _now()


async def _stat(staging: Connector, staged: Staged) -> Entry | None:
    try:
        return await staging.stat(staged.name)
    except NotFound:
        return None


# -- locks --------------------------------------------------------------------------------------

_local: dict[tuple[int, str], tuple[asyncio.Lock, int]] = {}


class _ProcessLock:
    """One lock per (event loop, key) in this process, dropped when nobody holds or waits for it."""

    def __init__(self, key: str) -> None:
        self.key = (id(asyncio.get_running_loop()), key)

    async def __aenter__(self) -> None:
        lock, users = _local.get(self.key) or (asyncio.Lock(), 0)
        _local[self.key] = (lock, users + 1)
        try:
            await lock.acquire()
        except BaseException:  # cancelled while waiting: no longer a user
            self._leave()
            raise

    async def __aexit__(self, *exc: object) -> None:
        _local[self.key][0].release()
        self._leave()

    def _leave(self) -> None:
        lock, users = _local[self.key]
        if users <= 1:
            del _local[self.key]
        else:
            _local[self.key] = (lock, users - 1)


def take_lock(storage: Storage, key: str) -> bool:
    """Take the cross-process lock `key`, breaking one whose holder let it lapse."""
    until = (_now() + EXPORT_LEASE).isoformat()
    if storage.create_exclusive(key, json.dumps({"until": until}).encode()):
        return True
    try:
        held = datetime.fromisoformat(json.loads(storage.read_small(key))["until"])
    except NotFound:
        return storage.create_exclusive(key, json.dumps({"until": until}).encode())
    except (ValueError, KeyError, TypeError):
        return False  # being written right now: look again
    if held > _now():
        return False
    storage.delete([key])
    return storage.create_exclusive(key, json.dumps({"until": until}).encode())


# -- staging ------------------------------------------------------------------------------------


async def _export(target: data_service.Target, staging: Connector, staged: Staged) -> Entry:
    chunks = target.connector.read(target.path)
    try:
        entry = await staging.write(staged.name, chunks)
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
    EXPORTS[(staged.source_id, staged.path)] += 1
    return entry


async def _ensure(stager: Stager, target: data_service.Target, staging: Connector, staged: Staged) -> Entry:
    """The fresh copy of the target's table file, exported now if there is none."""
    ttl = stager.ttl
    entry = await _stat(staging, staged)
    if _fresh(entry, ttl):
        assert entry is not None
        return entry
    async with _ProcessLock(f"{staged.folder}/{staged.name}"):
        waited = _now()
        while True:
            entry = await _stat(staging, staged)
            if _fresh(entry, ttl):
                assert entry is not None
                return entry
            if await anyio.to_thread.run_sync(take_lock, stager.storage, staged.lock):
                break
            if _now() - waited > EXPORT_LEASE:  # a lock that never says when it lapses
                await anyio.to_thread.run_sync(stager.storage.delete, [staged.lock])
            await anyio.sleep(POLL_SECONDS)
        try:
            entry = await _stat(staging, staged)  # another process may have finished just before
            if _fresh(entry, ttl):
                assert entry is not None
                return entry
            return await _export(target, staging, staged)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(stager.storage.delete, [staged.lock])


def _shown(entry: Entry, target: data_service.Target, staged: Staged) -> Entry:
    """The copy's entry as the table file's: its name and content type, the copy's size, time and ETag."""
    name = target.path.rsplit("/", 1)[-1]
    return replace(entry, name=name, content_type=CONTENT_TYPES[staged.fmt], extra={}, hosted=None)


def _staging(stager: Stager, staged: Staged) -> Connector:
    return stager.storage.connector(staged.folder, create=True, chunk_size=stager.chunk_size)


def _authorize(target: data_service.Target) -> None:
    target.authorize(policy.Operation.LIST)
    target.authorize(policy.Operation.READ)


async def stat(stager: Stager, org_id: str, target: data_service.Target) -> Entry:
    """The table file's entry, with a size and an ETag: from its fresh copy, exported first if need be."""
    _authorize(target)
    staged = staged_of(org_id, target)
    staging = _staging(stager, staged)
    try:
        return _shown(await _ensure(stager, target, staging, staged), target, staged)
    finally:
        await staging.close()


async def open_file(stager: Stager, org_id: str, target: data_service.Target, span: Span | None = None) -> Opened:
    """The table file opened for reading (or its `span`), from its fresh copy, exported first if need be."""
    _authorize(target)
    staged = staged_of(org_id, target)
    staging = _staging(stager, staged)
    try:
        await _ensure(stager, target, staging, staged)
        opened = await staging.open_read(staged.name, span)
    except BaseException:
        await staging.close()
        raise
    release = opened.release

    async def closing() -> None:
        try:
            if release is not None:
                await release()
        finally:
            await staging.close()

    return Opened(_shown(opened.entry, target, staged), opened.span, opened.chunks, closing)


def purge(storage: Storage, now: datetime | None = None, older_than: timedelta = PURGE_AFTER) -> int:
    """Delete staged copies and locks older than `older_than` (synchronous I/O, for the retention duty)."""
    moment = now or _now()
    gone = [found.key for found in storage.walk(ROOT) if found.modified + older_than <= moment]
    for start in range(0, len(gone), 1000):
        storage.delete(gone[start : start + 1000])
    storage.tidy(ROOT, gone)
    return len(gone)


#: A listing stages the table files it lists when at most this many of them have no fresh copy.
LISTED_EXPORTS = 32


async def _copies(staging: Connector, folder: str) -> dict[str, Entry]:
    """Every copy in a source version's folder, by name: one listing, not a request per table file."""
    copies: dict[str, Entry] = {}
    marker: str | None = None
    while True:
        try:
            page = await staging.list(folder, marker, MAX_PAGE_SIZE)
        except NotFound:
            return copies
        copies.update((entry.name, entry) for entry in page.files)
        marker = page.marker
        if marker is None:
            return copies


async def sized(
    stager: Stager, org_id: str, target: data_service.Target, listed: list[tuple[str, Entry]]
) -> list[Entry]:
    """Listed table files (key, entry) with the size, ETag and time of their copies, so a listing agrees with a GET.

    Files with a fresh copy take it; the others are staged now when they are few (`LISTED_EXPORTS`),
    else listed as the connector lists them (no size). A file the caller may not read stays as listed.
    """
    found = [entry for _, entry in listed]
    readable: list[tuple[int, data_service.Target, Staged]] = []
    for index, (key, entry) in enumerate(listed):
        if entry.is_dir:
            continue
        address = target.address
        here = replace(target, address=Address(address.protocol, address.label, key, False))
        try:
            _authorize(here)
            readable.append((index, here, staged_of(org_id, here)))
        except HeadwaterError:
            continue
    if not readable:
        return found
    ttl = stager.ttl
    staging = _staging(stager, readable[0][2])
    try:
        folder = readable[0][2].name.rsplit("/", 1)[0]
        copies = await _copies(staging, folder)
        missing: list[tuple[int, data_service.Target, Staged]] = []
        for index, here, staged in readable:
            copy = copies.get(staged.name.rsplit("/", 1)[1])
            if _fresh(copy, ttl):
                assert copy is not None
                found[index] = _shown(copy, here, staged)
            else:
                missing.append((index, here, staged))
        if len(missing) <= LISTED_EXPORTS:
            for index, here, staged in missing:
                try:
                    found[index] = _shown(await _ensure(stager, here, staging, staged), here, staged)
                except HeadwaterError:
                    continue  # gone since it was listed, say: listed as the connector listed it
    finally:
        await staging.close()
    return found
