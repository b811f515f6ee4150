"""What runs on a Dask worker: some partitions (`run_partitions`) or a job's assembly (`run_assembly`).

Task arguments are only a hub key (a hash naming the hub, no secret), a job id, a
partition index and the job's generation. The worker finds the hub itself: in the
embedded cluster's threads it is the hub's own object; in worker processes it is
opened (`Hub.open`) with the settings the hub handed them when it started them (or, on an
existing cluster, those of the workers' own HEADWATER_* environment). Credentials never travel
in a task, so none can show in Dask's dashboard, logs or task repr.

All partitions of a process share one event loop (a blocking portal), so opened
connections are reused across partitions of the same job.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

import anyio
from anyio.from_thread import BlockingPortal
from sqlalchemy.engine import make_url

from headwater import policy
from headwater.addresses import join
from headwater.connectors.base import Entry
from headwater.connectors.local import LocalConnector
from headwater.errors import HeadwaterError
from headwater.services import data
from headwater.services.hub import Hub
from headwater.services.jobs import apps, assemblers, cleanup, records
from headwater.services.jobs.inputs import PartitionInput, RandomFile
from headwater.services.jobs.planning import RowRangeSource, at
from headwater.services.jobs.rights import side_caller
from headwater.services.jobs.selection import destination as parse_destination
from headwater.services.jobs.selection import select as parse_source
from headwater.services.jobs.spec import JobIdentity, JobState, PartitionSpec, PartState
from headwater.services.jobs.streams import Meter, leaf
from headwater.settings import Settings
from headwater.store.models import Job, JobPartition, now

CHECK_EVERY = 0.25
CACHED_JOBS = 16


class Interrupted(Exception):
    """The job was canceled, or the hub is stopping, or a newer driver took the job over."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def hub_key(settings: Settings) -> str:
    """A name for a hub that carries no secret: a hash of where its bytes live and its database URL sans
    password. Replicas whose storage is one object store are one hub whatever their data dirs, so the
    workers of a shared cluster serve tasks of every replica."""
    url = make_url(settings.database_url).render_as_string(hide_password=True)
    where = settings.storage.url if settings.storage.bucket else str(settings.data_dir.resolve())
    return hashlib.sha256(f"{where}|{url}".encode()).hexdigest()[:24]


_hubs: dict[str, Hub] = {}
_stopping: set[str] = set()
_lock = threading.Lock()


def register_hub(hub: Hub) -> str:
    key = hub_key(hub.settings)
    with _lock:
        _hubs[key] = hub
        _stopping.discard(key)
    return key


def stopping(key: str, value: bool = True) -> None:
    """Mark a hub as stopping: running partitions of this process stop at their next chunk."""
    with _lock:
        if value:
            _stopping.add(key)
        else:
            _stopping.discard(key)


def forget_hub(key: str) -> None:
    with _lock:
        _hubs.pop(key, None)
    _contexts.drop(key)


def worker_hub(key: str) -> Hub:
    """The hub a task belongs to, opened with the settings this process was handed when it is not here already."""
    with _lock:
        found = _hubs.get(key)
        if found is not None:
            return found
        settings = Settings.inherited()
        if hub_key(settings) != key:
            raise RuntimeError(
                "this Dask worker is configured for another hub: give it the hub's HEADWATER_* environment"
            )
        hub = _hubs[key] = Hub.open(settings, migrate=False)  # the hub that started this worker migrated the store
        return hub


_portal: BlockingPortal | None = None
_portal_manager: Any = None  # kept: the portal stops when its context manager is collected


def portal() -> BlockingPortal:
    """The process's event loop for job work, started on first use."""
    global _portal, _portal_manager
    with _lock:
        if _portal is None:
            _portal_manager = anyio.from_thread.start_blocking_portal()
            _portal = _portal_manager.__enter__()
        return _portal


