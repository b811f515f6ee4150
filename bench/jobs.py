"""Jobs benchmark: N partitions CSV → Parquet on the embedded Dask executor vs a bare process pool.

Both convert the same N CSV files to Parquet with pyarrow on this machine, in the same
run. The hub's way reads and writes through connections (a `local` source and
destination), records every partition in SQL and commits each output atomically; the
bare pool calls pyarrow on the files directly. Peak memory is the peak of the summed
RSS of the whole process tree (the driving process and its workers), sampled every 20 ms;
CPU seconds are the whole tree's (user and system, exited children included) over the run:
the steadier figure on a shared machine, where wall times swing with the load.

    python bench/jobs.py [--files 200] [--rows 5000] [--app convert|python] [--rounds 3]

The hub is opened and its engine started once, as a serving hub's is (the embedded cluster
starts with the engine, in the background); each round then runs one job on it and one bare
pool, alternating which goes first, and the medians are compared.

`--app python` runs a trivial user function (`identity:run`, from bench/sandboxed/) over the
same partitions instead: it measures what starting a `python` app's child costs per partition.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from itertools import pairwise
from pathlib import Path

import anyio
import psutil
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
FUNCTIONS = Path(__file__).resolve().parent / "sandboxed"

from headwater.services import sources as sources_service  # noqa: E402
from headwater.services import tokens  # noqa: E402
from headwater.services.hub import Hub  # noqa: E402
from headwater.services.jobs import driver, runner, service  # noqa: E402
from headwater.services.jobs.service import JobRequest  # noqa: E402
from headwater.settings import Settings  # noqa: E402
from headwater.store.models import Job  # noqa: E402


def tree_cpu() -> tuple[float, float]:
    """CPU seconds (user and system) of this process and of all its descendants, those reaped included."""
    me = psutil.Process()
    own = children = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        if proc.pid == me.pid:
            own += t.user + t.system
            children += t.children_user + t.children_system
        else:
            children += t.user + t.system + t.children_user + t.children_system
    return own, children


class PeakRSS:
    """Samples the summed RSS of this process and all its descendants; counts the tree's CPU seconds.

    Finding the descendants reads every process of the machine (psutil), so they are looked up every
    REFRESH seconds and only their RSS read every 20 ms: the sampler itself stays a small cost
    beside both contenders on a shared machine.
    """

    REFRESH = 0.25

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._tree: list[psutil.Process] = []
        self._found = 0.0

    def _sample(self) -> int:
        if time.monotonic() - self._found >= self.REFRESH:
            me = psutil.Process()
            self._tree = [me, *me.children(recursive=True)]
            self._found = time.monotonic()
        total = 0
        for proc in self._tree:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            time.sleep(0.02)

    def __enter__(self) -> PeakRSS:
        self.baseline = self._sample()
        self._cpu_before = tree_cpu()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        after = tree_cpu()
        self.own_cpu = after[0] - self._cpu_before[0]  # the driving process: the hub's engine and Dask's scheduler
        self.cpu = self.own_cpu + after[1] - self._cpu_before[1]


def make_inputs(folder: Path, files: int, rows: int) -> int:
    folder.mkdir(parents=True)
    table = pa.table(
        {
            "id": list(range(rows)),
            "name": [f"customer {i}" for i in range(rows)],
            "amount": [i * 0.25 for i in range(rows)],
            "city": [("Lisbon", "Oslo", "Nairobi", "Lima")[i % 4] for i in range(rows)],
        }
    )
    pa_csv.write_csv(table, folder / "0.csv")
    for i in range(1, files):
        shutil.copyfile(folder / "0.csv", folder / f"{i}.csv")
    return sum(p.stat().st_size for p in folder.iterdir())


def convert_one(paths: tuple[str, str]) -> int:
    """The bare pool's task: one CSV file to one Parquet file."""
    source, target = paths
    pq.write_table(pa_csv.read_csv(source), target)
    return os.path.getsize(target)


Figures = tuple[float, int, int, float, float]  # wall s, peak bytes, bytes written, CPU s, the driving process's CPU s


