"""The executor: where partitions run. One interface, one implementation: Dask distributed.

Embedded by default: a `LocalCluster` started inside the hub as it starts (in the background;
HEADWATER_DASK_WARM=0 starts it on the first job instead),
worker processes sized to the machine, on loopback, speaking TLS with a temporary CA made
for this cluster (so only the hub and its own workers, which hold its certificate, can
connect; a process that merely reaches the ports cannot submit code). With workers as
threads of the hub the cluster uses Dask's in-process transport and listens nowhere.
`HEADWATER_DASK_SCHEDULER=tls://host:8786` uses an existing cluster instead: it must speak
TLS, and the hub authenticates with HEADWATER_DASK_TLS_CA_FILE, _CERT_FILE and _KEY_FILE
(its workers need the hub's HEADWATER_* environment and `headwater` installed). Tasks
carry ids only (see `runner`).

CPU-bound tasks (an app that computes, such as `convert`) ask for one unit of the worker resource
`cpu`: the embedded cluster's workers declare as many as the cores each has (its worker threads stay
many, for tasks that mostly wait on I/O), so such tasks never outnumber the cores and do not slow each
other down fighting over them and the GIL. An existing cluster's workers may declare it too
(`dask worker --resources cpu=N`); where none does, CPU-bound tasks run on any free thread.

Configuration: `Settings.dask` (the HEADWATER_DASK_* variables, see `headwater.settings`).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from headwater.settings import DaskSettings, Settings

log = logging.getLogger("headwater.jobs")
CPU = "cpu"  # the worker resource a CPU-bound task takes one unit of


@dataclass(frozen=True)
class ExecutorConfig(DaskSettings):
    """The hub's Dask settings (`Settings.dask`), or a test's own choice, with what the executor makes of them."""

    @classmethod
    def of(cls, settings: DaskSettings) -> ExecutorConfig:
        return (
            settings
            if isinstance(settings, cls)
            else cls(**{f.name: getattr(settings, f.name) for f in fields(settings)})
        )

    def external_security(self) -> Any:
        """The hub's TLS identity towards an existing cluster; a `ValueError` naming what is missing."""
        from distributed.security import Security

        if not (self.scheduler or "").startswith("tls://"):
            raise ValueError(
                "HEADWATER_DASK_SCHEDULER must be a tls:// address: the hub only uses a cluster that authenticates its peers"
            )
        missing = [
            name
            for name, value in (
                ("HEADWATER_DASK_TLS_CA_FILE", self.tls_ca_file),
                ("HEADWATER_DASK_TLS_CERT_FILE", self.tls_cert_file),
                ("HEADWATER_DASK_TLS_KEY_FILE", self.tls_key_file),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"an external Dask cluster needs {', '.join(missing)}")
        return Security(
            tls_ca_file=self.tls_ca_file,
            tls_client_cert=self.tls_cert_file,
            tls_client_key=self.tls_key_file,
            require_encryption=True,
        )


@dataclass(eq=False)
class Handle:
    """A submitted task: its key, the caller's tag, and the engine's own future."""

    key: str
    tag: Any
    future: Any = field(repr=False, default=None)


Outcome = tuple[Handle, Any, BaseException | None]


class Batch(ABC):
    """Tasks submitted together and collected as each finishes (O(1) per task)."""

    @abstractmethod
    def submit(self, fn: Callable[..., Any], *args: Any, key: str, tag: Any = None, cpu: bool = False) -> Handle:
        """Submit `fn(*args)`; `cpu`: it computes rather than waits, so it takes a core (see the module)."""

    @abstractmethod
    def finished(self, timeout: float) -> list[Outcome]:
        """The tasks that finished since the last call, waiting up to `timeout` seconds for one."""

    @abstractmethod
    def cancel(self) -> None:
        """Cancel every task of the batch still outstanding (running ones stop at their next chunk)."""

    @property
    @abstractmethod
    def outstanding(self) -> int: ...


class Executor(ABC):
    """Runs task functions somewhere and reports each outcome."""

    @abstractmethod
    def batch(self) -> Batch: ...

    @abstractmethod
    def worker_pids(self) -> dict[str, int]: ...

    @abstractmethod
    def slots(self, cpu: bool = False) -> int:
        """How many tasks run at once (worker threads in all); `cpu`: how many CPU-bound ones."""

    @abstractmethod
    def everywhere(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` once on every worker now (to ready them before work arrives)."""

    @abstractmethod
    def close(self) -> None: ...


class DaskExecutor(Executor):
    """Dask distributed: an embedded LocalCluster, or the cluster at `config.scheduler`."""

    def __init__(self, config: ExecutorConfig, settings: Settings) -> None:
        import dask
        from distributed import Client, LocalCluster
        from distributed.security import Security

        dask.config.set(
            {
                "distributed.scheduler.allowed-failures": 5,
                "distributed.admin.tick.limit": "30s",
                # the statistical profiler samples every thread's stack every 10 ms (holding the GIL) and the
                # GIL monitor polls every 1 ms: both cost partitions time, neither serves the hub
                "distributed.worker.profile.enabled": False,
                "distributed.admin.system-monitor.gil.enabled": False,
                # an idle warm cluster shares the hub's process and cores with the requests it serves: the
                # event-loop tick watchdog (20 ms) and the system monitor (every 500 ms, with disk and
                # network counters only a dashboard shows) run far less often
                "distributed.admin.tick.interval": "1s",
                "distributed.admin.system-monitor.interval": "5s",
                "distributed.admin.system-monitor.disk": False,
            }
        )
        self.cluster: Any = None
        if config.scheduler:
            self.client = Client(config.scheduler, security=config.external_security(), set_as_default=False)
        else:
            cpus = os.cpu_count() or 1
            workers = config.workers or (1 if not config.processes else max(1, min(cpus, 8)))
            threads = config.threads or 8
            cores = max(1, cpus // workers) if config.processes else cpus
            kwargs: dict[str, Any] = {"resources": {CPU: min(cores, threads)}}
            if config.processes:
                # how worker processes open the hub (given at start, never in a task); they create no tokens
                kwargs["env"] = replace(settings, bootstrap_token=None).handed_down()
                kwargs["host"] = "127.0.0.1"  # scheduler, nannies and workers listen on loopback only,
                kwargs["security"] = Security.temporary()  # and accept only peers holding this cluster's certificate
            else:
                kwargs["protocol"] = "inproc://"  # workers are threads of the hub: nothing listens at all
            self.cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=threads,
                processes=config.processes,
                dashboard_address=None,
                worker_dashboard_address=None,
                silence_logs=logging.WARNING,
                **kwargs,
            )
            self.client = Client(self.cluster, security=kwargs.get("security"), set_as_default=False)
        log.info("jobs run on Dask at %s", self.client.scheduler.address if self.client.scheduler else "?")

    def batch(self) -> Batch:
        return DaskBatch(self.client, self._cpus() > 0)

    def worker_pids(self) -> dict[str, int]:
        return dict(self.client.run(os.getpid))

    def _cpus(self) -> int:
        """Units of the `cpu` resource the workers declare in all (0: none does)."""
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {}).values()
        return int(sum(w.get("resources", {}).get(CPU, 0) for w in workers))

    def slots(self, cpu: bool = False) -> int:
        threads = max(1, sum(self.client.nthreads().values()))
        cpus = self._cpus() if cpu else 0
        return min(threads, cpus) if cpus else threads

    def everywhere(self, fn: Callable[..., Any], *args: Any) -> None:
        self.client.run(fn, *args)

    def close(self) -> None:
        try:
            self.client.close(timeout=10)
        finally:
            if self.cluster is not None:
                self.cluster.close(timeout=10)


class DaskBatch(Batch):
    """Futures of one Dask client; each reports to a queue when it finishes."""

    def __init__(self, client: Any, cpus: bool) -> None:
        self.client = client
        self.cpus = cpus  # the workers declare the `cpu` resource: CPU-bound tasks take a unit of it
        self._queue: queue.Queue[Handle] = queue.Queue()
        self._pending: set[Handle] = set()
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any, key: str, tag: Any = None, cpu: bool = False) -> Handle:
        handle = Handle(key, tag)
        with self._lock:
            self._pending.add(handle)
        resources = {CPU: 1} if cpu and self.cpus else None
        handle.future = self.client.submit(fn, *args, key=key, pure=False, retries=0, resources=resources)
        handle.future.add_done_callback(lambda _: self._queue.put(handle))
        return handle

    @property
    def outstanding(self) -> int:
        with self._lock:
            return len(self._pending)

    def _outcome(self, handle: Handle) -> Outcome:
        future = handle.future
        if future.status == "finished":
            return handle, future.result(), None
        if future.status == "cancelled":
            return handle, None, RuntimeError("task cancelled")
        return handle, None, future.exception()

    def finished(self, timeout: float) -> list[Outcome]:
        found: list[Handle] = []
        try:
            found.append(self._queue.get(timeout=timeout))
            while True:
                found.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        outcomes = []
        with self._lock:
            fresh = [h for h in found if h in self._pending]
            self._pending.difference_update(fresh)
        for handle in fresh:
            outcomes.append(self._outcome(handle))
        return outcomes

    def cancel(self) -> None:
        with self._lock:
            futures = [h.future for h in self._pending if h.future is not None]
            self._pending.clear()
        if futures:
            self.client.cancel(futures, force=True)