@dataclass
class JobContext:
    """A job as a worker runs it: its rows' settings and its two narrowed, opened targets."""

    hub: Hub
    key: str
    job_id: str
    generation: int
    app: apps.App
    app_params: dict[str, Any]
    assembler: str
    assembler_params: dict[str, Any]
    source: data.Target
    destination: data.Target
    running_since: datetime
    _checked: float = 0.0
    _state: tuple[str | None, int] = field(default=(None, 0))

    async def check(self, wanted: JobState = JobState.RUNNING) -> None:
        """Raise `Interrupted` when the job should stop; reads SQL at most every CHECK_EVERY seconds."""
        if self.key in _stopping:
            raise Interrupted("stopped")
        if time.monotonic() - self._checked >= CHECK_EVERY or self._state[0] != wanted:
            self._state = await anyio.to_thread.run_sync(records.job_state, self.hub.store, self.job_id)
            self._checked = time.monotonic()
        state, generation = self._state
        if state == JobState.CANCELED or state is None:
            raise Interrupted("canceled")
        if generation > self.generation:
            raise Interrupted("superseded")
        if state != wanted:
            raise Interrupted("canceled" if state in (JobState.FAILED, JobState.CANCELED) else "stopped")

    async def close(self) -> None:
        for target in (self.source, self.destination):
            try:
                await target.close()
            except Exception:
                pass


class Contexts:
    """Opened job contexts of this process, the most recent CACHED_JOBS kept."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[str, str, int], JobContext] = OrderedDict()
        self._opening: dict[tuple[str, str, int], anyio.Event] = {}

    async def get(self, hub: Hub, key: str, job_id: str, generation: int) -> JobContext:
        ident = (key, job_id, generation)
        while ident in self._opening:
            await self._opening[ident].wait()
        found = self._items.get(ident)
        if found is not None:
            self._items.move_to_end(ident)
            return found
        event = self._opening[ident] = anyio.Event()
        try:
            context = await _open_context(hub, key, job_id, generation)
            self._items[ident] = context
            while len(self._items) > CACHED_JOBS:
                _, old = self._items.popitem(last=False)
                await old.close()
            return context
        finally:
            del self._opening[ident]
            event.set()

    def drop(self, key: str) -> None:
        for ident in [i for i in self._items if i[0] == key]:
            self._items.pop(ident, None)


_contexts = Contexts()


async def _open_context(hub: Hub, key: str, job_id: str, generation: int) -> JobContext:
    def load() -> Job:
        with hub.store.session() as session:
            job = session.get(Job, job_id)
            if job is None:
                raise Interrupted("canceled")
            return job

    job = await anyio.to_thread.run_sync(load)
    identity = JobIdentity.from_json(job.caller)
    selection = parse_source(job.source, identity.org_name)
    source = await data.open_target(hub, side_caller(identity, "source"), selection.base)
    destination = await data.open_target(
        hub, side_caller(identity, "destination"), parse_destination(job.destination, identity.org_name)
    )
    return JobContext(
        hub,
        key,
        job_id,
        generation,
        apps.get(job.app),
        dict(job.app_params or {}),
        job.assembler,
        dict(job.assembler_params or {}),
        source,
        destination,
        records.running_since(job),
    )


def safe_message(exc: BaseException) -> str:
    """An error as a job's log may show it: typed errors carry vetted messages; others are cut short."""
    exc = leaf(exc)
    if isinstance(exc, HeadwaterError):
        return exc.message
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:1000] if not isinstance(exc, apps.AppFailed) else text[:2000]


def _input(context: JobContext, spec: PartitionSpec, meter: Meter) -> PartitionInput:
    path = join(context.source.address.path, spec.path) if spec.path else context.source.address.path
    source = at(context.source, path)

    async def chunks() -> AsyncIterator[bytes]:
        connector = source.connector
        if spec.rows is not None and isinstance(connector, RowRangeSource):
            source.authorize(policy.Operation.READ)
            async for chunk in meter.wrap(connector.read_rows(source.path, *spec.rows), context.check):
                yield chunk
            return
        if spec.header is not None and spec.header[1] > spec.header[0]:
            async for chunk in meter.wrap(await data.read(source, *spec.header), context.check):
                yield chunk
        async for chunk in meter.wrap(await data.read(source, spec.start, spec.end), context.check):
            yield chunk

    async def metered(start: int, end: int) -> AsyncIterator[bytes]:
        return meter.wrap(await data.read(source, start, end), context.check)

    async def random() -> RandomFile:
        size = spec.size if spec.size is not None else (await data.stat(source)).size or 0
        return RandomFile(metered, size)

    name = spec.path or PurePosixPath(context.source.address.path).name
    return PartitionInput(name, spec.format, chunks, random, spec.row_groups)


