"""Group commit of audit events: one writer thread, one transaction per batch.

Requests hand their begun events and their completions to a queue; one thread takes
whatever is waiting (lingering a moment for more when others are arriving, as
PostgreSQL's `commit_delay` does), writes the whole batch in a single transaction
and then resolves each request's future. A request waits for its own batch only; if
the batch cannot be written, every request in it is told so, and refuses its operation.
Items are written in the order they were queued, so a completion handed over before
a later request began is durable before that later request runs.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Table, bindparam, insert, update

log = logging.getLogger("headwater.audit")

MAX_BATCH = 500
LINGER_SECONDS = 0.002
WAIT_SECONDS = 60.0


class Owner(Protocol):
    """What the writer needs from a request: the slot its event id goes into."""

    event_id: int | None


@dataclass
class Begin:
    """An event to insert before its operation runs; the future resolves to its id once durable.

    With `expect` (an organization and the `auth` change stamp its caller was cached under), the
    writer first reads the organization's stamps in the same transaction, puts them in `stamps`,
    and inserts the event only if the `auth` stamp is still the one expected; otherwise the future
    resolves to 0 with nothing written, and the request authenticates afresh.
    """

    owner: Owner
    row: dict[str, Any]
    future: Future[int] = field(default_factory=Future)
    expect: tuple[str, int] | None = None
    stamps: Any = None

    @property
    def confirmed(self) -> bool:
        """Whether the expected stamp held when the event was written (always, without one)."""
        return self.expect is None or (self.stamps is not None and self.stamps.auth == self.expect[1])


@dataclass
class Finish:
    """A completion: updates the owner's begun event, or inserts the whole row (built by `row`, in
    the writer, only then: most requests began theirs) if it never began."""

    owner: Owner
    row: Callable[[], dict[str, Any]]
    values: dict[str, Any]
    future: Future[None] = field(default_factory=Future)


Item = Begin | Finish
_STOP = object()


@dataclass
class Stats:
    """How the writer has batched so far (read by tests and benchmarks)."""

    batches: int = 0
    begins: int = 0
    finishes: int = 0
    failed_batches: int = 0
    largest: int = 0


class BatchFailed(Exception):
    """A batch could not be written; every request in it is refused."""


class AuditWriter:
    """The one writer of the audit table for this process."""

    def __init__(
        self,
        engine: Engine,
        table: Table,
        max_batch: int = MAX_BATCH,
        linger: float = LINGER_SECONDS,
        read_stamps: Callable[[Connection, set[str]], dict[str, Any]] | None = None,
    ) -> None:
        self.engine = engine
        self.table = table
        self.read_stamps = read_stamps
        self.max_batch = max_batch
        self.linger = linger
        self.stats = Stats()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._insert = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        self._update = update(table).where(table.c.id == bindparam("event_id_"))

    # -- the requests' side -------------------------------------------------------------

    def submit(self, item: Item) -> None:
        """Queue an item for the next batch; fails its future at once if the writer is closed."""
        with self._lock:
            if self._closed:
                item.future.set_exception(BatchFailed("the audit writer is closed"))
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="headwater-audit-writer", daemon=True)
                self._thread.start()
            self._queue.put(item)

    def close(self, timeout: float = 30.0) -> None:
        """Write everything already queued, then stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(_STOP)
        if thread is not None:
            thread.join(timeout)

    # -- the writer's side --------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: list[Item] = [first]
            stopping = self._drain(batch)
            if not stopping and 1 < len(batch) < self.max_batch and self.linger > 0:
                # Others are arriving: linger a moment so they share this transaction.
                stopping = self._linger(batch, time.monotonic() + self.linger)
            try:
                self._write(batch)
            except Exception as exc:  # never leave a request waiting on a batch the writer dropped
                log.exception("audit writer failed on a batch")
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(BatchFailed(type(exc).__name__))

    def _drain(self, batch: list[Item]) -> bool:
        """Take what is queued without waiting, up to a full batch; True if asked to stop."""
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is _STOP:
                return True
            batch.append(item)
        return False

    def _linger(self, batch: list[Item], deadline: float) -> bool:
        while len(batch) < self.max_batch:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                item = self._queue.get(timeout=remaining)
            except queue.Empty:
                return False
            if item is _STOP:
                return True
            batch.append(item)
            if self._drain(batch):
                return True
        return False

    def _write(self, batch: list[Item]) -> None:
        # A begin whose request has gone away (its future cancelled) is not written.
        begins = [i for i in batch if isinstance(i, Begin) and i.future.set_running_or_notify_cancel()]
        finishes = [i for i in batch if isinstance(i, Finish) and i.future.set_running_or_notify_cancel()]
        self.stats.batches += 1
        self.stats.largest = max(self.stats.largest, len(begins) + len(finishes))

        def both(conn: Connection) -> None:
            self._begins(conn, begins)
            self._finishes(conn, finishes)

        try:
            self._transaction(both)
        except Exception as exc:
            self.stats.failed_batches += 1
            for item in begins:
                item.owner.event_id = None
            if begins and finishes:
                # Maybe one completion was at fault: keep the begins apart from it.
                self._write_apart(begins, finishes)
                return
            self._fail(begins, exc)
            self._fail(finishes, exc)
            return
        self.stats.begins += len(begins)
        self.stats.finishes += len(finishes)
        for item in begins:
            item.future.set_result(item.owner.event_id or 0)
        for finish in finishes:
            finish.future.set_result(None)

    def _write_apart(self, begins: list[Begin], finishes: list[Finish]) -> None:
        try:
            self._transaction(lambda conn: self._begins(conn, begins))
        except Exception as exc:
            for item in begins:
                item.owner.event_id = None
            self._fail(begins, exc)
        else:
            self.stats.begins += len(begins)
            for item in begins:
                item.future.set_result(item.owner.event_id or 0)
        for finish in finishes:
            try:
                self._transaction(functools.partial(self._finishes, finishes=[finish]))
            except Exception as exc:
                self._fail([finish], exc)
            else:
                self.stats.finishes += 1
                finish.future.set_result(None)

    def _transaction(self, work: Callable[[Connection], object]) -> None:
        with self.engine.begin() as conn:
            work(conn)

    def _begins(self, conn: Connection, begins: list[Begin]) -> None:
        checked = [item for item in begins if item.expect is not None]
        if checked:
            if self.read_stamps is None:
                raise BatchFailed("this writer cannot read change stamps")
            current = self.read_stamps(conn, {item.expect[0] for item in checked if item.expect is not None})
            for item in checked:
                item.stamps = current[item.expect[0]] if item.expect is not None else None
            begins = [item for item in begins if item.confirmed]
        if not begins:
            return
        ids = conn.execute(self._insert, [item.row for item in begins]).scalars().all()
        for item, event_id in zip(begins, ids, strict=True):
            item.owner.event_id = int(event_id)

    def _finishes(self, conn: Connection, finishes: list[Finish]) -> None:
        # Read each owner's event id now: its begin, queued earlier, has been written by now.
        updates = [{**f.values, "event_id_": f.owner.event_id} for f in finishes if f.owner.event_id is not None]
        inserts = [{**f.row(), **f.values} for f in finishes if f.owner.event_id is None]
        if updates:
            conn.execute(self._update, updates)
        if inserts:
            conn.execute(insert(self.table), inserts)

    @staticmethod
    def _fail(items: list[Begin] | list[Finish], exc: Exception) -> None:
        if items:
            log.warning("audit batch of %d not written: %s", len(items), type(exc).__name__)
        for item in items:
            item.future.set_exception(BatchFailed(type(exc).__name__))
