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

import obstore as obs
from obstore.store import S3Store

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from hubprocess import HubProcess, add_s3_source, cpu_seconds, put_listing, start_hub, start_seaweedfs  # noqa: E402

from headwater.client import Client  # noqa: E402

FOLDER = "many"

Lister = Callable[[], int]


def direct_lister(store: S3Store) -> Lister:
    def count() -> int:
        return sum(len(chunk) for chunk in obs.list(store, FOLDER + "/"))

    return count


def sdk_lister(hub: HubProcess) -> Lister:
    client = Client(hub.url, hub.token)

    def count() -> int:
        return sum(1 for _ in client.dir(f"s3+bench://{FOLDER}/").list())

    return count


def start_profiler(pid: int, out: str) -> subprocess.Popen[bytes]:
    """py-spy recording the process `pid` into `out` (collapsed stacks)."""
    return subprocess.Popen(
        ["py-spy", "record", "--pid", str(pid), "--format", "raw", "--rate", "200", "--nonblocking", "-o", out],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


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
    backend = start_seaweedfs(root / "weed")
    hubs: list[HubProcess] = []
    try:
        store = backend.store()
        started = time.perf_counter()
        asyncio.run(put_listing(store, FOLDER, args.objects))
        print(f"wrote {args.objects} objects in {time.perf_counter() - started:.1f} s", flush=True)

        contenders: dict[str, Lister] = {"direct": direct_lister(store)}
        pids: dict[str, int] = {}
        trees = {"hub-sdk": None} if args.before is None else {"hub-before": args.before.resolve(), "hub-sdk": ROOT}
        for name, tree in trees.items():
            hub = start_hub(root / name, source=tree)
            hubs.append(hub)
            add_s3_source(hub, backend.server, backend.bucket)
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
        backend.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