async def _execute(context: JobContext, part: JobPartition) -> tuple[Entry, Meter, Meter]:
    spec = PartitionSpec.from_json(part.spec)
    meter_in, meter_out = Meter(), Meter(digest=True)
    staged = assemblers.staged(context.assembler)
    if staged:
        staging = LocalConnector(cleanup.staging_dir(context.hub.settings.data_dir, context.job_id), create=True)
        name = f"{part.index:06d}"

        async def write(chunks: AsyncIterator[bytes]) -> Entry:
            return await staging.write(name, meter_out.wrap(chunks, context.check))

        read_back = None

        async def delete() -> None:
            await staging.delete(name)
    else:
        output = at(context.destination, join(context.destination.address.path, part.output))

        async def write(chunks: AsyncIterator[bytes]) -> Entry:
            return await data.write(output, meter_out.wrap(chunks, context.check), spec.expected_size)

        async def back() -> AsyncIterator[bytes]:
            async for chunk in await data.read(output):
                yield chunk

        read_back = back if output.rights.readable and output.rights.access == policy.Access.READ_WRITE else None

        async def delete() -> None:
            await data.delete_file(output)

    app_context = apps.AppContext(
        input=_input(context, spec, meter_in),
        params=context.app_params,
        write=write,
        chunk_size=context.hub.settings.chunk_size,
        expected_size=spec.expected_size,
        read_back=read_back,
        delete_output=delete,
        settings=context.hub.settings,
    )
    entry = await context.app.run(app_context)
    return entry, meter_in, meter_out


async def _partitions(hub: Hub, key: str, job_id: str, indexes: list[int], generation: int) -> list[dict[str, Any]]:
    """Run some partitions of a job one after another: one store read to load them, one write to claim
    them all, one write to record all their outcomes (a worker killed in between costs a rerun of
    the task's partitions, whose outputs are rewritten atomically under the same names)."""
    store = hub.store
    parts = await anyio.to_thread.run_sync(records.load_partitions, store, job_id, indexes)
    statuses: dict[int, dict[str, Any]] = {i: {"status": "missing"} for i in indexes}
    todo = []
    for part in parts:
        if part.state == PartState.DONE:
            statuses[part.index] = {"status": "done", "again": True}
        else:
            todo.append(part)
    if not todo:
        return [statuses[i] for i in indexes]
    try:
        context = await _contexts.get(hub, key, job_id, generation)
        await context.check()
    except Interrupted as exc:
        return [statuses[i] if i not in {p.index for p in todo} else {"status": exc.reason} for i in indexes]
    started = now()
    claims = [
        records.Change(
            p.index,
            (PartState.PENDING, PartState.RUNNING),
            PartState.RUNNING,
            {"attempts": p.attempts + 1, "started_at": started, "error": None},
            ("warning", f"partition {p.index}: attempt {p.attempts + 1} (an earlier attempt did not finish)")
            if p.attempts
            else None,
        )
        for p in todo
    ]
    claimed = await anyio.to_thread.run_sync(records.apply, store, job_id, claims)
    outcomes: list[records.Change] = []
    stop: Interrupted | None = None
    for part in todo:
        index = part.index
        if index not in claimed:
            statuses[index] = {"status": "skipped"}
            continue
        if stop is None:
            try:
                await context.check()
            except Interrupted as exc:
                stop = exc
        if stop is not None:  # not started: back to where a later attempt (or the cleanup) finds it
            back = PartState.CANCELED if stop.reason == "canceled" else PartState.PENDING
            outcomes.append(records.Change(index, (PartState.RUNNING,), back, {}))
            statuses[index] = {"status": stop.reason}
            continue
        change, statuses[index] = await _one(context, part)
        outcomes.append(change)
        if statuses[index]["status"] in ("stopped", "superseded", "canceled"):
            stop = Interrupted(statuses[index]["status"])
    await anyio.to_thread.run_sync(records.apply, store, job_id, outcomes)
    return [statuses[i] for i in indexes]


