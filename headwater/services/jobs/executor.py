"""The executor: where partitions run. One interface, one implementation: Dask distributed.

Embedded by default: a `LocalCluster` started lazily inside the hub on the first job,
worker processes sized to the machine. `HEADWATER_DASK_SCHEDULER=tcp://host:8786` uses
an existing cluster instead (its workers need the hub's HEADWATER_* environment and
`headwater` installed). Tasks carry ids only (see `runner`).

Configuration (environment): HEADWATER_DASK_SCHEDULER, HEADWATER_DASK_WORKERS,
HEADWATER_DASK_THREADS, HEADWATER_DASK_PROCESSES (0 runs workers as threads of the hub).
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from headwater.settings import Settings

log = logging.getLogger("headwater.jobs")


@dataclass(frozen=True)
class ExecutorConfig:
    scheduler: str | None = None
    processes: bool = True
    workers: int | None = None
    threads: int | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "ExecutorConfig":
        env = os.environ if environ is None else environ
        number = lambda name: int(env[name]) if env.get(name) else None  # noqa: E731
        return cls(
            scheduler=env.get("HEADWATER_DASK_SCHEDULER") or None,
            processes=(env.get("HEADWATER_DASK_PROCESSES") or "1").strip().lower() not in ("0", "false", "no", "off"),
            workers=number("HEADWATER_DASK_WORKERS"),
            threads=number("HEADWATER_DASK_THREADS"),
        )


@dataclass(eq=False)
class Handle:
    """A submitted task: its key and the engine's own future."""

    key: str
    tag: Any
    future: Any = field(repr=False, default=None)


class Executor(ABC):
    """Runs task functions somewhere and reports each outcome."""

    @abstractmethod
    def submit(self, fn: Callable[..., Any], *args: Any, key: str, tag: Any = None) -> Handle: ...

    @abstractmethod
    def wait(self, handles: Iterable[Handle], timeout: float) -> Iterator[tuple[Handle, Any, BaseException | None]]:
        """Yield (handle, result, error) for the tasks that finished within `timeout` seconds."""

    @abstractmethod
    def cancel(self, handles: Iterable[Handle]) -> None: ...

    @abstractmethod
    def worker_pids(self) -> dict[str, int]: ...

    @abstractmethod
    def close(self) -> None: ...


def worker_environment(settings: Settings) -> dict[str, str]:
    """What embedded worker processes need to open the hub themselves (given at start, never in a task)."""
    env = {
        "HEADWATER_DATA_DIR": str(settings.data_dir),
        "HEADWATER_DATABASE_URL": settings.database_url,
        "HEADWATER_AUDIT_RETENTION_DAYS": str(settings.audit_retention_days),
    }
    if settings.allow_private_endpoints:
        env["HEADWATER_ALLOW_PRIVATE_ENDPOINTS"] = "1"
    if settings.master_key:
        env["HEADWATER_MASTER_KEY"] = settings.master_key
    return env


class DaskExecutor(Executor):
    """Dask distributed: an embedded LocalCluster, or the cluster at `config.scheduler`."""

    def __init__(self, config: ExecutorConfig, settings: Settings) -> None:
        import dask
        from distributed import Client, LocalCluster

        dask.config.set({"distributed.scheduler.allowed-failures": 5, "distributed.admin.tick.limit": "30s"})
        self.cluster: Any = None
        if config.scheduler:
            self.client = Client(config.scheduler, set_as_default=False)
        else:
            cpus = os.cpu_count() or 1
            workers = config.workers or (1 if not config.processes else max(1, min(cpus, 8)))
            threads = config.threads or 4
            kwargs: dict[str, Any] = {}
            if config.processes:
                kwargs["env"] = worker_environment(settings)
            self.cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=threads,
                processes=config.processes,
                dashboard_address=None,
                silence_logs=logging.WARNING,
                **kwargs,
            )
            self.client = Client(self.cluster, set_as_default=False)
        log.info("jobs run on Dask at %s", self.client.scheduler.address if self.client.scheduler else "?")

    def submit(self, fn: Callable[..., Any], *args: Any, key: str, tag: Any = None) -> Handle:
        future = self.client.submit(fn, *args, key=key, pure=False, retries=0)
        return Handle(key, tag, future)

    def wait(self, handles: Iterable[Handle], timeout: float) -> Iterator[tuple[Handle, Any, BaseException | None]]:
        from distributed.client import _wait

        by_future = {h.future: h for h in handles}
        if not by_future:
            return
        try:
            finished, _ = self.client.sync(_wait, list(by_future), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return
        for future in finished:
            handle = by_future[future]
            if future.status == "finished":
                yield handle, future.result(), None
            elif future.status == "cancelled":
                yield handle, None, RuntimeError("task cancelled")
            else:
                yield handle, None, future.exception()

    def cancel(self, handles: Iterable[Handle]) -> None:
        futures = [h.future for h in handles if h.future is not None]
        if futures:
            self.client.cancel(futures, force=True)

    def worker_pids(self) -> dict[str, int]:
        return dict(self.client.run(os.getpid))

    def close(self) -> None:
        try:
            self.client.close(timeout=10)
        finally:
            if self.cluster is not None:
                self.cluster.close(timeout=10)

