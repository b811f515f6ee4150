"""Jobs use cases: create, get, list, run, cancel, delete, results, logs. Rights via `services.data` only.

A side given as a `dataSource` object becomes a data source the job owns (`objects`):
made before the rights check, removed if the job is not stored, deleted with the job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio
from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from headwater.addresses import join
from headwater.errors import Conflict, InvalidInput, NotFound
from headwater.services import authorization, data, links
from headwater.services.authorization import Action
from headwater.services.context import Caller
from headwater.services.hub import Hub
from headwater.services.jobs import apps, assemblers, cleanup, driver, objects, planning, records, rights, sandbox
from headwater.services.jobs.objects import Endpoint
from headwater.services.jobs.planning import at
from headwater.services.jobs.records import Progress
from headwater.services.jobs.selection import destination as parse_destination
from headwater.services.jobs.selection import select as parse_source
from headwater.services.jobs.spec import ACTIVE, TERMINAL, JobIdentity, JobState
from headwater.store.database import rows_changed
from headwater.store.models import Job, JobLog, new_id, now
from headwater.times import iso

MAX_LIST = 500


@dataclass
class JobRequest:
    """A job as a caller describes it (already shaped by the API's models)."""

    source: Endpoint
    destination: Endpoint
    app: str = "copy"
    partitioner: str = "object"
    assembler: str = "passthrough"
    app_params: dict[str, Any] = field(default_factory=dict)
    partitioner_params: dict[str, Any] = field(default_factory=dict)
    assembler_params: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    description: str = ""
    #: A `file` object without an uploadId starts an upload the job waits for (ByteNite's tempUrl flow).
    allow_upload: bool = False
    #: The template the job is made from (`templates.apply` fills the rest in); the app's name when none.
    template_id: str | None = None


@dataclass(frozen=True)
class JobView:
    """A job with its progress, as the API shows it."""

    job: Job
    progress: Progress


@dataclass(frozen=True)
class Result:
    name: str
    size: int | None
    address: str
    link: str | None
    expires_at: str | None
    sha256: str | None


def _visible(caller: Caller, job: Job | None) -> bool:
    if job is None or job.org_id != caller.org_id:
        return False
    identity = JobIdentity.from_json(job.caller)
    return authorization.job_visible(caller, job.source_ids or [], identity.source_prefix, identity.destination_prefix)


def _find(session: Session, caller: Caller, job_id: str) -> Job:
    job = session.get(Job, job_id) if len(job_id) <= 36 else None
    if not _visible(caller, job):
        raise NotFound(f"job {job_id!r} does not exist")
    assert job is not None
    return job


def _view(session: Session, job: Job) -> JobView:
    return JobView(job, records.progress(session, [job.id]).get(job.id, Progress()))


async def create(hub: Hub, caller: Caller, request: JobRequest, *, run: bool = False) -> JobView:
    """Validate a job, refuse what its rights would not allow, and store it in state `new`."""
    authorization.require(caller, Action.RUN, "jobs")
    app = apps.get(request.app)
    app_params = app.check_params(dict(request.app_params or {}))
    app.check_runnable(hub.settings, app_params)
    partitioner_params = planning.check_params(request.partitioner, dict(request.partitioner_params or {}))
    assembler_params = assemblers.check_params(request.assembler, dict(request.assembler_params or {}))
    if len(request.name) > 255:
        raise InvalidInput("name must be at most 255 characters")
    job_id = new_id()
    made = await objects.resolve(
        hub, caller, job_id, request.source, request.destination, allow_upload=request.allow_upload
    )
    source = made.source
    try:
        selection = parse_source(source, caller.org_name)
        destination = parse_destination(made.destination, caller.org_name)
        identity = await rights.check(hub, caller, selection, destination)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await objects.discard(hub, caller, made)
        raise

    def store() -> Job:
        stamp = iso(now())
        with hub.store.session() as session:
            job = Job(
                id=job_id,
                org_id=caller.org_id,
                user_id=caller.user_id,
                token_id=caller.token_id,
                name=request.name or "",
                description=request.description or "",
                state=JobState.NEW.value,
                state_timestamps={JobState.NEW.value: stamp},
                source=source,
                destination=str(destination),
                source_ids=list(identity.source_ids),
                caller=identity.to_json(),
                app=app.name,
                app_params=app_params,
                partitioner=request.partitioner,
                partitioner_params=partitioner_params,
                assembler=request.assembler,
                assembler_params=assembler_params,
                template_id=request.template_id or app.name,
                sent_objects=objects.sent_objects(None, request.source, request.destination),
            )
            session.add(job)
            session.flush()
            session.add(JobLog(job_id=job.id, message=f"created: {source} → {app.name} → {destination}"))
            return job

    try:
        job = await anyio.to_thread.run_sync(store)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await objects.discard(hub, caller, made)
        raise
    if run:
        return await anyio.to_thread.run_sync(start, hub, caller, job.id)
    return JobView(job, Progress())


def get(hub: Hub, caller: Caller, job_id: str) -> JobView:
    with hub.store.session() as session:
        return _view(session, _find(session, caller, job_id))


def list_jobs(hub: Hub, caller: Caller, state: str | None = None, limit: int = 100, offset: int = 0) -> list[JobView]:
    if state is not None and state not in {s.value for s in JobState}:
        raise InvalidInput(f"state {state!r} is not one of {', '.join(s.value for s in JobState)}")
    with hub.store.session() as session:
        query = select(Job).where(Job.org_id == caller.org_id)
        if state:
            query = query.where(Job.state == state)
        query = query.order_by(Job.created_at.desc(), Job.id).limit(max(1, min(limit, MAX_LIST))).offset(max(0, offset))
        jobs = [j for j in session.scalars(query) if _visible(caller, j)]
        found = records.progress(session, [j.id for j in jobs])
        return [JobView(j, found.get(j.id, Progress())) for j in jobs]


def start(hub: Hub, caller: Caller, job_id: str) -> JobView:
    """`new` → `ready`, and hand the job to this hub's engine."""
    authorization.require(caller, Action.RUN, "jobs")
    with hub.store.session() as session:
        job = _find(session, caller, job_id)
        state = job.state
    if state == JobState.NEW:
        objects.check_ready(hub, job)
    if state in ACTIVE:
        driver.engine_for(hub).drive(job_id)
        return get(hub, caller, job_id)
    if not records.transition(hub.store, job_id, [JobState.NEW], JobState.READY):
        raise Conflict(f"job {job_id} is {state}: only a new job can be run")
    records.log(hub.store, job_id, "ready: submitted to the executor")
    driver.engine_for(hub).drive(job_id)
    return get(hub, caller, job_id)


def cancel(hub: Hub, caller: Caller, job_id: str) -> JobView:
    """Stop a job: queued partitions at once, running ones at their next chunk; its outputs are removed."""
    authorization.require(caller, Action.RUN, "jobs")
    with hub.store.session() as session:
        state = _find(session, caller, job_id).state
    if state in TERMINAL:
        if state == JobState.CANCELED:
            return get(hub, caller, job_id)
        raise Conflict(f"job {job_id} is {state}: it cannot be canceled")
    if not records.transition(hub.store, job_id, [JobState.NEW, *ACTIVE], JobState.CANCELED):
        return get(hub, caller, job_id)
    records.log(hub.store, job_id, "cancel requested")
    if state == JobState.NEW:
        records.settle(hub.store, job_id)
    else:
        driver.engine_for(hub).clean_later(job_id)
    return get(hub, caller, job_id)


def delete(hub: Hub, caller: Caller, job_id: str) -> None:
    """Forget a job that is not running (its outputs at the destination stay, unless the job made that destination)."""
    authorization.require(caller, Action.RUN, "jobs")
    with hub.store.session() as session:
        job = _find(session, caller, job_id)
        if job.state in ACTIVE:
            raise Conflict(f"job {job_id} is {job.state}: cancel it before deleting it")
        identity = JobIdentity.from_json(job.caller)
        session.execute(sql_delete(Job).where(Job.id == job_id))
    cleanup.remove_staging(hub.settings.data_dir, job_id)
    objects.release(hub, caller, job_id, [identity.source_id, identity.destination_id])


def count(hub: Hub, caller: Caller, state: str | None = None) -> int:
    """How many jobs `list_jobs` could show."""
    with hub.store.session() as session:
        query = select(Job).where(Job.org_id == caller.org_id)
        if state:
            query = query.where(Job.state == state)
        if not authorization.data_narrowed(caller):
            return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        return sum(1 for j in session.scalars(query) if _visible(caller, j))


async def set_endpoints(
    hub: Hub,
    caller: Caller,
    job_id: str,
    source: Endpoint | None = None,
    destination: Endpoint | None = None,
    *,
    allow_upload: bool = False,
) -> JobView:
    """Give a new job another source and/or destination, checked as at create; replaced sources it made are deleted."""
    authorization.require(caller, Action.RUN, "jobs")
    job = (await anyio.to_thread.run_sync(get, hub, caller, job_id)).job
    if job.state != JobState.NEW:
        raise Conflict(f"job {job_id} is {job.state}: its data source and destination can change only before it runs")
    made = await objects.resolve(
        hub,
        caller,
        job_id,
        job.source if source is None else source,
        job.destination if destination is None else destination,
        allow_upload=allow_upload,
    )
    try:
        selection = parse_source(made.source, caller.org_name)
        target = parse_destination(made.destination, caller.org_name)
        identity = await rights.check(hub, caller, selection, target)

        def store() -> None:
            with hub.store.session() as session:
                changed = rows_changed(
                    session.execute(
                        update(Job)
                        .where(Job.id == job_id, Job.state == JobState.NEW.value)
                        .values(
                            source=made.source,
                            destination=str(target),
                            source_ids=list(identity.source_ids),
                            caller=identity.to_json(),
                            updated_at=now(),
                            sent_objects=objects.sent_objects(job.sent_objects, source, destination),
                        )
                    )
                )
                if not changed:
                    raise Conflict(f"job {job_id} is no longer new: its data source and destination cannot change")
                session.add(JobLog(job_id=job_id, message=f"data source and destination set: {made.source} → {target}"))

        await anyio.to_thread.run_sync(store)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await objects.discard(hub, caller, made)
        raise
    old = JobIdentity.from_json(job.caller)
    keep = (identity.source_id, identity.destination_id)
    await anyio.to_thread.run_sync(objects.release, hub, caller, job_id, [old.source_id, old.destination_id], keep)
    return await anyio.to_thread.run_sync(get, hub, caller, job_id)


def upload_completed(hub: Hub, caller: Caller, job_id: str) -> JobView:
    """The job's input file has been uploaded: it may run now."""
    authorization.require(caller, Action.RUN, "jobs")
    job = get(hub, caller, job_id).job
    if job.state != JobState.NEW:
        raise Conflict(f"job {job_id} is {job.state}: its input can be completed only before it runs")
    size = objects.complete_upload(hub, job)
    records.log(hub.store, job_id, f"input uploaded: {size} bytes")
    return get(hub, caller, job_id)


def logs(hub: Hub, caller: Caller, job_id: str, after: int = 0, limit: int = 1000) -> list[JobLog]:
    with hub.store.session() as session:
        _find(session, caller, job_id)
        query = (
            select(JobLog)
            .where(JobLog.job_id == job_id, JobLog.id > after)
            .order_by(JobLog.id)
            .limit(max(1, min(limit, 10000)))
        )
        return list(session.scalars(query))


async def results(hub: Hub, caller: Caller, job_id: str) -> list[Result]:
    """Names, sizes and links of a complete job's outputs: a bucket's signed links, otherwise addresses."""
    view = await anyio.to_thread.run_sync(get, hub, caller, job_id)
    job = view.job
    if job.state != JobState.COMPLETE:
        raise Conflict(f"job {job_id} is {job.state}: results are ready when it is complete")
    destination = parse_destination(job.destination, caller.org_name)
    target = await data.open_target(hub, caller, destination)
    found: list[Result] = []
    try:
        for output in job.outputs or []:
            place = at(target, join(destination.path, output["name"]))
            link = expires = None
            if not place.rights.readable:
                # An output-only kind (a temporary bucket): its files are fetched through signed links.
                entry = await place.connector.stat(place.path)
                signed = links.link_to(hub, entry)
                if signed is not None:
                    link, expires = signed.url, signed.expires
            found.append(Result(output["name"], output.get("size"), place.uri(), link, expires, output.get("sha256")))
    finally:
        await target.close()
    return found


def start_engine(hub: Hub, shared: bool = False) -> None:
    """At hub start: probe the `python` apps' sandbox, begin the heartbeat that resumes running jobs.

    `shared`: one of several worker processes (`serve --workers`), of which one drives jobs.
    """
    sandbox.unavailable(hub.settings)  # probed once and cached; logs why python jobs are refused, if they are
    if shared:
        driver.start_shared(hub)
    else:
        driver.engine_for(hub)


def stop_engine(hub: Hub) -> None:
    driver.stop(hub)