async def _one(context: JobContext, part: JobPartition) -> tuple[records.Change, dict[str, Any]]:
    """Run one claimed partition; the change that records its outcome, and its status for the driver."""
    index = part.index
    try:
        try:
            entry, meter_in, meter_out = await _execute(context, part)
        except BaseExceptionGroup as group_error:
            raise leaf(group_error) from None
    except Interrupted as exc:
        back = PartState.CANCELED if exc.reason == "canceled" else PartState.PENDING
        return records.Change(index, (PartState.RUNNING,), back, {}), {"status": exc.reason}
    except Exception as exc:
        message = safe_message(exc)
        change = records.Change(
            index,
            (PartState.RUNNING,),
            PartState.FAILED,
            {"error": message, "finished_at": now()},
            ("error", f"partition {index} failed: {message}"),
        )
        return change, {"status": "failed", "error": message}
    size = entry.size if entry.size is not None else meter_out.bytes
    change = records.Change(
        index,
        (PartState.RUNNING, PartState.PENDING),
        PartState.DONE,
        {"bytes_in": meter_in.bytes, "bytes_out": size, "sha256": meter_out.sha256, "finished_at": now()},
    )
    return change, {"status": "done", "bytesIn": meter_in.bytes, "bytesOut": size}


async def _assembly(hub: Hub, key: str, job_id: str, generation: int) -> dict[str, Any]:
    try:
        context = await _contexts.get(hub, key, job_id, generation)
        await context.check(JobState.ASSEMBLING)
    except Interrupted as exc:
        return {"status": exc.reason}
    done = await anyio.to_thread.run_sync(lambda: records.partitions(hub.store, job_id, [PartState.DONE]))
    try:
        folder = cleanup.staging_dir(hub.settings.data_dir, job_id)
        parts = [assemblers.Part(p.index, p.output, folder / f"{p.index:06d}") for p in done]
        meter = Meter(digest=True)

        async def write(name: str, chunks: AsyncIterator[bytes]) -> Entry:
            target = at(context.destination, join(context.destination.address.path, name))
            checked = meter.wrap(chunks, lambda: context.check(JobState.ASSEMBLING))
            return await data.write(target, checked)

        entry = await assemblers.assemble(
            context.assembler, context.assembler_params, parts, write, hub.settings.chunk_size
        )
        name = assemblers.final_name(context.assembler, context.assembler_params, parts)
        outputs: list[dict[str, Any]] = [
            {"name": name, "size": entry.size if entry.size is not None else meter.bytes, "sha256": meter.sha256}
        ]
        await anyio.to_thread.run_sync(cleanup.remove_staging, hub.settings.data_dir, job_id)
        swept = await cleanup.sweep_partials(context.destination, [name], context.running_since)
    except Interrupted as exc:
        return {"status": exc.reason}
    except Exception as exc:
        return {"status": "failed", "error": safe_message(exc)}
    return {"status": "done", "outputs": outputs, "swept": swept}


def run_partitions(key: str, job_id: str, indexes: list[int], generation: int) -> list[dict[str, Any]]:
    """Dask task: run some partitions (several small ones share a task); a small status dict for each."""
    hub = worker_hub(key)
    return portal().call(_partitions, hub, key, job_id, list(indexes), generation)


def run_partition(key: str, job_id: str, index: int, generation: int) -> dict[str, Any]:
    """Dask task: run one partition; its completion marks it done in SQL. Returns a small status dict."""
    return run_partitions(key, job_id, [index], generation)[0]


def warm(key: str) -> int:
    """Open the hub and import what partitions use, so a serving hub's first job pays neither."""
    import pyarrow.csv
    import pyarrow.parquet  # noqa: F401

    worker_hub(key)
    portal()
    return os.getpid()


def run_assembly(key: str, job_id: str, generation: int) -> dict[str, Any]:
    """Dask task: assemble a staged job's partitions into its output and remove what killed attempts
    left (a pass-through job's driver lists its outputs itself: there is nothing to assemble)."""
    hub = worker_hub(key)
    return portal().call(_assembly, hub, key, job_id, generation)
