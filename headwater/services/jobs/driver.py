"""Inside the hub: the engine that drives jobs through their states, one driver thread per job.

A driver holds a lease on its job in SQL (valid HEADWATER_JOBS_LEASE_SECONDS, 30 by
default, renewed six times a lease), so several hub replicas never drive the same job. Looking
for orphans (active jobs no driver holds, or whose lease lapsed: their replica died) is a duty
(`store.duties`, RECOVERY): one replica at a time scans, at its start and every heartbeat after,
and drives what it finds; when it dies another takes the duty over. A hub that stopped cleanly
releases its leases and the duty at once. Taking a job over bumps its generation, so tasks of
an older driver stand down; only unfinished partitions are submitted again, and a partition's
output is committed once (`runner`).

With an external cluster (HEADWATER_DASK_SCHEDULER) every process of every replica drives the
jobs started through it on that cluster. With the embedded cluster, of the worker processes of
`serve --workers N` only the one that owns the jobs lock (`ownership`) drives jobs (N clusters
would oversubscribe the machine); it scans every POLL, so a job started through another worker
begins at once. The others' engines are passive: they only clean up after jobs canceled while
no driver held them.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import anyio
from sqlalchemy import delete, insert, or_, select, update

from headwater.services import data
from headwater.services.hub import Hub
from headwater.services.jobs import apps, assemblers, cleanup, planning, records, runner
from headwater.services.jobs.executor import Batch, DaskExecutor, Executor, ExecutorConfig, Handle
from headwater.services.jobs.ownership import Ownership
from headwater.services.jobs.rights import side_caller
from headwater.services.jobs.selection import destination as parse_destination
from headwater.services.jobs.selection import select as parse_source
from headwater.services.jobs.spec import ACTIVE, JobIdentity, JobState, PartState
from headwater.store import duties
from headwater.store.database import rows_changed
from headwater.store.models import Job, JobPartition, now

log = logging.getLogger("headwater.jobs")
HEARTBEAT = 5.0  # at most; a lease is renewed six times before it lapses
RECOVERY = "jobs-recovery"  # the duty of looking for orphaned jobs
POLL = 0.5
SETTLE = 30.0
ROUNDS = 3
TASK_BYTES = 32 * 1024 * 1024  # partitions smaller than this share tasks, up to this many bytes a task
TASK_PARTITIONS = 32
TASKS_PER_SLOT = 2
ROW_BYTES = 100  # a guess of a row's size, for partitions that are row ranges


class Stopped(Exception):
    """The engine is stopping (or another driver took the job): leave the job as it is."""


class JobFailed(Exception):
    """The job cannot finish; the message is what its error shows."""


class Engine:
    """The jobs machinery of one hub: an executor (started on first need) and its drivers."""

    def __init__(self, hub: Hub, config: ExecutorConfig | None = None, shared: bool = False) -> None:
        self.hub = hub
        self.shared = shared  # one of several worker processes: drives jobs only once it owns the lock
        self.active = not shared
        self.ownership: Ownership | None = None
        self.config = config or ExecutorConfig.of(hub.settings.dask)  # a test may choose another
        self.lease = timedelta(seconds=hub.settings.jobs_lease_seconds)
        self.heartbeat = min(HEARTBEAT, hub.settings.jobs_lease_seconds / 6)
        # the recovery duty outlives a few rounds of its holder, and lapses well within a job's lease
        self.recovery_lease = max(self.lease / 2, timedelta(seconds=3 * (POLL if shared else self.heartbeat)))
        self.id = str(uuid.uuid4())
        self.key = runner.register_hub(hub)
        self._executor: Executor | None = None
        self._lock = threading.Lock()
        self._starting = threading.Lock()  # held while the executor starts (seconds), apart from `_lock`
        self._drivers: dict[str, threading.Thread] = {}
        self._recovering = False  # this replica held the recovery duty at its last heartbeat
        self._stop = threading.Event()
        self._keeper = threading.Thread(target=self._keep, name="headwater-jobs", daemon=True)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        if not self.active:
            return
        self._keeper.start()
        if self.config.warm:
            threading.Thread(target=self._warm, name="headwater-jobs-warm", daemon=True).start()

    def activate(self) -> None:
        """This process now owns the jobs lock: start driving (unless the hub is stopping)."""
        with self._lock:
            if self.active or self._stop.is_set():
                return
            self.active = True
        self.start()

    def _warm(self) -> None:
        """Start the executor and ready its workers now, so that no job waits for either."""
        try:
            self.executor.everywhere(runner.warm, self.key)
        except Stopped:
            pass
        except Exception as exc:
            log.warning(
                "the jobs executor did not start at hub start (a job will try again): %s", runner.safe_message(exc)
            )

    @property
    def executor(self) -> Executor:
        with self._starting:
            if self._stop.is_set():
                raise Stopped("the hub is stopping")
            if self._executor is None:
                self._executor = DaskExecutor(self.config, self.hub.settings)
            return self._executor

    def stop(self) -> None:
        """Stop driving: running partitions stop at their next chunk; leases are released for another hub."""
        self._stop.set()
        runner.stopping(self.key)
        for thread in list(self._drivers.values()):
            thread.join(timeout=SETTLE)
        if self._keeper.is_alive():
            self._keeper.join(timeout=self.heartbeat + 1)
        with self.hub.store.session() as session:
            session.execute(update(Job).where(Job.driver_id == self.id).values(driver_id=None, lease_until=None))
        if self.active:
            duties.release(self.hub.store, RECOVERY, self.hub.replica)  # another replica scans at its next round
        with self._starting:
            executor, self._executor = self._executor, None
        if executor is not None:
            try:
                executor.close()
            except Exception:
                log.warning("the Dask executor did not close cleanly")
        runner.forget_hub(self.key)
        if self.ownership is not None:
            self.ownership.stop()  # after the executor closed: another worker may start its own

    # -- leases ------------------------------------------------------------------------

    def _claim(self, job_id: str) -> int | None:
        """Take the job's lease if free, lapsed or ours; return the new generation."""
        moment = now()
        with self.hub.store.session() as session:
            result = session.execute(
                update(Job)
                .where(
                    Job.id == job_id,
                    Job.state.in_([s.value for s in ACTIVE]),
                    or_(Job.driver_id.is_(None), Job.driver_id == self.id, Job.lease_until < moment),
                )
                .values(driver_id=self.id, lease_until=moment + self.lease, generation=Job.generation + 1)
                .execution_options(synchronize_session=False)
            )
            if not rows_changed(result):
                return None
            return int(session.scalar(select(Job.generation).where(Job.id == job_id)) or 0)

    def drive(self, job_id: str) -> bool:
        """Start driving a job unless a driver (here or in another hub) has it."""
        with self._lock:
            if self._stop.is_set() or not self.active:
                return False  # passive: the owning worker finds the job within POLL
            alive = self._drivers.get(job_id)
            if alive is not None and alive.is_alive():
                return True
            generation = self._claim(job_id)
            if generation is None:
                return False
            thread = threading.Thread(
                target=self._drive, args=(job_id, generation), name=f"headwater-job-{job_id[:8]}", daemon=True
            )
            self._drivers[job_id] = thread
            thread.start()
            return True

    def clean_later(self, job_id: str) -> None:
        """Clean up after a job canceled while no driver holds it (its hub died)."""
        with self.hub.store.session() as session:
            job = session.get(Job, job_id)
            orphaned = job is not None and (
                job.driver_id is None or (job.lease_until is not None and job.lease_until < now())
            )
        if orphaned and not self.driving(job_id):
            threading.Thread(target=self._clean, args=(job_id, 0, "canceled"), daemon=True).start()

    def driving(self, job_id: str) -> bool:
        thread = self._drivers.get(job_id)
        return thread is not None and thread.is_alive()

    def _keep(self) -> None:
        renewed = 0.0
        while not self._stop.is_set():
            try:
                renew = time.monotonic() - renewed >= self.heartbeat
                self._heartbeat(renew)
                renewed = time.monotonic() if renew else renewed
            except Exception:
                log.exception("the jobs heartbeat failed")
            self._stop.wait(POLL if self.shared else self.heartbeat)

    def _heartbeat(self, renew: bool = True) -> None:
        """Renew this engine's leases; then, if this replica holds the recovery duty, drive the orphans."""
        moment = now()
        mine = [job_id for job_id, thread in list(self._drivers.items()) if thread.is_alive()]
        if mine and renew:
            with self.hub.store.session() as session:
                session.execute(
                    update(Job)
                    .where(Job.id.in_(mine), Job.driver_id == self.id)
                    .values(lease_until=moment + self.lease)
                )
        if renew:  # the duty is taken (or renewed) once a heartbeat, not every POLL: one write, not ten
            self._recovering = duties.take(self.hub.store, RECOVERY, self.hub.replica, self.recovery_lease)
        if not self._recovering:
            return  # another replica looks for orphans
        with self.hub.store.session() as session:
            orphans = session.execute(
                select(Job.id, Job.generation).where(
                    Job.state.in_([s.value for s in ACTIVE]),
                    or_(Job.driver_id.is_(None), Job.lease_until < moment),
                )
            ).all()
        for job_id, generation in orphans:
            if self.drive(job_id) and generation:
                records.log(self.hub.store, job_id, "resumed by this hub: only unfinished partitions run again")

    # -- one job -----------------------------------------------------------------------

    def _drive(self, job_id: str, generation: int) -> None:
        store = self.hub.store
        try:
            self._advance(job_id, generation)
        except Stopped:
            pass
        except (JobFailed, Exception) as exc:
            message = str(exc) if isinstance(exc, JobFailed) else runner.safe_message(exc)
            if not isinstance(exc, JobFailed):
                log.warning("job %s failed: %s", job_id, message)
            if records.transition(store, job_id, ACTIVE, JobState.FAILED, error_message=message):
                records.log(store, job_id, f"failed: {message}", "error")
                self._clean(job_id, generation, "failed")
        finally:
            with store.session() as session:
                session.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.driver_id == self.id)
                    .values(driver_id=None, lease_until=None)
                )
            with self._lock:
                if self._drivers.get(job_id) is threading.current_thread():
                    del self._drivers[job_id]

    def _state(self, job_id: str, generation: int) -> str | None:
        if self._stop.is_set():
            raise Stopped("the hub is stopping")
        state, current = records.job_state(self.hub.store, job_id)
        if current != generation:
            raise Stopped("another driver took the job over")
        return state

    def _advance(self, job_id: str, generation: int) -> None:
        store = self.hub.store
        state = self._state(job_id, generation)
        if state == JobState.READY and records.transition(store, job_id, [JobState.READY], JobState.PARTITIONING):
            state = JobState.PARTITIONING
        if state == JobState.PARTITIONING:
            count = self._plan(job_id, generation)
            if records.transition(store, job_id, [JobState.PARTITIONING], JobState.RUNNING):
                records.log(store, job_id, f"running {count} partitions")
                state = JobState.RUNNING
        if state == JobState.RUNNING:
            self._run(job_id, generation)
            if records.transition(store, job_id, [JobState.RUNNING], JobState.ASSEMBLING):
                state = JobState.ASSEMBLING
        if state == JobState.ASSEMBLING:
            outputs = self._assemble(job_id, generation)
            if records.transition(
                store,
                job_id,
                [JobState.ASSEMBLING],
                JobState.COMPLETE,
                outputs=outputs,
                error_message=None,
                settled_at=now(),
            ):
                total = sum(int(o.get("size") or 0) for o in outputs)
                records.log(store, job_id, f"complete: {len(outputs)} outputs, {total} bytes")
                return
        if self._state(job_id, generation) == JobState.CANCELED:
            self._clean(job_id, generation, "canceled")

    # -- partitioning ------------------------------------------------------------------

    def _plan(self, job_id: str, generation: int) -> int:
        store = self.hub.store
        with store.session() as session:
            job = session.get(Job, job_id)
            assert job is not None
            existing = session.scalar(select(JobPartition.index).where(JobPartition.job_id == job_id).limit(1))
        if existing is not None:
            return len(records.partitions(store, job_id))

        async def check() -> None:
            if self._state(job_id, generation) != JobState.PARTITIONING:
                raise Stopped("the job left partitioning")

        try:
            planned = anyio.run(self._plan_async, job, check)
        except Stopped:
            raise
        except Exception as exc:
            raise JobFailed(f"partitioning failed: {runner.safe_message(exc)}") from None
        if not planned:
            raise JobFailed("the source matched no objects")
        rows = [
            {
                "job_id": job_id,
                "index": i,
                "spec": p.spec.to_json(),
                "output": p.output,
                "state": PartState.PENDING.value,
                "attempts": 0,
                "bytes_in": 0,
                "bytes_out": 0,
            }
            for i, p in enumerate(planned)
        ]
        with store.session() as session:
            session.execute(delete(JobPartition).where(JobPartition.job_id == job_id))
            for start in range(0, len(rows), 5000):
                session.execute(insert(JobPartition), rows[start : start + 5000])
        return len(rows)

    async def _plan_async(self, job: Job, check: Callable[[], Any]) -> list[Any]:
        identity = JobIdentity.from_json(job.caller)
        selection = parse_source(job.source, identity.org_name)
        base = await data.open_target(self.hub, side_caller(identity, "source"), selection.base)
        try:
            await check()
            files = await planning.list_files(base, selection.pattern, selection.recursive, selection.matches)
            if selection.pattern is None and files and files[0][1].is_dir:
                base = planning.at(base, base.address.path, True)
                files = await planning.list_files(base, "**", True, lambda _: True)
            return await planning.plan(
                base,
                files,
                job.partitioner,
                dict(job.partitioner_params or {}),
                apps.get(job.app),
                dict(job.app_params or {}),
                check,
            )
        finally:
            await base.close()

    # -- running -----------------------------------------------------------------------

    def _wait(
        self,
        job_id: str,
        generation: int,
        batch: Batch,
        wanted: JobState,
        each: Callable[[Handle, Any, BaseException | None], None],
    ) -> None:
        """Collect a batch's outcomes, stopping it all at once when the job leaves `wanted` or the engine stops."""
        try:
            while batch.outstanding:
                state = self._state(job_id, generation)
                if state != wanted:
                    raise Stopped(f"the job is {state}")
                for handle, result, error in batch.finished(POLL):
                    each(handle, result, error)
        finally:
            if batch.outstanding:
                try:
                    batch.cancel()
                except Exception:
                    pass

    def _run(self, job_id: str, generation: int) -> None:
        store = self.hub.store
        records.reset_partitions(store, job_id, [PartState.RUNNING], PartState.PENDING)
        for round_ in range(ROUNDS):
            pending = records.partitions(store, job_id, [PartState.PENDING])
            if not pending:
                break
            batch = self.executor.batch()
            app = apps.get(self._app(job_id))
            slots = self.executor.slots(cpu=app.cpu_bound)
            for group in groups(pending, slots) if app.shares_tasks else [[p] for p in pending]:
                indexes = [p.index for p in group]
                batch.submit(
                    runner.run_partitions,
                    self.key,
                    job_id,
                    indexes,
                    generation,
                    key=f"headwater-{job_id}-{generation}-{round_}-{indexes[0]}",
                    tag=indexes,
                    cpu=app.cpu_bound,
                )

            def each(handle: Handle, result: Any, error: BaseException | None) -> None:
                if error is not None:
                    raise JobFailed(f"partition {handle.tag[0]}: {_task_error(error)}")
                outcomes = list(zip(handle.tag, result, strict=True))
                for index, status in outcomes:
                    if status.get("status") == "failed":
                        raise JobFailed(f"partition {index} failed: {status.get('error')}")
                for _, status in outcomes:
                    if status.get("status") in ("stopped", "superseded"):
                        raise Stopped(status["status"])

            try:
                self._wait(job_id, generation, batch, JobState.RUNNING, each)
            except Stopped:
                if self._state(job_id, generation) == JobState.CANCELED:
                    return
                raise
        left = records.partitions(store, job_id, [PartState.PENDING, PartState.RUNNING, PartState.FAILED])
        if left and self._state(job_id, generation) == JobState.RUNNING:
            raise JobFailed(f"{len(left)} partitions did not finish after {ROUNDS} rounds")

    def _app(self, job_id: str) -> str:
        with self.hub.store.session() as session:
            return str(session.scalar(select(Job.app).where(Job.id == job_id)))

    def _assemble(self, job_id: str, generation: int) -> list[dict[str, Any]]:
        with self.hub.store.session() as session:
            job = session.get(Job, job_id)
            assert job is not None
        if not assemblers.staged(job.assembler):
            return anyio.run(self._pass_through, job)
        batch = self.executor.batch()
        batch.submit(runner.run_assembly, self.key, job_id, generation, key=f"headwater-{job_id}-{generation}-assemble")
        found: dict[str, Any] = {}

        def each(_: Handle, result: Any, error: BaseException | None) -> None:
            if error is not None:
                raise JobFailed(f"assembly: {_task_error(error)}")
            if result.get("status") == "failed":
                raise JobFailed(f"assembly failed: {result.get('error')}")
            if result.get("status") != "done":
                raise Stopped(result.get("status", "stopped"))
            found.update(result)

        try:
            self._wait(job_id, generation, batch, JobState.ASSEMBLING, each)
        except Stopped:
            if self._state(job_id, generation) == JobState.CANCELED:
                return []
            raise
        if found.get("swept"):
            records.log(
                self.hub.store, job_id, f"removed {found['swept']} temporary files left by interrupted attempts"
            )
        return list(found.get("outputs", []))

    async def _pass_through(self, job: Job) -> list[dict[str, Any]]:
        """A pass-through job's outputs are its partitions' own, as their rows record them: listed here,
        with what killed attempts left beside them swept, and no task (nothing is assembled)."""
        done = records.partitions(self.hub.store, job.id, [PartState.DONE])
        outputs = [{"name": p.output, "size": p.bytes_out, "sha256": p.sha256} for p in done]
        async with _destination(self.hub, job) as target:
            swept = await cleanup.sweep_partials(target, [p.output for p in done], records.running_since(job))
        if swept:
            records.log(self.hub.store, job.id, f"removed {swept} temporary files left by interrupted attempts")
        return outputs

    # -- canceled or failed: nothing partial stays ------------------------------------

    def _settle(self, job_id: str) -> None:
        deadline = time.monotonic() + SETTLE
        while time.monotonic() < deadline and records.partitions(self.hub.store, job_id, [PartState.RUNNING]):
            time.sleep(0.1)

    def _clean(self, job_id: str, generation: int, why: str) -> None:
        """Once no attempt runs, remove every output and temporary of the job; then mark it settled."""
        store = self.hub.store
        records.reset_partitions(store, job_id, [PartState.PENDING], PartState.CANCELED)
        self._settle(job_id)
        try:
            removed = anyio.run(self._clean_async, job_id)
            cleanup.remove_staging(self.hub.settings.data_dir, job_id)
            records.log(store, job_id, f"{why}: removed {removed} outputs and temporaries from the destination")
        except Exception as exc:
            records.log(store, job_id, f"cleaning up after the job {why} failed: {runner.safe_message(exc)}", "error")
        finally:
            records.settle(store, job_id)

    async def _clean_async(self, job_id: str) -> int:
        with self.hub.store.session() as session:
            job = session.get(Job, job_id)
            assert job is not None
        async with _destination(self.hub, job) as target:
            if assemblers.staged(job.assembler):
                names = [assemblers.final_name(job.assembler, dict(job.assembler_params or {}), _parts(self.hub, job))]
            else:
                names = [p.output for p in records.partitions(self.hub.store, job_id)]
            removed = await cleanup.remove_outputs(target, names)
            removed += await cleanup.sweep_partials(target, names, records.running_since(job))
            return removed