def bare_pool(inputs: Path, outputs: Path, workers: int, app: str) -> Figures:
    outputs.mkdir()
    suffix = ".parquet" if app == "convert" else ".csv"
    pairs = [(str(p), str(outputs / (p.stem + suffix))) for p in sorted(inputs.iterdir())]
    task = convert_one if app == "convert" else copy_one
    with PeakRSS() as memory:
        started = time.perf_counter()
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
            written = sum(pool.map(task, pairs, chunksize=1))
        elapsed = time.perf_counter() - started
    return elapsed, memory.peak, written, memory.cpu, memory.own_cpu


def copy_one(paths: tuple[str, str]) -> int:
    """The bare pool's task for `--app python`: the identity function, in the pool's process."""
    source, target = paths
    shutil.copyfile(source, target)
    return os.path.getsize(target)


PHASES = ("ready", "partitioning", "running", "assembling", "complete")


def phases(stamps: dict[str, str]) -> dict[str, float]:
    """Seconds a job spent in each state before the next, from its state timestamps."""
    from datetime import datetime

    moments = {k: datetime.fromisoformat(v.replace("Z", "+00:00")) for k, v in stamps.items()}
    found = {}
    for state, following in pairwise(PHASES):
        if state in moments and following in moments:
            found[state] = (moments[following] - moments[state]).total_seconds()
    return found


