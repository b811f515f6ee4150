"""The SQL side of jobs: conditional state changes, partition status, logs and progress.

Every change of state is a conditional UPDATE (`WHERE state IN ...`), so a cancel and a
driver racing each other cannot both win, and a partition is marked done only once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from headwater.services.jobs.spec import JobState, PartState
from headwater.store.database import Store, rows_changed
from headwater.store.models import Job, JobLog, JobPartition, now
from headwater.times import iso

MAX_LOG = 4000


def transition(store: Store, job_id: str, allowed: Iterable[JobState], to: JobState, **fields: Any) -> bool:
    """Move a job to `to` if its state is one of `allowed`; stamp the time; True if it moved."""
    states = [s.value for s in allowed]
    with store.session() as session:
        job = session.get(Job, job_id)
        if job is None or job.state not in states:
            return False
        stamps = dict(job.state_timestamps or {})
        stamps[to.value] = iso(now())
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state.in_(states))
            .values(state=to.value, state_timestamps=stamps, updated_at=now(), **fields)
            .execution_options(synchronize_session=False)
        )
        return bool(rows_changed(result))


def settle(store: Store, job_id: str) -> None:
    """Record that nothing of the job runs any more and nothing partial of it remains."""
    with store.session() as session:
        session.execute(
            update(Job).where(Job.id == job_id).values(settled_at=now()).execution_options(synchronize_session=False)
        )


def log(store: Store, job_id: str, message: str, level: str = "info", partition: int | None = None) -> None:
    with store.session() as session:
        session.add(JobLog(job_id=job_id, level=level, partition=partition, message=message[:MAX_LOG]))


def job_state(store: Store, job_id: str) -> tuple[str | None, int]:
    """(state, generation) of a job; (None, 0) once it is deleted."""
    with store.session() as session:
        row = session.execute(select(Job.state, Job.generation).where(Job.id == job_id)).first()
        return (row[0], row[1]) if row is not None else (None, 0)


def set_partition(
    store: Store, job_id: str, index: int, allowed: Iterable[PartState], to: PartState, **fields: Any
) -> bool:
    with store.session() as session:
        result = session.execute(
            update(JobPartition)
            .where(
                JobPartition.job_id == job_id,
                JobPartition.index == index,
                JobPartition.state.in_([s.value for s in allowed]),
            )
            .values(state=to.value, **fields)
            .execution_options(synchronize_session=False)
        )
        return bool(rows_changed(result))


@dataclass(frozen=True)
class Change:
    """One partition's change of state, recorded with others of its task in one transaction."""

    index: int
    allowed: tuple[PartState, ...]
    to: PartState
    fields: dict[str, Any]
    log: tuple[str, str] | None = None  # (level, message) for the job's log


_UPDATES: dict[tuple[tuple[str, ...], str, tuple[str, ...]], Any] = {}


def _update(allowed: tuple[PartState, ...], to: PartState, names: tuple[str, ...]) -> Any:
    """A conditional partition UPDATE with bound values, built once per shape (its compiled form is cached)."""
    shape = (tuple(s.value for s in allowed), to.value, names)
    statement = _UPDATES.get(shape)
    if statement is None:
        table = JobPartition.__table__
        assert isinstance(table, Table)  # a declarative model's table (typed as any FROM clause)
        statement = _UPDATES[shape] = (
            update(table)
            .where(
                table.c.job_id == bindparam("w_job"), table.c.index == bindparam("w_index"), table.c.state.in_(shape[0])
            )
            .values(state=to.value, **{name: bindparam(f"v_{name}") for name in names})
        )
    return statement


def apply(store: Store, job_id: str, changes: Iterable[Change]) -> set[int]:
    """Apply conditional partition changes (and their log lines) in one transaction; the indexes that moved."""
    moved: set[int] = set()
    lines: list[dict[str, Any]] = []
    with store.session() as session:
        connection = session.connection()
        for change in changes:
            names = tuple(sorted(change.fields))
            values = {f"v_{name}": change.fields[name] for name in names}
            result = connection.execute(
                _update(change.allowed, change.to, names), {"w_job": job_id, "w_index": change.index, **values}
            )
            if rows_changed(result):
                moved.add(change.index)
                if change.log is not None:
                    level, message = change.log
                    lines.append(
                        {"job_id": job_id, "level": level, "partition": change.index, "message": message[:MAX_LOG]}
                    )
        if lines:
            session.execute(insert(JobLog), lines)
    return moved


def running_since(job: Job) -> datetime:
    """When the job started running (its creation, before): temporaries older than this are not its attempts'."""
    stamp = (job.state_timestamps or {}).get(JobState.RUNNING.value)
    return job.created_at if not stamp else datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def load_partitions(store: Store, job_id: str, indexes: list[int]) -> list[JobPartition]:
    """The rows of some partitions of a job, in index order (one query)."""
    with store.session() as session:
        query = select(JobPartition).where(JobPartition.job_id == job_id, JobPartition.index.in_(indexes))
        return list(session.scalars(query.order_by(JobPartition.index)))


def reset_partitions(store: Store, job_id: str, states: Iterable[PartState], to: PartState) -> int:
    with store.session() as session:
        result = session.execute(
            update(JobPartition)
            .where(JobPartition.job_id == job_id, JobPartition.state.in_([s.value for s in states]))
            .values(state=to.value)
            .execution_options(synchronize_session=False)
        )
        return rows_changed(result)


def partitions(store: Store, job_id: str, states: Iterable[PartState] | None = None) -> list[JobPartition]:
    with store.session() as session:
        query = select(JobPartition).where(JobPartition.job_id == job_id)
        if states is not None:
            query = query.where(JobPartition.state.in_([s.value for s in states]))
        return list(session.scalars(query.order_by(JobPartition.index)))


@dataclass(frozen=True)
class Progress:
    total: int = 0
    done: int = 0
    failed: int = 0
    running: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


def progress(session: Session, job_ids: list[str]) -> dict[str, Progress]:
    """Progress of jobs, read from their partition rows."""
    if not job_ids:
        return {}
    rows = session.execute(
        select(
            JobPartition.job_id,
            JobPartition.state,
            func.count(),
            func.coalesce(func.sum(JobPartition.bytes_in), 0),
            func.coalesce(func.sum(JobPartition.bytes_out), 0),
        )
        .where(JobPartition.job_id.in_(job_ids))
        .group_by(JobPartition.job_id, JobPartition.state)
    ).all()
    found: dict[str, dict[str, int]] = {}
    for job_id, state, count, bytes_in, bytes_out in rows:
        acc = found.setdefault(
            job_id, {"total": 0, "done": 0, "failed": 0, "running": 0, "bytes_in": 0, "bytes_out": 0}
        )
        acc["total"] += count
        acc["bytes_in"] += int(bytes_in)
        acc["bytes_out"] += int(bytes_out)
        if state in (PartState.DONE, PartState.FAILED, PartState.RUNNING):
            acc[state] += count
    return {job_id: Progress(**values) for job_id, values in found.items()}
