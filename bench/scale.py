"""Scale-out: small and large GETs through one, two and three hub replicas, in one run.

Starts SeaweedFS, a scratch PostgreSQL database on the machine's server (created and dropped here)
and three replicas at once on it (`headwater serve --workers 1` each, on its own port, one store,
one master key, the hub's own storage on a SeaweedFS bucket), then a client that sends its requests
round-robin over the first N replicas (no load balancer: the client is one). For N = 1, 2 and 3, in
interleaved rounds, it measures:

- small GETs: `--requests` reads of 4 KiB objects (round-robin over `--objects` keys) with
  `--concurrency` in flight, from the hosted storage (`data://`) or, with `--source s3`, an S3
  source on the same SeaweedFS;
- large GETs: `--large-count` objects of `--large-mib` MiB read at once, each streamed through one
  replica.

Every replica runs through every round (an idle one costs little); only the first N get requests.
The replicas do not start an embedded Dask cluster (HEADWATER_DASK_WARM=0; no jobs run here).
Prints req/s, MB/s, p50/p99, then the CPU seconds each process spent in the phase (psutil: each
replica with its children, SeaweedFS, this database's PostgreSQL backends, the client) and the
machine's busy cores, so it says what limits the figures: on two cores, three replicas share them
with SeaweedFS, PostgreSQL and the client, and a flat line is the honest answer. The machine's
other load (`others`: busy CPU not in any process above) is printed too.

    python bench/scale.py [--rounds 2] [--requests 2000] [--large-mib 256] [--large-count 4] [--source s3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import obstore as obs
import psutil
from obstore.store import HTTPStore

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from hubprocess import CHUNK, SMALL_SIZE, HubProcess, pattern, put_small_objects, start_hub, start_seaweedfs  # noqa: E402
from small_gets import Getter, getter, hub_store, run, seed_hub  # noqa: E402

from headwater.vault import generate_key  # noqa: E402
from tests.fixtures import postgres  # noqa: E402

REPLICAS = 3


@dataclass
class Cpu:
    """CPU seconds (user + system) of named process groups, and of the whole machine, between two marks."""

    groups: dict[str, Callable[[], list[psutil.Process]]]
    spent: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0
    busy: float = 0.0

    def _now(self) -> tuple[dict[str, float], float]:
        seconds = {}
        for name, processes in self.groups.items():
            total = 0.0
            for process in processes():
                try:
                    times = process.cpu_times()
                    total += times.user + times.system
                except psutil.Error:
                    pass  # a backend that ended between the listing and the read
            seconds[name] = total
        machine = psutil.cpu_times()
        return seconds, sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)

    def __enter__(self) -> Cpu:
        self._start, self._busy = self._now()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        end, busy = self._now()
        self.wall = time.perf_counter() - self._wall
        self.busy = busy - self._busy
        self.spent = {name: end[name] - self._start.get(name, 0.0) for name in end}

    def line(self) -> str:
        others = self.busy - sum(self.spent.values())
        parts = [f"{name} {seconds:5.2f}" for name, seconds in self.spent.items()]
        cores = self.busy / self.wall if self.wall else 0.0
        return f"CPU s: {', '.join(parts)}, others {max(0.0, others):5.2f}; machine {cores:.2f} of {os.cpu_count()} cores busy"


def tree(pid: int) -> Callable[[], list[psutil.Process]]:
    """A process and its children (a `serve` supervisor and its worker; it is read afresh each time)."""
    root = psutil.Process(pid)

    def processes() -> list[psutil.Process]:
        try:
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    return processes


def backends_of(database: str) -> Callable[[], list[psutil.Process]]:
    """PostgreSQL's backend processes serving one database (their titles name it)."""

    def processes() -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter(["name", "cmdline"]):
            line = " ".join(process.info["cmdline"] or [])
            if line.startswith("postgres:") and f" {database} " in f"{line} ":
                found.append(process)
        return found

    return processes


def round_robin(getters: list[Getter]) -> Getter:
    """One getter that sends each call to the next replica in turn."""
    turn = iter(range(sys.maxsize))

    async def get(key: str) -> bytes:
        return await getters[next(turn) % len(getters)](key)

    return get


