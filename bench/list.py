"""Listing 20,000 objects: the hub's SDK against obstore listing the same bucket directly.

Contenders, each listing every object of one folder (`--objects` keys) in interleaved rounds:

- `direct`: obstore's `list` straight at SeaweedFS (the backend's own speed);
- `hub-sdk`: `Client.dir("s3+bench://many/").list()` through a hub started from this tree;
- `hub-before`: the same SDK call through a hub started from another tree (`--before PATH`, e.g. a
  checkout of main), to compare two versions of the hub in one run.

SeaweedFS and the hubs run on loopback, started here. Prints per-round figures (with the hub
process's CPU time per listing), then medians of the time and objects/s, and the ratios hub/direct.
`--profile FILE` records the hub (this tree's) with py-spy during its first round, and the SDK's
side (this process) into FILE.client: collapsed stacks, where the time goes.

    python bench/list.py [--objects 20000] [--rounds 5] [--before /path/to/other/checkout] [--profile FILE]
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
from collections.abc import Callable
from pathlib import Path

import httpx
import obstore as obs
import psutil
from obstore.store import S3Store

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from hubprocess import HubProcess, start_hub  # noqa: E402

from headwater.client import Client  # noqa: E402
from tests.fixtures import seaweedfs as weed  # noqa: E402

FOLDER = "many"

Lister = Callable[[], int]


def s3_store(server: weed.SeaweedFS, bucket: str) -> S3Store:
    return S3Store(
        bucket,
        config={
            "endpoint": server.endpoint,
            "region": weed.REGION,
            "virtual_hosted_style_request": False,
            "access_key_id": server.rw.access_key,
            "secret_access_key": server.rw.secret_key,
        },
        client_options={"allow_http": True},
    )


def direct_lister(store: S3Store) -> Lister:
    def count() -> int:
        return sum(len(chunk) for chunk in obs.list(store, FOLDER + "/"))

    return count


def sdk_lister(hub: HubProcess) -> Lister:
    client = Client(hub.url, hub.token)

    def count() -> int:
        return sum(1 for _ in client.dir(f"s3+bench://{FOLDER}/").list())

    return count


async def fill(store: S3Store, objects: int) -> None:
    """Write `objects` empty objects under the folder, 64 at a time."""
    names = iter(range(objects))

    async def worker() -> None:
        for i in names:
            await obs.put_async(store, f"{FOLDER}/{i:07d}.bin", b"x")

    await asyncio.gather(*(worker() for _ in range(64)))


def start_profiler(pid: int, out: str) -> subprocess.Popen[bytes]:
    """py-spy recording the process `pid` into `out` (collapsed stacks)."""
    return subprocess.Popen(
        ["py-spy", "record", "--pid", str(pid), "--format", "raw", "--rate", "200", "--nonblocking", "-o", out],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def add_source(hub: HubProcess, server: weed.SeaweedFS, bucket: str) -> None:
    with httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.token}"}, timeout=60) as api:
        api.post(
            "/v1/secrets",
            json={"id": "sw", "secretType": "s3", "accessKey": server.rw.access_key, "secretKey": server.rw.secret_key},
        ).raise_for_status()
        api.post(
            "/v1/sources",
            json={
                "protocol": "s3",
                "label": "bench",
                "secretId": "sw",
                "access": "read",
                "params": {"endpoint": server.endpoint, "region": server.region, "bucket": bucket},
            },
        ).raise_for_status()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", type=Path, help="source tree of another version of the hub to compare")
    parser.add_argument(
        "--profile", help="record the hub's first round with py-spy into FILE, the SDK's into FILE.client"
    )
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="hw-list-"))
    server, weed_process = weed.start(root / "weed")
    hubs: list[HubProcess] = []
    try:
        bucket = server.create_bucket()
        store = s3_store(server, bucket)
        started = time.perf_counter()
        asyncio.run(fill(store, args.objects))
        print(f"wrote {args.objects} objects in {time.perf_counter() - started:.1f} s", flush=True)

        contenders: dict[str, Lister] = {"direct": direct_lister(store)}
        pids: dict[str, int] = {}
        trees = {"hub-sdk": None} if args.before is None else {"hub-before": args.before.resolve(), "hub-sdk": ROOT}
        for name, tree in trees.items():
            hub = start_hub(root / name, source=tree)
            hubs.append(hub)
            add_source(hub, server, bucket)
            contenders[name] = sdk_lister(hub)
            pids[name] = hub.pid

        for name, lister in contenders.items():  # warm pools and caches once, outside the measurement
            found = lister()
            if found != args.objects:
                raise SystemExit(f"{name} listed {found} objects, not {args.objects}")

        print(f"listing {args.objects} objects, {os.cpu_count()} cores, {args.rounds} interleaved rounds")
        times: dict[str, list[float]] = {name: [] for name in contenders}
        cpu: dict[str, list[float]] = {name: [] for name in pids}
        for round_no in range(args.rounds):
            names = list(contenders) if round_no % 2 == 0 else list(reversed(contenders))
            for name in names:
                spies = []
                if args.profile and round_no == 0 and name == "hub-sdk":
                    spies = [
                        start_profiler(pids[name], args.profile),
                        start_profiler(os.getpid(), args.profile + ".client"),
                    ]
                    time.sleep(1.0)
                used = cpu_seconds(pids[name]) if name in pids else 0.0
                started = time.perf_counter()
                found = contenders[name]()
                elapsed = time.perf_counter() - started
                times[name].append(elapsed)
                spent = ""
                if name in pids:
                    cpu[name].append(cpu_seconds(pids[name]) - used)
                    spent = f"  hub CPU {cpu[name][-1] * 1000:7.1f} ms"
                for spy in spies:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(timeout=30)
                print(
                    f"  round {round_no + 1} {name:<10} {elapsed * 1000:8.1f} ms  {found / elapsed:9.0f} objects/s{spent}",
                    flush=True,
                )

        medians = {name: statistics.median(rows) for name, rows in times.items()}
        print(f"\nmedians over {args.rounds} rounds:")
        for name, elapsed in medians.items():
            spent = f"  hub CPU {statistics.median(cpu[name]) * 1000:7.1f} ms" if name in cpu else ""
            print(f"  {name:<10} {elapsed * 1000:8.1f} ms  {args.objects / elapsed:9.0f} objects/s{spent}")
        for name in contenders:
            if name != "direct":
                print(f"  {name}/direct: {medians['direct'] / medians[name]:.3f}")
    finally:
        for hub in hubs:
            hub.stop()
        weed.stop(weed_process)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