class EmbeddedHub:
    """A hub with `local` sources over the inputs and an outputs folder; its engine warmed as a serving hub's is."""

    def __init__(self, root: Path, inputs: Path, outputs: Path) -> None:
        dask = {name: value for name, value in os.environ.items() if name.startswith("HEADWATER_DASK_")}
        settings = Settings.from_env(
            {**dask, "HEADWATER_DATA_DIR": str(root / "hub"), "HEADWATER_SANDBOX_PATH": str(FUNCTIONS)}
        )
        self.hub = Hub.open(settings)
        self.outputs = outputs
        self.phases: list[dict[str, float]] = []
        outputs.mkdir(exist_ok=True)
        with self.hub.store.session() as session:
            _, value = tokens.create_token(session, org_name="bench", user_name="bench", admin=True)
            self.caller = tokens.authenticate(session, value)
            for label, folder, access in (("csv", inputs, "read"), ("parquet", outputs, "read-write")):
                spec = sources_service.SourceSpec(
                    protocol="local", label=label, params={"path": str(folder)}, access=access
                )
                sources_service.create(session, self.caller, spec, data_dir=settings.data_dir)
        started = time.perf_counter()
        service.start_engine(self.hub)  # as at a hub's start: the cluster starts in the background
        engine = driver.engine_for(self.hub)
        engine.executor.everywhere(runner.warm, engine.key)  # its workers ready, as a serving hub's soon are
        self.cold = time.perf_counter() - started

    def run(self, app: str, round_: int) -> Figures:
        params = {"to": "parquet"} if app == "convert" else {"function": "identity:run"}
        request = JobRequest(
            source="local+csv://*.csv", destination=f"local+parquet://{round_}/", app=app, app_params=params
        )
        with PeakRSS() as memory:
            started = time.perf_counter()
            view = anyio.run(lambda: service.create(self.hub, self.caller, request, run=True))
            engine = driver.engine_for(self.hub)
            # the job's end is seen within 2 ms of its driver thread's, and waiting costs the hub's process
            # next to nothing: no store query while the driver runs, one small one after
            while engine.driving(view.job.id) or not self.settled(view.job.id):
                time.sleep(0.002)
            elapsed = time.perf_counter() - started
            view = service.get(self.hub, self.caller, view.job.id)
        if view.job.state != "complete":
            raise SystemExit(f"the job ended {view.job.state}: {view.job.error_message}")
        self.phases.append(phases(view.job.state_timestamps or {}))
        return elapsed, memory.peak, view.progress.bytes_out, memory.cpu, memory.own_cpu

    def settled(self, job_id: str) -> bool:
        with self.hub.store.session() as session:
            row = session.execute(select(Job.state, Job.settled_at).where(Job.id == job_id)).one()
        return row[0] in ("complete", "failed", "canceled") and row[1] is not None

    def close(self) -> None:
        driver.stop(self.hub)
        self.hub.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200, help="partitions (one CSV file each)")
    parser.add_argument("--rows", type=int, default=5000, help="rows per CSV file")
    parser.add_argument("--app", choices=("convert", "python"), default="convert", help="what runs on each partition")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the two executors alternate which runs first")
    args = parser.parse_args()
    workers = max(1, min(os.cpu_count() or 1, 8))
    root = Path(tempfile.mkdtemp(prefix="headwater-bench-jobs-"))
    try:
        size = make_inputs(root / "csv", args.files, args.rows)
        print(
            f"{args.files} partitions, {args.rows} rows each, {size / 1e6:.1f} MB of CSV; {workers} worker processes; app {args.app}"
        )
        base_rss = psutil.Process().memory_info().rss
        hub = EmbeddedHub(root, root / "csv", root / "parquet-hub")
        results: dict[str, list[Figures]] = {"hub": [], "pool": []}
        try:
            for round_ in range(args.rounds):
                order = ("hub", "pool") if round_ % 2 == 0 else ("pool", "hub")
                for which in order:
                    if which == "hub":
                        results["hub"].append(hub.run(args.app, round_))
                    else:
                        results["pool"].append(
                            bare_pool(root / "csv", root / f"parquet-pool-{round_}", workers, args.app)
                        )
                hub_round, pool_round = results["hub"][-1], results["pool"][-1]
                print(
                    f"round {round_ + 1}: hub {hub_round[0]:.2f} s ({hub_round[3]:.2f} CPU s, {hub_round[4]:.2f} in the driving process), "
                    f"bare pool {pool_round[0]:.2f} s ({pool_round[3]:.2f} CPU s)"
                )
        finally:
            hub.close()
        wall, peak, written, cpu, own = (statistics.median(r[i] for r in results["hub"]) for i in range(5))
        pool_wall, pool_peak, pool_written, pool_cpu, pool_own = (
            statistics.median(r[i] for r in results["pool"]) for i in range(5)
        )
        print(
            f"{'executor (median of ' + str(args.rounds) + ')':<34}{'wall s':>9}{'CPU s':>8}{'peak MB':>10}{'output MB':>12}"
        )
        print(f"{'embedded Dask (hub job)':<34}{wall:>9.2f}{cpu:>8.2f}{peak / 1e6:>10.0f}{written / 1e6:>12.1f}")
        print(
            f"{'bare ProcessPoolExecutor':<34}{pool_wall:>9.2f}{pool_cpu:>8.2f}{pool_peak / 1e6:>10.0f}{pool_written / 1e6:>12.1f}"
        )
        print(
            f"embedded cluster start {hub.cold:.2f} s (at hub start, not in a job); driving process RSS before both {base_rss / 1e6:.0f} MB"
        )
        print(
            f"ratio embedded / bare: wall {wall / pool_wall:.2f}x (target at most 1.25x), CPU {cpu / pool_cpu:.2f}x, "
            f"peak memory {peak / pool_peak:.2f}x"
        )
        spent = {state: statistics.median(p.get(state, 0.0) for p in hub.phases) for state in PHASES[:-1]}
        print("hub job, median seconds in each state: " + ", ".join(f"{k} {v:.2f}" for k, v in spent.items()))
        print(
            f"per partition: hub {wall / args.files * 1000:.1f} ms wall, {cpu / args.files * 1000:.1f} ms CPU; "
            f"pool {pool_wall / args.files * 1000:.1f} ms wall, {pool_cpu / args.files * 1000:.1f} ms CPU"
        )
        print(
            f"CPU in the driving process (engine, Dask scheduler; the pool's parent): hub {own:.2f} s, pool {pool_own:.2f} s; "
            f"in the workers: hub {cpu - own:.2f} s, pool {pool_cpu - pool_own:.2f} s"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