@asynccontextmanager
async def _destination(hub: Hub, job: Job) -> AsyncIterator[data.Target]:
    """The job's destination, opened with the rights of its destination side."""
    identity = JobIdentity.from_json(job.caller)
    target = await data.open_target(
        hub, side_caller(identity, "destination"), parse_destination(job.destination, identity.org_name)
    )
    try:
        yield target
    finally:
        await target.close()


def _estimate(part: JobPartition) -> int | None:
    """Bytes a partition reads, as far as its spec tells (None: unknown, so it gets a task of its own)."""
    spec = part.spec or {}
    if spec.get("end") is not None:
        return int(spec["end"]) - int(spec.get("start") or 0)
    if spec.get("rows") is not None:
        first, stop = spec["rows"]
        return (int(stop) - int(first)) * ROW_BYTES
    if spec.get("size") is not None:
        return int(spec["size"])
    return None


def groups(pending: list[JobPartition], slots: int) -> list[list[JobPartition]]:
    """Partitions in tasks: small ones share a task (up to TASK_BYTES and TASK_PARTITIONS), while there
    stay at least TASKS_PER_SLOT tasks per worker thread, in a number of tasks the threads share evenly:
    every thread has work to the end, and none is left running a last task alone."""
    sized = [(part, _estimate(part)) for part in pending]
    small = [estimate for _, estimate in sized if estimate is not None and estimate < TASK_BYTES]
    tasks = _tasks(len(small), sum(small), slots)
    shares = iter([len(small) // tasks + (k < len(small) % tasks) for k in range(tasks)])  # differ by one at most
    found: list[list[JobPartition]] = []
    current: list[JobPartition] = []
    share, size = next(shares, 1), 0
    for part, estimate in sized:
        if estimate is None or estimate >= TASK_BYTES:
            found.append([part])
            continue
        if current and (len(current) >= share or size + estimate > TASK_BYTES):
            found.append(current)
            current, share, size = [], next(shares, share), 0
        current.append(part)
        size += estimate
    if current:
        found.append(current)
    return found


def _tasks(count: int, size: int, slots: int) -> int:
    """How many tasks `count` small partitions of `size` bytes in all make: within the budgets, at least
    TASKS_PER_SLOT a thread, and a multiple of the threads (so they finish together)."""
    tasks = max(-(-count // TASK_PARTITIONS), -(-size // TASK_BYTES), slots * TASKS_PER_SLOT)
    return max(1, min(count, -(-tasks // slots) * slots))


def _parts(hub: Hub, job: Job) -> list[assemblers.Part]:
    first = records.partitions(hub.store, job.id)[:1]
    return [assemblers.Part(p.index, p.output, cleanup.staging_dir(hub.settings.data_dir, job.id)) for p in first]


def _task_error(error: BaseException) -> str:
    name = type(error).__name__
    if name == "KilledWorker":
        return "its workers died too often while running it"
    if name in ("CancelledError", "FutureCancelledError"):
        return "the task was cancelled by the cluster"
    return runner.safe_message(error)


_engines: dict[int, Engine] = {}
_engines_lock = threading.Lock()


def engine_for(hub: Hub, config: ExecutorConfig | None = None) -> Engine:
    """The hub's engine, started on first use."""
    with _engines_lock:
        engine = _engines.get(id(hub))
        if engine is None:
            engine = _engines[id(hub)] = Engine(hub, config)
            engine.start()
        return engine


def start_shared(hub: Hub) -> Engine:
    """The engine of one of several worker processes on one data dir: with an external cluster,
    driving at once like any replica's; else passive until this process owns the jobs lock
    (`ownership`), then driving every job."""
    if hub.settings.dask.scheduler:
        return engine_for(hub)
    with _engines_lock:
        engine = _engines.get(id(hub))
        if engine is not None:
            return engine
        engine = _engines[id(hub)] = Engine(hub, shared=True)
    engine.ownership = Ownership(hub.settings.data_dir / "jobs.lock", engine.activate)
    engine.ownership.start()
    return engine


def configure(hub: Hub, config: ExecutorConfig) -> Engine:
    """Choose how the hub's executor runs (before its first job): one started already is closed."""
    engine = engine_for(hub)
    with engine._starting:
        started, engine._executor = engine._executor, None
        engine.config = config
    if started is not None:
        started.close()
    return engine


def stop(hub: Hub) -> None:
    with _engines_lock:
        engine = _engines.pop(id(hub), None)
    if engine is not None:
        engine.stop()