async def read_large(stores: list[HTTPStore], keys: list[str], size: int) -> tuple[float, list[float], int]:
    """Stream every large object at once, object i through replica i mod N; (MB/s, seconds each, errors)."""
    seconds: list[float] = []
    errors = 0

    async def one(i: int, key: str) -> None:
        nonlocal errors
        started = time.perf_counter()
        moved = 0
        try:
            result = await obs.get_async(stores[i % len(stores)], key)
            async for chunk in result.stream(min_chunk_size=CHUNK):
                moved += len(chunk)
        except Exception:
            errors += 1
        if moved != size:
            errors += 1
        seconds.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(i, key) for i, key in enumerate(keys)))
    elapsed = time.perf_counter() - started
    return size * len(keys) / elapsed / 1e6, sorted(seconds), errors


def start_replicas(root: Path, env: dict[str, str], token: str) -> list[HubProcess]:
    """Three replicas started at once on the empty database (one migrates it, the others wait)."""

    def start(i: int) -> HubProcess:
        return start_hub(root / f"replica-{i + 1}", token=token, source=ROOT, workers=1, **env)

    with ThreadPoolExecutor(REPLICAS) as pool:
        return list(pool.map(start, range(REPLICAS)))


def upload_large(hub: HubProcess, keys: list[str], size: int) -> None:
    headers = {"Authorization": f"Bearer {hub.token}"}
    with httpx.Client(base_url=hub.url, headers=headers, timeout=600) as api:
        for key in keys:
            api.put(f"/v1/data/.my/bench/{key}", content=pattern(size)).raise_for_status()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * q + 0.5) - 1))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--large-mib", type=int, default=256)
    parser.add_argument("--large-count", type=int, default=4)
    parser.add_argument("--source", choices=("hosted", "s3"), default="hosted", help="what the small GETs read")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="hw-scale-"))
    backend = start_seaweedfs(root / "weed")
    server = backend.server
    database = postgres.create_database()
    hubs: list[HubProcess] = []
    try:
        storage = server.create_bucket()
        keys, payload = await put_small_objects(backend.store(), args.objects)
        env = {
            "HEADWATER_DATABASE_URL": postgres.url_of(database),
            "HEADWATER_MASTER_KEY": generate_key(),
            "HEADWATER_STORAGE_URL": f"s3://{storage}/hub",
            "HEADWATER_STORAGE_ENDPOINT": server.endpoint,
            "HEADWATER_STORAGE_REGION": server.region,
            "HEADWATER_STORAGE_ACCESS_KEY_ID": server.rw.access_key,
            "HEADWATER_STORAGE_SECRET_ACCESS_KEY": server.rw.secret_key,
            "HEADWATER_DASK_WARM": "0",
        }
        started = time.perf_counter()
        hubs = start_replicas(root, env, "bench-" + uuid.uuid4().hex)
        print(
            f"{REPLICAS} replicas started at once on an empty PostgreSQL database in {time.perf_counter() - started:.1f} s"
        )
        large_keys = [f"large/{i}.bin" for i in range(args.large_count)]
        large_size = args.large_mib * CHUNK
        await asyncio.to_thread(seed_hub, hubs[0], backend, keys, payload)  # through the first replica
        await asyncio.to_thread(upload_large, hubs[1], large_keys, large_size)  # through the second

        path = "/v1/data/.my/bench" if args.source == "hosted" else "/v1/connector/s3+bench"
        small = [getter(hub_store(f"{hub.url}{path}", hub.token)) for hub in hubs]
        large = [hub_store(f"{hub.url}/v1/data/.my/bench", hub.token) for hub in hubs]
        for get in small:  # warm every replica's pools and caches, outside the measurement
            await run(get, keys, 64, args.concurrency)

        groups: dict[str, Callable[[], list[psutil.Process]]] = {
            f"hub-{i + 1}": tree(hub.pid) for i, hub in enumerate(hubs)
        }
        groups["seaweedfs"] = tree(backend.process.pid)
        groups["postgres"] = backends_of(database)
        groups["client"] = lambda: [psutil.Process()]  # this process alone: the others are its children
        print(
            f"small: {args.requests} GETs of {SMALL_SIZE} B ({args.source}) at concurrency {args.concurrency}; "
            f"large: {args.large_count} x {args.large_mib} MiB (hosted) at once; {os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.1f} at the start"
        )
        small_rows: dict[int, list[tuple[float, float, float, int]]] = {n: [] for n in range(1, REPLICAS + 1)}
        large_rows: dict[int, list[tuple[float, float, float, int]]] = {n: [] for n in range(1, REPLICAS + 1)}
        cpu_rows: dict[tuple[str, int], list[Cpu]] = {}
        for round_no in range(args.rounds):
            for n in range(1, REPLICAS + 1):
                with Cpu(groups) as cpu:
                    rate, p50, p99, errors = await run(round_robin(small[:n]), keys, args.requests, args.concurrency)
                small_rows[n].append((rate, p50, p99, errors))
                cpu_rows.setdefault(("small", n), []).append(cpu)
                print(
                    f"  round {round_no + 1} small x{n}: {rate:7.0f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms"
                    f"  errors {errors}\n      {cpu.line()}"
                )
                with Cpu(groups) as cpu:
                    mbps, seconds, errors = await read_large(large[:n], large_keys, large_size)
                p50, p99 = percentile(seconds, 0.5), percentile(seconds, 0.99)
                large_rows[n].append((mbps, p50, p99, errors))
                cpu_rows.setdefault(("large", n), []).append(cpu)
                print(
                    f"  round {round_no + 1} large x{n}: {mbps:7.0f} MB/s   p50 {p50:7.2f} s   p99 {p99:7.2f} s"
                    f"   errors {errors}\n      {cpu.line()}"
                )

        print(f"\nmedians over {args.rounds} interleaved rounds:")
        for kind, rows, unit in (("small", small_rows, "req/s"), ("large", large_rows, "MB/s")):
            base = statistics.median(r[0] for r in rows[1])
            for n, figures in rows.items():
                rate = statistics.median(r[0] for r in figures)
                p50 = statistics.median(r[1] for r in figures)
                p99 = statistics.median(r[2] for r in figures)
                errors = sum(r[3] for r in figures)
                spent = {name: statistics.median(c.spent[name] for c in cpu_rows[(kind, n)]) for name in groups}
                hubs_cpu = sum(v for k, v in spent.items() if k.startswith("hub-"))
                wall = statistics.median(c.wall for c in cpu_rows[(kind, n)])
                cores = statistics.median(c.busy / c.wall for c in cpu_rows[(kind, n)])
                lat = (
                    f"p50 {p50:7.2f} ms  p99 {p99:7.2f} ms"
                    if kind == "small"
                    else f"p50 {p50:6.2f} s  p99 {p99:6.2f} s"
                )
                if kind == "small":
                    cost = f"hubs {hubs_cpu * 1000 / args.requests:4.2f} ms CPU a request"
                else:
                    cost = f"hubs {hubs_cpu / (large_size * len(large_keys) / 2**30):4.2f} CPU s a GiB"
                print(
                    f"  {kind} x{n}: {rate:7.0f} {unit}  {lat}  errors {errors}  {rate / base:4.2f}x one replica, {cost};"
                    f" CPU s in {wall:5.1f} s: hubs {hubs_cpu:5.2f}, seaweedfs {spent['seaweedfs']:5.2f},"
                    f" postgres {spent['postgres']:5.2f}, client {spent['client']:5.2f};"
                    f" machine {cores:.2f} of {os.cpu_count()} cores busy"
                )
    finally:
        for hub in hubs:
            hub.stop()
        backend.stop()
        postgres.drop_database(database)
        shutil.rmtree(root, ignore_errors=True)
    sys.stdout.flush()
    os._exit(0)  # obstore's runtime can abort at interpreter exit; the results are printed


if __name__ == "__main__":
    asyncio.run(main())
